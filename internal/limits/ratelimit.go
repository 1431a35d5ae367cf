package limits

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// window is the period of RPM and TPM limits.
const window = time.Minute

// ConcurrentRetryAfter is the RetryAfter of a refusal for concurrency: a
// slot frees when some call ends, which cannot be predicted.
const ConcurrentRetryAfter = time.Second

// RateLimit limits the traffic of one scope. A zero field means no limit of
// that kind.
type RateLimit struct {
	Scope Scope
	// RPM is requests per minute.
	RPM int
	// TPM is tokens per minute, of every kind, input and output.
	TPM int
	// Concurrent is requests in flight at once.
	Concurrent int
	// ScopeName is the scope's alias or name, for the refusal's message
	// (see Budget.ScopeName); empty, the message names the id.
	ScopeName string
}

// Limiter enforces rate limits in process. RPM and TPM use GCRA (a token
// bucket of capacity limit refilled at limit per minute); see the package
// documentation.
type Limiter struct {
	now    func() time.Time
	snap   atomic.Pointer[map[Scope]*bucket]
	loadMu sync.Mutex
}

// bucket is one scope's rate state.
type bucket struct {
	ord uint64 // lock order; immutable

	mu     sync.Mutex
	lim    RateLimit
	reqTAT time.Time // GCRA theoretical arrival time of requests
	tokTAT time.Time // and of tokens
	flying int       // calls in flight
}

// NewLimiter returns a limiter with no limits, reading the time from now
// (time.Now when nil).
func NewLimiter(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	l := &Limiter{now: now}
	l.snap.Store(&map[Scope]*bucket{})
	return l
}

// Load replaces the set of rate limits. Scopes that keep a limit keep their
// state: calls in flight still count, and so do the requests and tokens
// already counted in the window, now against the new limit.
func (l *Limiter) Load(limits []RateLimit) error {
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	old := *l.snap.Load()
	next := make(map[Scope]*bucket, len(limits))
	for _, rl := range limits {
		if rl.RPM < 0 || rl.TPM < 0 || rl.Concurrent < 0 {
			return fmt.Errorf("limits: negative rate limit for %s", rl.Scope)
		}
		if _, dup := next[rl.Scope]; dup {
			return fmt.Errorf("limits: rate limit for %s listed twice", rl.Scope)
		}
		b := old[rl.Scope]
		if b == nil {
			b = &bucket{ord: accountSeq.Add(1), lim: rl}
		}
		next[rl.Scope] = b
	}
	now := l.now()
	for _, rl := range limits {
		b := next[rl.Scope]
		b.mu.Lock()
		b.reqTAT = rescale(b.reqTAT, now, b.lim.RPM, rl.RPM)
		b.tokTAT = rescale(b.tokTAT, now, b.lim.TPM, rl.TPM)
		b.lim = rl
		b.mu.Unlock()
	}
	l.snap.Store(&next)
	return nil
}

// rescale converts a theoretical arrival time for a limit change: the units
// still counted in the window stay counted. A limit that appears or
// disappears starts from a full bucket.
func rescale(tat, now time.Time, from, to int) time.Time {
	if from == to || !tat.After(now) {
		return tat
	}
	if from == 0 || to == 0 {
		return time.Time{}
	}
	used := tat.Sub(now)
	return now.Add(time.Duration(float64(used) * float64(from) / float64(to)))
}

func noRelease(int64) {}

// Acquire admits one call of about estTokens tokens for every scope, or for
// none: if any limit of any scope refuses, nothing is counted and the error
// is a *RateLimitError for the refusal with the longest RetryAfter (and
// release is nil). Otherwise release must be called once when the call ends, with the tokens
// it actually used (input of every kind plus output), which corrects the
// token count taken at admission; later calls do nothing. The in-process
// limiter never blocks and ignores ctx; it is there for a limiter shared
// across replicas.
func (l *Limiter) Acquire(ctx context.Context, scopes []Scope, estTokens int64) (release func(actualTokens int64), err error) {
	estTokens = max(estTokens, 0)
	m := *l.snap.Load()
	var buf [8]*bucket
	bs := buf[:0]
	for _, s := range scopes {
		if b := m[s]; b != nil {
			bs = append(bs, b)
		}
	}
	if len(bs) == 0 {
		return noRelease, nil
	}
	if len(bs) > 1 {
		slices.SortFunc(bs, func(x, y *bucket) int { return cmpOrd(x.ord, y.ord) })
		bs = slices.Compact(bs)
	}
	now := l.now()
	for _, b := range bs {
		b.mu.Lock()
	}
	var refusal *RateLimitError
	refuse := func(b *bucket, kind string, limit int, after time.Duration) {
		if refusal == nil || after > refusal.RetryAfter {
			refusal = &RateLimitError{Scope: b.lim.Scope, ScopeName: b.lim.ScopeName, Kind: kind, Limit: limit, RetryAfter: after}
		}
	}
	for _, b := range bs {
		if n := b.lim.Concurrent; n > 0 && b.flying >= n {
			refuse(b, KindConcurrent, n, ConcurrentRetryAfter)
		}
		if n := b.lim.RPM; n > 0 {
			if wait := gcraWait(b.reqTAT, now, 1, n); wait > 0 {
				refuse(b, KindRPM, n, wait)
			}
		}
		if n := b.lim.TPM; n > 0 {
			if wait := gcraWait(b.tokTAT, now, estTokens, n); wait > 0 {
				refuse(b, KindTPM, n, wait)
			}
		}
	}
	if refusal == nil {
		for _, b := range bs {
			b.flying++
			if n := b.lim.RPM; n > 0 {
				b.reqTAT = later(b.reqTAT, now).Add(span(1, n))
			}
			if n := b.lim.TPM; n > 0 {
				b.tokTAT = later(b.tokTAT, now).Add(span(estTokens, n))
			}
		}
	}
	for _, b := range bs {
		b.mu.Unlock()
	}
	if refusal != nil {
		return nil, refusal
	}
	held := slices.Clone(bs)
	var done atomic.Bool
	return func(actual int64) {
		if !done.CompareAndSwap(false, true) {
			return
		}
		actual = max(actual, 0)
		now := l.now()
		for _, b := range held {
			b.mu.Lock()
			b.flying--
			if n := b.lim.TPM; n > 0 && actual != estTokens {
				if actual > estTokens {
					b.tokTAT = later(b.tokTAT, now).Add(span(actual-estTokens, n))
				} else {
					b.tokTAT = later(b.tokTAT.Add(-span(estTokens-actual, n)), now)
				}
			}
			b.mu.Unlock()
		}
	}, nil
}

// gcraWait returns how long a call of cost units must wait under limit units
// per window, given the theoretical arrival time tat; 0 admits it. A cost
// above the limit waits only for a full bucket, so that it is not refused
// forever.
func gcraWait(tat, now time.Time, cost int64, limit int) time.Duration {
	next := later(tat, now).Add(span(min(cost, int64(limit)), limit))
	return max(next.Sub(now)-window, 0)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// span is the time cost units take to refill at limit units per window,
// rounded up to the nanosecond.
func span(cost int64, limit int) time.Duration {
	if cost <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(cost), uint64(window))
	if hi >= uint64(limit) {
		return math.MaxInt64 / 4
	}
	q, r := bits.Div64(hi, lo, uint64(limit))
	if r > 0 {
		q++
	}
	return time.Duration(min(q, math.MaxInt64/4))
}
