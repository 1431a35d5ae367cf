package limits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Ledger holds every budget's spend and reservations for the current period.
// There is one per process; with several replicas sharing PostgreSQL,
// Shared takes its place and serves reservations from leases taken in the
// database. See the package documentation for the
// accounting model and the locking scheme.
type Ledger struct {
	// OnThreshold, when set, is called once per budget, threshold and
	// period when settled spend reaches the threshold (percent of the
	// limit, in either unit). It is called without locks held, from the
	// goroutine that settled the call, so it must not block for long. Set it
	// before the ledger is used.
	//
	// Thresholds already reached when a budget is first loaded (from the
	// spend read from the store) are not announced: a restart does not
	// repeat alerts. A reload that lowers a limit announces at the next
	// settlement.
	OnThreshold func(b Budget, pct int)

	// OnRefusal, when set, is called with every refusal Reserve returns,
	// after the locks are released and on the request's goroutine, so it
	// must only hand the refusal on (budget alerts deduplicate and deliver
	// elsewhere). Set it before the ledger is used.
	OnRefusal func(e *OverBudgetError)

	now    func() time.Time
	snap   atomic.Pointer[snapshot]
	loadMu sync.Mutex // serialises Load
}

// snapshot is an immutable view of the budget set; accounts inside are
// shared between snapshots and guarded by their own mutexes.
type snapshot struct {
	byScope map[Scope][]*account // each slice sorted by ord
	byID    map[string]*account
	ids     []string // sorted
}

// accountSeq numbers accounts in creation order: the global lock order.
var accountSeq atomic.Uint64

// account is one budget's mutable state.
type account struct {
	ord uint64 // lock order; immutable

	mu         sync.Mutex
	b          Budget    // limits and thresholds may change on reload
	start, end time.Time // current period; zero for Total
	epoch      uint64    // incremented when a new period starts
	spent      Amount    // settled this period
	reserved   Amount    // worst cases held by calls in flight this period
	estimated  Amount    // estimates held by calls in flight this period
	announced  []int     // thresholds announced this period
}

// NewLedger returns an empty ledger reading the time from now (time.Now when
// nil).
func NewLedger(now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	l := &Ledger{now: now}
	l.snap.Store(&snapshot{byScope: map[Scope][]*account{}, byID: map[string]*account{}})
	return l
}

// SpentFunc reads a budget's spend since periodStart (all of it when
// periodStart is zero, for Total budgets) from the store.
type SpentFunc func(b Budget, periodStart time.Time) (Amount, error)

// Load replaces the budget set. Budgets whose ID, scope, period and time
// zone are unchanged keep their spend and in-flight reservations and take
// the new limits and thresholds; the others start from what spent reads for
// their current period (nil spent means nothing spent). If spent fails or a
// budget is invalid, the ledger is left unchanged and the error returned.
func (l *Ledger) Load(budgets []Budget, spent SpentFunc) error {
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	old := l.snap.Load()
	now := l.now()

	type update struct {
		a *account
		b Budget
	}
	var keep []update
	ns := &snapshot{
		byScope: make(map[Scope][]*account, len(budgets)),
		byID:    make(map[string]*account, len(budgets)),
		ids:     make([]string, 0, len(budgets)),
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
			a = &account{ord: accountSeq.Add(1), b: b}
			a.start, a.end = b.PeriodBounds(now)
			if spent != nil {
				amt, err := spent(b, a.start)
				if err != nil {
					return fmt.Errorf("limits: read spend of budget %q: %w", b.ID, err)
				}
				a.spent = amt.nonNegative()
			}
			a.markReached()
		}
		ns.byID[b.ID] = a
		ns.byScope[b.Scope] = append(ns.byScope[b.Scope], a)
		ns.ids = append(ns.ids, b.ID)
	}
	for _, list := range ns.byScope {
		slices.SortFunc(list, func(x, y *account) int { return cmpOrd(x.ord, y.ord) })
	}
	slices.Sort(ns.ids)
	for _, u := range keep {
		u.a.mu.Lock()
		u.a.b = u.b
		u.a.mu.Unlock()
	}
	l.snap.Store(ns)
	return nil
}

