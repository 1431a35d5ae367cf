package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Sink persists usage records; the store implements it. InsertUsage should
// write all of recs or none (one transaction): a failed call is retried
// with the same records. An error caused by the records themselves, which a
// retry cannot cure, wraps ErrRejected.
type Sink interface {
	InsertUsage(ctx context.Context, recs []Record) error
}

// ErrRejected marks a Sink error caused by the records themselves (a value
// the database refuses) rather than by the database being unavailable.
// Retrying such a batch fails forever and blocks every record behind it, so
// the writer splits the batch to find the records at fault, writes the
// others, and quarantines those. Sinks wrap it alongside the cause:
// fmt.Errorf("%w: %w", usage.ErrRejected, err). Errors without it are taken
// as transient and retried with backoff.
var ErrRejected = errors.New("usage: records rejected")

// WriterOptions configure a Writer. Zero fields take the defaults.
type WriterOptions struct {
	// QueueSize bounds the records waiting to be written, including those
	// of a batch being retried. Beyond it, Add drops records and counts
	// them. Default 100,000.
	QueueSize int
	// BatchSize is the most records per InsertUsage call; a full batch is
	// written at once, without waiting for the interval. Default 500.
	BatchSize int
	// FlushInterval is the longest a record waits before its batch is
	// taken, and so, with the write in flight, what a SIGKILL loses: the
	// records queued since the last committed batch began (at most this
	// interval plus that write's duration). Default 1s.
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

	// Spill, when set, keeps usage that cannot be written to the sink
	// instead of losing it: the backlog, once writes have failed for
	// SpillAfter or the backlog fills half the queue, and at Close whatever
	// the sink does not take at once. Spilled records are replayed, oldest
	// first, as soon as the sink answers again, including at the next start.
	// Without it, records wait in memory: they are dropped when the queue is
	// full, and lost when Close gives up.
	Spill *Spool
	// SpillAfter is how long writes may fail before the backlog is spilled.
	// Default 10s.
	SpillAfter time.Duration
	// Quarantine, when set, receives the records the sink rejects
	// (ErrRejected), with the error, for an operator to inspect. Without it
	// they are only logged.
	Quarantine *Spool
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
	defDur(&o.SpillAfter, 10*time.Second)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// WriterStats are the writer's counters since it started, and its health.
type WriterStats struct {
	Queued        int64 // records accepted by Add
	Written       int64 // records the sink stored, replayed ones included
	Dropped       int64 // records lost: refused by a full queue or a closed writer, or neither written nor spilled
	FailedFlushes int64 // InsertUsage calls that failed (and were retried, or split to isolate a rejected record)
	Depth         int   // records waiting now, including a batch being retried
	Spilled       int64 // records moved to the spill file
	Replayed      int64 // records written back from the spill file
	Quarantined   int64 // records the sink rejected, set aside
	SpillBytes    int64 // the spill file's size now

	LastWrite    time.Time // the last successful write; zero before the first
	FailingSince time.Time // the first failure of the current run of failures; zero when the last write succeeded
	LastError    string    // the last write or spill error, "" when none
}

// Writer persists usage records in batches from one goroutine, off the
// request path. Add never blocks: records go into a bounded queue that the
// owner goroutine writes every FlushInterval, or as soon as a batch is full.
// Failed writes are retried with backoff while records keep queueing up to
// QueueSize; beyond it new records are dropped and counted.
//
// No record may block the others: a batch the sink rejects (ErrRejected) is
// split until the records at fault are isolated, and those are quarantined.
// And usage outlives an outage: with a Spill file, the backlog of a sink
// that keeps failing, and what is unwritten at Close, go to local disk and
// are replayed when the sink answers again, at the latest at the next start.
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
	spilled, replayed, quarantined   atomic.Int64
	lost                             atomic.Int64 // records the owner could neither write nor spill when it stopped

	hmu          sync.Mutex // guards the health fields below
	lastWrite    time.Time
	failingSince time.Time
	lastErr      string
	spillErr     error // the last spill failed (or the file is full); nil after a spill or replay succeeds

	spooled bool // owned by run: the spill file holds records to replay

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
	w.spooled = opts.Spill != nil && opts.Spill.Size() > 0
	w.subs.Store(&[]*subscriber{})
	go w.run(ctx)
	return w
}

