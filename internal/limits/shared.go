package limits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LeaseKey names one period of one budget in the lease tables.
type LeaseKey struct {
	BudgetID string
	// PeriodStart is the start of the period; zero for a Total budget.
	PeriodStart time.Time
}

// LeaseTotals is a budget period's state in the database.
type LeaseTotals struct {
	// Spent is what settled calls of every replica used this period.
	Spent Amount
	// Leased is the sum of the live leases of every replica, this one
	// included; Mine is this replica's.
	Leased, Mine Amount
}

// LeaseRequest asks the database for more of a budget.
type LeaseRequest struct {
	Key     LeaseKey
	Replica string
	// Limit is the budget's limit per unit; 0 means no limit in that unit,
	// and nothing is leased in it.
	Limit Amount
	// Initial is the spend a period starts from when the database holds
	// no row for it yet (read from the usage rollups).
	Initial Amount
	// Charge is settled spend of this replica not yet written, moved from
	// its lease into the spend before anything else, as LeaseCharge does:
	// a grant flushes, so charges never wait behind it.
	Charge Amount
	// Min is what the caller needs; Want what it would like. The grant is
	// as much of Want as fits under the limit, and nothing when Min does
	// not fit.
	Min, Want Amount
	// Now is the replica's clock: leases that expired before it end.
	// Expires is when this replica's lease ends unless renewed.
	Now, Expires time.Time
	// Reclaim returns expired leases to the pool. Without it they are
	// counted as spent (forfeited): what the replica that held one
	// spent from it before it died cannot be known, and a budget must
	// hold through a crash. Only a concurrency counter reclaims: its
	// slots are held by calls, which died with the replica.
	Reclaim bool
}

// LeaseGrant is the answer to a LeaseRequest.
type LeaseGrant struct {
	// OK is false when Min did not fit: the budget is spent (or leased
	// out to other replicas) and the call must be refused.
	OK      bool
	Granted Amount
	Totals  LeaseTotals
}

// LeaseCharge moves settled spend from a replica's lease into the budget's
// spend, and gives back what the replica no longer needs, in one atomic
// step, so that spent + leased never grows.
type LeaseCharge struct {
	Key     LeaseKey
	Initial Amount
	// Charge is settled spend to add; Return is unused lease to give back.
	Charge, Return Amount
	// Expires renews the replica's lease.
	Expires time.Time
}

// LeaseStore is the database a Shared ledger leases from: PostgreSQL in
// production (*store.Store implements it).
type LeaseStore interface {
	Lease(ctx context.Context, req LeaseRequest) (LeaseGrant, error)
	// Charge applies one charge and returns the period's totals after it.
	Charge(ctx context.Context, replica string, c LeaseCharge) (LeaseTotals, error)
}

// SharedOptions tunes a Shared ledger. Zero values take the defaults.
type SharedOptions struct {
	// Replica names this process in the lease table; it must be unique
	// among live replicas.
	Replica string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// SharePercent is the size of a lease in percent of what the budget
	// has left (default 10). A lease is never smaller than the call that
	// asks for it, so near the end of a budget leases shrink to single
	// calls.
	SharePercent int
	// MaxLease caps a lease in each unit; zero means no cap.
	MaxLease Amount
	// TTL is how long a lease lives unless renewed (default 30 s): the
	// lease of a replica that died is counted as spent after it (a
	// concurrency counter's comes back), and a replica cut off from the
	// database for longer loses its own the same way.
	TTL time.Duration
	// FlushInterval is how often settled spend is written to the database
	// and idle leases given back (default 200 ms).
	FlushInterval time.Duration
	// Timeout bounds each database call on a request's path (default
	// 500 ms): an unreachable database refuses (or admits, see
	// OutageAllowance) instead of hanging the call.
	Timeout time.Duration
	// OutageAllowance, when non-zero, is how much each budget may admit
	// per period beyond the leases in hand while the database cannot be
	// reached (fail open up to it); zero fails closed.
	OutageAllowance Amount
}

