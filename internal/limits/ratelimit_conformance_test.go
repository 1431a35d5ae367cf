package limits_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

// rateLimiter is what the gateway needs of a rate limiter: the in-process
// Limiter and the SharedLimiter both implement it.
type rateLimiter interface {
	Load(rls []limits.RateLimit) error
	Acquire(ctx context.Context, scopes []limits.Scope, estTokens int64) (func(actualTokens int64), error)
}

// limiterImplementations runs fn against the in-process limiter and three
// SharedLimiter replicas over one store (SQLite and PostgreSQL); quiesce
// stands for a quiet flush interval.
func limiterImplementations(t *testing.T, fn func(t *testing.T, reps []rateLimiter, quiesce func())) {
	now := func() time.Time { return conformanceNow }
	t.Run("limiter", func(t *testing.T) {
		fn(t, []rateLimiter{limits.NewLimiter(now)}, func() {})
	})
	shared := func(t *testing.T, open storetest.Opener) {
		st := open(t)
		var reps []rateLimiter
		var shs []*limits.SharedLimiter
		for i := range 3 {
			l := limits.NewSharedLimiter(st, limits.SharedOptions{Replica: fmt.Sprintf("r%d", i), Now: now, Timeout: 10 * time.Second})
			reps, shs = append(reps, l), append(shs, l)
		}
		fn(t, reps, func() {
			for _, l := range shs {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				l.Run(ctx) // a cancelled Run flushes once, giving every lease back
			}
		})
	}
	t.Run("shared/sqlite", func(t *testing.T) { shared(t, storetest.OpenSQLite) })
	t.Run("shared/postgres", func(t *testing.T) {
		storetest.PostgresURL(t)
		shared(t, storetest.OpenPostgres)
	})
}

// TestRateLimitsConformance: what every rate limiter guarantees, whatever
// replica a call lands on, within one minute.
func TestRateLimitsConformance(t *testing.T) {
	ctx := context.Background()
	key := []limits.Scope{cKey}
	refusedAs := func(t *testing.T, err error, kind string) {
		t.Helper()
		var rl *limits.RateLimitError
		if !errors.As(err, &rl) || rl.Kind != kind || rl.RetryAfter <= 0 {
			t.Fatalf("Acquire = %v, want a %s refusal with a retry-after", err, kind)
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, reps []rateLimiter, quiesce func())
	}{
		{"requests per minute", func(t *testing.T, reps []rateLimiter, quiesce func()) {
			admitted := 0
			for i := range 30 {
				release, err := reps[i%len(reps)].Acquire(ctx, key, 0)
				if err != nil {
					refusedAs(t, err, limits.KindRPM)
					continue
				}
				admitted++
				release(0)
			}
			if admitted != 10 {
				t.Errorf("admitted %d of 30 in one minute, want 10", admitted)
			}
		}},
		{"concurrency", func(t *testing.T, reps []rateLimiter, quiesce func()) {
			var held []func(int64)
			for i := range 3 {
				release, err := reps[i%len(reps)].Acquire(ctx, key, 0)
				if err != nil {
					t.Fatalf("Acquire %d of 3 concurrent = %v", i+1, err)
				}
				held = append(held, release)
			}
			_, err := reps[len(reps)-1].Acquire(ctx, key, 0)
			refusedAs(t, err, limits.KindConcurrent)
			held[0](0)
			quiesce()
			if _, err := reps[len(reps)-1].Acquire(ctx, key, 0); err != nil {
				t.Errorf("Acquire after a call ended = %v, want admitted", err)
			}
		}},
		{"tokens per minute", func(t *testing.T, reps []rateLimiter, quiesce func()) {
			for i := range 2 {
				if _, err := reps[i%len(reps)].Acquire(ctx, key, 400); err != nil {
					t.Fatalf("Acquire(400 of 1000 tokens) #%d = %v", i+1, err)
				}
			}
			_, err := reps[len(reps)-1].Acquire(ctx, key, 400)
			refusedAs(t, err, limits.KindTPM)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limiterImplementations(t, func(t *testing.T, reps []rateLimiter, quiesce func()) {
				for _, r := range reps {
					rl := limits.RateLimit{Scope: cKey}
					switch tt.name {
					case "requests per minute":
						rl.RPM = 10
					case "concurrency":
						rl.Concurrent = 3
					default:
						rl.TPM = 1000
					}
					if err := r.Load([]limits.RateLimit{rl}); err != nil {
						t.Fatal(err)
					}
				}
				tt.run(t, reps, quiesce)
			})
		})
	}
}
