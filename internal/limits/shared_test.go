package limits_test

import (
	"context"
	"errors"
	"fmt"
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

// TestSharedDeadReplica: the share a replica leased comes back to the
// others once its lease expires without renewal, and not before.
func TestSharedDeadReplica(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(conformanceNow.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	budget := []limits.Budget{{ID: "b", Scope: cKey, LimitMicros: 1000}}
	var reps [2]*limits.Shared
	for i := range reps {
		reps[i] = limits.NewShared(st, limits.SharedOptions{Replica: fmt.Sprint("r", i), Now: now, TTL: time.Minute, SharePercent: 100})
		if err := reps[i].Load(budget, nil); err != nil {
			t.Fatal(err)
		}
	}
	// r0 leases all of it (share 100 %), uses a tenth, and dies.
	r, err := reps[0].Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 100})
	if err != nil {
		t.Fatal(err)
	}
	r.Settle(limits.Amount{Micros: 100})
	for _, tt := range []struct {
		after time.Duration
		admit bool
	}{{59 * time.Second, false}, {61 * time.Second, true}} {
		clock.Store(conformanceNow.Add(tt.after).UnixNano())
		_, err := reps[1].Reserve(ctx, []limits.Scope{cKey}, limits.Amount{Micros: 900})
		if got := err == nil; got != tt.admit {
			t.Errorf("r1 Reserve(900) %v after r0 died = %v, want admitted %v", tt.after, err, tt.admit)
		}
	}
}
