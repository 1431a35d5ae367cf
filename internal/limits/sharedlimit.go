package limits

import (
	"context"
	"errors"
	"sync/atomic"
)

// SharedLimiter enforces rate limits across replicas sharing PostgreSQL,
// with the lease machinery of Shared: each limit is a counter in the
// database that replicas lease slices of.
//
//   - Requests per minute and tokens per minute are counters per fixed
//     one-minute window (UTC minutes): a call takes 1 request and its token
//     estimate; when it ends the token count is corrected to the actual.
//     Unlike the in-process limiter's GCRA, a fixed window lets up to twice
//     the limit through in a 60 s span that straddles a window boundary —
//     the documented tolerance — and never more than the limit within one
//     window, across all replicas.
//   - Concurrency is a counter that never resets: a call holds 1 while it
//     runs. A replica that dies holds its slots until its lease expires
//     (SharedOptions.TTL).
//
// Small limits lease one call at a time (a lease is a share of what is
// left, never less than the call), so every admission under a small
// concurrency or RPM limit is a database round trip.
type SharedLimiter struct {
	s      *Shared
	limits atomic.Pointer[map[Scope]RateLimit]
}

// NewSharedLimiter returns a rate limiter leasing from st. o.Replica must
// be the same as the budget ledger's.
func NewSharedLimiter(st LeaseStore, o SharedOptions) *SharedLimiter {
	l := &SharedLimiter{s: NewShared(st, o)}
	l.limits.Store(&map[Scope]RateLimit{})
	return l
}

// Synthetic scope kinds: one counter per limit kind, keyed by the real
// scope, so that one Reserve takes the same amount from each.
const (
	counterRPM        ScopeKind = "rl-rpm"
	counterTPM        ScopeKind = "rl-tpm"
	counterConcurrent ScopeKind = "rl-concurrent"
)

func counterScope(kind ScopeKind, s Scope) Scope {
	return Scope{Kind: kind, ID: string(s.Kind) + "/" + s.ID}
}

// Load replaces the rate limits.
func (l *SharedLimiter) Load(rls []RateLimit) error {
	m := make(map[Scope]RateLimit, len(rls))
	var bs []Budget
	for _, rl := range rls {
		if rl.RPM < 0 || rl.TPM < 0 || rl.Concurrent < 0 {
			return errors.New("limits: negative rate limit")
		}
		m[rl.Scope] = rl
		add := func(kind ScopeKind, limit int, p Period) {
			if limit > 0 {
				sc := counterScope(kind, rl.Scope)
				bs = append(bs, Budget{ID: string(kind) + ":" + sc.ID, Scope: sc, LimitTokens: int64(limit), Period: p})
			}
		}
		add(counterRPM, rl.RPM, minute)
		add(counterTPM, rl.TPM, minute)
		add(counterConcurrent, rl.Concurrent, Total)
	}
	if err := l.s.Load(bs, nil); err != nil {
		return err
	}
	l.limits.Store(&m)
	return nil
}

// Run flushes the counters' leases until ctx ends; see Shared.Run.
func (l *SharedLimiter) Run(ctx context.Context) { l.s.Run(ctx) }

// Failures is Shared.Failures for the limiter's counters.
func (l *SharedLimiter) Failures() (int64, string) { return l.s.Failures() }

// Acquire admits a call under every rate limit of scopes, as
// Limiter.Acquire does; a refusal is a *RateLimitError. An unreachable
// database once the leases in hand run out refuses with ErrUnavailable
// (or admits, with an outage allowance).
func (l *SharedLimiter) Acquire(ctx context.Context, scopes []Scope, estTokens int64) (func(actualTokens int64), error) {
	estTokens = max(estTokens, 0)
	m := *l.limits.Load()
	var rpm, tpm, conc []Scope
	for _, s := range scopes {
		rl, ok := m[s]
		if !ok {
			continue
		}
		if rl.RPM > 0 {
			rpm = append(rpm, counterScope(counterRPM, s))
		}
		if rl.TPM > 0 {
			tpm = append(tpm, counterScope(counterTPM, s))
		}
		if rl.Concurrent > 0 {
			conc = append(conc, counterScope(counterConcurrent, s))
		}
	}
	if len(rpm)+len(tpm)+len(conc) == 0 {
		return noRelease, nil
	}
	var held [3]*Reservation
	for i, step := range []struct {
		scopes []Scope
		take   int64
	}{{conc, 1}, {rpm, 1}, {tpm, estTokens}} {
		if len(step.scopes) == 0 {
			continue
		}
		r, err := l.s.Reserve(ctx, step.scopes, Amount{Tokens: step.take})
		if err != nil {
			for _, h := range held[:i] {
				h.Release()
			}
			return nil, l.rateLimitError(err, m)
		}
		held[i] = r
	}
	var done atomic.Bool
	return func(actual int64) {
		if !done.CompareAndSwap(false, true) {
			return
		}
		held[0].Release() // the concurrency slot
		held[1].Settle(Amount{Tokens: 1})
		held[2].Settle(Amount{Tokens: max(actual, 0)})
	}, nil
}

// rateLimitError turns a counter's refusal into the refusal of its limit.
func (l *SharedLimiter) rateLimitError(err error, m map[Scope]RateLimit) error {
	var ob *OverBudgetError
	if !errors.As(err, &ob) {
		return err
	}
	kind, real := ob.Budget.Scope.Kind, Scope{}
	for s := range m {
		if counterScope(kind, s) == ob.Budget.Scope {
			real = s
		}
	}
	rl := m[real]
	e := &RateLimitError{Scope: real, ScopeName: rl.ScopeName}
	switch kind {
	case counterRPM:
		e.Kind, e.Limit = KindRPM, rl.RPM
	case counterTPM:
		e.Kind, e.Limit = KindTPM, rl.TPM
	default:
		e.Kind, e.Limit, e.RetryAfter = KindConcurrent, rl.Concurrent, ConcurrentRetryAfter
	}
	if now := l.s.o.Now(); !ob.ResetAt.IsZero() && ob.ResetAt.After(now) {
		e.RetryAfter = ob.ResetAt.Sub(now)
	}
	return e
}
