package server_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// TestOpenModeConfirmsWithStore: a replica that started with no keys must
// not stay open once another replica has created one. Replica B starts with
// no keys; keys (with a user and budgets) are created through replica A's
// store; B then refuses unknown and missing keys and serves the new keys as
// themselves, budgets included, at once: B never reloads on its own here
// (the harness runs no periodic reload).
func TestOpenModeConfirmsWithStore(t *testing.T) {
	engines := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "shared.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresDSN(t) }},
	}
	orders := []struct {
		name  string
		first string // "unknown" or "known": what B is asked first
	}{
		{"unknown key first", "unknown"},
		{"new key first", "known"},
	}
	const body = `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	for _, eng := range engines {
		for _, order := range orders {
			t.Run(eng.name+"/"+order.name, func(t *testing.T) {
				dsn := eng.dsn(t)
				shared := testutil.WithConfig(func(c *config.Config) { c.Database = dsn })
				a := testutil.Start(t, shared)
				b := testutil.Start(t, shared)

				// B has no keys: it is open, as documented.
				if status, _, got := b.Post(t, "/v1/messages", body, map[string]string{"x-api-key": "anything"}); status != http.StatusOK {
					t.Fatalf("open replica refused a call: %d %s", status, got)
				}

				ctx := context.Background()
				st := a.Gateway.Store
				if _, err := st.CreateUser(ctx, store.User{Name: "bob"}); err != nil {
					t.Fatal(err)
				}
				bobKey, bobSecret, err := st.CreateKey(ctx, store.Key{Alias: "bob-laptop", UserID: "bob"})
				if err != nil {
					t.Fatal(err)
				}
				_, tinySecret, err := st.CreateKey(ctx, store.Key{Alias: "tiny", UserID: "bob"})
				if err != nil {
					t.Fatal(err)
				}
				tinyKey, _ := st.GetKey(ctx, "tiny")
				ten, one := int64(10_000_000), int64(1)
				if _, err := st.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeKey, ScopeID: bobKey.ID, LimitUSDMicros: &ten, Period: store.PeriodMonth}); err != nil {
					t.Fatal(err)
				}
				if _, err := st.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeKey, ScopeID: tinyKey.ID, LimitUSDMicros: &one, Period: store.PeriodMonth}); err != nil {
					t.Fatal(err)
				}

				unknown := func() {
					t.Helper()
					for _, hdr := range []map[string]string{{"x-api-key": "tg-not-a-key"}, {"x-api-key": ""}} {
						if status, _, got := b.Post(t, "/v1/messages", body, hdr); status != http.StatusUnauthorized {
							t.Errorf("B with key %q = %d %.200s, want 401", hdr["x-api-key"], status, got)
						}
					}
				}
				known := func() {
					t.Helper()
					status, hdr, got := b.Post(t, "/v1/messages", body, map[string]string{"x-api-key": bobSecret})
					if status != http.StatusOK {
						t.Fatalf("B with the new key = %d %.300s, want 200", status, got)
					}
					if hdr.Get("x-tollgate-budget-remaining-usd") == "" {
						t.Errorf("B served the new key without its budget (no x-tollgate-budget-remaining-usd)")
					}
					if !strings.Contains(b.Logs(), `"key":"bob-laptop"`) {
						t.Errorf("B's log does not attribute the call to bob-laptop:\n%s", b.Logs())
					}
					if status, _, got := b.Post(t, "/v1/messages", body, map[string]string{"x-api-key": tinySecret}); status != http.StatusTooManyRequests {
						t.Errorf("B with the over-budget key = %d %.300s, want 429", status, got)
					}
				}
				if order.first == "unknown" {
					unknown()
					known()
				} else {
					known()
					unknown()
				}
			})
		}
	}
}

// TestOpenModeStoreDown: an open replica that cannot reach its database
// refuses with a retryable 503 instead of admitting unchecked.
func TestOpenModeStoreDown(t *testing.T) {
	h := testutil.Start(t)
	const body = `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	// No successful call first: its usage row could then never be written.
	if err := h.Gateway.Store.Close(); err != nil {
		t.Fatal(err)
	}
	status, hdr, got := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": "anything"})
	if status != http.StatusServiceUnavailable || hdr.Get("x-tollgate-error-origin") != "gateway" {
		t.Errorf("open gateway without its database = %d (origin %q) %.300s, want 503 from the gateway", status, hdr.Get("x-tollgate-error-origin"), got)
	}
}
