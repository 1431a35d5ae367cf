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

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/adminclient"
	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/testutil"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// replicas starts n gateways on one fresh PostgreSQL schema, as n replicas
// of one deployment.
func replicas(t *testing.T, n int, opts ...testutil.Option) []*testutil.Harness {
	t.Helper()
	dsn := storetest.PostgresDSN(t)
	base := []testutil.Option{testutil.WithConfig(func(c *config.Config) {
		c.Database = dsn
		c.Server.PingInterval = -1
		// The race detector slows every lease transaction down; the
		// default 500ms bound is for production.
		c.Replicas.DatabaseTimeout = 10 * time.Second
	})}
	var hs []*testutil.Harness
	for range n {
		hs = append(hs, testutil.Start(t, append(base, opts...)...))
	}
	return hs
}

// exactCall returns a streaming body whose actual cost, as the simulator
// reports it, is exactly its worst case (the prompt bound, all written to
// the 1-hour cache, the dearest input rate, and max_tokens), and
// that cost: strict reservations then waste nothing, and how much of a
// budget is used measures the lease scheme alone.
func exactCall(t *testing.T, maxTokens int) (body string, cost int64) {
	t.Helper()
	const tmpl = `{"model":"claude-haiku-4-5","max_tokens":%d,"stream":true,"messages":[{"role":"user","content":"go [[sim:usage in=0 out=%d cw5m=0 cw1h=%d cr=0]]"}]}`
	body = fmt.Sprintf(tmpl, maxTokens, maxTokens, 100)
	bound := anthropic.PromptTokenBound([]byte(body))
	body = fmt.Sprintf(tmpl, maxTokens, maxTokens, bound)
	if got := anthropic.PromptTokenBound([]byte(body)); got != bound {
		t.Fatalf("prompt bound moved from %d to %d", bound, got)
	}
	prices, _ := usage.NewPrices(nil)
	price, _ := prices.Lookup("bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001")
	worst := usage.WorstCost(price, bound, int64(maxTokens))
	if actual := usage.Cost(price, tokens.Counts{CacheWrite1h: bound, Output: int64(maxTokens)}); actual != worst {
		t.Fatalf("actual %d != worst %d", actual, worst)
	}
	return body, worst
}

// burst sends n concurrent calls with key, the i-th to hs[i%len(hs)], and
// counts what was admitted and what refused for budget.
func burst(t *testing.T, hs []*testutil.Harness, n int, key, body string) (ok, refused int64) {
	t.Helper()
	ok, refused, _ = burstOf(t, hs, n, key, func(int) string { return body })
	return ok, refused
}

// burstOf is burst with the i-th call's body from body(i); clamped counts
// the calls whose max_tokens the gateway lowered.
func burstOf(t *testing.T, hs []*testutil.Harness, n int, key string, body func(i int) string) (ok, refused, clamped int64) {
	t.Helper()
	var clampedN atomic.Int64
	var okN, refusedN, other atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodPost, hs[i%len(hs)].URL+"/v1/messages", strings.NewReader(body(i)))
			req.Header.Set("x-api-key", key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				other.Add(1)
				return
			}
			defer resp.Body.Close()
			if resp.Header.Get("x-tollgate-max-tokens-clamped") != "" {
				clampedN.Add(1)
			}
			b := new(strings.Builder)
			bufio.NewReader(resp.Body).WriteTo(b)
			switch {
			case resp.StatusCode == 200 && strings.Contains(b.String(), "message_stop"):
				okN.Add(1)
			case resp.StatusCode == 429 && strings.Contains(b.String(), "over budget"):
				refusedN.Add(1)
			default:
				other.Add(1)
				t.Logf("unexpected answer %d %.300s", resp.StatusCode, b.String())
			}
		})
	}
	close(start)
	wg.Wait()
	if other.Load() != 0 {
		t.Fatalf("%d calls neither succeeded nor were refused for budget", other.Load())
	}
	return okN.Load(), refusedN.Load(), clampedN.Load()
}

