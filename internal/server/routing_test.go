package server_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/router"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// fakeClock is the clock of the gateway's target cooldowns.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const regionModel = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

// twoRegions starts a gateway whose model "spread" has two targets, the
// "bedrock" provider (us-east-1) then "west" (us-west-2), each on its own
// simulator, with the given strategy and target edits.
func twoRegions(t *testing.T, strategy string, health *router.Health, edit func(c *config.Config, east, west *config.Target)) *testutil.Harness {
	t.Helper()
	if health == nil {
		health = router.NewHealth(nil, nil)
	}
	return newHarness(t,
		testutil.WithRegion("west", "us-west-2", nil),
		testutil.WithTargetHealth(health),
		testutil.WithConfig(func(c *config.Config) {
			east := config.Target{Provider: "bedrock", Model: regionModel}
			west := config.Target{Provider: "west", Model: regionModel}
			if edit != nil {
				edit(c, &east, &west)
			}
			c.Models = append(c.Models, config.Model{Name: "spread", Strategy: strategy, Targets: []config.Target{east, west}})
		}))
}

// invokes counts the model calls a simulator received.
func invokes(s *bedrocksim.Server) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Op == bedrocksim.OpInvokeModel || r.Op == bedrocksim.OpInvokeModelWithResponseStream {
			n++
		}
	}
	return n
}

func spreadBody(stream bool, prompt string) string {
	return fmt.Sprintf(`{"model":"spread","max_tokens":10,"stream":%v,"messages":[{"role":"user","content":%q}]}`, stream, prompt)
}