// Shared is the budget ledger of a replica among several sharing one
// PostgreSQL: the same reservations as the in-process Ledger, served from
// leases of each budget taken atomically in the database. See the package
// documentation.
type Shared struct {
	// OnThreshold and OnRefusal are as for Ledger; set them (SetAlerts)
	// before the ledger is used.
	OnThreshold func(b Budget, pct int)
	OnRefusal   func(e *OverBudgetError)

	st     LeaseStore
	o      SharedOptions
	snap   atomic.Pointer[sharedSnap]
	loadMu sync.Mutex

	leftMu    sync.Mutex
	leftovers []LeaseCharge // charges of ended periods and removed budgets

	kick     chan struct{} // asks Run for a flush now: a lease near the end has room to give back
	failures atomic.Int64  // database calls that failed
	lastErr  atomic.Pointer[string]
}

type sharedSnap struct {
	byScope map[Scope][]*leaseAccount
	byID    map[string]*leaseAccount
	ids     []string
}

// leaseAccount is one budget's state on this replica.
type leaseAccount struct {
	ord  uint64
	grow chan struct{} // one database call per account at a time

	mu         sync.Mutex
	b          Budget
	start, end time.Time
	epoch      uint64
	initial    Amount // spend read from the rollups at load
	// lease is what this replica may still reserve from: its lease in the
	// database minus the charges not yet written. reserved is what calls
	// in flight hold of it; pending the charges not yet written.
	lease, reserved, pending Amount
	estimated                Amount    // estimates of the calls in flight here
	until                    time.Time // the lease is not used after this
	totals                   LeaseTotals
	used                     bool   // reserved since the last flush
	single                   bool   // the last grant was only what a call needed
	outage                   Amount // admitted without the database this period
	announced                []int
	gone                     bool // reloaded away: late settlements go to the leftovers
}

// NewShared returns an empty shared ledger over st.
func NewShared(st LeaseStore, o SharedOptions) *Shared {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SharePercent <= 0 {
		o.SharePercent = 10
	}
	if o.TTL <= 0 {
		o.TTL = 30 * time.Second
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	s := &Shared{st: st, o: o, kick: make(chan struct{}, 1)}
	s.snap.Store(&sharedSnap{byScope: map[Scope][]*leaseAccount{}, byID: map[string]*leaseAccount{}})
	return s
}

// SetAlerts sets OnThreshold and OnRefusal.
func (s *Shared) SetAlerts(threshold func(b Budget, pct int), refusal func(e *OverBudgetError)) {
	s.OnThreshold, s.OnRefusal = threshold, refusal
}

// Load replaces the budget set as Ledger.Load does. Spend is not carried in
// memory across replicas: it lives in the database, and spent only gives
// the starting point of a period the database has no row for yet.
func (s *Shared) Load(budgets []Budget, spent SpentFunc) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	old := s.snap.Load()
	now := s.o.Now()
	type update struct {
		a *leaseAccount
		b Budget
	}
	var keep []update
	ns := &sharedSnap{
		byScope: make(map[Scope][]*leaseAccount, len(budgets)),
		byID:    make(map[string]*leaseAccount, len(budgets)),
	}
	for _, b := range budgets {
		if err := validBudget(&b); err != nil {
			return err
		}
		if _, dup := ns.byID[b.ID]; dup {
			return fmt.Errorf("limits: budget %q listed twice", b.ID)
		}
		b.Thresholds = slices.Clone(b.Thresholds)
		slices.Sort(b.Thresholds)
		a := old.byID[b.ID]
		if a != nil && a.sameAccount(&b) {
			keep = append(keep, update{a, b})
		} else {
			a = &leaseAccount{ord: accountSeq.Add(1), b: b, grow: make(chan struct{}, 1)}
			a.start, a.end = b.PeriodBounds(now)
			if spent != nil {
				amt, err := spent(b, a.start)
				if err != nil {
					return fmt.Errorf("limits: read spend of budget %q: %w", b.ID, err)
				}
				a.initial = amt.nonNegative()
			}
			a.totals.Spent = a.initial
			a.markReached()
		}
		ns.byID[b.ID] = a
		ns.byScope[b.Scope] = append(ns.byScope[b.Scope], a)
		ns.ids = append(ns.ids, b.ID)
	}
	for _, list := range ns.byScope {
		slices.SortFunc(list, func(x, y *leaseAccount) int { return cmpOrd(x.ord, y.ord) })
	}
	slices.Sort(ns.ids)
	for _, u := range keep {
		u.a.mu.Lock()
		u.a.b = u.b
		u.a.mu.Unlock()
	}
	// Accounts that leave hand their lease back and their charges on.
	for id, a := range old.byID {
		if ns.byID[id] == a {
			continue
		}
		a.mu.Lock()
		s.leave(a, a.pending, a.lease)
		a.pending, a.lease = Amount{}, Amount{}
		a.gone = true
		a.mu.Unlock()
	}
	s.snap.Store(ns)
	return nil
}

