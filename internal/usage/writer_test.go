package usage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
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
	return Record{RequestID: fmt.Sprint("req-", i), Model: "claude-sonnet-4-5", InputTokens: int64(i)}
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
		InputTokens: 1200, OutputTokens: 300, CacheReadTokens: 40_000}
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