// Add queues rec for writing and reports whether it was accepted. It never
// blocks: when the queue is full, or the writer is closed, rec is dropped
// and counted.
func (w *Writer) Add(rec Record) bool {
	w.mu.Lock()
	depth := len(w.queue) + int(w.pending.Load())
	if w.closed || depth >= w.opts.QueueSize {
		w.mu.Unlock()
		w.dropped.Add(1)
		return false
	}
	w.queue = append(w.queue, rec)
	// A full batch is written at once; half a queue (writes are failing)
	// wakes the owner to spill it before the queue fills up.
	full := len(w.queue) >= w.opts.BatchSize || depth+1 >= w.opts.QueueSize/2
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
	st := WriterStats{
		Queued:        w.queued.Load(),
		Written:       w.written.Load(),
		Dropped:       w.dropped.Load(),
		FailedFlushes: w.failed.Load(),
		Depth:         depth,
		Spilled:       w.spilled.Load(),
		Replayed:      w.replayed.Load(),
		Quarantined:   w.quarantined.Load(),
	}
	if w.opts.Spill != nil {
		st.SpillBytes = w.opts.Spill.Size()
	}
	w.hmu.Lock()
	st.LastWrite, st.FailingSince, st.LastError = w.lastWrite, w.failingSince, w.lastErr
	w.hmu.Unlock()
	return st
}

// Ready reports whether usage is safe, for readiness probes: nil while
// writes succeed, and while they fail but the backlog can still be spilled
// to disk. A database outage alone is therefore not a reason to take the
// gateway out of a load balancer. The error says why records are being, or
// are about to be, lost: writes fail and there is no spill file, the spill
// file is full, or writing it failed.
func (w *Writer) Ready() error {
	w.hmu.Lock()
	defer w.hmu.Unlock()
	if w.failingSince.IsZero() {
		return nil
	}
	switch {
	case w.opts.Spill == nil:
		return fmt.Errorf("usage: writes failing since %s and no spill file: %s",
			w.failingSince.UTC().Format(time.RFC3339), w.lastErr)
	case w.spillErr != nil:
		return fmt.Errorf("usage: writes failing since %s and spilling failed: %w",
			w.failingSince.UTC().Format(time.RFC3339), w.spillErr)
	case w.opts.Spill.Size() >= w.opts.Spill.MaxBytes():
		return fmt.Errorf("usage: writes failing since %s and the spill file %s is full",
			w.failingSince.UTC().Format(time.RFC3339), w.opts.Spill.Path())
	}
	return nil
}

// Close stops accepting records, writes every record still queued, and
// returns when they are written or when ctx ends. With a spill file, what
// the sink does not take (it fails, or ctx ends) is spilled, to be replayed
// at the next start; without one, the records not yet written when ctx ends
// are lost. The error says how many records were lost. Later calls wait the
// same way.
func (w *Writer) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.quit)
	})
	select {
	case <-w.done:
	case <-ctx.Done():
		w.cancel() // abandon the write in progress and any retry
		<-w.done
	}
	if lost := w.lost.Load(); lost > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("usage: writer closed with %d records unwritten: %w", lost, err)
		}
		return fmt.Errorf("usage: writer closed with %d records unwritten", lost)
	}
	return nil
}

