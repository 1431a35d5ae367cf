package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// alertSecret is the webhook signing secret of these tests.
const alertSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// webhookReceiver records the alerts a webhook sink receives, after
// checking each signature with its own implementation of the Standard
// Webhooks scheme (not the library the gateway signs with).
type webhookReceiver struct {
	t    *testing.T
	mu   sync.Mutex
	got  []map[string]any
	srv  *httptest.Server
	seen map[string]int // webhook-id → deliveries
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	r := &webhookReceiver{t: t, seen: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *webhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(alertSecret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	valid := false
	for _, s := range strings.Fields(sig) {
		valid = valid || hmac.Equal([]byte(s), []byte(want))
	}
	if !valid || id == "" || ts == "" {
		r.t.Errorf("webhook with a bad signature: id %q ts %q sig %q", id, ts, sig)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var a map[string]any
	if err := json.Unmarshal(body, &a); err != nil {
		r.t.Errorf("webhook body is not JSON: %v", err)
	}
	r.mu.Lock()
	r.got = append(r.got, a)
	r.seen[id]++
	r.mu.Unlock()
}

// counts returns deliveries by "type/threshold".
func (r *webhookReceiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, a := range r.got {
		d, _ := a["data"].(map[string]any)
		th, _ := d["threshold"].(float64)
		out[fmt.Sprintf("%v/%v", a["type"], th)]++
	}
	return out
}

// TestBudgetAlertsOnce: traffic that takes a budget past 50 % and 80 % and
// into refusals makes the webhook sink receive exactly one signed alert per
// crossing and one for the refusal: with concurrent requests, after a
// restart on the same database (SQLite and PostgreSQL), and with two
// gateways sharing one PostgreSQL database, each crossing the thresholds in
// its own ledger.
func TestBudgetAlertsOnce(t *testing.T) {
	engines := []struct {
		name     string
		dsn      func(t *testing.T) string
		replicas int
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "alerts.db") }, 1},
		{"postgres", func(t *testing.T) string { return storetest.PostgresDSN(t) }, 1},
		{"postgres two replicas", func(t *testing.T) string { return storetest.PostgresDSN(t) }, 2},
	}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			rcv := newWebhookReceiver(t)
			dsn := eng.dsn(t)
			opts := []testutil.Option{
				testutil.WithConfig(func(c *config.Config) {
					c.Database = dsn
					c.Alerts.Sinks = []config.AlertSink{{Name: "ops", Type: config.SinkWebhook, URL: rcv.srv.URL, Secret: alertSecret}}
					c.Alerts.RetryBackoff = time.Millisecond
				}),
			}
			ctx := context.Background()
			first := testutil.Start(t, opts...)
			st := first.Gateway.Store
			if _, err := st.CreateUser(ctx, store.User{Name: "ann"}); err != nil {
				t.Fatal(err)
			}
			_, calib, err := st.CreateKey(ctx, store.Key{Alias: "calibrate", UserID: "ann"})
			if err != nil {
				t.Fatal(err)
			}
			key, secret, err := st.CreateKey(ctx, store.Key{Alias: "ann-ci"})
			if err != nil {
				t.Fatal(err)
			}
			if err := first.Gateway.Accounts.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			per := callTokens(t, first, calib)

			// Enough for about 300 calls; each replica sends 500 with a
			// few in flight, so every ledger passes 80 % before refusing.
			limit := 300 * per
			b, err := st.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeKey, ScopeID: key.ID, LimitTokens: &limit,
				Period: store.PeriodMonth, Thresholds: []int{50, 80, 100}})
			if err != nil {
				t.Fatal(err)
			}
			gws := []*testutil.Harness{first}
			for range eng.replicas - 1 {
				gws = append(gws, testutil.Start(t, opts...))
			}
			var wg sync.WaitGroup
			for _, g := range gws {
				if err := g.Gateway.Accounts.Reload(ctx); err != nil {
					t.Fatal(err)
				}
				wg.Go(func() { drive(t, g, secret, 500, 4) })
			}
			wg.Wait()
			for _, g := range gws {
				if err := g.Gateway.Close(ctx); err != nil { // drains the alert queue
					t.Fatal(err)
				}
			}
			want := map[string]int{"budget.threshold/50": 1, "budget.threshold/80": 1, "budget.refused/0": 1}
			got := rcv.counts()
			delete(got, "budget.threshold/100") // reached only if a call overran its reservation; at most once
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("alerts received = %v, want %v", rcv.counts(), want)
			}
			if n := rcv.counts()["budget.threshold/100"]; n > 1 {
				t.Errorf("100%% alert received %d times", n)
			}

			// The delivery is recorded with the claim.
			check, err := store.Open(ctx, dsn, nil)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := check.BudgetAlerts(ctx, b.ID)
			if err != nil || len(rows) < 3 {
				t.Fatalf("BudgetAlerts = %d rows, %v; want at least 3", len(rows), err)
			}
			ds, err := check.AlertDeliveries(ctx, rows[0].ID)
			check.Close()
			if err != nil || len(ds) != 1 || ds[0].Outcome != "delivered" {
				t.Errorf("AlertDeliveries(%s) = %+v, %v; want one delivered", rows[0].ID, ds, err)
			}
			before := rcv.total()

			// A restart on the same database does not announce again,
			// though the new process sees the refusals afresh.
			again := testutil.Start(t, opts...)
			drive(t, again, secret, 20, 2)
			if err := again.Gateway.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if after := rcv.total(); after != before {
				t.Errorf("after a restart, alerts received = %d (%v), want still %d", after, rcv.counts(), before)
			}
			if !strings.Contains(first.Logs(), `"msg":"budget alert"`) && (len(gws) < 2 || !strings.Contains(gws[1].Logs(), `"msg":"budget alert"`)) {
				t.Errorf("no budget alert log line")
			}
		})
	}
}

// total returns the number of alerts received.
func (r *webhookReceiver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// callTokens makes one call with secret and returns the tokens it was
// charged, read from the key's usage once settled.
func callTokens(t *testing.T, h *testutil.Harness, secret string) int64 {
	t.Helper()
	const body = `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	status, hdr, got := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": secret})
	if status != http.StatusOK {
		t.Fatalf("calibration call = %d %s", status, got)
	}
	_ = hdr
	var r struct {
		Usage struct {
			Input  int64 `json:"input_tokens"`
			Output int64 `json:"output_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil || r.Usage.Input+r.Usage.Output == 0 {
		t.Fatalf("calibration call usage: %v (%s)", err, got)
	}
	return r.Usage.Input + r.Usage.Output
}

// drive sends n calls with secret from workers goroutines; 200 and 429
// (over budget) are the only answers expected.
func drive(t *testing.T, h *testutil.Harness, secret string, n, workers int) {
	const body = `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				status, _, got := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": secret})
				if status != http.StatusOK && status != http.StatusTooManyRequests {
					t.Errorf("call = %d %.200s", status, got)
				}
			}
		})
	}
	wg.Wait()
}