// replicaSpend waits until the usage rows of the key (written
// asynchronously by each replica) cost want µUSD, and returns what they
// cost: more than want is returned at once.
func replicaSpend(t *testing.T, st *store.Store, keyID string, want int64) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := st.Usage(context.Background(), store.UsageQuery{By: store.ByKey})
		if err != nil {
			t.Fatal(err)
		}
		var cost int64
		for _, r := range rows {
			if r.Group == keyID {
				cost += r.CostMicros
			}
		}
		if cost >= want || time.Now().After(deadline) {
			return cost
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replicaSpendOf waits until the usage rows of the key record ok
// successful calls, and returns what they cost.
func replicaSpendOf(t *testing.T, st *store.Store, keyID string, ok int64) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := st.Usage(context.Background(), store.UsageQuery{By: store.ByKey})
		if err != nil {
			t.Fatal(err)
		}
		var cost, done int64
		for _, r := range rows {
			if r.Group == keyID {
				cost += r.CostMicros
				done += r.Requests - r.Errors
			}
		}
		if done >= ok || time.Now().After(deadline) {
			return cost
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplicasShareOneBudget: three gateways on one PostgreSQL serve one
// strict key budget. 500 concurrent calls spread over them never spend more
// than the budget, and use at least 90 % of it; a budget spent through one
// replica stays spent on the others.
func TestReplicasShareOneBudget(t *testing.T) {
	hs := replicas(t, 3)
	ctx := context.Background()
	body, cost := exactCall(t, 20)
	const limitUSD = 0.05
	limit := int64(limitUSD * 1e6)

	reloadAll := func() {
		t.Helper()
		for _, h := range hs {
			if err := h.Gateway.Accounts.Reload(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("500 concurrent calls over 3 replicas", func(t *testing.T) {
		p := hs[0].NewPrincipal(t, "spread", testutil.PrincipalSpec{KeyUSD: limitUSD, Mode: store.ModeStrict})
		reloadAll()
		ok, refused := burst(t, hs, 500, p.Secret, body)
		spent := replicaSpend(t, hs[0].Gateway.Store, p.KeyID, ok*cost)
		t.Logf("%d ok, %d refused; recorded %d of %d µUSD (%.1f %%), %d per call", ok, refused, spent, limit, 100*float64(spent)/float64(limit), cost)
		if spent > limit {
			t.Errorf("recorded spend %d µUSD exceeds the budget %d", spent, limit)
		}
		if spent < limit*9/10 {
			t.Errorf("recorded spend %d µUSD is below 90 %% of the budget %d", spent, limit)
		}
		if spent != ok*cost {
			t.Errorf("recorded spend %d µUSD, want %d calls × %d", spent, ok, cost)
		}
		if refused == 0 {
			t.Error("no call was refused: the budget was not enforced")
		}
	})

	t.Run("spent on one replica, then traffic moves to the others", func(t *testing.T) {
		p := hs[0].NewPrincipal(t, "moving", testutil.PrincipalSpec{KeyUSD: limitUSD, Mode: store.ModeStrict})
		reloadAll()
		okA, _ := burst(t, hs[:1], 300, p.Secret, body)
		okBC, _ := burst(t, hs[1:], 300, p.Secret, body)
		spent := replicaSpend(t, hs[0].Gateway.Store, p.KeyID, (okA+okBC)*cost)
		t.Logf("replica A admitted %d, then B and C %d; recorded %d of %d µUSD (%.1f %%)", okA, okBC, spent, limit, 100*float64(spent)/float64(limit))
		if spent > limit {
			t.Errorf("recorded spend %d µUSD exceeds the budget %d", spent, limit)
		}
		if spent < limit*9/10 {
			t.Errorf("recorded spend %d µUSD is below 90 %% of the budget %d", spent, limit)
		}
		// Once every replica has given back what it held, nothing more
		// fits: a reload on B (which used to start from its own memory)
		// changes nothing.
		reloadAll()
		if status, _, got := hs[2].Post(t, "/v1/messages", body, map[string]string{"x-api-key": p.Secret}); status != http.StatusTooManyRequests && spent+cost > limit {
			t.Errorf("replica C after the budget was spent = %d %.200s, want 429", status, got)
		}
	})
}

// agentCall returns the body of the i-th call of a Claude Code-like
// workload: max_tokens 32000, as Claude Code asks, and an answer whose
// length varies from call to call (a few hundred tokens mostly, a few
// thousand now and then) — the simulator answers the text markers, cut at
// max_tokens, and counts input by the prompt's bytes, so every call's cost
// is within its worst case.
func agentCall(i int) string {
	out := 100 + (i*7919)%900 // tokens
	if i%20 == 0 {
		out = 6_000
	}
	text := strings.Repeat("abcd", out)
	return fmt.Sprintf(`{"model":"claude-haiku-4-5","max_tokens":32000,"stream":true,"messages":[{"role":"user","content":"go [[sim:text %s]]"}]}`, text)
}

// TestReplicasUsableBudget: the acceptance test for estimate mode
// and strict mode with realistic calls. Three gateways on one PostgreSQL
// serve one key budget; 500 concurrent Claude Code-like calls spread over
// them (max_tokens 32000, answers of a few hundred tokens) spend no more
// than limit + overdraft (estimate mode; the limit in strict mode) and at
// least 90 % of the limit; the same when the budget is first spent through
// one replica and traffic then moves to the others. Worst-case
// reservations alone would admit only a handful of these calls at a time.
func TestReplicasUsableBudget(t *testing.T) {
	hs := replicas(t, 3)
	ctx := context.Background()
	const limitUSD = 0.60
	limit := int64(limitUSD * 1e6)
	reloadAll := func() {
		t.Helper()
		for _, h := range hs {
			if err := h.Gateway.Accounts.Reload(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, mode := range []string{store.ModeEstimate, store.ModeStrict} {
		ceiling := limit
		if mode == store.ModeEstimate {
			ceiling += limit * limits.DefaultOverdraftPercent / 100
		}
		check := func(t *testing.T, what string, keyID string, ok, refused, clamped int64) {
			t.Helper()
			spent := replicaSpendOf(t, hs[0].Gateway.Store, keyID, ok)
			t.Logf("%s: %d ok (%d with max_tokens lowered), %d refused; recorded %d of %d µUSD (%.1f %%), ceiling %d",
				what, ok, clamped, refused, spent, limit, 100*float64(spent)/float64(limit), ceiling)
			if spent > ceiling {
				t.Errorf("recorded spend %d µUSD exceeds the ceiling %d (%s mode)", spent, ceiling, mode)
			}
			if spent < limit*9/10 {
				t.Errorf("recorded spend %d µUSD is below 90 %% of the budget %d", spent, limit)
			}
			if refused == 0 {
				t.Error("no call was refused: the budget was not enforced")
			}
		}
		t.Run(mode+"/500 concurrent calls over 3 replicas", func(t *testing.T) {
			p := hs[0].NewPrincipal(t, "spread-"+mode, testutil.PrincipalSpec{KeyUSD: limitUSD, Mode: mode})
			reloadAll()
			var ok, refused, clamped int64
			// Smaller waves until the budget refuses every call: a first
			// wave leaves room (worst cases held, then given back) that
			// the calls of the next can use.
			for wave, n := 0, 500; wave < 6; wave, n = wave+1, 100 {
				o, r, c := burstOf(t, hs, n, p.Secret, func(i int) string { return agentCall(i + wave*500) })
				ok, refused, clamped = ok+o, refused+r, clamped+c
				if o == 0 {
					break
				}
			}
			check(t, mode, p.KeyID, ok, refused, clamped)
		})
		t.Run(mode+"/spent on one replica, then traffic moves to the others", func(t *testing.T) {
			p := hs[0].NewPrincipal(t, "moving-"+mode, testutil.PrincipalSpec{KeyUSD: limitUSD, Mode: mode})
			reloadAll()
			var ok, refused, clamped int64
			for wave, n := 0, 300; wave < 6; wave, n = wave+1, 100 {
				o, r, c := burstOf(t, hs[:1], n, p.Secret, func(i int) string { return agentCall(i + wave*300) })
				ok, refused, clamped = ok+o, refused+r, clamped+c
				if o == 0 {
					break
				}
			}
			o, r, c := burstOf(t, hs[1:], 300, p.Secret, agentCall)
			check(t, mode, p.KeyID, ok+o, refused+r, clamped+c)
		})
	}
}

// TestReplicasHearChanges: a key created through one replica's admin API
// works on the others, and once revoked there is refused by them, each
// within a second (the change feed, not the periodic reload, which the
// test harness never runs).
func TestReplicasHearChanges(t *testing.T) {
	hs := replicas(t, 3)
	ctx := context.Background()
	c := adminclient.New(hs[0].URL, hs[0].Gateway.AdminSecret, hs[0].Server.Client(), "")
	// The feed is up on every replica before the first change.
	waitFor(t, "every replica listening", func() bool {
		for _, h := range hs {
			_, _, got := h.Do(t, http.MethodGet, "/readyz?verbose=1", "", nil)
			if !strings.Contains(got, `"listening":true`) {
				return false
			}
		}
		return true
	}, 10*time.Second)

	name := "erin"
	if _, err := c.CreateUser(ctx, admin.UserRequest{Name: &name}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateKey(ctx, admin.CreateKeyRequest{Alias: "erin-laptop", User: "erin"})
	if err != nil {
		t.Fatal(err)
	}
	const body = `{"model":"claude-haiku-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
	status := func(h *testutil.Harness) int {
		st, _, _ := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": k.Secret})
		return st
	}
	created := time.Now()
	for i, h := range hs[1:] {
		waitFor(t, fmt.Sprintf("replica %d to accept the new key", i+1), func() bool { return status(h) == http.StatusOK }, time.Second)
	}
	accepted := time.Since(created)
	if _, err := c.RevokeKey(ctx, k.Key.ID); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for i, h := range hs[1:] {
		waitFor(t, fmt.Sprintf("replica %d to refuse the revoked key", i+1), func() bool { return status(h) == http.StatusUnauthorized }, time.Second)
	}
	// Measured, not asserted: docs/scaling.md quotes these.
	t.Logf("new key accepted by the other replicas within %v, revoked key refused within %v",
		accepted.Round(time.Millisecond), time.Since(revoked).Round(time.Millisecond))
}

// waitFor polls cond until it holds, and fails the test if it still does
// not after within.
func waitFor(t *testing.T, what string, cond func() bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicasShareRateLimits: a key's requests-per-minute limit holds
// across three replicas, not per replica.
func TestReplicasShareRateLimits(t *testing.T) {
	hs := replicas(t, 3)
	p := hs[0].NewPrincipal(t, "rl", testutil.PrincipalSpec{KeyLimit: &store.Limit{RPM: 10}})
	for _, h := range hs[1:] {
		if err := h.Gateway.Accounts.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	const body = `{"model":"claude-haiku-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
	start := time.Now().UTC()
	var ok, limited int
	for i := range 30 {
		status, _, got := hs[i%3].Post(t, "/v1/messages", body, map[string]string{"x-api-key": p.Secret})
		switch {
		case status == http.StatusOK:
			ok++
		case status == http.StatusTooManyRequests && strings.Contains(got, "requests per minute"):
			limited++
		default:
			t.Fatalf("call %d = %d %.300s", i, status, got)
		}
	}
	// The counters are per UTC minute: a test that straddles a minute
	// boundary may see up to twice the limit (the documented tolerance).
	want := 10
	if time.Now().UTC().Truncate(time.Minute) != start.Truncate(time.Minute) {
		want = 20
		if ok < 10 || ok > want {
			t.Errorf("%d of 30 calls admitted across a minute boundary, want 10 to %d", ok, want)
		}
		return
	}
	if ok != want {
		t.Errorf("%d of 30 calls admitted over 3 replicas, want %d (RPM 10 for the key)", ok, want)
	}
}

// TestReplicasRefusalHeldElsewhere: a replica refused because another
// replica holds the budget in its lease answers a 429 that says so and asks
// for a retry (retry-after, x-should-retry: true), not the spend cap; once
// the budget is spent, the refusal is final. Leases are the whole budget
// (lease_share_percent 100) and never flushed during the test (an hour's
// flush interval), so the first replica keeps what it leased.
func TestReplicasRefusalHeldElsewhere(t *testing.T) {
	hs := replicas(t, 2, testutil.WithConfig(func(c *config.Config) {
		c.Replicas.LeaseSharePercent = 100
		c.Replicas.FlushInterval = time.Hour
	}))
	body, _ := exactCall(t, 20)
	p := hs[0].NewPrincipal(t, "held", testutil.PrincipalSpec{KeyUSD: 0.05, Mode: store.ModeStrict})
	if err := hs[1].Gateway.Accounts.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	auth := map[string]string{"x-api-key": p.Secret}
	if status, _, got := hs[0].Post(t, "/v1/messages", body, auth); status != http.StatusOK {
		t.Fatalf("replica A = %d %.300s", status, got)
	}
	status, hdr, got := hs[1].Post(t, "/v1/messages", body, auth)
	if status != http.StatusTooManyRequests || !strings.Contains(got, "held by other replicas' leases; retry shortly") ||
		!strings.Contains(got, "rate_limit_error") {
		t.Errorf("replica B while A holds the budget = %d %.400s, want a 429 rate_limit_error saying other replicas hold it", status, got)
	}
	if hdr.Get("retry-after") == "" || hdr.Get("x-should-retry") != "true" {
		t.Errorf("replica B's refusal: retry-after %q, x-should-retry %q; want a retry-after and true",
			hdr.Get("retry-after"), hdr.Get("x-should-retry"))
	}
	// Spend the rest on A: then B's refusal is the spend cap, final.
	for range 1000 {
		if status, _, _ := hs[0].Post(t, "/v1/messages", body, auth); status != http.StatusOK {
			break
		}
	}
	for _, h := range hs {
		if err := h.Gateway.Accounts.Ledger.(*limits.Shared).Flush(context.Background(), true); err != nil {
			t.Fatal(err)
		}
	}
	status, hdr, got = hs[1].Post(t, "/v1/messages", body, auth)
	if status != http.StatusTooManyRequests || strings.Contains(got, "retry shortly") || hdr.Get("x-should-retry") == "true" {
		t.Errorf("replica B once the budget is spent = %d (x-should-retry %q) %.400s, want a final 429",
			status, hdr.Get("x-should-retry"), got)
	}
}
