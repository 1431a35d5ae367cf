// Package alerts announces budget events — settled spend reaching a
// threshold, a budget refusing a call — once per budget, threshold and
// period across restarts and replicas: it claims each event in the store
// (only the replica whose claim takes effect announces it), logs it, counts
// it, and delivers it to the configured sinks in the background.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/metrics"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// Claimer records alerts once; the store implements it.
type Claimer interface {
	ClaimBudgetAlert(ctx context.Context, a store.BudgetAlert) (store.BudgetAlert, bool, error)
	RecordAlertDelivery(ctx context.Context, d store.AlertDelivery) error
}

// Counter is the part of the metrics the notifier feeds.
type Counter interface {
	BudgetAlert(scopeKind, event string, threshold int)
	AlertDelivery(sink, outcome string)
	AlertDropped()
}

// Sink delivers one alert. Send is retried by the notifier, with the same
// Alert (and so the same ID), until it returns nil or attempts run out.
type Sink interface {
	Name() string
	Send(ctx context.Context, a Alert) error
}

// Alert is what sinks receive, and the JSON body of a webhook.
type Alert struct {
	// ID is unique per alert and the same on every retry (the webhook-id).
	ID string `json:"id"`
	// Type is "budget.threshold" or "budget.refused".
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      AlertData `json:"data"`
}

// AlertData describes the budget and what happened to it.
type AlertData struct {
	BudgetID  string `json:"budget_id"`
	ScopeKind string `json:"scope_kind"`
	ScopeID   string `json:"scope_id"`
	ScopeName string `json:"scope_name,omitempty"`
	Period    string `json:"period"`
	// Threshold is the percentage reached; 0 for a refusal.
	Threshold   int        `json:"threshold,omitempty"`
	PeriodStart *time.Time `json:"period_start,omitempty"` // nil for total budgets
	ResetAt     *time.Time `json:"reset_at,omitempty"`     // nil for total budgets
	LimitUSD    float64    `json:"limit_usd,omitempty"`
	SpentUSD    float64    `json:"spent_usd"`
	LimitTokens int64      `json:"limit_tokens,omitempty"`
	SpentTokens int64      `json:"spent_tokens"`
	// Message is a one-line summary for people (Slack, logs).
	Message string `json:"message"`
}

// Options configure a Notifier.
type Options struct {
	Store   Claimer
	Sinks   []Sink
	Metrics Counter // nil: not counted
	Logger  *slog.Logger
	// Names maps "kind/id" of a budget's scope to its alias, for messages.
	Names func(kind, id string) string
	// Status reads a budget's spend, for messages; nil leaves it out.
	Status func(budgetID string) (limits.BudgetStatus, bool)
	// QueueSize bounds waiting alerts, before claiming and per sink.
	QueueSize int
	// MaxAttempts and Backoff govern retries of one delivery: the first
	// retry waits Backoff, each later one twice the previous, up to
	// maxBackoff.
	MaxAttempts int
	Backoff     time.Duration
	Now         func() time.Time
}

// maxBackoff caps the wait between two delivery attempts.
const maxBackoff = 5 * time.Minute

// claimTimeout bounds one claim query.
const claimTimeout = 10 * time.Second

// Notifier turns ledger callbacks into delivered alerts. The callbacks only
// enqueue (they run on request and settlement goroutines); one goroutine
// claims, logs and counts, and one goroutine per sink delivers, so a slow
// or failing sink holds up neither requests nor the other sinks.
type Notifier struct {
	o     Options
	queue chan event
	sinks []*sinkQueue

	mu       sync.Mutex
	seen     map[claimKey]bool // events this process has already queued
	shutdown bool              // Close has closed queue

	stop   context.CancelFunc // ends retries' waits on Close
	ctx    context.Context    // lives until Close gives up waiting; see Close
	done   sync.WaitGroup
	closed sync.Once
}

type claimKey struct {
	budget, event string
	threshold     int
	period        int64
}

// event is one ledger callback waiting to be claimed.
type event struct {
	b           limits.Budget
	kind        string // metrics.AlertThreshold or metrics.AlertRefused
	threshold   int
	periodStart time.Time
	resetAt     time.Time
	at          time.Time
}

type sinkQueue struct {
	sink Sink
	ch   chan Alert
}

// maxSeen bounds the in-process memory of queued events; past it the memory
// starts over and the store's claim alone deduplicates.
const maxSeen = 10000

