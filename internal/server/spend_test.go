package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/adminclient"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// TestSpendMatchesRemainingHeaders: GET /admin/spend reports what the
// gateway enforces — settled spend plus the reservations of calls in
// flight — so after concurrent traffic it agrees exactly with the
// x-tollgate-budget-remaining-* headers, not with the hour-rounded rollups
// the usage writer may not even have flushed yet.
//
// Fifty concurrent calls settle first. Then one slow call holds its
// reservation while /admin/spend is read: its headers were computed from
// the same ledger state (its own reservation included), so the two must be
// equal to the micro-dollar and the token.
func TestSpendMatchesRemainingHeaders(t *testing.T) {
	h := newHarness(t)
	p := h.NewPrincipal(t, "spender", testutil.PrincipalSpec{UserUSD: 50, UserTokens: 5_000_000})
	c := adminclient.New(h.URL, h.Gateway.AdminSecret, h.Server.Client(), "")
	ctx := context.Background()
	call := func(prompt string) (int, http.Header, string) {
		return h.Post(t, "/v1/messages", fmt.Sprintf(`{"model":"claude-sonnet-4-5","max_tokens":200,"messages":[{"role":"user","content":%q}]}`, prompt),
			map[string]string{"x-api-key": p.Secret})
	}

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, _, body := call(fmt.Sprintf("call %d [[sim:text %s]]", i, "some words of an answer")); status != http.StatusOK {
				errs <- fmt.Sprintf("call %d: %d %.200s", i, status, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	spend := func() admin.BudgetSpend {
		t.Helper()
		r, err := c.Spend(ctx, adminclient.Scope{Kind: "user", Ref: "spender"})
		if err != nil || len(r.Budgets) != 1 {
			t.Fatalf("GET /admin/spend?user=spender = %+v, %v, want one budget", r, err)
		}
		return r.Budgets[0]
	}
	settled := spend()
	if settled.SpentUSDMicros == 0 || settled.SpentTokens == 0 || settled.ReservedUSDMicros != 0 || settled.ReservedTokens != 0 {
		t.Fatalf("after %d settled calls: spent %d µ$ / %d tokens, reserved %d µ$ / %d tokens; want spend and nothing reserved",
			n, settled.SpentUSDMicros, settled.SpentTokens, settled.ReservedUSDMicros, settled.ReservedTokens)
	}

	// One more call, held upstream while the spend is read.
	type answer struct {
		status int
		header http.Header
	}
	done := make(chan answer, 1)
	go func() {
		status, hdr, _ := call("slow [[sim:latency 2s]]")
		done <- answer{status, hdr}
	}()
	var inFlight admin.BudgetSpend
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if inFlight = spend(); inFlight.ReservedUSDMicros > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow call never showed a reservation in /admin/spend")
		}
	}
	a := <-done
	if a.status != http.StatusOK {
		t.Fatalf("slow call: status %d", a.status)
	}
	if inFlight.SpentUSDMicros != settled.SpentUSDMicros || inFlight.SpentTokens != settled.SpentTokens {
		t.Errorf("spend moved while only the slow call was in flight: %+v then %+v", settled, inFlight)
	}
	wantUSD := fmt.Sprintf("%.6f", float64(*inFlight.RemainingUSDMicros)/1e6)
	if got := a.header.Get("x-tollgate-budget-remaining-usd"); got != wantUSD {
		t.Errorf("x-tollgate-budget-remaining-usd = %q, /admin/spend remaining_usd_micros = %d (%s)", got, *inFlight.RemainingUSDMicros, wantUSD)
	}
	wantTokens := strconv.FormatInt(*inFlight.RemainingTokens, 10)
	if got := a.header.Get("x-tollgate-budget-remaining-tokens"); got != wantTokens {
		t.Errorf("x-tollgate-budget-remaining-tokens = %q, /admin/spend remaining_tokens = %s", got, wantTokens)
	}
	if inFlight.ResetsAt == nil || a.header.Get("x-tollgate-budget-reset") != inFlight.ResetsAt.Format(time.RFC3339) {
		t.Errorf("x-tollgate-budget-reset = %q, /admin/spend resets_at = %v", a.header.Get("x-tollgate-budget-reset"), inFlight.ResetsAt)
	}

	// Settled again, the remaining amounts are the limit less the spend.
	final := spend()
	if final.ReservedUSDMicros != 0 || *final.RemainingUSDMicros != *final.LimitUSDMicros-final.SpentUSDMicros ||
		*final.RemainingTokens != *final.LimitTokens-final.SpentTokens {
		t.Errorf("after the slow call settled: %+v, want remaining = limit - spent", final)
	}
}