func (a *leaseAccount) sameAccount(nb *Budget) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.b.sameAccount(nb)
}

// leave queues the charges and the lease of a period this replica no longer
// serves for the next flush. a.mu is held.
func (s *Shared) leave(a *leaseAccount, charge, ret Amount) {
	ret = ret.nonNegative()
	if charge == (Amount{}) && ret == (Amount{}) {
		return
	}
	s.leftMu.Lock()
	s.leftovers = append(s.leftovers, LeaseCharge{Key: a.key(), Initial: a.initial, Charge: charge, Return: ret})
	s.leftMu.Unlock()
}

func (a *leaseAccount) key() LeaseKey { return LeaseKey{BudgetID: a.b.ID, PeriodStart: a.start} }

func (a *leaseAccount) limit() Amount { return Amount{a.b.LimitMicros, a.b.LimitTokens} }

// roll starts a new period if now is past the current one; the old period's
// charges and lease go to the leftovers.
func (s *Shared) roll(a *leaseAccount, now time.Time) {
	if a.b.Period == Total || now.Before(a.end) {
		return
	}
	s.leave(a, a.pending, a.lease)
	a.start, a.end = a.b.PeriodBounds(now)
	a.lease, a.reserved, a.pending, a.outage, a.estimated = Amount{}, Amount{}, Amount{}, Amount{}, Amount{}
	a.initial, a.totals = Amount{}, LeaseTotals{}
	a.until = time.Time{}
	a.announced = a.announced[:0]
	a.epoch++
}

// free is what a new call can reserve from the lease in hand, per unit.
func (a *leaseAccount) free(now time.Time) Amount {
	if !now.Before(a.until) {
		return Amount{}.sub(a.reserved)
	}
	return a.lease.sub(a.reserved)
}

// room is what the account can still hold in worst cases from the lease in
// hand; MaxInt64 in a unit without a limit.
func (a *leaseAccount) room(now time.Time) Amount {
	r := a.free(now)
	if a.b.LimitMicros == 0 {
		r.Micros = math.MaxInt64
	}
	if a.b.LimitTokens == 0 {
		r.Tokens = math.MaxInt64
	}
	return r
}

// need is what the account lacks to hold worst, in the units it limits.
func (a *leaseAccount) need(worst Amount, now time.Time) Amount {
	f := a.free(now)
	var n Amount
	if a.b.LimitMicros > 0 {
		n.Micros = max(worst.Micros-f.Micros, 0)
	}
	if a.b.LimitTokens > 0 {
		n.Tokens = max(worst.Tokens-f.Tokens, 0)
	}
	return n
}

// Reserve is Admit of a call that cannot be shrunk, whose estimate is its
// worst case.
func (s *Shared) Reserve(ctx context.Context, scopes []Scope, worst Amount) (*Reservation, error) {
	return s.Admit(ctx, scopes, Ask{Estimate: worst, Worst: worst})
}

