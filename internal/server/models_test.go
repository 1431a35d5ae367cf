package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/access"
	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/adminclient"
	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/router"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

const modelsAdminKey = "tg-admin-models-0123456789"

// modelsHarness starts a gateway with a second region ("west") and a file
// model "file-model", and returns an admin client for it.
func modelsHarness(t *testing.T, opts ...testutil.Option) (*testutil.Harness, *adminclient.Client) {
	t.Helper()
	base := []testutil.Option{
		testutil.WithEnv("TOLLGATE_ADMIN_KEY", modelsAdminKey),
		testutil.WithRegion("west", "us-west-2", nil),
		testutil.WithConfig(func(c *config.Config) {
			c.Models = append(c.Models, config.Model{Name: "file-model", Targets: []config.Target{{Provider: "bedrock", Model: regionModel}}})
		}),
	}
	h := newHarness(t, append(base, opts...)...)
	return h, adminclient.New(h.URL, modelsAdminKey, h.Server.Client(), "")
}

func modelBody(model string, stream bool, prompt string) string {
	return fmt.Sprintf(`{"model":%q,"max_tokens":20,"stream":%v,"messages":[{"role":"user","content":%q}]}`, model, stream, prompt)
}

func strp(s string) *string { return &s }

// upstreamIDs lists the model ids a simulator was called with.
func upstreamIDs(s *bedrocksim.Server) []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Op == bedrocksim.OpInvokeModel || r.Op == bedrocksim.OpInvokeModelWithResponseStream {
			out = append(out, r.ModelID)
		}
	}
	return out
}

// findModel returns the listed route of name from source.
func findModel(ms []admin.Model, name, source string) (admin.Model, bool) {
	for _, m := range ms {
		if m.Name == name && m.Source == source {
			return m, true
		}
	}
	return admin.Model{}, false
}

