package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// spendOn settles usd of spend on the key's budgets, as earlier calls
// would have.
func spendOn(t *testing.T, h *testutil.Harness, keyID string, usd float64) {
	t.Helper()
	amt := limits.Amount{Micros: int64(usd * 1e6)}
	r, err := h.Gateway.Accounts.Ledger.Reserve(context.Background(), []limits.Scope{{Kind: limits.KindKey, ID: keyID}}, amt)
	if err != nil {
		t.Fatal(err)
	}
	r.Settle(amt)
}

// TestUsableBudgetEnd: the complaint — a "say hi" call with
// max_tokens 32000 on Opus, with only a little of a key's budget left, was
// refused because its worst case did not fit. Now it goes ahead with
// max_tokens lowered to what the budget can hold (and says so), in both
// modes; it is refused, naming budget and key by their aliases and what is
// left, only when not even the smallest max_tokens fits; and a thinking
// budget is kept below max_tokens.
func TestUsableBudgetEnd(t *testing.T) {
	const hi = `{"model":"claude-opus-4-5","max_tokens":32000,"messages":[{"role":"user","content":"say hi"}]}`
	const thinking = `{"model":"claude-opus-4-5","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":%d},"messages":[{"role":"user","content":"say hi"}]}`
	tests := []struct {
		name   string
		mode   string
		spent  float64 // of a $1.00 daily key budget
		body   string
		status int
		// clamp bounds x-tollgate-max-tokens-clamped; 0: not clamped.
		clampMin, clampMax int64
		wantMsg            []string
	}{
		// Opus 4.5 output is $25/M: max_tokens 32000 is $0.80 at worst.
		{"early: the whole max_tokens", store.ModeEstimate, 0, hi, 200, 0, 0, nil},
		{"estimate: $0.10 left, lowered into limit + 5 %", store.ModeEstimate, 0.90, hi, 200, 5_000, 6_000, nil},
		{"strict: $0.10 left, lowered into the limit", store.ModeStrict, 0.90, hi, 200, 3_000, 4_000, nil},
		{"thinking: kept below max_tokens", store.ModeStrict, 0.90, fmt.Sprintf(thinking, 2_000), 200, 3_000, 4_000, nil},
		{"thinking budget too large for what is left", store.ModeStrict, 0.90, fmt.Sprintf(thinking, 10_000), 429, 0, 0,
			[]string{`budget "usable-key daily" of key "usable-key" has $0.10 left of $1.00 this period (resets `, "this call could cost up to $0.80"}},
		{"strict: not even 1024 tokens fit", store.ModeStrict, 0.99, hi, 429, 0, 0,
			[]string{`budget "usable-key daily" of key "usable-key" has $0.01 left of $1.00 this period (resets `, "Z); this call could cost up to $0.80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			p := h.NewPrincipal(t, "usable", testutil.PrincipalSpec{KeyUSD: 1, Mode: tt.mode})
			if tt.spent > 0 {
				spendOn(t, h, p.KeyID, tt.spent)
			}
			status, hdr, resp := h.Post(t, "/v1/messages", tt.body, map[string]string{"x-api-key": p.Secret})
			if status != tt.status {
				t.Fatalf("POST = %d %.300s, want %d", status, resp, tt.status)
			}
			got := hdr.Get("x-tollgate-max-tokens-clamped")
			switch {
			case tt.clampMax == 0 && got != "":
				t.Errorf("x-tollgate-max-tokens-clamped = %q, want none", got)
			case tt.clampMax > 0:
				m, err := strconv.ParseInt(got, 10, 64)
				if err != nil || m < tt.clampMin || m > tt.clampMax {
					t.Errorf("x-tollgate-max-tokens-clamped = %q, want %d to %d", got, tt.clampMin, tt.clampMax)
				}
				if out := gjson.Get(resp, "usage.output_tokens").Int(); out > m {
					t.Errorf("output %d tokens past the lowered max_tokens %d", out, m)
				}
			}
			msg := gjson.Get(resp, "error.message").String()
			for _, w := range tt.wantMsg {
				if !strings.Contains(msg, w) {
					t.Errorf("refusal %q does not contain %q", msg, w)
				}
			}
			if status == http.StatusTooManyRequests && hdr.Get("x-should-retry") != "false" {
				t.Errorf("x-should-retry = %q, want false", hdr.Get("x-should-retry"))
			}
			if status == http.StatusOK && hdr.Get("x-tollgate-budget-remaining-usd") == "" {
				t.Error("no x-tollgate-budget-remaining-usd on success")
			}
		})
	}
}

// TestRefusalNamesTeamBudget: a team budget's refusal names the team's
// budget and the calling key, both by name.
func TestRefusalNamesTeamBudget(t *testing.T) {
	h := newHarness(t)
	p := h.NewPrincipal(t, "ml", testutil.PrincipalSpec{TeamUSD: 0.001, Mode: store.ModeStrict})
	status, _, resp := h.Post(t, "/v1/messages",
		`{"model":"claude-opus-4-5","max_tokens":32000,"messages":[{"role":"user","content":"say hi"}]}`,
		map[string]string{"x-api-key": p.Secret})
	want := `over budget: budget "ml-team daily" (team) of key "ml-key" has $0.001000 left of $0.001000 this period (resets `
	if msg := gjson.Get(resp, "error.message").String(); status != http.StatusTooManyRequests || !strings.Contains(msg, want) {
		t.Errorf("POST = %d %q, want 429 containing %q", status, msg, want)
	}
}