// Admit holds a call's estimate and worst case against every budget
// covering scopes, as Ledger.Admit decides, with two differences. The worst
// cases are held in leases of limit + overdraft (strict: limit) taken in
// the database, from the leases in hand when they suffice (no database
// round trip), else after taking a new lease of each budget that lacks one,
// bounded by ctx and the configured timeout; a call is shrunk only after
// the database was asked for its whole worst case. The estimates are
// checked against this replica's view: the database's spend as of the last
// exchange, its own unflushed charges and its own estimates in flight. A
// refusal is an *OverBudgetError as for Ledger; an unreachable database
// under the fail-closed policy an error matching ErrUnavailable.
func (s *Shared) Admit(ctx context.Context, scopes []Scope, ask Ask) (*Reservation, error) {
	ask = ask.normal()
	r := &Reservation{worst: ask.Worst, est: ask.Estimate}
	var buf [8]*leaseAccount
	accts := s.snap.Load().collect(buf[:0], scopes)
	if len(accts) == 0 {
		return r, nil
	}
	for attempt := 0; ; attempt++ {
		now := s.o.Now()
		for _, a := range accts {
			a.mu.Lock()
		}
		var short []*leaseAccount
		var refusal *OverBudgetError
		room := Amount{math.MaxInt64, math.MaxInt64}
		for _, a := range accts {
			s.roll(a, now)
			if !a.b.Strict && !within(a.spent().add(a.estimated).add(ask.Estimate), a.limit(), a.limit()) {
				if e := a.refusal(ask.Worst); refusal == nil || resetsLater(e.ResetAt, refusal.ResetAt) {
					refusal = e
				}
				continue
			}
			room = minAmount(room, a.room(now))
			if a.need(ask.Worst, now) != (Amount{}) {
				short = append(short, a)
			}
		}
		grant, fits := ask.Worst, len(short) == 0
		if refusal == nil && !fits && attempt > 0 {
			// The database was asked for the whole worst case and did
			// not have it: shrink to what the leases hold.
			grant, fits = fitAsk(&ask, room)
		}
		if refusal == nil && fits {
			est := minAmount(ask.Estimate, grant)
			holds := make([]sharedHold, len(accts))
			for i, a := range accts {
				a.reserved = a.reserved.add(grant)
				a.estimated = a.estimated.add(est)
				a.used = true
				holds[i] = sharedHold{a, a.epoch, a.key()}
			}
			for _, a := range accts {
				a.mu.Unlock()
			}
			r.worst, r.est = grant, est
			r.settle = func(actual Amount) { s.settle(holds, grant, est, actual) }
			return r, nil
		}
		for _, a := range accts {
			a.mu.Unlock()
		}
		if refusal != nil {
			if s.OnRefusal != nil {
				s.OnRefusal(refusal)
			}
			return nil, refusal
		}
		if attempt >= 64 {
			// Other calls keep taking what this one leased: refuse rather
			// than spin.
			return nil, s.refuse(short[0], ask.Worst)
		}
		for _, a := range short {
			if err := s.grow(ctx, a, ask.Floor, ask.Worst); err != nil {
				var ob *OverBudgetError
				if errors.As(err, &ob) && s.OnRefusal != nil {
					s.OnRefusal(ob)
				}
				return nil, err
			}
		}
	}
}

func (s *sharedSnap) collect(dst []*leaseAccount, scopes []Scope) []*leaseAccount {
	for _, sc := range scopes {
		dst = append(dst, s.byScope[sc]...)
	}
	if len(dst) < 2 {
		return dst
	}
	slices.SortFunc(dst, func(x, y *leaseAccount) int { return cmpOrd(x.ord, y.ord) })
	return slices.Compact(dst)
}

// refuse builds the refusal of worst by a, from what the database said last.
func (s *Shared) refuse(a *leaseAccount, worst Amount) *OverBudgetError {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refusal(worst)
}

func (a *leaseAccount) refusal(worst Amount) *OverBudgetError {
	st := a.statusLocked()
	unit := "usd"
	if a.b.LimitMicros == 0 || (a.b.LimitTokens > 0 && st.Remaining.Tokens < worst.Tokens && st.Remaining.Micros >= worst.Micros) {
		unit = "tokens"
	}
	b := a.b
	b.Thresholds = slices.Clone(b.Thresholds)
	return &OverBudgetError{Budget: b, Unit: unit, Spent: st.Spent, Reserved: st.Reserved, Requested: worst,
		Limit: a.limit(), ResetAt: a.end}
}

