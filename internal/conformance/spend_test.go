package conformance

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// spendModel is the model the spend scenarios ask for: cheap, so that a
// call's worst case fits in what is left of a budget at 95 %.
const spendModel = "claude-haiku-4-5-20251001"

// gatewayTokenMode is Claude Code holding a gateway bearer token: a JWT
// whose audience is "claude-gateway", what a gateway sign-in hands out. It
// is the credential with which Claude Code reads the spend headers (with an
// API key or an opaque bearer token it ignores them). Tollgate has no
// sign-in yet, so the test mints an unsigned token that carries the key,
// and signInStandIn swaps it for the key before the gateway sees it.
var gatewayTokenMode = mode{name: "gateway-token", door: "anthropic", env: func(g *gateway, key string) []string {
	return []string{"ANTHROPIC_BASE_URL=" + g.URL, "ANTHROPIC_AUTH_TOKEN=" + gatewayToken(key), "ANTHROPIC_CUSTOM_HEADERS=" + customHeaders()}
}}

// gatewayToken returns an unsigned JWT for Claude Code's eyes only: it reads
// aud (and exp) without verifying anything.
func gatewayToken(key string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." +
		enc(map[string]any{"aud": "claude-gateway", "sub": "conformance", "exp": 4102444800, "tollgate_key": key}) + "."
}

// signInStandIn replaces a gatewayToken bearer with the key it carries.
func signInStandIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && strings.Count(tok, ".") == 2 {
			if payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1]); err == nil {
				if key := gjson.GetBytes(payload, "tollgate_key").Str; key != "" {
					r.Header.Set("Authorization", "Bearer "+key)
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// TestClaudeCodeSpendWarnings: with a key's daily $100 budget 75 % and 95 %
// spent, Claude Code (≥ 2.1.225, pinned by scripts/claude-code.sh) holding a
// gateway token reports the warning the gateway's spend headers carry; with
// an API key it shows nothing. At the cap it makes exactly one request and
// prints the gateway's message — as it is with a gateway token, after "API
// Error: Request rejected (429) · " with an API key.
func TestClaudeCodeSpendWarnings(t *testing.T) {
	bin := requireEnv(t, "TOLLGATE_TEST_CLAUDE_SPEND")
	tests := []struct {
		name  string
		mode  mode
		spent int64 // dollars of the $100 budget spent before the run
		// threshold is the warning expected in a rate_limit_event; 0 for
		// no event at all.
		threshold float64
	}{
		{"gateway token 75 %", gatewayTokenMode, 75, 0.75},
		{"gateway token 95 %", gatewayTokenMode, 95, 0.95},
		{"gateway token cap", gatewayTokenMode, 100, 0},
		{"api key 75 %", apiKeyMode, 75, 0},
		{"api key 95 %", apiKeyMode, 95, 0},
		{"api key cap", apiKeyMode, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, testutil.WithMiddleware(signInStandIn))
			p := g.NewPrincipal(t, "judy", testutil.PrincipalSpec{KeyUSD: 100})
			ledger := g.Gateway.Accounts.Ledger
			scopes := []limits.Scope{{Kind: limits.KindKey, ID: p.KeyID}}
			spent := limits.Amount{Micros: tt.spent * 1_000_000}
			hold, err := ledger.Reserve(context.Background(), scopes, spent)
			if err != nil {
				t.Fatal(err)
			}
			hold.Settle(spent)
			st, _ := ledger.Remaining(context.Background(), scopes)

			if tt.spent == 100 {
				res := runClaudeBin(t, bin, g, tt.mode, p.Secret, "-p", "say hello", "--model", spendModel)
				out := strings.TrimSpace(res.Stdout)
				prefix := ""
				if tt.mode.name == apiKeyMode.name {
					prefix = "API Error: Request rejected (429) · "
				}
				if want := prefix + `over budget: budget "`; res.Exit != 1 || !strings.HasPrefix(out, want) {
					t.Errorf("claude -p at the cap = exit %d, stdout %q; want exit 1 and a message starting %q", res.Exit, out, want)
				}
				calls, _ := g.settle(t)
				if len(calls) != 1 || calls[0].Status != http.StatusTooManyRequests {
					t.Errorf("calls = %+v, want exactly one, answered 429", calls)
				}
				return
			}

			res := runClaudeBin(t, bin, g, tt.mode, p.Secret, "-p", "say hello", "--model", spendModel,
				"--output-format", "stream-json", "--verbose")
			var event, result gjson.Result
			for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
				switch l := gjson.Parse(line); l.Get("type").Str {
				case "rate_limit_event":
					event = l.Get("rate_limit_info")
				case "result":
					result = l
				}
			}
			if res.Exit != 0 || result.Get("result").Str != simReply {
				t.Errorf("claude -p = exit %d, result %q; want exit 0, %q", res.Exit, result.Get("result").Str, simReply)
			}
			if tt.threshold == 0 {
				if event.Exists() {
					t.Errorf("rate_limit_event %s, want none (Claude Code ignores the headers in this mode)", event.Raw)
				}
				return
			}
			want := map[string]any{
				"status": "allowed_warning", "rateLimitType": "overage", "overageStatus": "allowed_warning",
				"utilization": tt.threshold, "surpassedThreshold": tt.threshold, "resetsAt": st.ResetAt.Unix(),
			}
			for k, v := range want {
				if got := event.Get(k); !got.Exists() || got.String() != fmt.Sprint(v) {
					t.Errorf("rate_limit_event %s = %v, want %v (event %s)", k, got, v, event.Raw)
				}
			}
			calls, _ := g.settle(t)
			if len(calls) != 1 || calls[0].Status != http.StatusOK {
				t.Errorf("calls = %+v, want one, answered 200", calls)
			}
		})
	}
}