// TestRuntimeModels: a model added through the admin API is served by the
// next call, without a restart, at its own price; an update moves the next
// call; a removal makes it unknown; the listing shows every route with its
// source, and a database model that clashes with a file model is listed,
// flagged and not served; bad input is a 400 naming the field.
func TestRuntimeModels(t *testing.T) {
	h, c := modelsHarness(t)
	ctx := context.Background()

	if status, _, got := h.Post(t, "/v1/messages", modelBody("team-model", false, "hi"), nil); status != http.StatusNotFound {
		t.Fatalf("team-model before it exists = %d %.200s, want 404", status, got)
	}
	created, err := c.CreateModel(ctx, admin.ModelRequest{
		Name:    strp("team-model"),
		Targets: &[]admin.ModelTarget{{Provider: "west", Model: "eu.anthropic.claude-haiku-4-5-20251001-v1:0"}},
		Price:   admin.Some(admin.ModelPrice{Input: 1000, Output: 2000}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.Source != admin.SourceDatabase || !created.Served || created.PriceSource != admin.SourceDatabase || created.UpdatedBy == "" {
		t.Errorf("CreateModel = %+v, want a served database model with its own price and an author", created)
	}
	status, _, got := h.Post(t, "/v1/messages", modelBody("team-model", false, "hi [[sim:usage in=10 out=5 cw5m=0 cw1h=0 cr=0]]"), nil)
	if status != http.StatusOK {
		t.Fatalf("team-model after create = %d %.300s, want 200", status, got)
	}
	if ids := upstreamIDs(h.Sims["west"]); len(ids) != 1 || ids[0] != "eu.anthropic.claude-haiku-4-5-20251001-v1:0" {
		t.Errorf("west was called with %v, want the new model's target once", ids)
	}
	// Its own price: 10 × $1000/M + 5 × $2000/M = 20,000 µUSD.
	if err := h.Gateway.Writer.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := h.Gateway.Store.Usage(ctx, store.UsageQuery{By: store.ByModel, Model: "team-model"})
	if err != nil || len(rows) != 1 || rows[0].CostMicros != 20_000 || rows[0].Unpriced != 0 {
		t.Errorf("usage of team-model = %+v, %v; want one priced row costing 20000 µUSD", rows, err)
	}

	// An update applies to the next call.
	if _, err := c.UpdateModel(ctx, "team-model", admin.ModelRequest{
		Targets: &[]admin.ModelTarget{{Provider: "bedrock", Model: "us.anthropic.claude-haiku-4-5-20251001-v1:0"}},
		Price:   admin.Null[admin.ModelPrice](),
	}); err != nil {
		t.Fatal(err)
	}
	if status, _, got := h.Post(t, "/v1/messages", modelBody("team-model", false, "hi"), nil); status != http.StatusOK {
		t.Fatalf("team-model after update = %d %.300s", status, got)
	}
	if ids := upstreamIDs(h.Sim); len(ids) != 1 || ids[0] != "us.anthropic.claude-haiku-4-5-20251001-v1:0" {
		t.Errorf("bedrock was called with %v, want the updated target once", ids)
	}
	m, err := c.Model(ctx, "team-model")
	if err != nil || m.PriceSource != admin.SourceCatalog || m.Price == nil || m.Price.Input != 1.1 {
		t.Errorf("Model(team-model) after price: null = %+v, %v; want the catalog's haiku price with the regional premium ($1.10/M in)", m, err)
	}

	// A database model named like a file model: stored, listed, flagged,
	// not served; the file's model keeps serving.
	if _, err := c.CreateModel(ctx, admin.ModelRequest{Name: strp("FILE-MODEL"),
		Targets: &[]admin.ModelTarget{{Provider: "west", Model: "us.anthropic.claude-opus-4-1-20250805-v1:0"}}}); err != nil {
		t.Fatal(err)
	}
	all, err := c.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clash, ok := findModel(all, "FILE-MODEL", admin.SourceDatabase)
	if !ok || clash.Served || clash.ClashesWith != "file-model" || !strings.Contains(clash.Problem, "wins") {
		t.Errorf("listed clash = %+v, %v; want unserved, clashing with file-model", clash, ok)
	}
	sources := map[string]int{}
	for _, m := range all {
		sources[m.Source]++
	}
	if sources[admin.SourceFile] != 1 || sources[admin.SourceDatabase] != 2 || sources[admin.SourceCatalog] == 0 || sources[admin.SourcePattern] == 0 {
		t.Errorf("sources listed = %v, want 1 file, 2 database, catalog and pattern routes", sources)
	}
	if all[0].Name != "file-model" || all[0].Source != admin.SourceFile {
		t.Errorf("first route = %s (%s), want the file model first", all[0].Name, all[0].Source)
	}
	h.Sims["west"].Reset()
	if status, _, got := h.Post(t, "/v1/messages", modelBody("file-model", false, "hi"), nil); status != http.StatusOK || len(upstreamIDs(h.Sims["west"])) != 0 {
		t.Errorf("file-model = %d %.200s, west called %d times; want the file's target", status, got, len(upstreamIDs(h.Sims["west"])))
	}
	// The file's model cannot be edited through the API.
	var ae *adminclient.Error
	if _, err := c.UpdateModel(ctx, "file-model", admin.ModelRequest{DisplayName: strp("x")}); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		// FILE-MODEL matches ignoring case in the database: the update
		// reaches the database model, which is fine too.
		if err != nil {
			t.Errorf("UpdateModel(file-model) = %v", err)
		}
	}

	// Bad input: 400s that name the field.
	for name, tc := range map[string]struct {
		req  admin.ModelRequest
		want string
	}{
		"unknown provider":    {admin.ModelRequest{Name: strp("x1"), Targets: &[]admin.ModelTarget{{Provider: "nope", Model: regionModel}}}, "targets[0].provider"},
		"not a bedrock id":    {admin.ModelRequest{Name: strp("x2"), Targets: &[]admin.ModelTarget{{Provider: "bedrock", Model: "gpt-4o"}}}, "targets[0].model"},
		"api name on bedrock": {admin.ModelRequest{Name: strp("x3"), Targets: &[]admin.ModelTarget{{Provider: "bedrock", Model: "claude-sonnet-4-5"}}}, "targets[0].model"},
		"no targets":          {admin.ModelRequest{Name: strp("x4"), Targets: &[]admin.ModelTarget{}}, "targets"},
		"glob in name":        {admin.ModelRequest{Name: strp("x*"), Targets: &[]admin.ModelTarget{{Provider: "bedrock", Model: regionModel}}}, "name"},
		"weight on ordered":   {admin.ModelRequest{Name: strp("x5"), Targets: &[]admin.ModelTarget{{Provider: "bedrock", Model: regionModel, Weight: new(int)}}}, "targets[0].weight"},
		"beta without field":  {admin.ModelRequest{Name: strp("x6"), DropBetas: &[]string{"context-management-2025-06-27"}, Targets: &[]admin.ModelTarget{{Provider: "bedrock", Model: regionModel}}}, "drop_betas[0]"},
		"negative price":      {admin.ModelRequest{Name: strp("x7"), Targets: &[]admin.ModelTarget{{Provider: "bedrock", Model: regionModel}}, Price: admin.Some(admin.ModelPrice{Input: -1})}, "price.input"},
	} {
		_, err := c.CreateModel(ctx, tc.req)
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, tc.want) {
			t.Errorf("%s: CreateModel = %v, want a 400 naming %s", name, err, tc.want)
		}
	}

	// A removal makes the name unknown again.
	if err := c.DeleteModel(ctx, "team-model"); err != nil {
		t.Fatal(err)
	}
	if status, _, got := h.Post(t, "/v1/messages", modelBody("team-model", false, "hi"), nil); status != http.StatusNotFound {
		t.Errorf("team-model after delete = %d %.200s, want 404", status, got)
	}
	if err := c.DeleteModel(ctx, "team-model"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("DeleteModel twice = %v, want 404", err)
	}
}

// TestRuntimeModelTest: POST /admin/models/{name}/test sends one call
// through the route and reports its status, target, latency and the
// upstream's request id; a failing upstream is reported with its origin.
func TestRuntimeModelTest(t *testing.T) {
	h, c := modelsHarness(t, testutil.WithoutRetries())
	ctx := context.Background()
	res, err := c.TestModel(ctx, "file-model")
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.Status != http.StatusOK || res.Provider != "bedrock" || res.Target != regionModel || res.UpstreamRequestID == "" || res.RequestID == "" || res.Attempts != 1 {
		t.Errorf("TestModel(file-model) = %+v, want ok through bedrock with an upstream request id", res)
	}
	if reqs := h.Sim.Requests(); len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), `"max_tokens":1`) {
		t.Errorf("the simulator got %d requests, want one with max_tokens 1", len(reqs))
	}
	if err := h.Sim.SetFault("denied no access to this model"); err != nil {
		t.Fatal(err)
	}
	res, err = c.TestModel(ctx, "file-model")
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Status != http.StatusForbidden || res.ErrorOrigin != "upstream" || !strings.Contains(res.Error, "no access") {
		t.Errorf("TestModel on a refusing upstream = %+v, want 403 from upstream", res)
	}
	res, err = c.TestModel(ctx, "no-such-model")
	if err != nil || res.OK || res.Status != http.StatusNotFound || res.ErrorOrigin != "client" {
		t.Errorf("TestModel(no-such-model) = %+v, %v; want a client 404", res, err)
	}
}