// TestThrottlingStormMovesToNextRegion: a region that throttles costs one
// failed attempt; it then cools down and calls go straight to the next
// region, with no retry against the throttling one, and come back once the
// cooldown is over.
func TestThrottlingStormMovesToNextRegion(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	h := twoRegions(t, config.StrategyOrdered, router.NewHealth(clk.now, nil), nil)
	east, west := h.Sims["bedrock"], h.Sims["west"]
	call := func(want [2]int) {
		t.Helper()
		status, _, body := h.Post(t, "/v1/messages", spreadBody(false, "hi"), nil)
		if status != http.StatusOK {
			t.Fatalf("status = %d, want 200 (body %.300s)", status, body)
		}
		if got := [2]int{invokes(east), invokes(west)}; got != want {
			t.Fatalf("requests (east, west) = %v, want %v", got, want)
		}
	}

	feed, cancel := h.Gateway.Writer.Subscribe()
	defer cancel()
	// next is the usage record of the call just made.
	next := func() usage.Record {
		t.Helper()
		select {
		case r := <-feed:
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("no usage record")
			return usage.Record{}
		}
	}

	if err := east.SetFault("throttle"); err != nil {
		t.Fatal(err)
	}
	call([2]int{1, 1}) // throttled once in the east, answered in the west at once
	// The usage row says so: two attempts, answered by the west.
	if r := next(); r.Attempts != 2 || r.Provider != "west" || r.UpstreamModel != regionModel {
		t.Errorf("usage record after one throttle: attempts %d, provider %q, target %q; want 2, west, %s", r.Attempts, r.Provider, r.UpstreamModel, regionModel)
	}
	for i := range 5 {
		call([2]int{1, 2 + i}) // the east cools: not even tried
		if r := next(); r.Attempts != 1 || r.Provider != "west" {
			t.Errorf("usage record while the east cools: attempts %d, provider %q; want 1, west", r.Attempts, r.Provider)
		}
	}
	if !strings.Contains(h.Logs(), `"msg":"upstream attempt failed","id"`) || !strings.Contains(h.Logs(), `"then":"next target"`) {
		t.Errorf("no log line for the throttled attempt:\n%s", h.Logs())
	}

	// The storm ends, but the east is still cooling down.
	if err := east.SetFault(""); err != nil {
		t.Fatal(err)
	}
	call([2]int{1, 7})
	// After the cooldown (providers.*.cooldown, 30s by default) the east
	// serves again.
	clk.advance(config.DefaultCooldown)
	call([2]int{2, 7})
	call([2]int{3, 7})

	// GET /admin/usage's rollups sum the attempts: 9 calls, 10 attempts.
	cancel()
	if err := h.Gateway.Writer.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := h.Gateway.Store.Usage(context.Background(), store.UsageQuery{By: store.ByModel})
	if err != nil || len(rows) != 1 || rows[0].Requests != 9 || rows[0].Attempts != 10 {
		t.Errorf("usage by model = %+v, %v; want one row of 9 requests and 10 attempts", rows, err)
	}

	series, _ := scrapeGateway(t, h)
	for key, want := range map[string]float64{
		"tollgate_upstream_attempts_total{outcome=throttled,provider=bedrock,target=" + regionModel + "}": 1,
		"tollgate_upstream_attempts_total{outcome=ok,provider=west,target=" + regionModel + "}":           7,
		"tollgate_upstream_attempts_total{outcome=ok,provider=bedrock,target=" + regionModel + "}":        2,
		"tollgate_target_cooldowns_total{provider=bedrock,target=" + regionModel + "}":                    1,
	} {
		if got := series[key]; got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
}

// TestAllTargetsCoolingStillServes: when every target is cooling down, the
// call goes to the one whose cooldown ends first rather than being refused.
func TestAllTargetsCoolingStillServes(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	h := twoRegions(t, config.StrategyOrdered, router.NewHealth(clk.now, nil), func(c *config.Config, _, _ *config.Target) {
		for _, p := range []string{"bedrock", "west"} {
			pc := c.Providers[p]
			zero := 0
			pc.MaxRetries = &zero
			c.Providers[p] = pc
		}
	})
	east, west := h.Sims["bedrock"], h.Sims["west"]
	east.SetFault("throttle")
	west.SetFault("throttle")
	if status, _, body := h.Post(t, "/v1/messages", spreadBody(false, "hi"), nil); status != http.StatusTooManyRequests {
		t.Fatalf("status in a storm on both = %d, want 429 (body %.300s)", status, body)
	}
	east.SetFault("")
	west.SetFault("")
	eastBefore, westBefore := invokes(east), invokes(west)
	if status, _, body := h.Post(t, "/v1/messages", spreadBody(false, "hi"), nil); status != http.StatusOK {
		t.Fatalf("status with both cooling = %d, want 200 (body %.300s)", status, body)
	}
	// The east cooled first, so its cooldown ends first.
	if e, w := invokes(east)-eastBefore, invokes(west)-westBefore; e != 1 || w != 0 {
		t.Errorf("requests (east, west) with both cooling = (%d, %d), want (1, 0)", e, w)
	}
}

// TestNoRetryAfterFirstByte: a stream that fails after its first event ends
// with an in-stream error; the other region never sees the call.
func TestNoRetryAfterFirstByte(t *testing.T) {
	h := twoRegions(t, config.StrategyOrdered, nil, nil)
	status, _, body := h.Post(t, "/v1/messages", spreadBody(true, "hi [[sim:midstream-error throttlingException]]"), nil)
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200: the stream had started (body %.300s)", status, body)
	}
	if !strings.Contains(body, "event: error") {
		t.Errorf("stream lacks an in-stream error:\n%s", body)
	}
	if e, w := invokes(h.Sims["bedrock"]), invokes(h.Sims["west"]); e != 1 || w != 0 {
		t.Errorf("requests (east, west) = (%d, %d), want (1, 0): nothing is retried after the first byte", e, w)
	}
}

// TestWeightedSplit: first attempts follow the weights (3:1), with a seeded
// random source so that the count is the same on every run.
func TestWeightedSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	h := twoRegions(t, config.StrategyWeighted, router.NewHealth(nil, rng.IntN), func(_ *config.Config, east, west *config.Target) {
		three, one := 3, 1
		east.Weight, west.Weight = &three, &one
	})
	const n = 200
	for range n {
		if status, _, body := h.Post(t, "/v1/messages", spreadBody(false, "hi"), nil); status != http.StatusOK {
			t.Fatalf("status = %d (body %.300s)", status, body)
		}
	}
	e, w := invokes(h.Sims["bedrock"]), invokes(h.Sims["west"])
	if e+w != n || e < n*65/100 || e > n*85/100 {
		t.Errorf("requests (east, west) = (%d, %d), want %d in all and east 75%%±10%%", e, w, n)
	}
}

