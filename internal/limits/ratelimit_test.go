package limits

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func mustLimits(t testing.TB, l *Limiter, rls ...RateLimit) {
	t.Helper()
	if err := l.Load(rls); err != nil {
		t.Fatal(err)
	}
}

func asRateLimit(t *testing.T, err error) *RateLimitError {
	t.Helper()
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("Acquire error = %v, want a *RateLimitError", err)
	}
	return rl
}

func TestRPM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(nil)
		mustLimits(t, l, RateLimit{Scope: keyA, RPM: 60})
		for i := range 60 {
			if _, err := l.Acquire(context.Background(), []Scope{keyA}, 0); err != nil {
				t.Fatalf("request %d refused: %v", i, err)
			}
		}
		_, err := l.Acquire(context.Background(), []Scope{keyA}, 0)
		rl := asRateLimit(t, err)
		if rl.Kind != KindRPM || rl.RetryAfter != time.Second || rl.Scope != keyA {
			t.Errorf("refusal = %+v, want rpm after 1s", rl)
		}
		if want := `rate limited: key "k1" allows 60 requests per minute; retry in 1s`; rl.Error() != want {
			t.Errorf("Error() = %q, want %q", rl.Error(), want)
		}
		rl.ScopeName = "ci-nightly"
		if want := `rate limited: key "ci-nightly" allows 60 requests per minute; retry in 1s`; rl.Error() != want {
			t.Errorf("Error() with the key's alias = %q, want %q", rl.Error(), want)
		}
		time.Sleep(999 * time.Millisecond)
		if _, err := l.Acquire(context.Background(), []Scope{keyA}, 0); err == nil {
			t.Error("admitted before the retry time")
		}
		time.Sleep(time.Millisecond)
		if _, err := l.Acquire(context.Background(), []Scope{keyA}, 0); err != nil {
			t.Errorf("refused at the retry time: %v", err)
		}
		// After a quiet minute the full burst is back, and no more.
		time.Sleep(10 * time.Minute)
		n := 0
		for ; n < 200; n++ {
			if _, err := l.Acquire(context.Background(), []Scope{keyA}, 0); err != nil {
				break
			}
		}
		if n != 60 {
			t.Errorf("burst after a quiet period = %d, want 60", n)
		}
	})
}

func TestTPMCorrectedOnRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(nil)
		mustLimits(t, l, RateLimit{Scope: keyA, TPM: 60_000})
		rel, err := l.Acquire(context.Background(), []Scope{keyA}, 50_000)
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Acquire(context.Background(), []Scope{keyA}, 20_000)
		if rl := asRateLimit(t, err); rl.Kind != KindTPM || rl.RetryAfter != 10*time.Second {
			t.Errorf("refusal = %+v, want tpm after 10s", rl)
		}
		rel(5_000) // the call used far less than estimated
		rel(90_000)
		rel2, err := l.Acquire(context.Background(), []Scope{keyA}, 20_000)
		if err != nil {
			t.Fatalf("refused after the estimate was corrected down: %v", err)
		}
		rel2(80_000) // and this one used more: 5k+80k of 60k
		_, err = l.Acquire(context.Background(), []Scope{keyA}, 1)
		if rl := asRateLimit(t, err); rl.RetryAfter != 25*time.Second+time.Millisecond {
			t.Errorf("RetryAfter = %v, want 25.001s", rl.RetryAfter)
		}
		// A call larger than the whole limit waits for a full bucket, not
		// forever.
		time.Sleep(2 * time.Minute)
		if _, err := l.Acquire(context.Background(), []Scope{keyA}, 500_000); err != nil {
			t.Errorf("oversized call refused on a full bucket: %v", err)
		}
	})
}