// TestStreamSurvivesModelChange: a stream in flight keeps the route and
// price it started with while its model is moved to another region,
// repriced and then removed; the next call sees each change at once.
func TestStreamSurvivesModelChange(t *testing.T) {
	h, c := modelsHarness(t)
	ctx := context.Background()
	if _, err := c.CreateModel(ctx, admin.ModelRequest{Name: strp("moving"),
		Targets: &[]admin.ModelTarget{{Provider: "bedrock", Model: regionModel}},
		Price:   admin.Some(admin.ModelPrice{Input: 1000, Output: 1000})}); err != nil {
		t.Fatal(err)
	}
	// About 60 output tokens at 20 tokens/s: the stream runs for about
	// three seconds, long after the changes below are in force (checked
	// below through tollgate_open_streams, not assumed).
	text := strings.Repeat("word ", 60)
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/v1/messages",
		strings.NewReader(modelBody("moving", true, "[[sim:text "+text+"]] [[sim:tps 20]] [[sim:usage in=10 out=40 cw5m=0 cw1h=0 cr=0]]")))
	req.Header.Set("x-api-key", testKey)
	req.Header.Set("content-type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := h.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream = %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.Contains(sc.Text(), "content_block_delta") {
	}

	// In flight: move the model to west at another price, then remove it.
	if _, err := c.UpdateModel(ctx, "moving", admin.ModelRequest{
		Targets: &[]admin.ModelTarget{{Provider: "west", Model: regionModel}},
		Price:   admin.Some(admin.ModelPrice{Input: 1, Output: 1})}); err != nil {
		t.Fatal(err)
	}
	if status, _, got := h.Post(t, "/v1/messages", modelBody("moving", false, "hi"), nil); status != http.StatusOK || len(upstreamIDs(h.Sims["west"])) != 1 {
		t.Errorf("a new call after the update = %d %.200s, west called %d times; want west once", status, got, len(upstreamIDs(h.Sims["west"])))
	}
	if err := c.DeleteModel(ctx, "moving"); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := h.Post(t, "/v1/messages", modelBody("moving", false, "hi"), nil); status != http.StatusNotFound {
		t.Errorf("a new call after the removal = %d, want 404", status)
	}
	if series, _ := scrapeGateway(t, h); series["tollgate_open_streams{door=anthropic}"] != 1 {
		t.Fatalf("open streams after the changes = %v, want 1: the stream ended too early for this test to prove anything", series["tollgate_open_streams{door=anthropic}"])
	}

	var stopped bool
	for sc.Scan() {
		if strings.Contains(sc.Text(), "message_stop") {
			stopped = true
		}
	}
	if !stopped || sc.Err() != nil {
		t.Fatalf("the stream in flight did not finish: message_stop %v, err %v", stopped, sc.Err())
	}
	resp.Body.Close()
	if err := h.Gateway.Writer.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := h.Gateway.Store.Usage(ctx, store.UsageQuery{By: store.ByModel, Model: "moving"})
	if err != nil {
		t.Fatal(err)
	}
	var streamed *store.UsageRow
	var total int64
	for i := range rows {
		total += rows[i].Requests
		streamed = &rows[i]
	}
	// Two calls: the stream at the old price (10 + 40 tokens × $1000/M =
	// 50,000 µUSD) and the new call at $1/M (a few µUSD).
	if total != 2 || streamed.CostMicros < 50_000 || streamed.CostMicros > 50_100 {
		t.Errorf("usage of moving = %+v, want 2 calls costing 50,000 µUSD for the stream plus the new call's few", rows)
	}
	if ids := upstreamIDs(h.Sim); len(ids) != 1 {
		t.Errorf("bedrock was called %d times, want once (the stream)", len(ids))
	}
}

