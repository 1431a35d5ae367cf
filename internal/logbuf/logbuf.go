// Package logbuf takes the write of a log line off the request's path.
//
// Under load the gateway writes one access-log line per request; written
// synchronously, each is a write(2) on the request's goroutine, under the
// slog handler's lock, and a slow or blocked destination (a full pipe, a
// congested disk, a terminal) stalls every request behind it — a direct
// cause of latency tails. A Writer copies each line into a bounded buffer
// and returns; one goroutine drains the buffer in large writes, so a burst
// of lines costs one syscall instead of one each. When the buffer is full a
// line is dropped and counted (a log destination that cannot keep up must
// not slow the gateway down, and the count says what was lost); Close
// writes out what is buffered.
package logbuf

import (
	"io"
	"sync"
	"sync/atomic"
)

// DefaultSize is the buffer bound used when New is given 0: about 2,000
// access-log lines, a second of a busy gateway's log with the destination
// stalled.
const DefaultSize = 1 << 20

// Writer is an io.Writer that buffers and writes asynchronously. Write
// never blocks on the destination.
type Writer struct {
	dst  io.Writer
	size int

	mu      sync.Mutex
	buf     []byte // lines waiting for the drainer
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
	// errs counts failed writes to the destination; the lines are lost.
	errs atomic.Uint64
}

// New starts a Writer in front of dst holding at most size bytes (0 means
// DefaultSize).
func New(dst io.Writer, size int) *Writer {
	if size <= 0 {
		size = DefaultSize
	}
	w := &Writer{dst: dst, size: size, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.drain()
	return w
}

// Write copies p into the buffer, or drops it when it does not fit (or the
// Writer is closed). It always reports success: a lost log line is counted
// in Dropped, never turned into an error for the request that logged it.
// slog handlers call Write once per record, so a line is kept or dropped
// whole.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed || len(w.buf)+len(p) > w.size {
		w.mu.Unlock()
		w.dropped.Add(1)
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // the drainer is already due to run
	}
	return len(p), nil
}

// Dropped is the number of writes dropped because the buffer was full or
// the Writer closed.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// drain writes the buffer out whenever a Write wakes it, swapping buffers so
// that writers never wait for the destination.
func (w *Writer) drain() {
	defer close(w.done)
	var out []byte
	for range w.wake {
		w.mu.Lock()
		out, w.buf = w.buf, out[:0]
		closed := w.closed
		w.mu.Unlock()
		if len(out) > 0 {
			if _, err := w.dst.Write(out); err != nil {
				w.errs.Add(1)
			}
		}
		if cap(out) > 256<<10 {
			out = nil // do not keep a burst's buffer for good
		}
		if closed {
			return
		}
	}
}

// Close stops accepting lines and returns once everything buffered has been
// written. It is safe to call more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	// The drainer may be mid-write; this wake, or the one already pending,
	// makes it take the rest, see closed and stop.
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
	return nil
}
