package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// nextRecord waits for the next usage record on feed.
func nextRecord(t *testing.T, feed <-chan usage.Record) usage.Record {
	t.Helper()
	select {
	case r := <-feed:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no usage record")
		return usage.Record{}
	}
}

// TestMeteringEveryTokenKind checks every token kind against the simulator's
// reported usage, streaming and not, on both front doors, with cost from the
// price table and attribution from the key, headers and session.
func TestMeteringEveryTokenKind(t *testing.T) {
	h := newHarness(t)
	p := h.NewPrincipal(t, "alice", testutil.PrincipalSpec{Tags: map[string]string{"team": "core", "repo": "org/old"}})
	feed, cancel := h.Gateway.Writer.Subscribe()
	defer cancel()
	prices, _ := usage.NewPrices(nil)
	price, ok := prices.Lookup("bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929")
	if !ok {
		t.Fatal("no price for Sonnet 4.5")
	}
	const marker = "[[sim:usage in=11 out=7 cw5m=100 cw1h=50 cr=30]]"
	tests := []struct {
		name, path, body string
		stream           bool
	}{
		{"anthropic json", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi ` + marker + `"}]}`, false},
		{"anthropic stream", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi ` + marker + `"}]}`, true},
		{"bedrock invoke", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"hi ` + marker + `"}]}`, false},
		{"bedrock stream", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"hi ` + marker + `"}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := h.Post(t, tt.path, tt.body, map[string]string{
				"x-api-key":                p.Secret,
				"x-claude-code-session-id": "sess-" + tt.name,
				"x-tollgate-tags":          "repo=org/app,pr=42",
			})
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			if hdr.Get("x-request-id") == "" {
				t.Error("no request id")
			}
			r := nextRecord(t, feed)
			got := [5]int64{r.Tokens.Input, r.Tokens.Output, r.Tokens.CacheWrite5m, r.Tokens.CacheWrite1h, r.Tokens.CacheRead}
			if got != [5]int64{11, 7, 100, 50, 30} {
				t.Errorf("tokens in/out/cw5m/cw1h/cr = %v, want [11 7 100 50 30]", got)
			}
			want := usage.Cost(price, tokens.Counts{Input: 11, Output: 7, CacheWrite5m: 100, CacheWrite1h: 50, CacheRead: 30})
			if r.CostMicros != want || r.Unpriced {
				t.Errorf("cost = %d µUSD (unpriced %v), want %d", r.CostMicros, r.Unpriced, want)
			}
			if r.KeyID != p.KeyID || r.UserID != p.UserID || r.TeamID != p.TeamID || r.SessionID != "sess-"+tt.name {
				t.Errorf("attribution = key %s user %s team %s session %s", r.KeyID, r.UserID, r.TeamID, r.SessionID)
			}
			if r.Tags["repo"] != "org/app" || r.Tags["pr"] != "42" || r.Tags["team"] != "core" {
				t.Errorf("tags = %v, want request tags over key tags", r.Tags)
			}
			if r.Model != "claude-sonnet-4-5-20250929" || r.UpstreamModel != "global.anthropic.claude-sonnet-4-5-20250929-v1:0" ||
				r.Provider != "bedrock" || r.Region != "us-east-1" || r.Stream != tt.stream || r.Status != 200 || r.RequestID != hdr.Get("x-request-id") {
				t.Errorf("record = %+v", r)
			}
		})
	}
	// Everything above is persisted: flush and read the rollups back.
	if err := h.Gateway.Writer.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := h.Gateway.Store.Usage(context.Background(), store.UsageQuery{By: store.ByKey})
	if err != nil || len(rows) != 1 {
		t.Fatalf("usage rows = %+v, %v", rows, err)
	}
	if rows[0].CostMicros != 4*usage.Cost(price, tokens.Counts{Input: 11, Output: 7, CacheWrite5m: 100, CacheWrite1h: 50, CacheRead: 30}) {
		t.Errorf("persisted cost = %d", rows[0].CostMicros)
	}
}

// TestCutStreamIsCharged: a client that hangs up mid-stream is still charged
// for the prompt and what was generated before the cut.
func TestCutStreamIsCharged(t *testing.T) {
	h := newHarness(t)
	p := h.NewPrincipal(t, "bob", testutil.PrincipalSpec{})
	feed, cancel := h.Gateway.Writer.Subscribe()
	defer cancel()
	words := strings.Repeat("lorem ipsum dolor sit amet ", 40)
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/v1/messages", strings.NewReader(
		`{"model":"claude-sonnet-4-5","max_tokens":2000,"stream":true,"messages":[{"role":"user","content":"[[sim:text `+words+`]] [[sim:tps 40]]"}]}`))
	req.Header.Set("x-api-key", p.Secret)
	req.Header.Set("Content-Type", "application/json")
	ctx, cut := context.WithCancel(context.Background())
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	deltas := 0
	for sc.Scan() && deltas < 3 {
		if strings.HasPrefix(sc.Text(), "event: content_block_delta") {
			deltas++
		}
	}
	cut()
	resp.Body.Close()
	r := nextRecord(t, feed)
	if r.Tokens.Input == 0 || r.Tokens.Output == 0 || r.CostMicros == 0 {
		t.Errorf("cut stream recorded in=%d out=%d cost=%d; want prompt and partial output charged", r.Tokens.Input, r.Tokens.Output, r.CostMicros)
	}
	if r.ErrorOrigin != "client" {
		t.Errorf("error origin = %q, want client", r.ErrorOrigin)
	}
	if full := int64(len(words)) / 4; r.Tokens.Output >= full {
		t.Errorf("output tokens %d: charged as if the whole answer (%d) was generated", r.Tokens.Output, full)
	}
}

// TestBudgetHoldsUnderConcurrency sends 500 concurrent streaming requests
// against one small key budget. Recorded spend never exceeds the budget
// (every call's actual cost is below its reserved worst case), and at least
// as many calls succeed as the budget covers at their worst case.
func TestBudgetHoldsUnderConcurrency(t *testing.T) {
	h := newHarness(t)
	const n = 500
	body := `{"model":"claude-haiku-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"go [[sim:usage in=200 out=50 cw5m=0 cw1h=0 cr=0]]"}]}`
	prices, _ := usage.NewPrices(nil)
	price, _ := prices.Lookup("bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001")
	worst := usage.WorstCost(price, anthropic.PromptTokenBound([]byte(body)), 100)
	actual := usage.Cost(price, tokens.Counts{Input: 200, Output: 50})
	budgetUSD := float64(40*worst) / 1e6 // room for 40 calls at their worst case
	p := h.NewPrincipal(t, "carol", testutil.PrincipalSpec{KeyUSD: budgetUSD})

	var ok, refused, other atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}}
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, h.URL+"/v1/messages", strings.NewReader(body))
			req.Header.Set("x-api-key", p.Secret)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				other.Add(1)
				return
			}
			defer resp.Body.Close()
			b := new(strings.Builder)
			bufio.NewReader(resp.Body).WriteTo(b)
			switch {
			case resp.StatusCode == 200 && strings.Contains(b.String(), "message_stop"):
				ok.Add(1)
			case resp.StatusCode == 429 && resp.Header.Get("x-should-retry") == "false" &&
				strings.Contains(gjson.Get(b.String(), "error.message").String(), "over budget"):
				refused.Add(1)
			default:
				other.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if other.Load() != 0 {
		t.Fatalf("%d requests neither succeeded nor were refused for budget", other.Load())
	}
	if err := h.Gateway.Writer.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := h.Gateway.Store.Usage(context.Background(), store.UsageQuery{By: store.ByKey})
	if err != nil || len(rows) != 1 {
		t.Fatalf("usage rows = %+v, %v", rows, err)
	}
	limit := int64(40 * worst)
	spent := rows[0].CostMicros
	t.Logf("%d ok, %d refused; spent %d of %d µUSD (worst %d, actual %d per call)", ok.Load(), refused.Load(), spent, limit, worst, actual)
	if spent > limit {
		t.Errorf("recorded spend %d µUSD exceeds the budget %d", spent, limit)
	}
	if spent != ok.Load()*actual {
		t.Errorf("recorded spend %d, want %d successful calls × %d", spent, ok.Load(), actual)
	}
	if ok.Load() < 40 {
		t.Errorf("only %d calls succeeded; the budget covers at least 40 at their worst case", ok.Load())
	}
	if refused.Load() == 0 {
		t.Error("no call was refused: the budget was not enforced")
	}
	// After the burst, the ledger agrees with the store and holds nothing.
	st, found := h.Gateway.Accounts.Ledger.Remaining(context.Background(), []limits.Scope{{Kind: "key", ID: p.KeyID}})
	if !found || st.Spent.Micros != spent || st.Reserved.Micros != 0 {
		t.Errorf("ledger after burst: %+v, want spent %d and nothing reserved", st, spent)
	}
}

