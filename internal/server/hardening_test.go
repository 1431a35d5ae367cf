package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

const bedrockSonnet = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0"

// errorOf returns the error type and message of an answer in the door's
// format: AWS error JSON on /model/*, Anthropic error JSON elsewhere.
func errorOf(path string, hdr map[string][]string, body string) (typ, msg string) {
	if strings.HasPrefix(path, "/model/") {
		if v := hdr["X-Amzn-Errortype"]; len(v) > 0 {
			typ = v[0]
		}
		return typ, gjson.Get(body, "message").String()
	}
	return gjson.Get(body, "error.type").String(), gjson.Get(body, "error.message").String()
}

// TestRecordedTextRefused: text the gateway records (model names, session
// ids, tags) with a NUL, a control character or invalid UTF-8 is refused at
// the door with a 400 naming the field, on both doors and count_tokens,
// before it can reach a usage row or a metric label.
func TestRecordedTextRefused(t *testing.T) {
	h := newHarness(t)
	msg := func(model string) string {
		return `{"model":"` + model + `","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	}
	invoke := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	count := `{"input":{"invokeModel":{"body":"` + base64.StdEncoding.EncodeToString([]byte(invoke)) + `"}}}`
	tests := []struct {
		name      string
		path      string
		body      string
		hdr       map[string]string
		wantType  string
		wantField string
	}{
		{"model with NUL escape", "/v1/messages", msg(`claude-sonnet-4-5\u0000`), nil, "invalid_request_error", "model"},
		{"model with bell", "/v1/messages", msg(`claude-sonnet-4-5\u0007`), nil, "invalid_request_error", "model"},
		{"model with C1 control", "/v1/messages", msg(`claude-sonnet-4-5\u0085`), nil, "invalid_request_error", "model"},
		{"count_tokens model with NUL", "/v1/messages/count_tokens", msg(`claude-sonnet-4-5\u0000`), nil, "invalid_request_error", "model"},
		{"Latin-1 tag", "/v1/messages", msg("claude-sonnet-4-5"), map[string]string{"x-tollgate-tags": "team=caf\xe9"}, "invalid_request_error", "x-tollgate-tags"},
		{"Latin-1 session id", "/v1/messages", msg("claude-sonnet-4-5"), map[string]string{"x-claude-code-session-id": "s\xe9ssion"}, "invalid_request_error", "x-claude-code-session-id"},
		{"count_tokens Latin-1 tag", "/v1/messages/count_tokens", msg("claude-sonnet-4-5"), map[string]string{"x-tollgate-tags": "a=\xff"}, "invalid_request_error", "x-tollgate-tags"},
		{"bedrock model id invalid UTF-8", "/model/claude-sonnet-4-5%ff/invoke", invoke, nil, "ValidationException", "modelId"},
		{"bedrock model id NUL", "/model/claude-sonnet-4-5%00/invoke", invoke, nil, "ValidationException", "modelId"},
		{"bedrock stream model id invalid UTF-8", "/model/claude-sonnet-4-5%ff/invoke-with-response-stream", invoke, nil, "ValidationException", "modelId"},
		{"bedrock count-tokens model id", "/model/claude-sonnet-4-5%ff/count-tokens", count, nil, "ValidationException", "modelId"},
		{"bedrock Latin-1 tag", bedrockSonnet + "/invoke", invoke, map[string]string{"x-tollgate-tags": "team=caf\xe9"}, "ValidationException", "x-tollgate-tags"},
		{"bedrock Latin-1 session id", bedrockSonnet + "/invoke", invoke, map[string]string{"x-claude-code-session-id": "\xe9"}, "ValidationException", "x-claude-code-session-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := h.Post(t, tt.path, tt.body, tt.hdr)
			typ, m := errorOf(tt.path, hdr, body)
			if status != 400 || typ != tt.wantType || !strings.HasPrefix(m, tt.wantField+" ") && !strings.HasPrefix(m, tt.wantField+":") {
				t.Errorf("POST %s = %d %s %q, want 400 %s naming %s", tt.path, status, typ, m, tt.wantType, tt.wantField)
			}
			if got := hdr.Get("x-tollgate-error-origin"); got != "client" {
				t.Errorf("origin = %q, want client", got)
			}
		})
	}
	// Clean text still passes, with multi-byte UTF-8 in tags.
	status, _, body := h.Post(t, "/v1/messages", msg("claude-sonnet-4-5"), map[string]string{
		"x-tollgate-tags": "team=café", "x-claude-code-session-id": "0b6c5f1e-3a0d-4f47-9d8e-1c2b3a4d5e6f"})
	if status != 200 {
		t.Errorf("clean request = %d %.300s, want 200", status, body)
	}
}

// nested returns depth levels of nested arrays.
func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// TestDeepJSONRefused: a body nesting arrays millions deep used to crash the
// process in gjson's recursive validator; the depth is now bounded first, on
// every door, and a deep but reasonable body still works.
func TestDeepJSONRefused(t *testing.T) {
	h := newHarness(t)
	deep := nested(1 << 20) // 2 MiB, valid JSON
	messages := func(extra string) string {
		return `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"metadata_x":` + extra + `}`
	}
	invoke := func(extra string) string {
		return `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"x":` + extra + `}`
	}
	countBody := func(extra string) string {
		return `{"input":{"invokeModel":{"body":"` + base64.StdEncoding.EncodeToString([]byte(invoke(extra))) + `"}}}`
	}
	tests := []struct {
		name, path, body, wantType string
	}{
		{"messages", "/v1/messages", messages(deep), "invalid_request_error"},
		{"count_tokens", "/v1/messages/count_tokens", messages(deep), "invalid_request_error"},
		{"invoke", bedrockSonnet + "/invoke", invoke(deep), "ValidationException"},
		{"invoke stream", bedrockSonnet + "/invoke-with-response-stream", invoke(deep), "ValidationException"},
		{"bedrock count-tokens inner body", bedrockSonnet + "/count-tokens", countBody(deep), "ValidationException"},
		{"just over the limit", "/v1/messages", messages(nested(anthropic.MaxDepth)), "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := h.Post(t, tt.path, tt.body, nil)
			typ, m := errorOf(tt.path, hdr, body)
			if status != 400 || typ != tt.wantType || !strings.Contains(m, "levels deep") {
				t.Errorf("POST %s = %d %s %q, want 400 %s about nesting depth", tt.path, status, typ, m, tt.wantType)
			}
		})
	}
	// The body itself is two levels deep before "metadata_x"'s value, so
	// MaxDepth-1 levels there put it exactly at the limit.
	status, _, body := h.Post(t, "/v1/messages", messages(nested(anthropic.MaxDepth-1)), nil)
	if status != 200 {
		t.Errorf("body at the depth limit = %d %.300s, want 200", status, body)
	}
}

// TestMaxTokensChecked: max_tokens must be an integer from 1 to the
// gateway's ceiling on both doors; 2^63-1 used to wrap the reservation to
// zero, and negative or fractional values went upstream.
func TestMaxTokensChecked(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		maxTokens string
		ok        bool
	}{
		{"1", true},
		{"32000", true},
		{"64000", true},
		{"32000.0", false}, // the Anthropic API too: "Input should be a valid integer"
		{"128000", true},
		{"1000000", true},
		{"1000001", false},
		{"9223372036854775807", false},
		{"18446744073709551616", false},
		{"1e400", false},
		{"1e3", false},
		{"0", false},
		{"-1", false},
		{"-9223372036854775808", false},
		{"1.5", false},
		{"0.5", false},
		{`"100"`, false},
		{"null", false},
	}
	for _, tt := range tests {
		for _, door := range []string{"anthropic", "bedrock"} {
			t.Run(door+"/"+tt.maxTokens, func(t *testing.T) {
				path := "/v1/messages"
				body := `{"model":"claude-sonnet-4-5","max_tokens":` + tt.maxTokens + `,"messages":[{"role":"user","content":"hi"}]}`
				if door == "bedrock" {
					path = bedrockSonnet + "/invoke"
					body = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":` + tt.maxTokens + `,"messages":[{"role":"user","content":"hi"}]}`
				}
				status, hdr, resp := h.Post(t, path, body, nil)
				if tt.ok {
					if status != 200 {
						t.Errorf("max_tokens %s = %d %.300s, want 200", tt.maxTokens, status, resp)
					}
					return
				}
				typ, m := errorOf(path, hdr, resp)
				if status != 400 || !strings.HasPrefix(m, "max_tokens:") || hdr.Get("x-tollgate-error-origin") != "client" {
					t.Errorf("max_tokens %s = %d %s %q, want a 400 about max_tokens from the client", tt.maxTokens, status, typ, m)
				}
			})
		}
	}
}