// TestSwapKeepsCooldowns: a target cooling down after a throttle stays
// cooling when the routing is rebuilt (a runtime model added), so calls do
// not go back to a throttling region because of an unrelated change.
func TestSwapKeepsCooldowns(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	health := router.NewHealth(clock.now, nil)
	h, c := modelsHarness(t, testutil.WithTargetHealth(health), testutil.WithoutRetries(), testutil.WithConfig(func(c *config.Config) {
		c.Models = append(c.Models, config.Model{Name: "spread", Targets: []config.Target{
			{Provider: "bedrock", Model: regionModel}, {Provider: "west", Model: regionModel}}})
	}))
	ctx := context.Background()
	if err := h.Sim.SetFault("throttle"); err != nil {
		t.Fatal(err)
	}
	if status, _, got := h.Post(t, "/v1/messages", spreadBody(false, "hi"), nil); status != http.StatusOK {
		t.Fatalf("first call = %d %.200s, want 200 from west after east throttled", status, got)
	}
	if err := h.Sim.SetFault(""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateModel(ctx, admin.ModelRequest{Name: strp("unrelated"),
		Targets: &[]admin.ModelTarget{{Provider: "bedrock", Model: "us.anthropic.claude-haiku-4-5-20251001-v1:0"}}}); err != nil {
		t.Fatal(err)
	}
	before := invokes(h.Sim)
	if status, _, got := h.Post(t, "/v1/messages", spreadBody(false, "again"), nil); status != http.StatusOK {
		t.Fatalf("call after the swap = %d %.200s", status, got)
	}
	if invokes(h.Sim) != before {
		t.Error("the call after the swap went to the throttled region: its cooldown was lost")
	}
	// Once the cooldown is over, the east serves again.
	clock.advance(config.DefaultCooldown)
	if status, _, got := h.Post(t, "/v1/messages", spreadBody(false, "again"), nil); status != http.StatusOK || invokes(h.Sim) != before+1 {
		t.Errorf("call after the cooldown = %d %.200s, east called %d times, want %d", status, got, invokes(h.Sim), before+1)
	}
}

// TestReplicasServeModelAddedElsewhere: a model added through one
// replica's admin API is served by the others within a second (the
// change feed on PostgreSQL), and a removal likewise.
func TestReplicasServeModelAddedElsewhere(t *testing.T) {
	hs := replicas(t, 3, testutil.WithStaticKey("tester", testKey), testutil.WithEnv("TOLLGATE_ADMIN_KEY", modelsAdminKey))
	ctx := context.Background()
	c := adminclient.New(hs[0].URL, modelsAdminKey, hs[0].Server.Client(), "")
	waitFor(t, "every replica listening", func() bool {
		for _, h := range hs {
			_, _, got := h.Do(t, http.MethodGet, "/readyz?verbose=1", "", nil)
			if !strings.Contains(got, `"listening":true`) {
				return false
			}
		}
		return true
	}, 10*time.Second)
	body := modelBody("shared-model", false, "hi")
	status := func(h *testutil.Harness) int {
		st, _, _ := h.Post(t, "/v1/messages", body, nil)
		return st
	}
	for _, h := range hs {
		if st := status(h); st != http.StatusNotFound {
			t.Fatalf("shared-model before it exists = %d, want 404", st)
		}
	}
	if _, err := c.CreateModel(ctx, admin.ModelRequest{Name: strp("shared-model"),
		Targets: &[]admin.ModelTarget{{Provider: "bedrock", Model: regionModel}}}); err != nil {
		t.Fatal(err)
	}
	added := time.Now()
	for i, h := range hs[1:] {
		waitFor(t, fmt.Sprintf("replica %d to serve the new model", i+1), func() bool { return status(h) == http.StatusOK }, time.Second)
	}
	served := time.Since(added)
	if err := c.DeleteModel(ctx, "shared-model"); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	for i, h := range hs[1:] {
		waitFor(t, fmt.Sprintf("replica %d to drop the removed model", i+1), func() bool { return status(h) == http.StatusNotFound }, time.Second)
	}
	t.Logf("model added on one replica served by the others within %v, removal within %v",
		served.Round(time.Millisecond), time.Since(removed).Round(time.Millisecond))
}

// TestReloadConfigSwapsAccessRulesAndPrices: Gateway.ReloadConfig (what
// SIGHUP calls) applies new access rules and prices to the next request,
// and a load that fails changes nothing.
func TestReloadConfigSwapsAccessRulesAndPrices(t *testing.T) {
	h, _ := modelsHarness(t)
	ctx := context.Background()
	next := *h.Config
	next.Access = access.Config{Rules: []access.Rule{{Name: "api", Paths: []string{"/v1/*"},
		AllowCIDRs: []string{"203.0.113.0/24"}, AllowHeader: &access.Header{Name: "X-Door", Secrets: []string{"door-secret-0123456789abcdef"}}}}}
	next.Prices = append(slices.Clone(next.Prices), config.Price{Match: "file-model", Input: 1000, Output: 1000})
	if err := next.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := h.Gateway.ReloadConfig(ctx, func() (*config.Config, error) { return nil, errors.New("bad file") }); err == nil {
		t.Fatal("ReloadConfig with a failing load = nil, want its error")
	}
	if status, _, got := h.Post(t, "/v1/messages", modelBody("file-model", false, "hi"), nil); status != http.StatusOK {
		t.Fatalf("after a refused reload = %d %.200s, want 200", status, got)
	}
	if err := h.Gateway.ReloadConfig(ctx, func() (*config.Config, error) { return &next, nil }); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := h.Post(t, "/v1/messages", modelBody("file-model", false, "hi"), nil); status != http.StatusForbidden {
		t.Errorf("without the access header after the reload = %d, want 403", status)
	}
	status, _, got := h.Post(t, "/v1/messages", modelBody("file-model", false, "hi [[sim:usage in=1 out=1 cw5m=0 cw1h=0 cr=0]]"),
		map[string]string{"X-Door": "door-secret-0123456789abcdef"})
	if status != http.StatusOK {
		t.Fatalf("with the access header = %d %.200s", status, got)
	}
	if err := h.Gateway.Writer.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := h.Gateway.Store.Usage(ctx, store.UsageQuery{By: store.ByModel, Model: "file-model"})
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for _, r := range rows {
		last += r.CostMicros
	}
	// The first call at the catalog's price (a few hundred µUSD), the last
	// at the reloaded $1000/M in and out: 2000 µUSD more.
	if last < 2000 || last > 3000 {
		t.Errorf("cost of file-model calls = %d µUSD, want the reloaded price (2000) plus the first call's", last)
	}
	_, _, body := h.Do(t, http.MethodGet, "/readyz?verbose=1", "", nil)
	if !strings.Contains(body, `"config_reload":{`) || !strings.Contains(body, `"result":"ok"`) {
		t.Errorf("/readyz?verbose=1 lacks the last reload: %.500s", body)
	}
}