// TestKeyUserTeamBudgets: the tightest of the three budgets refuses, and
// every budget covering the call is charged.
func TestKeyUserTeamBudgets(t *testing.T) {
	h := newHarness(t)
	p := h.NewPrincipal(t, "dave", testutil.PrincipalSpec{KeyUSD: 100, UserUSD: 0.5, TeamUSD: 100})
	body := `{"model":"claude-haiku-4-5","max_tokens":1000,"messages":[{"role":"user","content":"x [[sim:usage in=100000 out=10 cw5m=0 cw1h=0 cr=0]]"}]}`
	var statuses []int
	for i := 0; i < 8; i++ {
		status, hdr, resp := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": p.Secret})
		statuses = append(statuses, status)
		if status == 429 {
			msg := gjson.Get(resp, "error.message").String()
			if !strings.Contains(msg, `budget "dave daily" (user) of key "dave-key" has $`) || !strings.Contains(msg, "this period (resets ") || hdr.Get("x-should-retry") != "false" {
				t.Errorf("refusal = %s (x-should-retry %q), want the user budget named by the user's name, with its reset", msg, hdr.Get("x-should-retry"))
			}
			break
		}
		if hdr.Get("x-tollgate-budget-remaining-usd") == "" || hdr.Get("x-tollgate-budget-reset") == "" {
			t.Errorf("no budget headers on success: %v", hdr)
		}
	}
	if statuses[len(statuses)-1] != 429 {
		t.Fatalf("statuses = %v, want the user budget to run out", statuses)
	}
	led := h.Gateway.Accounts.Ledger
	var spent []int64
	for _, sc := range []limits.Scope{{Kind: "key", ID: p.KeyID}, {Kind: "user", ID: p.UserID}, {Kind: "team", ID: p.TeamID}} {
		st, ok := led.Remaining(context.Background(), []limits.Scope{sc})
		if !ok {
			t.Fatalf("no budget for %v", sc)
		}
		spent = append(spent, st.Spent.Micros)
	}
	if spent[0] == 0 || spent[0] != spent[1] || spent[1] != spent[2] {
		t.Errorf("spent key/user/team = %v, want all charged the same", spent)
	}
}

