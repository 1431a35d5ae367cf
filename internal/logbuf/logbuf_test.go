package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a destination that can be read while the drainer writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAllLinesAfterClose logs from many goroutines through slog and checks
// that Close leaves every line, whole and once, in the destination.
func TestAllLinesAfterClose(t *testing.T) {
	var dst lockedBuffer
	w := New(&dst, 0)
	log := slog.New(slog.NewJSONHandler(w, nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				log.Info("request", "g", g, "i", i)
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(dst.String(), "\n"), "\n")
	if len(lines) != 2000 || w.Dropped() != 0 {
		t.Fatalf("%d lines written, %d dropped, want 2000 and 0", len(lines), w.Dropped())
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			t.Fatalf("a torn line: %q", l)
		}
		if seen[l[strings.Index(l, `"g"`):]] {
			t.Fatalf("a line twice: %q", l)
		}
		seen[l[strings.Index(l, `"g"`):]] = true
	}
	// Closed: later lines are dropped and counted, never an error.
	if n, err := w.Write([]byte("late\n")); n != 5 || err != nil {
		t.Errorf("Write after Close = %d, %v, want 5, nil", n, err)
	}
	if w.Dropped() != 1 {
		t.Errorf("Dropped after a write past Close = %d, want 1", w.Dropped())
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// blockedWriter stands for a destination that has stopped taking bytes (a
// full pipe): every Write waits until release is closed.
type blockedWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	got     bytes.Buffer
}

func (b *blockedWriter) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.got.Write(p)
}

// TestStalledDestinationNeverBlocks stalls the destination and checks that
// writers still return, that what does not fit is dropped and counted, and
// that what fit is written once the destination recovers.
func TestStalledDestinationNeverBlocks(t *testing.T) {
	dst := &blockedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	w := New(dst, 100)
	w.Write([]byte("first line\n")) // the drainer takes it and blocks in dst
	<-dst.entered
	kept := 0
	for i := range 20 {
		line := fmt.Sprintf("line %02d\n", i) // 8 bytes
		if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v, want %d, nil", n, err, len(line))
		}
		if uint64(i+1)-w.Dropped() > uint64(kept) {
			kept++
		}
	}
	if kept != 12 || w.Dropped() != 8 {
		t.Errorf("with a 100-byte buffer: %d kept, %d dropped, want 12 and 8", kept, w.Dropped())
	}
	close(dst.release)
	w.Close()
	want := "first line\n"
	for i := range 12 {
		want += fmt.Sprintf("line %02d\n", i)
	}
	if got := dst.got.String(); got != want {
		t.Errorf("destination got %q, want %q", got, want)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk gone") }

// TestDestinationErrors checks that a failing destination neither fails
// the writer nor keeps Close from returning.
func TestDestinationErrors(t *testing.T) {
	w := New(failingWriter{}, 0)
	if _, err := io.WriteString(w, "x\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if w.errs.Load() != 1 {
		t.Errorf("failed destination writes = %d, want 1", w.errs.Load())
	}
}

// BenchmarkWrite is the cost a log line adds to the request that writes it.
func BenchmarkWrite(b *testing.B) {
	w := New(io.Discard, 0)
	defer w.Close()
	line := []byte(`{"time":"2026-12-03T20:00:00Z","level":"INFO","msg":"request","id":"req_x","status":200,"dur_ms":1.2}` + "\n")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Write(line)
		}
	})
}