// grow takes a new lease for a, big enough for worst if the budget has it,
// and at least for floor, unless another call did so meanwhile.
func (s *Shared) grow(ctx context.Context, a *leaseAccount, floor, worst Amount) error {
	select {
	case a.grow <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("limits: wait for a lease of budget %q: %w: %w", a.b.ID, ErrUnavailable, ctx.Err())
	}
	defer func() { <-a.grow }()

	now := s.o.Now()
	a.mu.Lock()
	s.roll(a, now)
	full := a.need(worst, now)
	if full == (Amount{}) {
		a.mu.Unlock()
		return nil
	}
	need := a.need(floor, now)
	if !now.Before(a.until) {
		// The lease in hand has ended: the database may have reclaimed it.
		a.lease = Amount{}.sub(a.pending)
	}
	epoch := a.epoch
	req := LeaseRequest{Key: a.key(), Replica: s.o.Replica, Limit: a.b.ceiling(), Initial: a.initial, Charge: a.pending,
		Min: need, Want: s.size(a, full), Now: now, Expires: now.Add(s.o.TTL), Reclaim: a.b.Scope.Kind == counterConcurrent}
	// The pending charges go with the grant (the flusher waits for it):
	// the database counts them before it decides, and they are written
	// however long the grant takes.
	a.pending = Amount{}
	a.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	g, err := s.st.Lease(cctx, req)
	cancel()

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.epoch != epoch {
		if err != nil && req.Charge != (Amount{}) {
			s.leftMu.Lock()
			s.leftovers = append(s.leftovers, LeaseCharge{Key: req.Key, Initial: req.Initial, Charge: req.Charge})
			s.leftMu.Unlock()
		}
		return nil // a new period began meanwhile; the caller tries again
	}
	if err != nil {
		a.pending = a.pending.add(req.Charge)
		s.failed(err)
		if al := s.o.OutageAllowance; al != (Amount{}) && fits(a.outage.add(need), al, a.limit()) {
			a.outage = a.outage.add(need)
			a.lease = a.lease.add(need)
			a.until = now.Add(s.o.TTL)
			return nil
		}
		return fmt.Errorf("limits: lease budget %q: %w: %w", a.b.ID, ErrUnavailable, err)
	}
	s.lastErr.Store(nil)
	a.totals = g.Totals
	if !g.OK {
		e := a.refusal(worst)
		if others := g.Totals.Leased.sub(g.Totals.Mine).nonNegative(); others != (Amount{}) &&
			fits(need, a.b.ceiling().sub(g.Totals.Spent).sub(g.Totals.Mine), a.limit()) {
			// Not spent: leased to other replicas, which give back
			// what they hold unused at their next flushes (flushAccount).
			e.Elsewhere, e.RetryAfter = others, 2*s.o.FlushInterval
		}
		return e
	}
	a.lease = g.Totals.Mine.sub(a.pending)
	a.until = now.Add(s.o.TTL - s.o.TTL/10)
	a.single = !bigger(g.Granted, full)
	return nil
}

// fits reports whether v is within allowance in every unit the budget
// limits.
func fits(v, allowance, limit Amount) bool {
	return (limit.Micros == 0 || v.Micros <= allowance.Micros) && (limit.Tokens == 0 || v.Tokens <= allowance.Tokens)
}

// bigger reports whether x exceeds y in some unit.
func bigger(x, y Amount) bool { return x.Micros > y.Micros || x.Tokens > y.Tokens }

// size is the lease to ask for: a share of what the budget has left, capped,
// and never less than need.
func (s *Shared) size(a *leaseAccount, need Amount) Amount {
	left := a.b.ceiling().sub(a.totals.Spent).sub(a.totals.Leased).add(a.totals.Mine).sub(a.pending).nonNegative()
	want := Amount{left.Micros / 100 * int64(s.o.SharePercent), left.Tokens / 100 * int64(s.o.SharePercent)}
	if c := s.o.MaxLease; c.Micros > 0 {
		want.Micros = min(want.Micros, c.Micros)
	}
	if c := s.o.MaxLease; c.Tokens > 0 {
		want.Tokens = min(want.Tokens, c.Tokens)
	}
	return Amount{max(want.Micros, need.Micros), max(want.Tokens, need.Tokens)}
}

func (s *Shared) failed(err error) {
	s.failures.Add(1)
	msg := err.Error()
	s.lastErr.Store(&msg)
}

// sharedHold is a reservation on one account, in the period of epoch.
type sharedHold struct {
	a     *leaseAccount
	epoch uint64
	key   LeaseKey
}