func TestKeyRefusals(t *testing.T) {
	h := newHarness(t)
	p := h.NewPrincipal(t, "erin", testutil.PrincipalSpec{Models: []string{"claude-haiku-4-5"}})
	body := func(model string) string {
		return fmt.Sprintf(`{"model":%q,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, model)
	}
	status, hdr, _ := h.Post(t, "/v1/messages", body("claude-sonnet-4-5"), map[string]string{"x-api-key": p.Secret})
	if status != 403 || hdr.Get("x-should-retry") != "false" {
		t.Errorf("model outside allowlist = %d (x-should-retry %q), want 403 false", status, hdr.Get("x-should-retry"))
	}
	if status, _, _ := h.Post(t, "/v1/messages", body("claude-haiku-4-5-20251001"), map[string]string{"x-api-key": p.Secret}); status != 200 {
		t.Errorf("allowed model by full name = %d, want 200", status)
	}
	if _, err := h.Gateway.Store.RevokeKey(context.Background(), p.KeyID); err != nil {
		t.Fatal(err)
	}
	h.Gateway.Accounts.Reload(context.Background())
	status, hdr, _ = h.Post(t, "/v1/messages", body("claude-haiku-4-5"), map[string]string{"x-api-key": p.Secret})
	if status != 401 || hdr.Get("x-should-retry") != "false" {
		t.Errorf("revoked key = %d (x-should-retry %q), want 401 false", status, hdr.Get("x-should-retry"))
	}
}