func TestConcurrentLimit(t *testing.T) {
	l := NewLimiter(nil)
	mustLimits(t, l, RateLimit{Scope: userA, Concurrent: 10})
	var (
		wg              sync.WaitGroup
		flying, maxSeen atomic.Int64
		admitted        atomic.Int64
	)
	for range 500 {
		wg.Go(func() {
			rel, err := l.Acquire(context.Background(), []Scope{keyA, userA}, 100)
			if err != nil {
				if rl := asRateLimit(t, err); rl.Kind != KindConcurrent || rl.RetryAfter != ConcurrentRetryAfter {
					t.Errorf("refusal = %+v", rl)
				}
				return
			}
			admitted.Add(1)
			n := flying.Add(1)
			for {
				m := maxSeen.Load()
				if n <= m || maxSeen.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(100 * time.Microsecond)
			flying.Add(-1)
			rel(100)
		})
	}
	wg.Wait()
	if maxSeen.Load() > 10 {
		t.Errorf("%d calls in flight at once, limit 10", maxSeen.Load())
	}
	if admitted.Load() < 10 {
		t.Errorf("only %d calls admitted", admitted.Load())
	}
	// Everything released: all 10 slots are free.
	for range 10 {
		if _, err := l.Acquire(context.Background(), []Scope{userA}, 0); err != nil {
			t.Fatalf("slot leaked: %v", err)
		}
	}
}

// TestAcquireAllOrNothing: a refusal by one scope counts nothing against the
// others, and the longest wait is reported.
func TestAcquireAllOrNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(nil)
		mustLimits(t, l,
			RateLimit{Scope: keyA, RPM: 2, Concurrent: 5},
			RateLimit{Scope: teamA, RPM: 600},
			RateLimit{Scope: userA, TPM: 1_000},
		)
		all := []Scope{keyA, teamA, userA}
		if _, err := l.Acquire(context.Background(), all, 1_000); err != nil {
			t.Fatal(err)
		}
		_, err := l.Acquire(context.Background(), all, 1_000) // key has room, user's TPM is used up
		if rl := asRateLimit(t, err); rl.Scope != userA || rl.Kind != KindTPM || rl.RetryAfter != time.Minute {
			t.Errorf("refusal = %+v, want user tpm after 1m", rl)
		}
		// The refused call took none of the key's two requests.
		if _, err := l.Acquire(context.Background(), []Scope{keyA}, 0); err != nil {
			t.Errorf("key charged by a refused call: %v", err)
		}
		_, err = l.Acquire(context.Background(), []Scope{keyA}, 0)
		if rl := asRateLimit(t, err); rl.Kind != KindRPM || rl.RetryAfter != 30*time.Second {
			t.Errorf("refusal = %+v, want key rpm after 30s", rl)
		}
	})
}

// TestRPMConcurrent: 500 goroutines at the same instant get exactly RPM
// admissions.
func TestRPMConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(nil)
		mustLimits(t, l, RateLimit{Scope: keyA, RPM: 100}, RateLimit{Scope: teamA, TPM: 1_000_000})
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for range 500 {
			wg.Go(func() {
				if rel, err := l.Acquire(context.Background(), []Scope{keyA, teamA}, 10); err == nil {
					admitted.Add(1)
					rel(10)
				}
			})
		}
		wg.Wait()
		if admitted.Load() != 100 {
			t.Errorf("admitted %d, want 100", admitted.Load())
		}
	})
}

func TestLimiterReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(nil)
		mustLimits(t, l, RateLimit{Scope: keyA, RPM: 10, Concurrent: 1})
		rel, err := l.Acquire(context.Background(), []Scope{keyA}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			l.Acquire(context.Background(), []Scope{keyA, {KindKey, "x"}}, 0) // concurrency-refused
		}
		// Doubling the RPM keeps the in-flight call and the request
		// already counted in the window (1 of 10 → 1 of 20).
		mustLimits(t, l, RateLimit{Scope: keyA, RPM: 20, Concurrent: 1})
		_, err = l.Acquire(context.Background(), []Scope{keyA}, 0)
		if rl := asRateLimit(t, err); rl.Kind != KindConcurrent {
			t.Errorf("in-flight call forgotten on reload: %+v", rl)
		}
		rel(0)
		mustLimits(t, l, RateLimit{Scope: keyA, RPM: 20})
		n := 0
		for ; n < 100; n++ {
			if _, err := l.Acquire(context.Background(), []Scope{keyA}, 0); err != nil {
				break
			}
		}
		if n != 19 {
			t.Errorf("admitted %d after reload, want 19", n)
		}
		if err := l.Load([]RateLimit{{Scope: keyA}, {Scope: keyA}}); err == nil {
			t.Error("duplicate scope accepted")
		}
		if err := l.Load([]RateLimit{{Scope: keyA, RPM: -1}}); err == nil {
			t.Error("negative limit accepted")
		}
	})
}

func BenchmarkAcquire(b *testing.B) {
	l := NewLimiter(nil)
	mustLimits(b, l,
		RateLimit{Scope: keyA, RPM: 1 << 50, TPM: 1 << 50, Concurrent: 1 << 20},
		RateLimit{Scope: teamA, RPM: 1 << 50},
	)
	scopes := []Scope{keyA, userA, teamA}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rel, err := l.Acquire(context.Background(), scopes, 2)
			if err != nil {
				b.Fatal(err)
			}
			rel(1)
		}
	})
}
