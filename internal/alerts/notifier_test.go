package alerts_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/alerts"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

// TestSlackRetriesThenDelivers: a Slack sink that fails twice gets the
// alert on the third attempt, as {"text": ...}; the delivery is recorded
// with its attempts, and a repeated event is not sent again.
func TestSlackRetriesThenDelivers(t *testing.T) {
	var mu sync.Mutex
	var calls int
	var texts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var m map[string]string
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &m); err != nil || m["text"] == "" {
			t.Errorf("slack body = %s, want {\"text\": ...}", b)
		}
		texts = append(texts, m["text"])
	}))
	defer srv.Close()

	st := storetest.OpenSQLite(t)
	n := alerts.New(alerts.Options{Store: st, Sinks: []alerts.Sink{alerts.NewSlack("chat", srv.URL, nil)}, MaxAttempts: 5, Backoff: 1})
	b := limits.Budget{ID: "budget_1", Scope: limits.Scope{Kind: "team", ID: "team_1"}, Period: limits.Month, LimitMicros: 1_000_000}
	n.Threshold(b, 80)
	n.Threshold(b, 80) // the same crossing again: ignored
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls != 3 || len(texts) != 1 {
		t.Fatalf("slack calls = %d, messages = %d; want 3 calls, 1 message", calls, len(texts))
	}
	rows, err := st.BudgetAlerts(context.Background(), "budget_1")
	if err != nil || len(rows) != 1 {
		t.Fatalf("BudgetAlerts = %v, %v; want 1", rows, err)
	}
	ds, err := st.AlertDeliveries(context.Background(), rows[0].ID)
	want := store.AlertDelivery{Sink: "chat", Outcome: "delivered", Attempts: 3}
	if err != nil || len(ds) != 1 || ds[0].Sink != want.Sink || ds[0].Outcome != want.Outcome || ds[0].Attempts != want.Attempts {
		t.Errorf("AlertDeliveries = %+v, %v; want %+v", ds, err, want)
	}
}