// TestBedrockContentType: InvokeModel takes a JSON body. What the AWS SDKs
// send (application/json, application/octet-stream, nothing) is served;
// clearly non-JSON types are refused in the Bedrock door's error shape.
func TestBedrockContentType(t *testing.T) {
	h := newHarness(t)
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		ct   string // "" sends no Content-Type
		want int
	}{
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"application/octet-stream", 200},
		{"", 200},
		{"text/plain", 415},
		{"text/plain; charset=utf-8", 415},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"not a media type", 415},
	}
	for _, tt := range tests {
		t.Run(tt.ct, func(t *testing.T) {
			status, hdr, resp := h.Post(t, bedrockSonnet+"/invoke", body, map[string]string{"Content-Type": tt.ct})
			if status != tt.want {
				t.Fatalf("Content-Type %q = %d %.300s, want %d", tt.ct, status, resp, tt.want)
			}
			if tt.want != 200 {
				if got := hdr.Get("X-Amzn-ErrorType"); got != "ValidationException" || !strings.Contains(gjson.Get(resp, "message").String(), "content-type") {
					t.Errorf("Content-Type %q: X-Amzn-ErrorType %q, body %s; want a ValidationException about content-type", tt.ct, got, resp)
				}
			}
		})
	}
}

// budgetRun sends n calls of body concurrently with the principal's key and
// returns how many succeeded, after checking that the others were refused
// for budget.
func budgetRun(t *testing.T, h *testutil.Harness, secret, body string, n int) int {
	t.Helper()
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, resp := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": secret})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case status == 200:
				ok++
			case status == 429 && strings.Contains(gjson.Get(resp, "error.message").String(), "over budget"):
			default:
				t.Errorf("status %d %.300s, want 200 or an over-budget 429", status, resp)
			}
		}()
	}
	wg.Wait()
	return ok
}

