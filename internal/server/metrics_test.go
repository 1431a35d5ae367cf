package server_test

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tollgate-gw/tollgate/internal/access"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// scrapeGateway reads /metrics from the gateway and returns every series as
// "name{label=value,...}" → value (histograms: their count).
func scrapeGateway(t *testing.T, h *testutil.Harness) (map[string]float64, string) {
	t.Helper()
	status, _, body := h.Do(t, "GET", "/metrics", "", nil)
	if status != 200 {
		t.Fatalf("GET /metrics = %d", status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(parts)
			key := name + "{" + strings.Join(parts, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out, body
}

// TestMetricsAfterTraffic drives real traffic — successes, an upstream
// error with retries, a budget refusal, a bad key, an access denial — and
// checks the series /metrics then exports.
func TestMetricsAfterTraffic(t *testing.T) {
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) {
		c.Access = access.Config{Rules: []access.Rule{{
			Name:       "admin",
			Paths:      []string{"/admin/*"},
			AllowCIDRs: []string{"192.0.2.0/24"},
		}}}
	}))
	p := h.NewPrincipal(t, "mia", testutil.PrincipalSpec{UserUSD: 0.002})
	ok := `{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi [[sim:usage in=100 out=20 cw5m=300 cw1h=0 cr=40]]"}]}`
	for i := 0; i < 2; i++ {
		if status, _, body := h.Post(t, "/v1/messages", ok, map[string]string{"x-api-key": p.Secret}); status != 200 {
			t.Fatalf("status %d %s", status, body)
		}
	}
	h.Post(t, "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"x [[sim:throttle 99]]"}]}`, map[string]string{"x-api-key": p.Secret})
	h.Post(t, "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":30000,"messages":[{"role":"user","content":"big"}]}`, map[string]string{"x-api-key": p.Secret})
	h.Post(t, "/v1/messages", ok, map[string]string{"x-api-key": "wrong"})
	if status, hdr, _ := h.Do(t, "GET", "/admin/users", "", nil); status != 403 || hdr.Get("x-tollgate-error-origin") != "client" {
		t.Errorf("admin from a non-allowlisted IP = %d origin %q, want 403 client", status, hdr.Get("x-tollgate-error-origin"))
	}

	got, body := scrapeGateway(t, h)
	want := map[string]float64{
		`tollgate_requests_total{door=anthropic,model=claude-haiku-4-5-20251001,origin=none,provider=bedrock,status=200}`:     2,
		`tollgate_requests_total{door=anthropic,model=claude-haiku-4-5-20251001,origin=upstream,provider=bedrock,status=429}`: 1,
		`tollgate_tokens_total{kind=input,model=claude-haiku-4-5-20251001}`:                                                   200,
		`tollgate_tokens_total{kind=output,model=claude-haiku-4-5-20251001}`:                                                  40,
		`tollgate_tokens_total{kind=cache_write_5m,model=claude-haiku-4-5-20251001}`:                                          600,
		`tollgate_tokens_total{kind=cache_read,model=claude-haiku-4-5-20251001}`:                                              80,
		`tollgate_upstream_errors_total{provider=bedrock,type=rate_limit_error}`:                                              3,
		`tollgate_upstream_retries_total{provider=bedrock}`:                                                                   2,
		`tollgate_rejections_total{reason=budget}`:                                                                            1,
		`tollgate_rejections_total{reason=auth}`:                                                                              1,
		`tollgate_access_denied_total{group=admin}`:                                                                           1,
		`tollgate_request_duration_seconds{door=anthropic,model=claude-haiku-4-5-20251001,stream=false}`:                      3, // two answered, one refused for budget
		`tollgate_in_flight_requests{door=anthropic}`:                                                                         0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	var cost float64
	for k, v := range got {
		if strings.HasPrefix(k, "tollgate_cost_usd_total{") && strings.Contains(k, "user=mia") {
			cost += v
		}
	}
	if cost <= 0 {
		t.Errorf("no cost recorded for user mia:\n%s", body)
	}
	if got[`tollgate_budget_limit_usd{name=mia,period=day,scope=user}`] != 0.002 {
		t.Errorf("budget gauge missing or wrong:\n%s", grepLines(body, "tollgate_budget_"))
	}
	for _, secret := range []string{p.Secret, p.KeyID, p.UserID} {
		if strings.Contains(body, secret) {
			t.Errorf("metrics expose %q", secret)
		}
	}
}

// TestDashboardMatchesGatewayMetrics loads the Grafana dashboard and checks
// that every metric any panel queries is exported by a real gateway's
// /metrics after traffic: a renamed metric must break this test, not a
// customer's dashboard.
//
// A few metrics exist only on a gateway whose database is PostgreSQL (the
// replica metrics): on SQLite they must be absent, and the PostgreSQL run
// (skipped without TOLLGATE_TEST_POSTGRES_URL, required in CI) must export
// them.
func TestDashboardMatchesGatewayMetrics(t *testing.T) {
	for _, tt := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresDSN(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) { testDashboardMatchesGatewayMetrics(t, tt.dsn(t)) })
	}
}

// postgresOnlyMetrics are exported only by a gateway on PostgreSQL.
var postgresOnlyMetrics = map[string]bool{
	"tollgate_change_feed_listening":       true,
	"tollgate_budget_lease_failures_total": true,
}

// testDashboardMatchesGatewayMetrics runs the dashboard check against a
// gateway on dsn ("" for the harness's SQLite).
func testDashboardMatchesGatewayMetrics(t *testing.T, dsn string) {
	raw, err := os.ReadFile("../../deploy/grafana/dashboards/tollgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "expr" {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	walk(doc)
	if len(exprs) < 10 {
		t.Fatalf("found only %d panel queries in the dashboard", len(exprs))
	}

	rcv := newWebhookReceiver(t)
	// Traffic that makes every series exist: a success, an upstream error
	// retried and then failed over to a second target, a call that uses
	// more than it reserved, a denial by an access rule, USD and token
	// budgets.
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) {
		if dsn != "" {
			c.Database = dsn
		}
		c.Models = append(c.Models, config.Model{Name: "capped", Targets: []config.Target{
			{Provider: "bedrock", Model: "global.anthropic.claude-haiku-4-5-20251001-v1:0", MaxConcurrent: 1, QueueTimeout: 20 * time.Millisecond},
		}})
		c.Alerts.Sinks = []config.AlertSink{{Name: "ops", Type: config.SinkWebhook, URL: rcv.srv.URL, Secret: alertSecret}}
		c.Alerts.RetryBackoff = time.Millisecond
		c.Models = append(c.Models, config.Model{Name: "two-targets", Targets: []config.Target{
			{Provider: "bedrock", Model: "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
			{Provider: "bedrock", Model: "global.anthropic.claude-haiku-4-5-20251001-v1:0"},
		}})
		c.Access = access.Config{Rules: []access.Rule{{Name: "admin", Paths: []string{"/admin/*"}, AllowCIDRs: []string{"192.0.2.0/24"}}}}
	}))
	// A call waits for the slot of a target at max_concurrent, held by a
	// stalled call (before any other traffic: stall waits for the first
	// upstream request).
	stop := stall(t, h, "capped")
	h.Post(t, "/v1/messages", `{"model":"capped","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, nil)
	stop()
	p := h.NewPrincipal(t, "dash", testutil.PrincipalSpec{UserUSD: 10, TeamUSD: 10, UserTokens: 1_000_000})
	auth := map[string]string{"x-api-key": p.Secret}
	h.Post(t, "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi [[sim:usage in=10 out=5 cw5m=3 cw1h=2 cr=1]]"}]}`, auth)
	if status, _, body := h.Post(t, "/v1/messages", `{"model":"two-targets","max_tokens":10,"messages":[{"role":"user","content":"hi [[sim:throttle 3]]"}]}`, auth); status != 200 {
		t.Fatalf("fallback call = %d %s", status, body)
	}
	// The upstream reports far more input than the body can hold: a
	// reservation overrun.
	if status, _, body := h.Post(t, "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi [[sim:usage in=100000 out=5 cw5m=0 cw1h=0 cr=0]]"}]}`, auth); status != 200 {
		t.Fatalf("overrun call = %d %s", status, body)
	}
	// A budget refusal raises an alert, delivered to the webhook sink.
	broke := h.NewPrincipal(t, "broke", testutil.PrincipalSpec{KeyUSD: 0.000001})
	if status, _, body := h.Post(t, "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, map[string]string{"x-api-key": broke.Secret}); status != 429 {
		t.Fatalf("over-budget call = %d %s", status, body)
	}
	h.Do(t, "GET", "/admin/users", "", nil)
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, body = scrapeGateway(t, h)
		delivered := strings.Contains(body, "tollgate_alert_deliveries_total{")
		if delivered || time.Now().After(deadline) {
			break
		}
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`tollgate_[a-z0-9_]+`)
	for _, e := range exprs {
		for _, m := range name.FindAllString(e, -1) {
			base := m
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if f, ok := fams[strings.TrimSuffix(m, suf)]; ok && strings.HasSuffix(m, suf) && f.GetType() == dto.MetricType_HISTOGRAM {
					base = strings.TrimSuffix(m, suf)
				}
			}
			_, ok := fams[base]
			switch {
			case dsn == "" && postgresOnlyMetrics[base]:
				if ok {
					t.Errorf("%s is exported on SQLite; drop it from postgresOnlyMetrics", base)
				}
			case !ok:
				t.Errorf("dashboard queries %s (in %q), which /metrics does not export", m, e)
			}
		}
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
