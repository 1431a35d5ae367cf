package router

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tollgate-gw/tollgate/internal/config"
)

// ErrBusy is returned by Health.Acquire when a target stayed at its
// max_concurrent for its whole queue_timeout. The caller tries the next
// target, and answers 529 overloaded_error when none has room.
var ErrBusy = errors.New("router: target at max_concurrent")

// Health is the part of routing that changes with every call, kept apart
// from the immutable Router so that a reloaded Router does not forget that a
// region is throttling: which targets are cooling down after a throttle or a
// 5xx, and how many calls each target has in flight (for least-busy and for
// max_concurrent). A target is known by its provider and upstream model id,
// so two models sharing a deployment share its health, as they share its
// quota. It is safe for concurrent use; one mutex guards it, held only for
// map lookups and a few comparisons.
type Health struct {
	now  func() time.Time
	intN func(n int) int

	mu      sync.Mutex
	targets map[targetKey]*targetState
}

type targetKey struct{ provider, model string }

type targetState struct {
	until    time.Time // cooling until then
	inFlight int
	// freed is closed, and replaced by nil, when a slot is released, to
	// wake the calls queued for one.
	freed chan struct{}
}

// NewHealth returns an empty Health. now is the clock of cooldowns and intN
// (rand.IntN's contract) picks weighted targets; nil means time.Now and
// math/rand/v2.IntN. Tests inject both, so that cooldowns and weighted
// splits are deterministic. Queue waits use real timers, which
// testing/synctest fakes.
func NewHealth(now func() time.Time, intN func(n int) int) *Health {
	if now == nil {
		now = time.Now
	}
	if intN == nil {
		intN = rand.IntN
	}
	return &Health{now: now, intN: intN, targets: map[targetKey]*targetState{}}
}

// state returns t's state, creating it. h.mu must be held.
func (h *Health) state(t Target) *targetState {
	k := targetKey{t.Provider, t.Model}
	st, ok := h.targets[k]
	if !ok {
		st = &targetState{}
		h.targets[k] = st
	}
	return st
}

// Order returns the targets to try for one call, in the order to try them:
// the targets that are not cooling down, arranged by the route's strategy.
// When every target is cooling it returns the one whose cooldown ends first
// alone: a cooldown is a guess about the upstream, and a call must never be
// refused on a guess. The result is a new slice.
func (h *Health) Order(rt Route) []Target {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	ready := make([]Target, 0, len(rt.Targets))
	var soonest Target
	var soonestEnd time.Time
	for _, t := range rt.Targets {
		st := h.targets[targetKey{t.Provider, t.Model}]
		if st == nil || !st.until.After(now) {
			ready = append(ready, t)
			continue
		}
		if soonestEnd.IsZero() || st.until.Before(soonestEnd) {
			soonest, soonestEnd = t, st.until
		}
	}
	if len(ready) == 0 {
		if soonestEnd.IsZero() {
			return nil // a route without targets
		}
		return []Target{soonest}
	}
	switch rt.Strategy {
	case config.StrategyWeighted:
		total := 0
		for _, t := range ready {
			total += t.Weight
		}
		if total <= 0 {
			break // only weight-0 fallbacks left: in order
		}
		n := h.intN(total)
		for i, t := range ready {
			if n < t.Weight {
				// The pick first, the others after it as listed.
				copy(ready[1:i+1], ready[:i])
				ready[0] = t
				break
			}
			n -= t.Weight
		}
	case config.StrategyLeastBusy:
		slices.SortStableFunc(ready, func(a, b Target) int {
			return cmp.Compare(h.inFlight(a), h.inFlight(b))
		})
	}
	return ready
}

// inFlight is t's count of calls in flight. h.mu must be held.
func (h *Health) inFlight(t Target) int {
	if st := h.targets[targetKey{t.Provider, t.Model}]; st != nil {
		return st.inFlight
	}
	return 0
}

// Cool starts t's cooldown after a throttle or a 5xx and returns its length:
// retryAfter when the upstream gave one, since it knows when its window
// reopens, else t.Cooldown. A cooldown never shortens one already running.
// It returns 0, and changes nothing, when t's cooldown is disabled and the
// upstream gave no retry-after.
func (h *Health) Cool(t Target, retryAfter time.Duration) time.Duration {
	d := t.Cooldown
	if retryAfter > 0 {
		d = retryAfter
	}
	if d <= 0 {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.state(t)
	if until := h.now().Add(d); until.After(st.until) {
		st.until = until
	}
	return d
}

// Cooling reports whether t is cooling down.
func (h *Health) Cooling(t Target) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.targets[targetKey{t.Provider, t.Model}]
	return st != nil && st.until.After(h.now())
}

// Acquire counts a call in flight on t until release is called, which must
// be exactly once, when the call's answer has been relayed. When t is at its
// MaxConcurrent the call waits in line up to t.QueueTimeout for a slot — a
// burst is smoothed rather than refused — then gets ErrBusy; queued reports
// whether it had to wait. An ended ctx returns ctx.Err().
func (h *Health) Acquire(ctx context.Context, t Target) (release func(), queued bool, err error) {
	var timer *time.Timer
	for {
		h.mu.Lock()
		st := h.state(t)
		if t.MaxConcurrent <= 0 || st.inFlight < t.MaxConcurrent {
			st.inFlight++
			h.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return sync.OnceFunc(func() { h.release(st) }), queued, nil
		}
		if st.freed == nil {
			st.freed = make(chan struct{})
		}
		freed := st.freed
		h.mu.Unlock()
		if timer == nil {
			queued = true
			timer = time.NewTimer(t.QueueTimeout)
			defer timer.Stop()
		}
		select {
		case <-freed:
		case <-timer.C:
			return nil, true, ErrBusy
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
	}
}

func (h *Health) release(st *targetState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st.inFlight--
	if st.freed != nil {
		close(st.freed)
		st.freed = nil
	}
}