// settle releases worst and charges actual locally; the flush writes the
// charge to the database.
func (s *Shared) settle(holds []sharedHold, worst, est, actual Amount) {
	type crossing struct {
		b   Budget
		pct int
	}
	var crossed []crossing
	kick := false
	for _, h := range holds {
		a := h.a
		a.mu.Lock()
		if a.epoch == h.epoch && !a.gone {
			a.reserved = a.reserved.sub(worst)
			a.estimated = a.estimated.sub(est)
			a.lease = a.lease.sub(actual)
			a.pending = a.pending.add(actual)
			// Near the end of a budget, what a single-call lease did not
			// use goes back at once, for the other replicas.
			kick = kick || a.single && a.reserved == (Amount{})
			if s.OnThreshold != nil {
				for _, pct := range a.newlyReached() {
					crossed = append(crossed, crossing{a.b, pct})
				}
			}
		} else if actual != (Amount{}) {
			s.leftMu.Lock()
			s.leftovers = append(s.leftovers, LeaseCharge{Key: h.key, Charge: actual})
			s.leftMu.Unlock()
		}
		a.mu.Unlock()
	}
	if kick {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	for _, c := range crossed {
		s.OnThreshold(c.b, c.pct)
	}
}

func (a *leaseAccount) spent() Amount { return a.totals.Spent.add(a.pending) }

func (a *leaseAccount) reached(pct int) bool {
	sp := a.spent()
	return (a.b.LimitMicros > 0 && atLeastPercent(sp.Micros, pct, a.b.LimitMicros)) ||
		(a.b.LimitTokens > 0 && atLeastPercent(sp.Tokens, pct, a.b.LimitTokens))
}

func (a *leaseAccount) newlyReached() []int {
	var out []int
	for _, t := range a.b.Thresholds {
		if !slices.Contains(a.announced, t) && a.reached(t) {
			a.announced = append(a.announced, t)
			out = append(out, t)
		}
	}
	return out
}

func (a *leaseAccount) markReached() { a.newlyReached() }

// Run flushes every FlushInterval, and at once when a single-call lease
// near a budget's end has something to give back, until ctx ends, then flushes once more,
// giving every lease back, within the configured timeout.
func (s *Shared) Run(ctx context.Context) {
	t := time.NewTicker(s.o.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 4*s.o.Timeout)
			s.Flush(cctx, true)
			cancel()
			return
		case <-t.C:
			s.Flush(ctx, false)
		case <-s.kick:
			s.Flush(ctx, false)
		}
	}
}

// Flush writes the charges settled since the last flush to the database,
// gives back leases that were idle since then (or all of them when all is
// set, at shutdown, and always near a budget's end), and renews the leases
// kept. It returns the first error; what failed is kept for the next flush.
func (s *Shared) Flush(ctx context.Context, all bool) error {
	var first error
	s.leftMu.Lock()
	left := s.leftovers
	s.leftovers = nil
	s.leftMu.Unlock()
	for i, c := range left {
		if _, err := s.st.Charge(ctx, s.o.Replica, c); err != nil {
			s.failed(err)
			s.leftMu.Lock()
			s.leftovers = append(s.leftovers, left[i:]...)
			s.leftMu.Unlock()
			first = err
			break
		}
	}
	snap := s.snap.Load()
	for _, id := range snap.ids {
		if err := s.flushAccount(ctx, snap.byID[id], all); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Shared) flushAccount(ctx context.Context, a *leaseAccount, all bool) error {
	select {
	case a.grow <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-a.grow }()
	now := s.o.Now()
	a.mu.Lock()
	s.roll(a, now)
	charge := a.pending
	var ret Amount
	if all || !a.used || a.single {
		ret = a.lease.sub(a.reserved).nonNegative()
	} else {
		ret = a.excess()
	}
	renew := a.lease.sub(ret).nonNegative() != (Amount{}) && a.until.Sub(now) < s.o.TTL/2
	if charge == (Amount{}) && ret == (Amount{}) && !renew {
		a.used = false
		a.mu.Unlock()
		return nil
	}
	a.pending = Amount{}
	a.lease = a.lease.sub(ret)
	a.used = false
	epoch := a.epoch
	c := LeaseCharge{Key: a.key(), Initial: a.initial, Charge: charge, Return: ret, Expires: now.Add(s.o.TTL)}
	a.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	tot, err := s.st.Charge(cctx, s.o.Replica, c)
	cancel()

	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		s.failed(err)
		if a.epoch == epoch {
			a.pending = a.pending.add(charge)
			a.lease = a.lease.add(ret)
		} else {
			s.leftMu.Lock()
			s.leftovers = append(s.leftovers, c)
			s.leftMu.Unlock()
		}
		return fmt.Errorf("limits: flush budget %q: %w", a.b.ID, err)
	}
	if a.epoch != epoch {
		return nil
	}
	a.totals = tot
	a.lease = tot.Mine.sub(a.pending)
	if tot.Mine != (Amount{}) {
		a.until = now.Add(s.o.TTL - s.o.TTL/10)
	}
	return nil
}