// stall starts a stream that the east region holds without a first event
// until the returned stop is called, and waits until the east has it: the
// east then has one call in flight.
func stall(t *testing.T, h *testutil.Harness, model string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.URL+"/v1/messages", strings.NewReader(strings.Replace(spreadBody(true, "hi [[sim:stall]]"), `"spread"`, `"`+model+`"`, 1)))
		req.Header.Set("x-api-key", testKey)
		req.Header.Set("anthropic-version", "2023-06-01")
		req.Header.Set("Content-Type", "application/json")
		if resp, err := h.Server.Client().Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	for invokes(h.Sims["bedrock"]) == 0 {
		select {
		case <-done:
			t.Fatal("the stalled call ended before reaching the east")
		case <-time.After(5 * time.Millisecond):
		}
	}
	return func() { cancel(); <-done }
}

// TestLeastBusyPrefersIdle: with a call in flight in the east, the next
// call goes to the idle west although the east is listed first.
func TestLeastBusyPrefersIdle(t *testing.T) {
	h := twoRegions(t, config.StrategyLeastBusy, nil, nil)
	stop := stall(t, h, "spread")
	defer stop()
	if status, _, body := h.Post(t, "/v1/messages", spreadBody(false, "hi"), nil); status != http.StatusOK {
		t.Fatalf("status = %d (body %.300s)", status, body)
	}
	if e, w := invokes(h.Sims["bedrock"]), invokes(h.Sims["west"]); e != 1 || w != 1 {
		t.Errorf("requests (east, west) = (%d, %d), want (1, 1): the idle west", e, w)
	}
}

// TestConcurrencyCapOverflows: a call over the east's max_concurrent waits
// its queue_timeout for a slot, then goes to the west.
func TestConcurrencyCapOverflows(t *testing.T) {
	h := twoRegions(t, config.StrategyOrdered, nil, func(_ *config.Config, east, _ *config.Target) {
		east.MaxConcurrent, east.QueueTimeout = 1, 50*time.Millisecond
	})
	stop := stall(t, h, "spread")
	defer stop()
	if status, _, body := h.Post(t, "/v1/messages", spreadBody(false, "hi"), nil); status != http.StatusOK {
		t.Fatalf("status = %d (body %.300s)", status, body)
	}
	if e, w := invokes(h.Sims["bedrock"]), invokes(h.Sims["west"]); e != 1 || w != 1 {
		t.Errorf("requests (east, west) = (%d, %d), want (1, 1): the west, after the queue wait", e, w)
	}
	series, _ := scrapeGateway(t, h)
	if key := "tollgate_target_queue_waits_total{outcome=busy,provider=bedrock,target=" + regionModel + "}"; series[key] != 1 {
		t.Errorf("%s = %v, want 1", key, series[key])
	}
}

// TestConcurrencyCapAllBusy: when no target has room the call gets an
// in-format 529 overloaded_error, and the upstream sees nothing.
func TestConcurrencyCapAllBusy(t *testing.T) {
	h := twoRegions(t, config.StrategyOrdered, nil, func(c *config.Config, _, _ *config.Target) {
		c.Models = append(c.Models, config.Model{Name: "capped", Targets: []config.Target{
			{Provider: "bedrock", Model: "global.anthropic.claude-haiku-4-5-20251001-v1:0", MaxConcurrent: 1, QueueTimeout: 20 * time.Millisecond},
		}})
	})
	stop := stall(t, h, "capped")
	defer stop()
	status, _, body := h.Post(t, "/v1/messages", `{"model":"capped","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if status != 529 || !strings.Contains(body, `"type":"overloaded_error"`) {
		t.Errorf("status = %d, body %.300s; want 529 overloaded_error", status, body)
	}
	if n := invokes(h.Sims["bedrock"]); n != 1 {
		t.Errorf("east requests = %d, want 1 (the stalled call only)", n)
	}
}