func validBudget(b *Budget) error {
	switch {
	case b.ID == "":
		return errors.New("limits: budget without an id")
	case b.LimitMicros < 0 || b.LimitTokens < 0:
		return fmt.Errorf("limits: budget %q has a negative limit", b.ID)
	case (b.Period < Total || b.Period > Month) && b.Period != minute:
		return fmt.Errorf("limits: budget %q has an unknown period %d", b.ID, b.Period)
	}
	return nil
}

func (a *account) sameAccount(nb *Budget) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.b.sameAccount(nb)
}

func cmpOrd(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Reservation is what one call holds against every budget that covers it:
// its worst case, and its estimate. Exactly one of Settle and Release takes
// effect; later calls do nothing. A nil *Reservation is valid and does
// nothing.
type Reservation struct {
	l      *Ledger
	worst  Amount
	est    Amount
	holds  []hold
	inline [3]hold // key, user and team: no second allocation
	done   atomic.Bool
	// settle, when set, is how a reservation of another implementation
	// (Shared) settles; holds are then unused.
	settle func(actual Amount)
}

// hold is a reservation on one account, in the period of epoch.
type hold struct {
	a     *account
	epoch uint64
}

// Worst returns the worst case held: the call's, or less when the call was
// shrunk to fit (Ask.Shrink).
func (r *Reservation) Worst() Amount {
	if r == nil {
		return Amount{}
	}
	return r.worst
}

// Estimate returns the estimate held.
func (r *Reservation) Estimate() Amount {
	if r == nil {
		return Amount{}
	}
	return r.est
}

// Reserve holds worst as both the estimate and the worst case of a call
// that cannot be shrunk: Admit(ctx, scopes, Ask{Estimate: worst, Worst:
// worst}).
func (l *Ledger) Reserve(ctx context.Context, scopes []Scope, worst Amount) (*Reservation, error) {
	return l.Admit(ctx, scopes, Ask{Estimate: worst, Worst: worst})
}

// Admit holds a call's estimate and worst case against every budget that
// covers any of scopes, or against none. A budget admits the call when
//
//	spent + estimates in flight + estimate <= limit            (estimate mode)
//	spent + worst cases in flight + worst <= limit + overdraft (strict: limit)
//
// in each unit it limits. When only the second fails and the ask can be
// shrunk, the call is admitted with the largest worst case that fits every
// budget (Reservation.Worst tells which). Otherwise nothing is held and the
// error is an *OverBudgetError for the refusing budget that resets last.
// Negative units count as zero. With no budget covering the scopes, the
// reservation is empty and the call is allowed. The in-process ledger never
// blocks and ignores ctx; it is there for a ledger shared across replicas,
// which asks the database.
func (l *Ledger) Admit(ctx context.Context, scopes []Scope, ask Ask) (*Reservation, error) {
	ask = ask.normal()
	r := &Reservation{l: l, worst: ask.Worst, est: ask.Estimate}
	var buf [8]*account
	accts := l.snap.Load().collect(buf[:0], scopes)
	if len(accts) == 0 {
		return r, nil
	}
	now := l.now()
	for _, a := range accts {
		a.mu.Lock()
	}
	refusal := l.admitLocked(accts, &ask, now)
	if refusal == nil {
		r.worst, r.est = ask.Worst, ask.Estimate
		r.holds = r.inline[:0]
		for _, a := range accts {
			a.reserved = a.reserved.add(ask.Worst)
			a.estimated = a.estimated.add(ask.Estimate)
			r.holds = append(r.holds, hold{a, a.epoch})
		}
	}
	for _, a := range accts {
		a.mu.Unlock()
	}
	if refusal != nil {
		if l.OnRefusal != nil {
			l.OnRefusal(refusal)
		}
		return nil, refusal
	}
	return r, nil
}

// admitLocked decides an ask against accounts whose mutexes are held: nil
// when admitted (ask.Worst and ask.Estimate then say what to hold, shrunk if
// need be), else the refusal of the budget that resets last.
func (l *Ledger) admitLocked(accts []*account, ask *Ask, now time.Time) *OverBudgetError {
	var refusal *OverBudgetError
	refuse := func(e *OverBudgetError) {
		if refusal == nil || resetsLater(e.ResetAt, refusal.ResetAt) {
			refusal = e
		}
	}
	room := Amount{math.MaxInt64, math.MaxInt64}
	for _, a := range accts {
		a.roll(now)
		if e := a.checkEstimate(ask.Estimate, ask.Worst); e != nil {
			refuse(e)
			continue
		}
		room = minAmount(room, a.room())
	}
	if refusal != nil {
		return refusal
	}
	if w, ok := fitAsk(ask, room); ok {
		if w != ask.Worst {
			ask.Worst = w
			ask.Estimate = minAmount(ask.Estimate, w)
		}
		return nil
	}
	for _, a := range accts {
		if !within(ask.Floor, a.room(), a.b.ceiling()) {
			refuse(a.refusal(ask.Worst))
		}
	}
	if refusal == nil {
		// Each budget holds the floor, but shrinking found nothing for
		// all of them at once: refuse on the tightest.
		refusal = accts[0].refusal(ask.Worst)
	}
	return refusal
}

// fitAsk returns the worst case to hold given room, the most every budget
// can still take per unit: the ask's own when it fits, else what Shrink
// makes of room, else false.
func fitAsk(ask *Ask, room Amount) (Amount, bool) {
	if ask.Worst.Micros <= room.Micros && ask.Worst.Tokens <= room.Tokens {
		return ask.Worst, true
	}
	if ask.Shrink == nil {
		return Amount{}, false
	}
	w, ok := ask.Shrink(room)
	if !ok || w.Micros > room.Micros || w.Tokens > room.Tokens {
		return Amount{}, false
	}
	return minAmount(w.nonNegative(), ask.Worst), true
}

// resetsLater reports whether reset time x is later than y; zero (never) is
// the latest.
func resetsLater(x, y time.Time) bool {
	switch {
	case y.IsZero():
		return false
	case x.IsZero():
		return true
	}
	return x.After(y)
}

// collect appends the accounts covering scopes to dst, sorted by lock order
// and without duplicates.
func (s *snapshot) collect(dst []*account, scopes []Scope) []*account {
	for _, sc := range scopes {
		dst = append(dst, s.byScope[sc]...)
	}
	if len(dst) < 2 {
		return dst
	}
	slices.SortFunc(dst, func(x, y *account) int { return cmpOrd(x.ord, y.ord) })
	return slices.Compact(dst)
}

// Settle releases the reservation and charges actual (negative units count
// as zero) to every budget it was held against, in the period in which it
// was reserved: if that period has ended, the budget's current period is
// left alone. Only the first Settle or Release of a reservation has an
// effect.
func (r *Reservation) Settle(actual Amount) {
	if r == nil || !r.done.CompareAndSwap(false, true) {
		return
	}
	actual = actual.nonNegative()
	if r.settle != nil {
		r.settle(actual)
		return
	}
	if len(r.holds) == 0 {
		return
	}
	type crossing struct {
		b   Budget
		pct int
	}
	var crossed []crossing
	for _, h := range r.holds {
		a := h.a
		a.mu.Lock()
		// No roll here (and no clock read): if the period has ended but
		// not yet rolled, the charge lands in the ended period, which the
		// next access resets anyway.
		if a.epoch == h.epoch {
			a.reserved = a.reserved.sub(r.worst)
			a.estimated = a.estimated.sub(r.est)
			a.spent = a.spent.add(actual)
			if r.l.OnThreshold != nil {
				for _, pct := range a.newlyReached() {
					crossed = append(crossed, crossing{a.b, pct})
				}
			}
		}
		a.mu.Unlock()
	}
	for _, c := range crossed {
		r.l.OnThreshold(c.b, c.pct)
	}
}

// Release gives the reservation back without charging anything, for a call
// that never reached the upstream.
func (r *Reservation) Release() { r.Settle(Amount{}) }

// roll starts a new period if now is past the current one.
func (a *account) roll(now time.Time) {
	if a.b.Period == Total || now.Before(a.end) {
		return
	}
	a.start, a.end = a.b.PeriodBounds(now)
	a.spent, a.reserved, a.estimated = Amount{}, Amount{}, Amount{}
	a.announced = a.announced[:0]
	a.epoch++
}

// checkEstimate returns a refusal if, in estimate mode, the account's
// limit cannot take est on top of the settled spend and the estimates in
// flight. A strict budget checks worst against the limit in room instead.
func (a *account) checkEstimate(est, worst Amount) *OverBudgetError {
	if a.b.Strict {
		return nil
	}
	lim := Amount{a.b.LimitMicros, a.b.LimitTokens}
	if within(a.spent.add(a.estimated).add(est), lim, lim) {
		return nil
	}
	return a.refusal(worst)
}

// room is what the account can still hold in worst cases, per unit: its
// ceiling (limit plus overdraft) less the settled spend and the worst
// cases in flight; MaxInt64 in a unit without a limit.
func (a *account) room() Amount {
	c := a.b.ceiling()
	r := c.sub(a.spent).sub(a.reserved)
	if c.Micros == 0 {
		r.Micros = math.MaxInt64
	}
	if c.Tokens == 0 {
		r.Tokens = math.MaxInt64
	}
	return r
}

// held is what calls in flight hold against the limit as a status shows
// it: their estimates in estimate mode, their worst cases in strict mode.
func (a *account) held() Amount {
	if a.b.Strict {
		return a.reserved
	}
	return a.estimated
}

// refusal describes a refusal of a call whose worst case is worst.
func (a *account) refusal(worst Amount) *OverBudgetError {
	lim := Amount{a.b.LimitMicros, a.b.LimitTokens}
	unit := "usd"
	if after := a.spent.add(a.held()).add(worst); lim.Micros == 0 || lim.Tokens > 0 && after.Tokens > lim.Tokens && after.Micros <= lim.Micros {
		unit = "tokens"
	}
	b := a.b
	b.Thresholds = slices.Clone(b.Thresholds)
	return &OverBudgetError{
		Budget:    b,
		Unit:      unit,
		Spent:     a.spent,
		Reserved:  a.held(),
		Requested: worst,
		Limit:     lim,
		ResetAt:   a.end,
	}
}

// reached reports whether spend has reached pct percent of a limit.
func (a *account) reached(pct int) bool {
	return (a.b.LimitMicros > 0 && atLeastPercent(a.spent.Micros, pct, a.b.LimitMicros)) ||
		(a.b.LimitTokens > 0 && atLeastPercent(a.spent.Tokens, pct, a.b.LimitTokens))
}

// newlyReached marks and returns the thresholds reached since the last
// call.
func (a *account) newlyReached() []int {
	var out []int
	for _, t := range a.b.Thresholds {
		if !slices.Contains(a.announced, t) && a.reached(t) {
			a.announced = append(a.announced, t)
			out = append(out, t)
		}
	}
	return out
}

// markReached marks the thresholds already reached as announced, without
// announcing them.
func (a *account) markReached() { a.newlyReached() }

// BudgetStatus is a budget's state in its current period.
type BudgetStatus struct {
	Budget Budget
	// PeriodStart and ResetAt bound the current period; both are zero for a
	// Total budget.
	PeriodStart, ResetAt time.Time
	// Spent is what settled calls used; Reserved what calls in flight hold.
	Spent, Reserved Amount
	// Remaining is what a new call can still reserve: limit - spent -
	// reserved, at least 0, per unit; -1 in a unit without a limit.
	Remaining Amount
	// Percent is settled spend as a whole percentage of the limit, the
	// higher of the two units.
	Percent int
	// Crossed lists the thresholds reached this period, ascending.
	Crossed []int
}

// SetAlerts sets OnThreshold and OnRefusal; call it before the ledger is
// used. It lets the gateway set them on whichever implementation it runs.
func (l *Ledger) SetAlerts(threshold func(b Budget, pct int), refusal func(e *OverBudgetError)) {
	l.OnThreshold, l.OnRefusal = threshold, refusal
}

// Status returns the state of the budget with id.
func (l *Ledger) Status(id string) (BudgetStatus, bool) {
	a := l.snap.Load().byID[id]
	if a == nil {
		return BudgetStatus{}, false
	}
	return a.status(l.now()), true
}

// Statuses returns the state of every budget, ordered by id.
func (l *Ledger) Statuses() []BudgetStatus {
	s := l.snap.Load()
	now := l.now()
	out := make([]BudgetStatus, 0, len(s.ids))
	for _, id := range s.ids {
		out = append(out, s.byID[id].status(now))
	}
	return out
}

// Remaining returns the status of the tightest budget covering any of
// scopes — the one with the smallest remaining share of its limit — for the
// remaining-budget response headers, or false when no budget covers them.
// ctx is ignored, as in Reserve.
func (l *Ledger) Remaining(ctx context.Context, scopes []Scope) (BudgetStatus, bool) {
	var buf [8]*account
	accts := l.snap.Load().collect(buf[:0], scopes)
	now := l.now()
	var best BudgetStatus
	bestShare, found := math.Inf(1), false
	for _, a := range accts {
		st := a.status(now)
		if share := remainingShare(st); !found || share < bestShare {
			best, bestShare, found = st, share, true
		}
	}
	return best, found
}

// Covering returns the status of every budget covering any of scopes,
// ordered by id, for answers that describe each of them (the spend headers
// Claude Code reads pick the one nearest its limit themselves).
func (l *Ledger) Covering(ctx context.Context, scopes []Scope) []BudgetStatus {
	var buf [8]*account
	accts := l.snap.Load().collect(buf[:0], scopes)
	now := l.now()
	out := make([]BudgetStatus, 0, len(accts))
	for _, a := range accts {
		out = append(out, a.status(now))
	}
	slices.SortFunc(out, func(x, y BudgetStatus) int { return strings.Compare(x.Budget.ID, y.Budget.ID) })
	return out
}

func (a *account) status(now time.Time) BudgetStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.roll(now)
	st := BudgetStatus{
		Budget:      a.b,
		PeriodStart: a.start,
		ResetAt:     a.end,
		Spent:       a.spent,
		Reserved:    a.held(),
		Remaining:   Amount{-1, -1},
	}
	st.Budget.Thresholds = slices.Clone(a.b.Thresholds)
	if lim := a.b.LimitMicros; lim > 0 {
		st.Remaining.Micros = max(lim-a.spent.add(a.held()).Micros, 0)
		st.Percent = percent(a.spent.Micros, lim)
	}
	if lim := a.b.LimitTokens; lim > 0 {
		st.Remaining.Tokens = max(lim-a.spent.add(a.held()).Tokens, 0)
		st.Percent = max(st.Percent, percent(a.spent.Tokens, lim))
	}
	for _, t := range a.b.Thresholds {
		if a.reached(t) {
			st.Crossed = append(st.Crossed, t)
		}
	}
	return st
}

// percent is v as a whole percentage of limit (positive), without
// overflowing for any v.
func percent(v, limit int64) int {
	hi, lo := bits.Mul64(uint64(max(v, 0)), 100)
	if hi >= uint64(limit) {
		return math.MaxInt32
	}
	q, _ := bits.Div64(hi, lo, uint64(limit))
	return int(min(q, math.MaxInt32))
}

// remainingShare is the fraction of a budget's limit still available, in
// whichever of its units (USD, tokens) is tighter; +Inf for a budget with no
// limit. Remaining picks the covering budget with the smallest share.
func remainingShare(st BudgetStatus) float64 {
	share := math.Inf(1)
	if st.Budget.LimitMicros > 0 {
		share = float64(st.Remaining.Micros) / float64(st.Budget.LimitMicros)
	}
	if st.Budget.LimitTokens > 0 {
		share = min(share, float64(st.Remaining.Tokens)/float64(st.Budget.LimitTokens))
	}
	return share
}
