package limits_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

// budgets is what the gateway needs of a budget ledger: the in-process
// Ledger and the Shared one both implement it.
type budgets interface {
	Load(bs []limits.Budget, spent limits.SpentFunc) error
	Reserve(ctx context.Context, scopes []limits.Scope, worst limits.Amount) (*limits.Reservation, error)
	Admit(ctx context.Context, scopes []limits.Scope, ask limits.Ask) (*limits.Reservation, error)
	Remaining(ctx context.Context, scopes []limits.Scope) (limits.BudgetStatus, bool)
	Status(id string) (limits.BudgetStatus, bool)
}

// fixture is one implementation under test: replicas serving the same
// budgets (one for the in-process ledger), and the settled spend as the
// implementation's source of truth holds it once everything is flushed.
type fixture struct {
	replicas []budgets
	spent    func(t *testing.T, id string) limits.Amount
	// quiesce stands for a quiet flush interval: what each replica holds
	// and does not use goes back to the others.
	quiesce func(t *testing.T)
	// slack is how many worst cases the implementation may leave unused
	// while reservations are held: a fragment of a lease per replica.
	slack int64
}

func (f *fixture) load(t *testing.T, bs ...limits.Budget) {
	t.Helper()
	for _, r := range f.replicas {
		if err := r.Load(bs, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// pick returns the replica for the i-th call: calls are spread over them.
func (f *fixture) pick(i int) budgets { return f.replicas[i%len(f.replicas)] }

var conformanceNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// implementations runs fn against the in-process ledger and against three
// Shared replicas over one lease store, on SQLite and on PostgreSQL.
func implementations(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Run("ledger", func(t *testing.T) {
		l := limits.NewLedger(func() time.Time { return conformanceNow })
		fn(t, &fixture{replicas: []budgets{l}, spent: func(t *testing.T, id string) limits.Amount {
			st, _ := l.Status(id)
			return st.Spent
		}, quiesce: func(*testing.T) {}})
	})
	shared := func(t *testing.T, open storetest.Opener) {
		st := open(t)
		var reps []*limits.Shared
		f := &fixture{slack: 3}
		for i := range 3 {
			s := limits.NewShared(st, limits.SharedOptions{Replica: fmt.Sprintf("r%d", i),
				Now: func() time.Time { return conformanceNow }, Timeout: 10 * time.Second})
			reps = append(reps, s)
			f.replicas = append(f.replicas, s)
		}
		f.quiesce = func(t *testing.T) {
			t.Helper()
			for _, r := range reps {
				if err := r.Flush(context.Background(), true); err != nil {
					t.Fatalf("Flush: %v", err)
				}
			}
		}
		f.spent = func(t *testing.T, id string) limits.Amount {
			t.Helper()
			f.quiesce(t)
			a, err := st.BudgetSpend(context.Background(), limits.LeaseKey{BudgetID: id})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		fn(t, f)
	}
	t.Run("shared/sqlite", func(t *testing.T) { shared(t, storetest.OpenSQLite) })
	t.Run("shared/postgres", func(t *testing.T) {
		storetest.PostgresURL(t)
		shared(t, storetest.OpenPostgres)
	})
}

var (
	cKey  = limits.Scope{Kind: limits.KindKey, ID: "k1"}
	cUser = limits.Scope{Kind: limits.KindUser, ID: "alice"}
	cTeam = limits.Scope{Kind: limits.KindTeam, ID: "acme"}
)

// TestBudgetsConformance: what every budget implementation guarantees,
// whatever replica a call lands on.
func TestBudgetsConformance(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"refuses what does not fit", func(t *testing.T, f *fixture) {
			f.load(t, limits.Budget{ID: "b", Scope: cKey, LimitMicros: 100})
			r, err := f.pick(0).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 60})
			if err != nil {
				t.Fatalf("Reserve(60 of 100) = %v, want admitted", err)
			}
			var ob *limits.OverBudgetError
			if _, err := f.pick(1).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 41}); !errors.As(err, &ob) || ob.Unit != "usd" {
				t.Fatalf("Reserve(41 more) = %v, want an over-budget refusal in usd", err)
			}
			r.Settle(limits.Amount{Micros: 10})
			f.quiesce(t)
			if _, err := f.pick(1).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 90}); err != nil {
				t.Fatalf("Reserve(90) after settling 10 = %v, want admitted", err)
			}
		}},
		{"settle charges the actual, release nothing", func(t *testing.T, f *fixture) {
			f.load(t, limits.Budget{ID: "b", Scope: cKey, LimitMicros: 1000, LimitTokens: 1000})
			for i, actual := range []limits.Amount{{Micros: 30, Tokens: 7}, {Micros: 50, Tokens: 1}} {
				r, err := f.pick(i).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 100, Tokens: 100})
				if err != nil {
					t.Fatal(err)
				}
				r.Settle(actual)
				r.Settle(actual) // idempotent
			}
			r, err := f.pick(2).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 100, Tokens: 100})
			if err != nil {
				t.Fatal(err)
			}
			r.Release()
			if got, want := f.spent(t, "b"), (limits.Amount{Micros: 80, Tokens: 8}); got != want {
				t.Errorf("spent = %+v, want %+v", got, want)
			}
		}},
		{"tokens", func(t *testing.T, f *fixture) {
			f.load(t, limits.Budget{ID: "b", Scope: cKey, LimitTokens: 10})
			if _, err := f.pick(0).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 1 << 40, Tokens: 10}); err != nil {
				t.Fatalf("Reserve(10 of 10 tokens) = %v", err)
			}
			var ob *limits.OverBudgetError
			if _, err := f.pick(1).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Tokens: 1}); !errors.As(err, &ob) || ob.Unit != "tokens" {
				t.Fatalf("Reserve(1 more token) = %v, want a refusal in tokens", err)
			}
		}},
		{"the tightest of key, user and team refuses and nothing is held", func(t *testing.T, f *fixture) {
			f.load(t,
				limits.Budget{ID: "key", Scope: cKey, LimitMicros: 1000},
				limits.Budget{ID: "user", Scope: cUser, LimitMicros: 100},
				limits.Budget{ID: "team", Scope: cTeam, LimitMicros: 1000})
			all := []limits.Scope{cKey, cUser, cTeam}
			if _, err := f.pick(0).Reserve(ctx, all, limits.Amount{Micros: 101}); err == nil {
				t.Fatal("Reserve(101) under a user budget of 100 was admitted")
			} else if ob := (*limits.OverBudgetError)(nil); !errors.As(err, &ob) || ob.Budget.ID != "user" {
				t.Fatalf("Reserve(101) = %v, want the user budget to refuse", err)
			}
			f.quiesce(t)
			// Nothing held: the key alone still takes its whole limit.
			r, err := f.pick(1).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 1000})
			if err != nil {
				t.Fatalf("Reserve(key 1000) = %v", err)
			}
			r.Settle(limits.Amount{Micros: 1000})
			r2, err := f.pick(2).Reserve(ctx, []limits.Scope{cUser, cTeam}, limits.Amount{Micros: 100})
			if err != nil {
				t.Fatalf("Reserve(user+team 100) = %v", err)
			}
			r2.Settle(limits.Amount{Micros: 60})
			for id, want := range map[string]int64{"key": 1000, "user": 60, "team": 60} {
				if got := f.spent(t, id).Micros; got != want {
					t.Errorf("spent of %s = %d, want %d", id, got, want)
				}
			}
		}},
		{"no budget covers the call", func(t *testing.T, f *fixture) {
			f.load(t, limits.Budget{ID: "b", Scope: cTeam, LimitMicros: 1})
			r, err := f.pick(0).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 1 << 40})
			if err != nil {
				t.Fatal(err)
			}
			r.Settle(limits.Amount{Micros: 1 << 40})
		}},
		{"500 held reservations never pass the limit", func(t *testing.T, f *fixture) {
			f.load(t, limits.Budget{ID: "b", Scope: cKey, LimitMicros: 1_000_000})
			const calls, worst = 500, 7_000 // 142 fit
			var (
				wg       sync.WaitGroup
				admitted atomic.Int64
				mu       sync.Mutex
				held     []*limits.Reservation
			)
			for i := range calls {
				wg.Go(func() {
					r, err := f.pick(i).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: worst})
					if err != nil {
						if !errors.Is(err, limits.ErrOverBudget) {
							t.Errorf("Reserve = %v, want admitted or over budget", err)
						}
						return
					}
					admitted.Add(1)
					mu.Lock()
					held = append(held, r)
					mu.Unlock()
				})
			}
			wg.Wait()
			fit := int64(1_000_000 / worst)
			if n := admitted.Load(); n > fit || n < fit-f.slack {
				t.Errorf("admitted %d of %d, want between %d and %d", n, calls, fit-f.slack, fit)
			}
			for _, r := range held {
				r.Settle(limits.Amount{Micros: worst})
			}
			if got := f.spent(t, "b").Micros; got != admitted.Load()*worst {
				t.Errorf("spent = %d, want %d", got, admitted.Load()*worst)
			}
		}},
		{"500 calls that settle use at least 90 %", func(t *testing.T, f *fixture) {
			const limit, calls, worst, actual = 1_000_000, 500, 7_000, 6_500
			f.load(t, limits.Budget{ID: "b", Scope: cKey, LimitMicros: limit})
			var wg sync.WaitGroup
			for i := range calls {
				wg.Go(func() {
					r, err := f.pick(i).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: worst})
					if err != nil {
						return
					}
					r.Settle(limits.Amount{Micros: actual})
				})
			}
			wg.Wait()
			f.quiesce(t)
			// A second round on every replica: what a first round left in
			// leases comes back and is used.
			for i := range calls {
				r, err := f.pick(i).Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: worst})
				if err != nil {
					continue
				}
				r.Settle(limits.Amount{Micros: actual})
			}
			got := f.spent(t, "b").Micros
			t.Logf("spent %d of %d", got, limit)
			if got > limit || got < limit*9/10 {
				t.Errorf("spent = %d, want between 90 %% and 100 %% of %d", got, limit)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			implementations(t, tt.run)
		})
	}
}

