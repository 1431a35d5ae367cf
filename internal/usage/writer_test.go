package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// memSink stores records in memory. It fails while failures > 0 and, when
// gate is set, blocks each call until gate receives.
type memSink struct {
	mu       sync.Mutex
	recs     []Record
	calls    int
	failures int
	gate     chan struct{}
}

func (s *memSink) InsertUsage(ctx context.Context, recs []Record) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failures > 0 {
		s.failures--
		return errors.New("database is locked")
	}
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *memSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

func rec(i int) Record {
	return Record{RequestID: fmt.Sprint("req-", i), Model: "claude-sonnet-4-5", Tokens: tokens.Counts{Input: int64(i)}}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mustClose(t *testing.T, w *Writer) {
	t.Helper()
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestWriterConcurrentProducers(t *testing.T) {
	sink := &memSink{}
	w := NewWriter(sink, WriterOptions{FlushInterval: 10 * time.Millisecond, Logger: quietLogger()})
	const producers, each = 50, 1000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				if !w.Add(rec(p*each + i)) {
					t.Error("Add refused a record")
					return
				}
			}
		})
	}
	wg.Wait()
	mustClose(t, w)
	seen := make(map[string]bool, producers*each)
	for _, r := range sink.recs {
		if seen[r.RequestID] {
			t.Fatalf("record %s written twice", r.RequestID)
		}
		seen[r.RequestID] = true
	}
	if len(seen) != producers*each {
		t.Errorf("%d records written, want %d", len(seen), producers*each)
	}
	st := w.Stats()
	if st.Queued != producers*each || st.Written != producers*each || st.Dropped != 0 || st.Depth != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestWriterFlushBySize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &memSink{}
		w := NewWriter(sink, WriterOptions{BatchSize: 10, FlushInterval: time.Hour, Logger: quietLogger()})
		for i := range 9 {
			w.Add(rec(i))
		}
		synctest.Wait()
		if n := sink.count(); n != 0 {
			t.Fatalf("%d records written before the batch was full", n)
		}
		w.Add(rec(9))
		synctest.Wait()
		if n := sink.count(); n != 10 {
			t.Errorf("%d records written after a full batch, want 10", n)
		}
		mustClose(t, w)
	})
}

func TestWriterFlushByInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &memSink{}
		w := NewWriter(sink, WriterOptions{FlushInterval: time.Second, Logger: quietLogger()})
		time.Sleep(500 * time.Millisecond)
		w.Add(rec(1))
		w.Add(rec(2))
		time.Sleep(499 * time.Millisecond)
		synctest.Wait()
		if n := sink.count(); n != 0 {
			t.Fatalf("%d records written before the interval", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n := sink.count(); n != 2 {
			t.Errorf("%d records written at the interval, want 2", n)
		}
		mustClose(t, w)
	})
}

func TestWriterCloseDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &memSink{}
		w := NewWriter(sink, WriterOptions{BatchSize: 3, FlushInterval: time.Hour, Logger: quietLogger()})
		for i := range 8 {
			w.Add(rec(i))
		}
		mustClose(t, w)
		if n := sink.count(); n != 8 {
			t.Errorf("%d records written by Close, want 8", n)
		}
		if w.Add(rec(99)) {
			t.Error("Add accepted a record after Close")
		}
		if st := w.Stats(); st.Dropped != 1 || st.Written != 8 {
			t.Errorf("Stats after Close = %+v", st)
		}
		mustClose(t, w) // idempotent
	})
}

func TestWriterFullQueueDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &memSink{gate: make(chan struct{})}
		var logs bytes.Buffer
		w := NewWriter(sink, WriterOptions{QueueSize: 10, BatchSize: 5, FlushInterval: time.Second,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		for i := range 5 {
			w.Add(rec(i))
		}
		synctest.Wait() // the owner holds 5 and is blocked in the sink
		accepted := 0
		for i := 5; i < 20; i++ {
			if w.Add(rec(i)) {
				accepted++
			}
		}
		if st := w.Stats(); accepted != 5 || st.Dropped != 10 || st.Depth != 10 {
			t.Errorf("accepted %d, Stats %+v; want 5 accepted, 10 dropped, depth 10", accepted, st)
		}
		time.Sleep(3 * time.Second) // ticks while blocked do not log
		close(sink.gate)
		time.Sleep(time.Second)
		synctest.Wait()
		if n := sink.count(); n != 10 {
			t.Errorf("%d written, want the 10 accepted", n)
		}
		if got := strings.Count(logs.String(), "records dropped"); got != 1 {
			t.Errorf("%d drop warnings, want 1:\n%s", got, logs.String())
		}
		if !strings.Contains(logs.String(), "dropped=10") {
			t.Errorf("warning does not count the drops:\n%s", logs.String())
		}
		mustClose(t, w)
	})
}

func TestWriterRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &memSink{failures: 3}
		w := NewWriter(sink, WriterOptions{BatchSize: 5, FlushInterval: time.Hour, Logger: quietLogger()})
		for i := range 5 {
			w.Add(rec(i))
		}
		synctest.Wait()
		start := time.Now()
		w.Add(rec(5)) // queued during the backoff, written with the retry
		for sink.count() < 6 {
			time.Sleep(10 * time.Millisecond)
		}
		// Backoff 250ms, 500ms, 1s.
		if took := time.Since(start); took < 1750*time.Millisecond || took > 1800*time.Millisecond {
			t.Errorf("written after %v, want 1.75s of backoff", took)
		}
		if st := w.Stats(); st.FailedFlushes != 3 || st.Written != 6 || st.Depth != 0 {
			t.Errorf("Stats = %+v", st)
		}
		mustClose(t, w)
		if n := sink.count(); n != 6 {
			t.Errorf("%d records, want 6 (no duplicates)", n)
		}
	})
}

func TestWriterCloseGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &memSink{failures: 1 << 30}
		w := NewWriter(sink, WriterOptions{Logger: quietLogger()})
		for i := range 4 {
			w.Add(rec(i))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		err := w.Close(ctx)
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "4 records unwritten") {
			t.Errorf("Close = %v, want 4 records lost at the deadline", err)
		}
	})
}

func TestWriterSubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWriter(&memSink{}, WriterOptions{SubscriberBuffer: 2, Logger: quietLogger()})
		fast, cancelFast := w.Subscribe()
		slow, _ := w.Subscribe()
		for i := range 2 {
			w.Add(rec(i))
		}
		for i := range 2 {
			if r := <-fast; r.RequestID != rec(i).RequestID {
				t.Errorf("feed got %s, want %s", r.RequestID, rec(i).RequestID)
			}
		}
		w.Add(rec(2)) // slow's buffer is full: dropped for it only
		if r := <-fast; r.RequestID != "req-2" {
			t.Errorf("feed got %s", r.RequestID)
		}
		cancelFast()
		cancelFast()
		if _, ok := <-fast; ok {
			t.Error("feed open after cancel")
		}
		w.Add(rec(3))
		mustClose(t, w)
		var got []string
		for r := range slow { // closed when the writer stops
			got = append(got, r.RequestID)
		}
		if strings.Join(got, ",") != "req-0,req-1" {
			t.Errorf("slow subscriber got %v", got)
		}
		if late, _ := w.Subscribe(); late != nil {
			if _, ok := <-late; ok {
				t.Error("subscription after Close is open")
			}
		}
	})
}

func BenchmarkWriterAdd(b *testing.B) {
	w := NewWriter(discard{}, WriterOptions{Logger: quietLogger()})
	r := Record{RequestID: "req-0123456789", KeyID: "key_1", UserID: "alice", Model: "claude-sonnet-4-5",
		UpstreamModel: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Provider: "bedrock", Status: 200,
		Tokens: tokens.Counts{Input: 1200, Output: 300, CacheRead: 40_000}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Add(r)
		}
	})
	b.StopTimer()
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if st := w.Stats(); st.Dropped > 0 {
		b.Logf("dropped %d of %d", st.Dropped, st.Queued+st.Dropped)
	}
}

type discard struct{}

func (discard) InsertUsage(context.Context, []Record) error { return nil }

// rejectSink stores records like memSink but rejects, as a database refuses
// a bad value, any batch holding a record whose model is "poison". While
// down is set it fails every call as an unreachable database does.
type rejectSink struct {
	memSink
	down bool
}

func (s *rejectSink) InsertUsage(ctx context.Context, recs []Record) error {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		s.mu.Lock()
		s.calls++
		s.mu.Unlock()
		return errors.New("connection refused")
	}
	for _, r := range recs {
		if r.Model == "poison" {
			s.mu.Lock()
			s.calls++
			s.mu.Unlock()
			return fmt.Errorf("%w: invalid byte sequence for encoding \"UTF8\": 0x00 (SQLSTATE 22021)", ErrRejected)
		}
	}
	return s.memSink.InsertUsage(ctx, recs)
}

