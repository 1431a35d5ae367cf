package usage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Sink persists usage records; the store implements it. InsertUsage should
// write all of recs or none (one transaction): a failed call is retried
// with the same records.
type Sink interface {
	InsertUsage(ctx context.Context, recs []Record) error
}

// WriterOptions configure a Writer. Zero fields take the defaults.
type WriterOptions struct {
	// QueueSize bounds the records waiting to be written, including those
	// of a batch being retried. Beyond it, Add drops records and counts
	// them. Default 100,000.
	QueueSize int
	// BatchSize is the most records per InsertUsage call; a full batch is
	// written at once, without waiting for the interval. Default 500.
	BatchSize int
	// FlushInterval is the longest a record waits before it is written, and
	// so the most that is lost if the process is killed with SIGKILL.
	// Default 1s.
	FlushInterval time.Duration
	// RetryBackoff is the wait after the first failed write; it doubles on
	// each further failure up to MaxRetryBackoff. Defaults 250ms and 30s.
	RetryBackoff, MaxRetryBackoff time.Duration
	// WriteTimeout bounds one InsertUsage call. Default 30s.
	WriteTimeout time.Duration
	// SubscriberBuffer is the channel capacity of each live-feed
	// subscriber. Default 1,000.
	SubscriberBuffer int
	// Logger receives drop and write-failure warnings, at most once per
	// FlushInterval each. Default slog.Default().
	Logger *slog.Logger
}

func (o *WriterOptions) applyDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.QueueSize, 100_000)
	def(&o.BatchSize, 500)
	def(&o.SubscriberBuffer, 1_000)
	defDur(&o.FlushInterval, time.Second)
	defDur(&o.RetryBackoff, 250*time.Millisecond)
	defDur(&o.MaxRetryBackoff, 30*time.Second)
	defDur(&o.WriteTimeout, 30*time.Second)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// WriterStats are the writer's counters since it started.
type WriterStats struct {
	Queued        int64 // records accepted by Add
	Written       int64 // records the sink stored
	Dropped       int64 // records refused because the queue was full or the writer closed
	FailedFlushes int64 // InsertUsage calls that failed (and were retried)
	Depth         int   // records waiting now, including a batch being retried
}

// Writer persists usage records in batches from one goroutine, off the
// request path. Add never blocks: records go into a bounded queue that the
// owner goroutine writes every FlushInterval, or as soon as a batch is full.
// Failed writes are retried with backoff while records keep queueing up to
// QueueSize; beyond it new records are dropped and counted.
//
// The queue is a slice behind a mutex rather than a buffered channel: a
// channel of QueueSize records would allocate its whole capacity (tens of
// megabytes) up front, and the owner needs to take the queue in one swap.
type Writer struct {
	sink Sink
	opts WriterOptions

	mu      sync.Mutex
	queue   []Record     // guarded by mu
	closed  bool         // guarded by mu
	pending atomic.Int64 // records the owner holds, not yet written

	kick   chan struct{} // a full batch is waiting
	quit   chan struct{} // closed by Close: drain and stop
	done   chan struct{} // closed when the owner has stopped
	cancel context.CancelFunc
	once   sync.Once

	queued, written, dropped, failed atomic.Int64

	subMu      sync.Mutex
	subsClosed bool // guarded by subMu: the writer has stopped
	subs       atomic.Pointer[[]*subscriber]
}

// NewWriter starts a writer that writes to sink. Stop it with Close.
func NewWriter(sink Sink, opts WriterOptions) *Writer {
	opts.applyDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		sink:   sink,
		opts:   opts,
		kick:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		cancel: cancel,
	}
	w.subs.Store(&[]*subscriber{})
	go w.run(ctx)
	return w
}

// Add queues rec for writing and reports whether it was accepted. It never
// blocks: when the queue is full, or the writer is closed, rec is dropped
// and counted.
func (w *Writer) Add(rec Record) bool {
	w.mu.Lock()
	if w.closed || len(w.queue)+int(w.pending.Load()) >= w.opts.QueueSize {
		w.mu.Unlock()
		w.dropped.Add(1)
		return false
	}
	w.queue = append(w.queue, rec)
	full := len(w.queue) >= w.opts.BatchSize
	w.mu.Unlock()
	w.queued.Add(1)
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	if subs := *w.subs.Load(); len(subs) > 0 {
		for _, s := range subs {
			s.send(rec)
		}
	}
	return true
}

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	depth := len(w.queue) + int(w.pending.Load())
	w.mu.Unlock()
	return WriterStats{
		Queued:        w.queued.Load(),
		Written:       w.written.Load(),
		Dropped:       w.dropped.Load(),
		FailedFlushes: w.failed.Load(),
		Depth:         depth,
	}
}

