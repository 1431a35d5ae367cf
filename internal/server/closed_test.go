package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// TestClosedWithoutKeys: whether a gateway with no client keys admits model
// calls is decided by the configured listen address and the explicit
// setting, not by where the client connects from. Every case connects over
// 127.0.0.1; only the config says whether the listener is loopback.
func TestClosedWithoutKeys(t *testing.T) {
	const body = `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name     string
		listen   string
		open     bool // server.open_without_keys
		wantCode int
		wantOpen float64 // tollgate_open_mode
	}{
		{"all interfaces refuses", "0.0.0.0:4000", false, http.StatusUnauthorized, 0},
		{"empty host refuses", ":4000", false, http.StatusUnauthorized, 0},
		{"loopback admits", "127.0.0.1:4000", false, http.StatusOK, 1},
		{"other loopback address admits", "127.0.0.2:4000", false, http.StatusOK, 1},
		{"explicit setting admits", "0.0.0.0:4000", true, http.StatusOK, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testutil.Start(t, testutil.WithConfig(func(c *config.Config) {
				c.Listen = tt.listen
				c.Server.OpenWithoutKeys = tt.open
			}))
			for _, key := range []string{"", "anything"} {
				status, hdr, got := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": key})
				if status != tt.wantCode {
					t.Fatalf("POST /v1/messages with key %q = %d %.300s, want %d", key, status, got, tt.wantCode)
				}
				if status == http.StatusUnauthorized {
					if !strings.Contains(got, "tollgate keys create") || !strings.Contains(got, "server.open_without_keys") {
						t.Errorf("refusal does not tell the operator what to do: %s", got)
					}
					if hdr.Get("x-should-retry") != "false" {
						t.Errorf("refusal x-should-retry = %q, want false (Claude Code would retry for minutes)", hdr.Get("x-should-retry"))
					}
				}
			}
			series, _ := scrapeGateway(t, h)
			if got := series["tollgate_open_mode{}"]; got != tt.wantOpen {
				t.Errorf("tollgate_open_mode = %v, want %v", got, tt.wantOpen)
			}
			wantLog := "OPEN MODE"
			if tt.wantOpen == 0 {
				wantLog = "open mode is off"
			}
			if !strings.Contains(h.Logs(), wantLog) {
				t.Errorf("start log does not contain %q:\n%s", wantLog, h.Logs())
			}
		})
	}
}

// TestClosedGatewayServesFirstKey: a closed gateway without keys serves the
// first virtual key as soon as it exists, and the open-mode gauge stays 0.
func TestClosedGatewayServesFirstKey(t *testing.T) {
	const body = `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	h := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.Listen = "0.0.0.0:4000" }))
	ctx := context.Background()
	if _, err := h.Gateway.Store.CreateUser(ctx, store.User{Name: "ann"}); err != nil {
		t.Fatal(err)
	}
	_, secret, err := h.Gateway.Store.CreateKey(ctx, store.Key{Alias: "ann-laptop", UserID: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, got := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": secret}); status != http.StatusOK {
		t.Fatalf("first key on a closed gateway = %d %.300s, want 200", status, got)
	}
	if status, _, _ := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": "nope"}); status != http.StatusUnauthorized {
		t.Errorf("unknown key = %d, want 401", status)
	}
	if series, _ := scrapeGateway(t, h); series["tollgate_open_mode{}"] != 0 {
		t.Errorf("tollgate_open_mode = %v, want 0", series["tollgate_open_mode{}"])
	}
}