func (s *rejectSink) setDown(v bool) {
	s.mu.Lock()
	s.down = v
	s.mu.Unlock()
}

func (s *rejectSink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.recs {
		out = append(out, r.RequestID)
	}
	return out
}

func openSpool(t *testing.T, name string, max int64) *Spool {
	t.Helper()
	sp, err := OpenSpool(filepath.Join(t.TempDir(), name), max)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestWriterQuarantinesRejected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		poison []int // indexes of poisoned records among 20
	}{
		{"one in the middle", []int{7}},
		{"first and last", []int{0, 19}},
		{"several", []int{3, 4, 11, 12, 13}},
		{"all", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := &rejectSink{}
				q := openSpool(t, "quarantine.jsonl", 1<<20)
				var logs bytes.Buffer
				w := NewWriter(sink, WriterOptions{BatchSize: 20, FlushInterval: time.Hour, Quarantine: q,
					Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
				bad := map[int]bool{}
				for _, i := range tc.poison {
					bad[i] = true
				}
				var want []string
				for i := range 20 {
					r := rec(i)
					if bad[i] {
						r.Model = "poison"
					} else {
						want = append(want, r.RequestID)
					}
					w.Add(r)
				}
				mustClose(t, w)
				got := sink.ids()
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("written %v, want %v", got, want)
				}
				st := w.Stats()
				if st.Quarantined != int64(len(tc.poison)) || st.Written != int64(len(want)) || st.Depth != 0 || st.Dropped != 0 {
					t.Errorf("Stats = %+v, want %d quarantined, %d written", st, len(tc.poison), len(want))
				}
				held, badLines, err := q.Load()
				if err != nil || badLines != 0 || len(held) != len(tc.poison) {
					t.Fatalf("quarantine holds %d records (%d bad lines, %v), want %d", len(held), badLines, err, len(tc.poison))
				}
				for _, r := range held {
					if r.Model != "poison" {
						t.Errorf("quarantined %s (model %q), a good record", r.RequestID, r.Model)
					}
				}
				if n := strings.Count(logs.String(), `"level":"ERROR"`); n != len(tc.poison) {
					t.Errorf("%d error logs, want one per rejected record:\n%s", n, logs.String())
				}
			})
		})
	}
}

func TestWriterCloseSpillsAndNextStartReplays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &rejectSink{down: true}
		sp := openSpool(t, "spill.jsonl", 1<<20)
		w := NewWriter(sink, WriterOptions{BatchSize: 7, FlushInterval: time.Hour, Spill: sp, Logger: quietLogger()})
		for i := range 30 {
			w.Add(rec(i))
		}
		start := time.Now()
		mustClose(t, w) // no error: nothing is lost
		if took := time.Since(start); took > time.Second {
			t.Errorf("Close took %v with the database down; it should spill at once", took)
		}
		if st := w.Stats(); st.Spilled != 30 || st.Written != 0 || st.Dropped != 0 || st.Depth != 0 || st.SpillBytes == 0 {
			t.Errorf("Stats after Close = %+v, want 30 spilled", st)
		}

		// The next start, with the database back.
		sp2, err := OpenSpool(sp.Path(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		ok := &rejectSink{}
		w2 := NewWriter(ok, WriterOptions{FlushInterval: time.Hour, Spill: sp2, Logger: quietLogger()})
		synctest.Wait()
		if n := ok.count(); n != 30 {
			t.Errorf("%d records replayed at start, want 30", n)
		}
		if _, err := os.Stat(sp.Path()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("spill file after replay: %v, want it removed", err)
		}
		mustClose(t, w2)
		if st := w2.Stats(); st.Replayed != 30 || st.Written != 30 || st.SpillBytes != 0 {
			t.Errorf("Stats after replay = %+v", st)
		}
		if got := ok.ids(); len(got) != 30 || got[0] != "req-0" || got[29] != "req-29" {
			t.Errorf("replayed %v, want req-0 … req-29 in order", got)
		}
	})
}

func TestWriterSpillBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		line, _ := json.Marshal(spoolLine{Record: rec(1)})
		sp := openSpool(t, "spill.jsonl", int64(len(line)+1)*5+10) // room for 5 records
		w := NewWriter(&rejectSink{down: true}, WriterOptions{FlushInterval: time.Hour, Spill: sp, Logger: quietLogger()})
		for i := range 8 {
			w.Add(rec(i))
		}
		err := w.Close(t.Context())
		if err == nil || !strings.Contains(err.Error(), "3 records unwritten") {
			t.Errorf("Close = %v, want 3 records lost", err)
		}
		st := w.Stats()
		if st.Spilled != 5 || st.Dropped != 3 || st.Spilled+st.Dropped != st.Queued {
			t.Errorf("Stats = %+v, want 5 spilled and 3 dropped: every record accounted for", st)
		}
		if sp.Size() > sp.MaxBytes() {
			t.Errorf("spill file is %d bytes, over its bound %d", sp.Size(), sp.MaxBytes())
		}
		if recs, _, _ := sp.Load(); len(recs) != 5 {
			t.Errorf("spill file holds %d records, want 5", len(recs))
		}
	})
}

func TestWriterSpillsBacklogAndReplaysOnRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &rejectSink{down: true}
		sp := openSpool(t, "spill.jsonl", 1<<20)
		w := NewWriter(sink, WriterOptions{QueueSize: 1000, FlushInterval: time.Second, SpillAfter: 10 * time.Second,
			Spill: sp, Logger: quietLogger()})
		for i := range 10 {
			w.Add(rec(i))
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if st := w.Stats(); st.Spilled != 0 || st.Depth != 10 || st.FailingSince.IsZero() {
			t.Fatalf("Stats before SpillAfter = %+v, want 10 waiting in memory", st)
		}
		if err := w.Ready(); err != nil {
			t.Errorf("Ready() = %v while the backlog can still be spilled", err)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if st := w.Stats(); st.Spilled != 10 || st.Depth != 0 {
			t.Fatalf("Stats after SpillAfter = %+v, want the backlog spilled", st)
		}
		// Half the queue spills at once, whatever the time.
		for i := 10; i < 510; i++ {
			w.Add(rec(i))
		}
		synctest.Wait()
		if st := w.Stats(); st.Spilled != 510 || st.Dropped != 0 {
			t.Fatalf("Stats after half a queue = %+v, want 510 spilled", st)
		}

		sink.setDown(false)
		w.Add(rec(510))
		time.Sleep(time.Minute)
		synctest.Wait()
		st := w.Stats()
		if n := sink.count(); n != 511 || st.Replayed != 510 || st.SpillBytes != 0 || !st.FailingSince.IsZero() {
			t.Errorf("after recovery: %d written, Stats %+v; want 511 written, 510 replayed", n, st)
		}
		if _, err := os.Stat(sp.Path()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("spill file after recovery: %v, want it removed", err)
		}
		mustClose(t, w)
		seen := map[string]bool{}
		for _, id := range sink.ids() {
			if seen[id] {
				t.Errorf("%s written twice", id)
			}
			seen[id] = true
		}
	})
}

func TestWriterReady(t *testing.T) {
	for _, tc := range []struct {
		name      string
		spill     func(t *testing.T) *Spool
		wantReady bool
	}{
		{"no spill file", func(*testing.T) *Spool { return nil }, false},
		{"spill file", func(t *testing.T) *Spool { return openSpool(t, "spill.jsonl", 1<<20) }, true},
		{"spill file full", func(t *testing.T) *Spool { return openSpool(t, "spill.jsonl", 10) }, false},
		{"spill file unwritable", func(t *testing.T) *Spool {
			sp := openSpool(t, "spill.jsonl", 1<<20)
			if err := os.Mkdir(sp.Path(), 0o700); err != nil { // a directory cannot be appended to
				t.Fatal(err)
			}
			return sp
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := &rejectSink{}
				w := NewWriter(sink, WriterOptions{FlushInterval: time.Second, Spill: tc.spill(t), Logger: quietLogger()})
				defer w.Close(t.Context())
				w.Add(rec(0))
				time.Sleep(2 * time.Second)
				if err := w.Ready(); err != nil {
					t.Fatalf("Ready() = %v while writes succeed", err)
				}
				sink.setDown(true)
				for i := range 600 {
					w.Add(rec(i + 1))
				}
				time.Sleep(time.Minute)
				synctest.Wait()
				err := w.Ready()
				if (err == nil) != tc.wantReady {
					t.Errorf("Ready() with the sink down = %v, want ready %v (Stats %+v)", err, tc.wantReady, w.Stats())
				}
				sink.setDown(false)
			})
		})
	}
}