// Close stops accepting records, writes every record still queued, and
// returns when they are written or when ctx ends; then the records not yet
// written are lost, and the error says how many. Later calls wait the same
// way and return nil once the writer has stopped.
func (w *Writer) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.quit)
	})
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
	}
	w.cancel() // abandon the write in progress and any retry
	<-w.done
	if lost := w.Stats().Depth; lost > 0 {
		return fmt.Errorf("usage: writer closed with %d records unwritten: %w", lost, ctx.Err())
	}
	return nil
}

// run is the owner goroutine: the only caller of the sink.
func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	defer w.closeSubscribers()
	var (
		batch       []Record // records taken from the queue, not yet written
		backoff     time.Duration
		lastDropped int64
		lastWarn    time.Time
		quit        = w.quit
		draining    bool
	)
	tick := time.NewTicker(w.opts.FlushInterval)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-w.kick:
			if backoff > 0 {
				continue // wait for the retry timer
			}
		case <-tick.C:
			if d := w.dropped.Load(); d > lastDropped {
				w.opts.Logger.Warn("usage writer: queue full, records dropped",
					"dropped", d-lastDropped, "queue_size", w.opts.QueueSize)
				lastDropped = d
			}
			if backoff > 0 {
				continue
			}
		case <-retry.C:
		case <-quit:
			draining, quit = true, nil
		case <-ctx.Done():
			return
		}

		batch = w.take(batch)
		var err error
		batch, err = w.write(ctx, batch)
		if err == nil {
			backoff = 0
			if draining {
				// Close marked the writer closed before it closed quit, so
				// nothing was queued after this take: all is written.
				return
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		backoff = min(max(backoff*2, w.opts.RetryBackoff), w.opts.MaxRetryBackoff)
		retry.Reset(backoff)
		if lastWarn.IsZero() || time.Since(lastWarn) >= w.opts.FlushInterval {
			w.opts.Logger.Warn("usage writer: write failed, retrying",
				"err", err, "records", len(batch), "retry_in", backoff)
			lastWarn = time.Now()
		}
	}
}

// take moves the queue into batch, leaving the queue empty (with spare
// capacity) for Add.
func (w *Writer) take(batch []Record) []Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return batch
	}
	batch = append(batch, w.queue...)
	clear(w.queue) // drop references for the garbage collector
	w.queue = w.queue[:0]
	w.pending.Store(int64(len(batch)))
	return batch
}

// write writes batch in chunks of BatchSize and returns what is left: empty
// on success, the unwritten tail (moved to the front) on failure.
func (w *Writer) write(ctx context.Context, batch []Record) ([]Record, error) {
	done := 0
	var err error
	for done < len(batch) {
		n := min(w.opts.BatchSize, len(batch)-done)
		wctx, cancel := context.WithTimeout(ctx, w.opts.WriteTimeout)
		err = w.sink.InsertUsage(wctx, batch[done:done+n])
		cancel()
		if err != nil {
			w.failed.Add(1)
			break
		}
		done += n
		w.written.Add(int64(n))
		w.pending.Store(int64(len(batch) - done))
	}
	rest := copy(batch, batch[done:])
	clear(batch[rest:])
	return batch[:rest], err
}

// subscriber is one live-feed consumer.
type subscriber struct {
	mu      sync.RWMutex // read-held while sending, write-held to close
	ch      chan Record
	closed  bool
	dropped atomic.Int64
}

func (s *subscriber) send(rec Record) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	select {
	case s.ch <- rec:
	default:
		s.dropped.Add(1) // a slow consumer never slows requests down
	}
}

func (s *subscriber) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// Subscribe returns a live feed of the records accepted by Add from now on,
// for the live view. The channel is bounded (SubscriberBuffer): a consumer
// that falls behind misses records instead of slowing requests down. Call
// cancel to stop; the channel is then closed, as it is when the writer
// stops.
func (w *Writer) Subscribe() (feed <-chan Record, cancel func()) {
	s := &subscriber{ch: make(chan Record, w.opts.SubscriberBuffer)}
	w.subMu.Lock()
	if w.subsClosed {
		w.subMu.Unlock()
		s.close()
		return s.ch, func() {}
	}
	next := append(append([]*subscriber(nil), *w.subs.Load()...), s)
	w.subs.Store(&next)
	w.subMu.Unlock()
	return s.ch, func() {
		w.subMu.Lock()
		cur := *w.subs.Load()
		next := make([]*subscriber, 0, len(cur))
		for _, o := range cur {
			if o != s {
				next = append(next, o)
			}
		}
		w.subs.Store(&next)
		w.subMu.Unlock()
		s.close()
	}
}

func (w *Writer) closeSubscribers() {
	w.subMu.Lock()
	defer w.subMu.Unlock()
	w.subsClosed = true
	for _, s := range *w.subs.Load() {
		s.close()
	}
	w.subs.Store(&[]*subscriber{})
}