// excess is what the account gives back of a lease it is using, so that
// other replicas are not refused while it sits on budget: when it holds
// more unused (lease not reserved by calls in flight) than the budget has
// left unleased, as of the last exchange with the database, it returns half
// the difference, which leaves it and the pool with the same amount. With
// large shares (SharePercent 50) the first replicas to lease would
// otherwise hold nearly everything while the last one is refused; with the
// default share the pool is far larger than any lease and nothing moves.
// a.mu is held.
func (a *leaseAccount) excess() Amount {
	unused := a.lease.sub(a.reserved).nonNegative()
	pool := a.b.ceiling().sub(a.totals.Spent).sub(a.totals.Leased).nonNegative()
	var ret Amount
	if a.b.LimitMicros > 0 && unused.Micros > pool.Micros {
		ret.Micros = (unused.Micros - pool.Micros) / 2
	}
	if a.b.LimitTokens > 0 && unused.Tokens > pool.Tokens {
		ret.Tokens = (unused.Tokens - pool.Tokens) / 2
	}
	return ret
}

// Failures returns how many database calls failed since the start, and the
// last error if the last call failed.
func (s *Shared) Failures() (int64, string) {
	var msg string
	if p := s.lastErr.Load(); p != nil {
		msg = *p
	}
	return s.failures.Load(), msg
}

// Status returns the state of the budget with id as this replica knows it:
// the database's totals as of its last exchange with it, plus its own
// charges not yet written.
func (s *Shared) Status(id string) (BudgetStatus, bool) {
	a := s.snap.Load().byID[id]
	if a == nil {
		return BudgetStatus{}, false
	}
	return a.status(s, s.o.Now()), true
}

// Statuses returns the state of every budget, ordered by id.
func (s *Shared) Statuses() []BudgetStatus {
	snap := s.snap.Load()
	now := s.o.Now()
	out := make([]BudgetStatus, 0, len(snap.ids))
	for _, id := range snap.ids {
		out = append(out, snap.byID[id].status(s, now))
	}
	return out
}

// Remaining is Ledger.Remaining over this replica's view.
func (s *Shared) Remaining(ctx context.Context, scopes []Scope) (BudgetStatus, bool) {
	var buf [8]*leaseAccount
	accts := s.snap.Load().collect(buf[:0], scopes)
	now := s.o.Now()
	var best BudgetStatus
	bestShare, found := math.Inf(1), false
	for _, a := range accts {
		st := a.status(s, now)
		if share := remainingShare(st); !found || share < bestShare {
			best, bestShare, found = st, share, true
		}
	}
	return best, found
}

// Covering is Ledger.Covering over this replica's view.
func (s *Shared) Covering(ctx context.Context, scopes []Scope) []BudgetStatus {
	var buf [8]*leaseAccount
	accts := s.snap.Load().collect(buf[:0], scopes)
	now := s.o.Now()
	out := make([]BudgetStatus, 0, len(accts))
	for _, a := range accts {
		out = append(out, a.status(s, now))
	}
	slices.SortFunc(out, func(x, y BudgetStatus) int { return strings.Compare(x.Budget.ID, y.Budget.ID) })
	return out
}

func (a *leaseAccount) status(s *Shared, now time.Time) BudgetStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	s.roll(a, now)
	return a.statusLocked()
}

// statusLocked: Spent is every replica's settled spend; Reserved what the
// other replicas hold in leases plus what this one's calls in flight hold.
func (a *leaseAccount) statusLocked() BudgetStatus {
	spent := a.spent()
	reserved := a.totals.Leased.sub(a.totals.Mine).nonNegative().add(a.reserved)
	if !a.b.Strict {
		// Estimate mode: what this replica's calls are expected to
		// cost. Other replicas' leases are worst cases against the limit
		// plus the overdraft, not spend to come.
		reserved = a.estimated
	}
	st := BudgetStatus{Budget: a.b, PeriodStart: a.start, ResetAt: a.end, Spent: spent, Reserved: reserved,
		Remaining: Amount{-1, -1}}
	st.Budget.Thresholds = slices.Clone(a.b.Thresholds)
	if lim := a.b.LimitMicros; lim > 0 {
		st.Remaining.Micros = max(lim-spent.add(reserved).Micros, 0)
		st.Percent = percent(spent.Micros, lim)
	}
	if lim := a.b.LimitTokens; lim > 0 {
		st.Remaining.Tokens = max(lim-spent.add(reserved).Tokens, 0)
		st.Percent = max(st.Percent, percent(spent.Tokens, lim))
	}
	for _, t := range a.b.Thresholds {
		if a.reached(t) {
			st.Crossed = append(st.Crossed, t)
		}
	}
	return st
}
