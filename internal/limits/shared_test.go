package limits_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

// outage is a lease store that can go away: while down, every call blocks
// until its context ends, as a database behind a dead network does.
type outage struct {
	limits.LeaseStore
	down atomic.Bool
}

func (o *outage) Lease(ctx context.Context, req limits.LeaseRequest) (limits.LeaseGrant, error) {
	if o.down.Load() {
		<-ctx.Done()
		return limits.LeaseGrant{}, ctx.Err()
	}
	return o.LeaseStore.Lease(ctx, req)
}

func (o *outage) Charge(ctx context.Context, replica string, c limits.LeaseCharge) (limits.LeaseTotals, error) {
	if o.down.Load() {
		<-ctx.Done()
		return limits.LeaseTotals{}, ctx.Err()
	}
	return o.LeaseStore.Charge(ctx, replica, c)
}

// TestSharedOutage: with the database gone, calls keep flowing on the lease
// in hand; when it runs out the policy applies — refuse (fail closed) or
// admit up to the allowance (fail open) — within the configured timeout,
// never hanging; when the database is back, every charge lands.
func TestSharedOutage(t *testing.T) {
	const limit, call = 1_000_000, 1_000 // the first lease is 10 %: 100 calls
	tests := []struct {
		name      string
		allowance int64
		// beyond is how many calls are admitted after the lease runs out.
		beyond int
	}{
		{"fail closed", 0, 0},
		{"fail open up to the allowance", 5 * call, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := storetest.OpenSQLite(t)
			db := &outage{LeaseStore: st}
			now := func() time.Time { return conformanceNow }
			s := limits.NewShared(db, limits.SharedOptions{Replica: "r", Now: now, Timeout: 300 * time.Millisecond,
				OutageAllowance: limits.Amount{Micros: tt.allowance}})
			if err := s.Load([]limits.Budget{{ID: "b", Scope: cKey, LimitMicros: limit}}, nil); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background() // no deadline: only the ledger's timeout bounds a call
			reserve := func() error {
				r, err := s.Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: call})
				if err == nil {
					r.Settle(limits.Amount{Micros: call})
				}
				return err
			}
			if err := reserve(); err != nil {
				t.Fatal(err)
			}
			db.down.Store(true)
			admitted := 1
			var err error
			for admitted < 1000 {
				if err = reserve(); err != nil {
					break
				}
				admitted++
			}
			if want := limit/10/call + tt.beyond; admitted != want {
				t.Errorf("admitted %d calls, want %d (the lease in hand, then the allowance)", admitted, want)
			}
			if !errors.Is(err, limits.ErrUnavailable) || errors.Is(err, limits.ErrOverBudget) {
				t.Errorf("refusal once the lease ran out = %v, want ErrUnavailable", err)
			}
			if n, msg := s.Failures(); n == 0 || msg == "" {
				t.Errorf("Failures() = %d, %q; want the failed lease counted", n, msg)
			}
			if err := s.Flush(ctx, true); err == nil {
				t.Error("Flush with the database down succeeded")
			}

			db.down.Store(false)
			if err := s.Flush(ctx, true); err != nil {
				t.Fatalf("Flush after the outage: %v", err)
			}
			got, err := st.BudgetSpend(ctx, limits.LeaseKey{BudgetID: "b"})
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(admitted * call); got.Micros != want {
				t.Errorf("spend in the database after the outage = %d, want %d", got.Micros, want)
			}
		})
	}
}