// New starts a notifier; Close stops it.
func New(o Options) *Notifier {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1000
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{o: o, queue: make(chan event, o.QueueSize), seen: map[claimKey]bool{}, ctx: ctx, stop: cancel}
	for _, s := range o.Sinks {
		sq := &sinkQueue{sink: s, ch: make(chan Alert, o.QueueSize)}
		n.sinks = append(n.sinks, sq)
		n.done.Add(1)
		go n.deliverLoop(sq)
	}
	n.done.Add(1)
	go n.claimLoop()
	return n
}

// Threshold is the ledger's OnThreshold: settled spend of b reached pct
// percent in its current period.
func (n *Notifier) Threshold(b limits.Budget, pct int) {
	now := n.o.Now()
	start, end := b.PeriodBounds(now)
	n.enqueue(event{b: b, kind: metrics.AlertThreshold, threshold: pct, periodStart: start, resetAt: end, at: now})
}

// Refused is the ledger's OnRefusal. It runs on every refused request, so
// after the first refusal of a period it is one map lookup.
func (n *Notifier) Refused(e *limits.OverBudgetError) {
	var start time.Time
	if !e.ResetAt.IsZero() {
		// The period that ends at ResetAt, exactly, whatever the clock says.
		start, _ = e.Budget.PeriodBounds(e.ResetAt.Add(-time.Millisecond))
	}
	n.enqueue(event{b: e.Budget, kind: metrics.AlertRefused, periodStart: start, resetAt: e.ResetAt, at: n.o.Now()})
}

func (n *Notifier) enqueue(ev event) {
	k := claimKey{ev.b.ID, ev.kind, ev.threshold, ev.periodStart.UnixMilli()}
	n.mu.Lock()
	if n.seen[k] {
		n.mu.Unlock()
		return
	}
	if len(n.seen) >= maxSeen {
		clear(n.seen)
	}
	n.seen[k] = true
	full := false
	if !n.shutdown {
		select {
		case n.queue <- ev:
		default:
			full = true
		}
	}
	n.mu.Unlock()
	if full {
		n.dropped("claim queue full", ev.b.ID)
	}
}

func (n *Notifier) dropped(why, budget string) {
	n.o.Logger.Error("budget alert dropped", "reason", why, "budget", budget)
	if n.o.Metrics != nil {
		n.o.Metrics.AlertDropped()
	}
}

// Depth returns the number of alerts waiting to be claimed or delivered.
func (n *Notifier) Depth() int {
	d := len(n.queue)
	for _, s := range n.sinks {
		d += len(s.ch)
	}
	return d
}

// claimLoop claims each event in the store; the claimer logs, counts and
// hands the alert to every sink.
func (n *Notifier) claimLoop() {
	defer n.done.Done()
	defer func() {
		for _, s := range n.sinks {
			close(s.ch)
		}
	}()
	for ev := range n.queue {
		n.claim(ev)
	}
}

func (n *Notifier) claim(ev event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(n.ctx), claimTimeout)
	defer cancel()
	rec, ok, err := n.o.Store.ClaimBudgetAlert(ctx, store.BudgetAlert{BudgetID: ev.b.ID, Event: ev.kind,
		Threshold: ev.threshold, PeriodStart: ev.periodStart, ScopeKind: string(ev.b.Scope.Kind), ScopeID: ev.b.Scope.ID, CreatedAt: ev.at})
	if err != nil {
		// Forget it, so that the next crossing or refusal tries again.
		k := claimKey{ev.b.ID, ev.kind, ev.threshold, ev.periodStart.UnixMilli()}
		n.mu.Lock()
		delete(n.seen, k)
		n.mu.Unlock()
		n.o.Logger.Error("could not claim a budget alert; it will be retried on the next event", "budget", ev.b.ID, "err", err)
		return
	}
	if !ok {
		return // another replica, or an earlier run, announced it
	}
	a := n.alert(rec.ID, ev)
	n.o.Logger.Warn("budget alert", "alert", a.ID, "event", ev.kind, "budget", ev.b.ID, "scope_kind", ev.b.Scope.Kind,
		"scope", a.Data.ScopeName, "threshold", ev.threshold, "period", a.Data.Period, "message", a.Data.Message)
	if n.o.Metrics != nil {
		n.o.Metrics.BudgetAlert(string(ev.b.Scope.Kind), ev.kind, ev.threshold)
	}
	for _, s := range n.sinks {
		select {
		case s.ch <- a:
		default:
			n.dropped("sink queue full: "+s.sink.Name(), ev.b.ID)
			n.record(a.ID, s.sink.Name(), metrics.DeliveryFailed, 0, errors.New("queue full"))
		}
	}
}