// run is the owner goroutine: the only caller of the sink and the only user
// of the spool files.
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
	if w.spooled {
		retry.Reset(0) // replay what an earlier run spilled, at once
	}
	for {
		select {
		case <-w.kick:
			if backoff > 0 {
				batch = w.maybeSpill(batch, false)
				continue // wait for the retry timer
			}
		case <-tick.C:
			if d := w.dropped.Load(); d > lastDropped {
				w.opts.Logger.Warn("usage writer: queue full, records dropped",
					"dropped", d-lastDropped, "queue_size", w.opts.QueueSize)
				lastDropped = d
			}
			if backoff > 0 {
				batch = w.maybeSpill(batch, false)
				continue
			}
		case <-retry.C:
		case <-quit:
			draining, quit = true, nil
		case <-ctx.Done():
			w.stop(batch)
			return
		}

		batch = w.take(batch)
		answered := w.written.Load() + w.quarantined.Load()
		var err error
		if w.spooled {
			err = w.replay(ctx) // older than anything queued
		}
		if err == nil {
			batch, err = w.write(ctx, batch)
		}
		if err == nil {
			if w.written.Load()+w.quarantined.Load() > answered {
				w.succeeded()
			}
			backoff = 0
			if draining {
				// Close marked the writer closed before it closed quit, so
				// nothing was queued after this take: all is written.
				return
			}
			continue
		}
		w.failing(err)
		if ctx.Err() != nil || draining && w.opts.Spill != nil {
			// Close gave up waiting, or the sink fails during shutdown:
			// keep the records on disk for the next start rather than
			// retry until the grace period ends.
			w.stop(batch)
			return
		}
		batch = w.maybeSpill(batch, true)
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
// on success, the unwritten records (moved to the front) on a transient
// failure. Rejected records are quarantined by writeChunk, never left.
func (w *Writer) write(ctx context.Context, batch []Record) ([]Record, error) {
	for done := 0; done < len(batch); {
		n := min(w.opts.BatchSize, len(batch)-done)
		left, err := w.writeChunk(ctx, batch[done:done+n])
		if err != nil {
			rest := slices.Concat(left, batch[done+n:])
			k := copy(batch, rest)
			clear(batch[k:]) // drop references for the garbage collector
			batch = batch[:k]
			w.pending.Store(int64(k))
			return batch, err
		}
		done += n
		w.pending.Store(int64(len(batch) - done))
	}
	clear(batch)
	return batch[:0], nil
}

// writeChunk writes recs in one InsertUsage call. When the sink rejects them
// (ErrRejected) it splits recs in halves, recursively, until each rejected
// record is alone: the others are written, the rejected ones quarantined,
// so one bad row costs about 2·log2(len(recs)) extra calls and never blocks
// the rest. It returns the records not written and the transient error
// that stopped it.
func (w *Writer) writeChunk(ctx context.Context, recs []Record) ([]Record, error) {
	wctx, cancel := context.WithTimeout(ctx, w.opts.WriteTimeout)
	err := w.sink.InsertUsage(wctx, recs)
	cancel()
	if err == nil {
		w.written.Add(int64(len(recs)))
		return nil, nil
	}
	w.failed.Add(1)
	if !errors.Is(err, ErrRejected) || ctx.Err() != nil {
		return recs, err
	}
	if len(recs) == 1 {
		w.quarantine(recs[0], err)
		return nil, nil
	}
	mid := len(recs) / 2
	if left, err := w.writeChunk(ctx, recs[:mid]); err != nil {
		return slices.Concat(left, recs[mid:]), err
	}
	return w.writeChunk(ctx, recs[mid:])
}

// quarantine sets aside a record the sink rejected, and logs it at error
// level: it is usage that is not counted in the rollups until an operator
// looks at it.
func (w *Writer) quarantine(rec Record, cause error) {
	w.quarantined.Add(1)
	kept := "nowhere: no quarantine file"
	if q := w.opts.Quarantine; q != nil {
		if _, err := q.Append([]Record{rec}, cause.Error()); err != nil {
			kept = "nowhere: " + err.Error()
		} else {
			kept = q.Path()
		}
	}
	w.opts.Logger.Error("usage writer: the database rejected a usage record; it is quarantined and the others are written",
		"request_id", rec.RequestID, "key_id", rec.KeyID, "model", rec.Model, "cost_micros", rec.CostMicros,
		"err", cause, "kept_in", kept)
}

// maybeSpill moves the backlog to the spill file once the sink has been
// failing for SpillAfter (checked after a failed write) or the backlog
// fills half the queue: the database is not keeping up, and the queue
// would otherwise overflow and drop.
func (w *Writer) maybeSpill(batch []Record, afterFailure bool) []Record {
	if w.opts.Spill == nil {
		return batch
	}
	w.hmu.Lock()
	since := w.failingSince
	w.hmu.Unlock()
	if since.IsZero() {
		return batch
	}
	w.mu.Lock()
	depth := len(w.queue) + len(batch)
	w.mu.Unlock()
	if depth == 0 || depth < w.opts.QueueSize/2 && !(afterFailure && time.Since(since) >= w.opts.SpillAfter) {
		return batch
	}
	return w.spill(w.take(batch))
}

// spill appends batch to the spill file and returns the records that could
// not be spilled (the file is full, or writing it failed), which stay in
// memory.
func (w *Writer) spill(batch []Record) []Record {
	if w.opts.Spill == nil || len(batch) == 0 {
		return batch
	}
	n, err := w.opts.Spill.Append(batch, "")
	if n > 0 {
		w.spilled.Add(int64(n))
		w.spooled = true
	}
	k := copy(batch, batch[n:])
	clear(batch[k:])
	batch = batch[:k]
	w.pending.Store(int64(k))
	w.hmu.Lock()
	w.spillErr = err
	if err != nil {
		w.lastErr = err.Error()
	}
	w.hmu.Unlock()
	if err != nil {
		w.opts.Logger.Error("usage writer: cannot spill usage records to disk; they stay in memory and are lost if the queue fills or the gateway stops",
			"spilled", n, "unspilled", k, "path", w.opts.Spill.Path(), "err", err)
	} else {
		w.opts.Logger.Warn("usage writer: the database is failing; usage records spilled to disk, to be written when it answers",
			"records", n, "path", w.opts.Spill.Path(), "spill_bytes", w.opts.Spill.Size())
	}
	return batch
}

// stop ends the owner's work: what is left of batch and of the queue goes
// to the spill file; what cannot go there is lost, counted and logged.
func (w *Writer) stop(batch []Record) {
	batch = w.spill(w.take(batch))
	if n := len(batch); n > 0 {
		w.lost.Add(int64(n))
		w.dropped.Add(int64(n))
		w.pending.Store(0)
		w.opts.Logger.Error("usage writer: stopped with usage records neither written nor spilled; they are lost",
			"records", n)
	}
}

// replay writes the spill file's records back to the sink, in one
// transaction unless the sink rejects some, and removes the file once they
// are committed. Duplicates are avoided, not detected: a file is removed
// only after its records are committed, and if a transient error stops a
// replay that had already written part of the file (rejected records split
// it into several writes), the file is rewritten with only the records left.
// The one window left is a crash between the commit and the removal, which
// replays the file twice.
func (w *Writer) replay(ctx context.Context) error {
	sp := w.opts.Spill
	recs, bad, err := sp.Load()
	if err != nil {
		// Replaying again cannot help; the file is left for an operator
		// and the next start.
		w.spooled = false
		w.opts.Logger.Error("usage writer: cannot read the spill file; its records are not replayed",
			"path", sp.Path(), "err", err)
		return nil
	}
	left, err := w.writeChunk(ctx, recs)
	w.replayed.Add(int64(len(recs) - len(left)))
	if err != nil {
		if len(left) < len(recs) {
			if rerr := sp.Rewrite(left); rerr != nil {
				w.opts.Logger.Error("usage writer: cannot rewrite the spill file after a partial replay; its written records may be replayed twice",
					"path", sp.Path(), "err", rerr)
			}
		}
		return err
	}
	if err := sp.Remove(); err != nil {
		w.opts.Logger.Error("usage writer: cannot remove the replayed spill file; remove it before the next start or its records are counted twice",
			"path", sp.Path(), "err", err)
	}
	w.spooled = false
	if bad > 0 {
		w.dropped.Add(int64(bad))
		w.opts.Logger.Error("usage writer: unreadable lines in the spill file were skipped", "lines", bad, "path", sp.Path())
	}
	w.hmu.Lock()
	w.spillErr = nil
	w.hmu.Unlock()
	w.opts.Logger.Info("usage writer: spilled usage records written", "records", len(recs), "path", sp.Path())
	return nil
}

// succeeded and failing keep the health that Ready and Stats report.
func (w *Writer) succeeded() {
	w.hmu.Lock()
	defer w.hmu.Unlock()
	w.lastWrite = time.Now()
	w.failingSince = time.Time{}
}

func (w *Writer) failing(err error) {
	w.hmu.Lock()
	defer w.hmu.Unlock()
	if w.failingSince.IsZero() {
		w.failingSince = time.Now()
	}
	w.lastErr = err.Error()
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