// TestSharedDeadReplica: a replica that dies takes its lease with it. Its
// charges settled but never flushed were taken from that lease, so the lease
// is not returned to the others when it expires but counted as spent:
// whatever the dead replica spent, the replicas together never pass the
// limit. (Returning it, as before, let the survivor spend the dead
// replica's unflushed 300 a second time.) Before the expiry the lease is
// held; after it, it is spent, and a call that fits in what nobody holds is
// still admitted.
func TestSharedDeadReplica(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(conformanceNow.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	const limit = 1000
	budget := []limits.Budget{{ID: "b", Scope: cKey, LimitMicros: limit, Strict: true}}
	var reps [2]*limits.Shared
	for i := range reps {
		reps[i] = limits.NewShared(st, limits.SharedOptions{Replica: fmt.Sprint("r", i), Now: now, TTL: time.Minute, SharePercent: 50})
		if err := reps[i].Load(budget, nil); err != nil {
			t.Fatal(err)
		}
	}
	spend := func(s *limits.Shared, calls int) (admitted int) {
		for range calls {
			r, err := s.Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 100})
			if err != nil {
				if !errors.Is(err, limits.ErrOverBudget) {
					t.Fatalf("Reserve: %v", err)
				}
				break
			}
			r.Settle(limits.Amount{Micros: 100})
			admitted++
		}
		return admitted
	}
	// r0 leases half (500), spends 100 and flushes it, spends 300 more and
	// dies before the next flush: 400 spent, 100 of its lease unused.
	if n := spend(reps[0], 1); n != 1 {
		t.Fatalf("r0 admitted %d of 1", n)
	}
	if err := reps[0].Flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if n := spend(reps[0], 3); n != 3 {
		t.Fatalf("r0 admitted %d of 3", n)
	}
	spentByR0, spentByR1 := 400, 0
	for _, tt := range []struct {
		after time.Duration
		// want is what r1 may spend: what neither r0's lease nor its
		// spend hold, before and after the expiry alike.
		want int
	}{{59 * time.Second, 5}, {61 * time.Second, 0}} {
		clock.Store(conformanceNow.Add(tt.after).UnixNano())
		got := spend(reps[1], 10) * 100
		spentByR1 += got
		if got != tt.want*100 {
			t.Errorf("%v after r0 died, r1 spent %d, want %d", tt.after, got, tt.want*100)
		}
		if err := reps[1].Flush(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	if total := spentByR0 + spentByR1; total > limit {
		t.Errorf("r0 spent %d and r1 %d: %d > limit %d", spentByR0, spentByR1, total, limit)
	}
	got, err := st.BudgetSpend(ctx, limits.LeaseKey{BudgetID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	// budget_spend: r0's flushed 100, its lease of 400 left (300 of it
	// spent unflushed) counted as spent, r1's 500.
	if got.Micros != limit {
		t.Errorf("budget_spend after r0's lease expired = %d, want %d (its lease counted as spent)", got.Micros, limit)
	}
}

// TestSharedRefusalHeldElsewhere: a replica refused because the other
// replicas hold the budget in leases says so, as a transient refusal with a
// retry-after, not as a spent budget; and a replica busy on a lease larger
// than what the budget has left unleased gives half the difference back at
// its next flush, so that the retry passes.
func TestSharedRefusalHeldElsewhere(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	now := func() time.Time { return conformanceNow }
	budget := []limits.Budget{{ID: "b", Scope: cKey, ScopeName: "k", LimitMicros: 1000, Strict: true}}
	var reps [2]*limits.Shared
	for i := range reps {
		reps[i] = limits.NewShared(st, limits.SharedOptions{Replica: fmt.Sprint("r", i), Now: now, SharePercent: 100})
		if err := reps[i].Load(budget, nil); err != nil {
			t.Fatal(err)
		}
	}
	// r0 leases all of it and keeps a call in flight: its lease is in use.
	busy, err := reps[0].Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Release()

	_, err = reps[1].Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 100})
	var ob *limits.OverBudgetError
	if !errors.As(err, &ob) {
		t.Fatalf("r1 Reserve while r0 holds the budget = %v, want an *OverBudgetError", err)
	}
	if !ob.Transient() || ob.Elsewhere.Micros != 1000 || ob.RetryAfter <= 0 {
		t.Errorf("refusal: Transient %v, Elsewhere %d, RetryAfter %v; want transient, 1000 held elsewhere, a retry-after",
			ob.Transient(), ob.Elsewhere.Micros, ob.RetryAfter)
	}
	if msg := err.Error(); !strings.Contains(msg, "held by other replicas' leases; retry shortly") {
		t.Errorf("refusal message %q does not say the budget is held by other replicas", msg)
	}

	if err := reps[0].Flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	r, err := reps[1].Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 100})
	if err != nil {
		t.Fatalf("r1 Reserve after r0's flush gave back its excess: %v", err)
	}
	r.Release()

	// A budget that is spent is not transient.
	busy.Settle(limits.Amount{Micros: 100})
	if err := reps[0].Flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		r, err = reps[1].Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 100})
		if err != nil {
			break
		}
		r.Settle(limits.Amount{Micros: 100})
	}
	if !errors.As(err, &ob) || ob.Transient() {
		t.Errorf("refusal of a spent budget = %v, want a refusal that is not transient", err)
	}
}

// TestSharedLimiterDeadReplicaSlots: concurrency slots are held by calls,
// which die with their replica, so a dead replica's concurrency lease comes
// back to the others when it expires (it is reclaimed, not counted as
// spent as a budget's lease is).
func TestSharedLimiterDeadReplicaSlots(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(conformanceNow.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	var reps [2]*limits.SharedLimiter
	for i := range reps {
		reps[i] = limits.NewSharedLimiter(st, limits.SharedOptions{Replica: fmt.Sprint("r", i), Now: now, TTL: time.Minute})
		if err := reps[i].Load([]limits.RateLimit{{Scope: cKey, Concurrent: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	// r0 takes the only slot and dies with the call in flight.
	if _, err := reps[0].Acquire(ctx, []limits.Scope{cKey}, 10); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		after time.Duration
		admit bool
	}{{59 * time.Second, false}, {61 * time.Second, true}} {
		clock.Store(conformanceNow.Add(tt.after).UnixNano())
		release, err := reps[1].Acquire(ctx, []limits.Scope{cKey}, 10)
		if got := err == nil; got != tt.admit {
			t.Errorf("r1 Acquire %v after r0 died = %v, want admitted %v", tt.after, err, tt.admit)
		}
		if err == nil {
			release(10)
		}
	}
}

// TestSharedGrantFlushes: the charges a replica settled go to the database
// with its next lease grant, without waiting for the flusher, which waits
// behind a grant in progress.
func TestSharedGrantFlushes(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	now := func() time.Time { return conformanceNow }
	s := limits.NewShared(st, limits.SharedOptions{Replica: "r", Now: now, SharePercent: 10})
	if err := s.Load([]limits.Budget{{ID: "b", Scope: cKey, LimitMicros: 10_000, Strict: true}}, nil); err != nil {
		t.Fatal(err)
	}
	// The first lease is 1,000: ten calls of 100, then the eleventh needs
	// a new one.
	for range 11 {
		r, err := s.Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 100})
		if err != nil {
			t.Fatal(err)
		}
		r.Settle(limits.Amount{Micros: 100})
	}
	got, err := st.BudgetSpend(ctx, limits.LeaseKey{BudgetID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Micros != 1000 {
		t.Errorf("budget_spend after the second grant, before any flush = %d, want the 1000 settled before it", got.Micros)
	}
	if err := s.Flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.BudgetSpend(ctx, limits.LeaseKey{BudgetID: "b"}); got.Micros != 1100 {
		t.Errorf("budget_spend after the flush = %d, want 1100", got.Micros)
	}
}
