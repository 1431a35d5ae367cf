package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

// TestClaimBudgetAlert: of many concurrent claims of one alert, exactly one
// wins; another threshold, event or period is a new alert; deliveries are
// recorded and rewritten.
func TestClaimBudgetAlert(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		period := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		base := store.BudgetAlert{BudgetID: "budget_1", Event: "threshold", Threshold: 80, PeriodStart: period,
			ScopeKind: "team", ScopeID: "team_1"}

		var won atomic.Int32
		var winner store.BudgetAlert
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				a, ok, err := s.ClaimBudgetAlert(ctx, base)
				if err != nil {
					t.Errorf("ClaimBudgetAlert: %v", err)
					return
				}
				if ok {
					won.Add(1)
					winner = a
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("concurrent claims won = %d, want 1", won.Load())
		}

		others := []struct {
			name string
			edit func(a *store.BudgetAlert)
		}{
			{"other threshold", func(a *store.BudgetAlert) { a.Threshold = 50 }},
			{"refusal", func(a *store.BudgetAlert) { a.Event, a.Threshold = "refused", 0 }},
			{"next period", func(a *store.BudgetAlert) { a.PeriodStart = period.AddDate(0, 1, 0) }},
			{"total budget", func(a *store.BudgetAlert) { a.BudgetID, a.PeriodStart = "budget_2", time.Time{} }},
		}
		for _, o := range others {
			a := base
			o.edit(&a)
			if _, ok, err := s.ClaimBudgetAlert(ctx, a); err != nil || !ok {
				t.Errorf("%s: ClaimBudgetAlert = %v, %v; want claimed", o.name, ok, err)
			}
			if _, ok, err := s.ClaimBudgetAlert(ctx, a); err != nil || ok {
				t.Errorf("%s again: ClaimBudgetAlert = %v, %v; want not claimed", o.name, ok, err)
			}
		}
		got, err := s.BudgetAlerts(ctx, "budget_1")
		if err != nil || len(got) != 4 {
			t.Fatalf("BudgetAlerts = %d alerts, %v; want 4", len(got), err)
		}

		for _, d := range []store.AlertDelivery{
			{AlertID: winner.ID, Sink: "ops", Outcome: "retried", Attempts: 1, LastError: "HTTP 503"},
			{AlertID: winner.ID, Sink: "ops", Outcome: "delivered", Attempts: 2},
		} {
			if err := s.RecordAlertDelivery(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		ds, err := s.AlertDeliveries(ctx, winner.ID)
		if err != nil || len(ds) != 1 || ds[0].Outcome != "delivered" || ds[0].Attempts != 2 || ds[0].LastError != "" {
			t.Errorf("AlertDeliveries = %+v, %v; want one delivered after 2 attempts", ds, err)
		}
	})
}