// recordedSpend flushes the usage writer and returns the key's recorded
// spend in micro-USD.
func recordedSpend(t *testing.T, h *testutil.Harness) int64 {
	t.Helper()
	if err := h.Gateway.Writer.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := h.Gateway.Store.Usage(context.Background(), store.UsageQuery{By: store.ByKey})
	if err != nil || len(rows) != 1 {
		t.Fatalf("usage rows = %+v, %v", rows, err)
	}
	return rows[0].CostMicros
}

// TestPromptEstimateBoundsSpend: the upstream reports as many input tokens
// as the body has bytes — three times the gateway's former estimate of one
// token per three bytes. The reservation now covers that, so concurrent
// calls against a budget never spend past it.
func TestPromptEstimateBoundsSpend(t *testing.T) {
	h := newHarness(t)
	prompt := strings.Repeat("lorem ipsum ", 150) // 1,800 bytes
	body := `{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"` + prompt + ` [[sim:usage in=%d out=50 cw5m=0 cw1h=0 cr=0]]"}]}`
	body = fmt.Sprintf(body, len(body)-10) // about one token per byte of body
	prices, _ := usage.NewPrices(nil)
	price, _ := prices.Lookup("bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001")
	oldWorst := usage.WorstCost(price, int64(len(body)+2)/3, 50)
	actual := usage.Cost(price, tokens.Counts{Input: int64(len(body) - 10), Output: 50})
	if actual <= oldWorst {
		t.Fatalf("test setup: actual %d does not exceed the old worst case %d", actual, oldWorst)
	}
	limit := 10 * oldWorst
	p := h.NewPrincipal(t, "dora", testutil.PrincipalSpec{KeyUSD: float64(limit) / 1e6})

	ok := budgetRun(t, h, p.Secret, body, 30)
	spent := recordedSpend(t, h)
	t.Logf("%d ok; spent %d of %d µUSD (actual %d per call, old worst %d)", ok, spent, limit, actual, oldWorst)
	if spent > limit {
		t.Errorf("recorded spend %d µUSD exceeds the budget %d", spent, limit)
	}
	if ok == 0 {
		t.Error("no call succeeded")
	}
	if ov := overruns(t, h); ov != 0 {
		t.Errorf("overruns = %v, want none: the estimate bounds these calls", ov)
	}
}