// shrinkable is a Messages-like ask: worst case in + maxOut × per, which
// may be lowered to floorOut output tokens.
func shrinkable(est, in, per, maxOut, floorOut int64) limits.Ask {
	worst := func(m int64) limits.Amount { return limits.Amount{Micros: in + m*per, Tokens: in + m} }
	return limits.Ask{
		Estimate: limits.Amount{Micros: est, Tokens: est / per},
		Worst:    worst(maxOut),
		Floor:    worst(floorOut),
		Shrink: func(room limits.Amount) (limits.Amount, bool) {
			m := min(maxOut, (room.Micros-in)/per, room.Tokens-in)
			if m < floorOut {
				return limits.Amount{}, false
			}
			return worst(m), true
		},
	}
}

// TestBudgetsNeverPastCeiling is a property test: random concurrent calls
// — random estimates, max_tokens and actual costs up to the worst case
// held, spread over the replicas in several waves — never push settled
// spend past limit + overdraft (estimate mode) or the limit (strict), and
// leave at most 10 % of the limit unused once traffic stops being
// admitted.
func TestBudgetsNeverPastCeiling(t *testing.T) {
	ctx := context.Background()
	const limit = 2_000_000
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			implementations(t, func(t *testing.T, f *fixture) {
				b := limits.Budget{ID: "b", Scope: cKey, LimitMicros: limit, LimitTokens: 1 << 40,
					Strict: strict, Overdraft: limits.Amount{Micros: limit / 20}}
				f.load(t, b)
				ceiling := int64(limit)
				if !strict {
					ceiling += limit / 20
				}
				rng := rand.New(rand.NewPCG(1, uint64(len(f.replicas))))
				type plan struct {
					ask    limits.Ask
					actual func(worst limits.Amount) limits.Amount
				}
				for wave := range 4 {
					plans := make([]plan, 150)
					for i := range plans {
						in, per := 200+rng.Int64N(2_000), int64(15)
						maxOut := 1_000 + rng.Int64N(30_000)
						out := rng.Int64N(min(maxOut, 3_000)) // realistic: far below max_tokens
						long := rng.IntN(10) == 0             // some calls run to max_tokens
						plans[i] = plan{
							ask: shrinkable(in+2_000*per, in, per, maxOut, 500),
							actual: func(w limits.Amount) limits.Amount {
								if long {
									return w
								}
								return limits.Amount{Micros: min(in+out*per, w.Micros), Tokens: min(in+out, w.Tokens)}
							},
						}
					}
					var wg sync.WaitGroup
					for i, p := range plans {
						wg.Go(func() {
							r, err := f.pick(i+wave).Admit(ctx, []limits.Scope{cKey}, p.ask)
							if err != nil {
								if !errors.Is(err, limits.ErrOverBudget) {
									t.Errorf("Admit = %v, want admitted or over budget", err)
								}
								return
							}
							if w := r.Worst(); w.Micros > p.ask.Worst.Micros || w.Micros < p.ask.Floor.Micros {
								t.Errorf("held worst %d outside [%d, %d]", w.Micros, p.ask.Floor.Micros, p.ask.Worst.Micros)
							}
							r.Settle(p.actual(r.Worst()))
						})
					}
					wg.Wait()
					if got := f.spent(t, "b").Micros; got > ceiling {
						t.Fatalf("after wave %d: spent %d, past the ceiling %d", wave, got, ceiling)
					}
				}
				got := f.spent(t, "b").Micros
				t.Logf("spent %d of %d (ceiling %d)", got, limit, ceiling)
				if got < limit*9/10 {
					t.Errorf("spent %d, want at least 90 %% of %d", got, limit)
				}
			})
		})
	}
}