// alert builds what sinks receive.
func (n *Notifier) alert(id string, ev event) Alert {
	b := ev.b
	d := AlertData{BudgetID: b.ID, ScopeKind: string(b.Scope.Kind), ScopeID: b.Scope.ID, Period: b.Period.String(),
		Threshold: ev.threshold, LimitUSD: float64(b.LimitMicros) / 1e6, LimitTokens: b.LimitTokens}
	if n.o.Names != nil {
		d.ScopeName = n.o.Names(string(b.Scope.Kind), b.Scope.ID)
	}
	if !ev.periodStart.IsZero() {
		ps, ra := ev.periodStart.UTC(), ev.resetAt.UTC()
		d.PeriodStart, d.ResetAt = &ps, &ra
	}
	if n.o.Status != nil {
		if st, ok := n.o.Status(b.ID); ok {
			d.SpentUSD, d.SpentTokens = float64(st.Spent.Micros)/1e6, st.Spent.Tokens
		}
	}
	who := string(b.Scope.Kind) + " " + b.Scope.ID
	if d.ScopeName != "" {
		who = string(b.Scope.Kind) + " " + d.ScopeName
	}
	limit := fmt.Sprintf("$%.2f", d.LimitUSD)
	if b.LimitMicros == 0 {
		limit = fmt.Sprintf("%d tokens", b.LimitTokens)
	}
	typ := "budget." + ev.kind
	if ev.kind == metrics.AlertRefused {
		d.Message = fmt.Sprintf("Tollgate: the %s budget of %s (%s) is exhausted and refuses calls", d.Period, who, limit)
	} else {
		d.Message = fmt.Sprintf("Tollgate: the %s budget of %s reached %d%% of %s", d.Period, who, ev.threshold, limit)
	}
	if d.ResetAt != nil {
		d.Message += "; it resets at " + d.ResetAt.Format(time.RFC3339)
	}
	return Alert{ID: id, Type: typ, Timestamp: ev.at.UTC(), Data: d}
}

// deliverLoop sends each alert to one sink, with retries.
func (n *Notifier) deliverLoop(sq *sinkQueue) {
	defer n.done.Done()
	for a := range sq.ch {
		n.deliver(sq.sink, a)
	}
}

func (n *Notifier) deliver(s Sink, a Alert) {
	wait := n.o.Backoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(n.ctx), 30*time.Second)
		err := s.Send(ctx, a)
		cancel()
		if err == nil {
			n.count(s.Name(), metrics.DeliveryDelivered)
			n.record(a.ID, s.Name(), metrics.DeliveryDelivered, attempt, nil)
			n.o.Logger.Info("budget alert delivered", "alert", a.ID, "sink", s.Name(), "attempts", attempt)
			return
		}
		if attempt >= n.o.MaxAttempts || n.ctx.Err() != nil {
			n.count(s.Name(), metrics.DeliveryFailed)
			n.record(a.ID, s.Name(), metrics.DeliveryFailed, attempt, err)
			n.o.Logger.Error("budget alert not delivered; giving up", "alert", a.ID, "sink", s.Name(), "attempts", attempt, "err", err)
			return
		}
		n.count(s.Name(), metrics.DeliveryRetried)
		n.record(a.ID, s.Name(), metrics.DeliveryRetried, attempt, err)
		n.o.Logger.Warn("budget alert delivery failed; retrying", "alert", a.ID, "sink", s.Name(), "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.ctx.Done():
			t.Stop()
		}
		wait = min(2*wait, maxBackoff)
	}
}

func (n *Notifier) count(sink, outcome string) {
	if n.o.Metrics != nil {
		n.o.Metrics.AlertDelivery(sink, outcome)
	}
}

func (n *Notifier) record(id, sink, outcome string, attempts int, err error) {
	d := store.AlertDelivery{AlertID: id, Sink: sink, Outcome: outcome, Attempts: attempts}
	if err != nil {
		d.LastError = err.Error()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(n.ctx), claimTimeout)
	defer cancel()
	if rerr := n.o.Store.RecordAlertDelivery(ctx, d); rerr != nil {
		n.o.Logger.Warn("could not record a budget alert delivery", "alert", id, "sink", sink, "err", rerr)
	}
}

// Close stops taking alerts and waits, until ctx ends, for the queued ones
// to be claimed and delivered; then it cuts retry waits short (a delivery
// in progress makes its last attempt) and returns. Call it before the store
// closes. Callbacks after Close are dropped.
func (n *Notifier) Close(ctx context.Context) error {
	var err error
	n.closed.Do(func() {
		n.mu.Lock()
		close(n.queue)
		n.shutdown = true
		n.mu.Unlock()
		finished := make(chan struct{})
		go func() { n.done.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-ctx.Done():
			n.stop()
			<-finished
			err = fmt.Errorf("alerts: deliveries cut short at shutdown: %w", ctx.Err())
		}
		n.stop()
	})
	return err
}