// TestReservationOverrunCharged: when the upstream reports far more than
// even the bound (content the body cannot show, such as server-tool
// results), the call is charged what it used, never less, and the overrun
// is counted and logged with the request id.
func TestReservationOverrunCharged(t *testing.T) {
	h := newHarness(t)
	body := `{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"search [[sim:usage in=900000 out=50 cw5m=0 cw1h=0 cr=0]]"}]}`
	prices, _ := usage.NewPrices(nil)
	price, _ := prices.Lookup("bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001")
	worst := usage.WorstCost(price, anthropic.PromptTokenBound([]byte(body)), 50)
	actual := usage.Cost(price, tokens.Counts{Input: 900_000, Output: 50})
	limit := 3 * actual
	p := h.NewPrincipal(t, "erin", testutil.PrincipalSpec{KeyUSD: float64(limit) / 1e6})

	ok := 0
	for range 5 {
		status, hdr, resp := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": p.Secret})
		if status == 200 {
			ok++
			if id := hdr.Get("x-request-id"); !strings.Contains(h.Logs(), id) {
				t.Errorf("no log line names request %s", id)
			}
			continue
		}
		if status != 429 {
			t.Fatalf("status %d %.300s", status, resp)
		}
	}
	spent := recordedSpend(t, h)
	t.Logf("%d ok; spent %d of %d µUSD (actual %d, reserved %d per call)", ok, spent, limit, actual, worst)
	if spent != int64(ok)*actual {
		t.Errorf("recorded spend %d, want %d calls × actual %d", spent, ok, actual)
	}
	// Sequential calls stop once the budget is spent: the overspend is at
	// most one call's overrun.
	if ok != 3 || spent > limit+actual-worst {
		t.Errorf("%d calls succeeded spending %d, want 3 within %d", ok, spent, limit+actual-worst)
	}
	st, found := h.Gateway.Accounts.Ledger.Remaining(context.Background(), []limits.Scope{{Kind: "key", ID: p.KeyID}})
	if !found || st.Spent.Micros != spent || st.Reserved.Micros != 0 {
		t.Errorf("ledger: %+v, want spent %d (the actual, never less) and nothing reserved", st, spent)
	}
	if ov := overruns(t, h); ov != float64(ok) {
		t.Errorf("overruns = %v, want %d", ov, ok)
	}
	if !strings.Contains(h.Logs(), "used more than it reserved") {
		t.Error("no overrun warning logged")
	}
}

// overruns is the gateway's tollgate_reservation_overruns_total summed over
// models.
func overruns(t *testing.T, h *testutil.Harness) float64 {
	t.Helper()
	series, _ := scrapeGateway(t, h)
	var n float64
	for k, v := range series {
		if strings.HasPrefix(k, "tollgate_reservation_overruns_total{") {
			n += v
		}
	}
	return n
}
