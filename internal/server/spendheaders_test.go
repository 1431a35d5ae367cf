package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// TestSpendHeadersByDoor: the Anthropic door tells the caller about its
// budget in the anthropic-ratelimit-unified-* headers and refuses at the cap
// with a billing_error Claude Code prints as it is; the Bedrock door sends
// neither and keeps its rate_limit_error.
func TestSpendHeadersByDoor(t *testing.T) {
	const body = `{"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	const bedrockBody = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name, path, body string
		spent            int64 // dollars of a $100 daily key budget
		wantStatus       int
		wantType         string // error type, for refusals
		wantUnified      string // anthropic-ratelimit-unified-status; "" for none
		wantThreshold    string
	}{
		{"anthropic 50 %", "/v1/messages", body, 50, 200, "", "allowed", ""},
		{"anthropic 80 %", "/v1/messages", body, 80, 200, "", "allowed_warning", "0.75"},
		{"anthropic 96 %", "/v1/messages", body, 96, 200, "", "allowed_warning", "0.95"},
		{"anthropic cap", "/v1/messages", body, 100, 429, "billing_error", "rejected", "1"},
		{"bedrock 80 %", "/model/claude-haiku-4-5/invoke", bedrockBody, 80, 200, "", "", ""},
		{"bedrock cap", "/model/claude-haiku-4-5/invoke", bedrockBody, 100, 429, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			p := h.NewPrincipal(t, "kim", testutil.PrincipalSpec{KeyUSD: 100})
			spent := limits.Amount{Micros: tt.spent * 1_000_000}
			hold, err := h.Gateway.Accounts.Ledger.Reserve(context.Background(), []limits.Scope{{Kind: limits.KindKey, ID: p.KeyID}}, spent)
			if err != nil {
				t.Fatal(err)
			}
			hold.Settle(spent)
			status, hdr, resp := h.Post(t, tt.path, tt.body, map[string]string{"x-api-key": p.Secret})
			if status != tt.wantStatus {
				t.Fatalf("POST %s = %d %s, want %d", tt.path, status, resp, tt.wantStatus)
			}
			if got := hdr.Get("anthropic-ratelimit-unified-status"); got != tt.wantUnified {
				t.Errorf("unified status = %q, want %q", got, tt.wantUnified)
			}
			if got := hdr.Get("anthropic-ratelimit-unified-overage-surpassed-threshold"); got != tt.wantThreshold {
				t.Errorf("surpassed threshold = %q, want %q", got, tt.wantThreshold)
			}
			if status == http.StatusTooManyRequests {
				if hdr.Get("x-should-retry") != "false" {
					t.Errorf("x-should-retry = %q, want false", hdr.Get("x-should-retry"))
				}
				if tt.wantType != "" {
					if got := gjson.Get(resp, "error.type").Str; got != tt.wantType {
						t.Errorf("error type = %q, want %q", got, tt.wantType)
					}
					if hdr.Get("retry-after") == "" || hdr.Get("anthropic-ratelimit-unified-overage-disabled-reason") != "org_spend_cap_reached" {
						t.Errorf("refusal headers = %v, want retry-after and the disabled reason", hdr)
					}
				}
			}
		})
	}
}
