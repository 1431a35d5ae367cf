package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"

	"github.com/tollgate-gw/tollgate/internal/buildinfo"
)

const dashboardPath = "../../deploy/grafana/dashboards/tollgate.json"

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title      string          `json:"title"`
	Type       string          `json:"type"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // collapsed rows nest their panels
}

// TestDashboardQueriesUseExportedMetrics loads the Grafana dashboard and
// checks that every metric named in a panel query or a variable query is
// one the registry really exports after a round of sample traffic, so that
// a renamed metric cannot leave a panel silently empty.
func TestDashboardQueriesUseExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("parse %s: %v", dashboardPath, err)
	}

	exported := exportedNames(t)
	used := map[string][]string{} // metric → panels using it
	var walk func([]panel)
	exprs := 0
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if len(p.Targets) > 0 && !strings.Contains(string(p.Datasource), "${datasource}") {
				t.Errorf("panel %q does not use the ${datasource} variable: %s", p.Title, p.Datasource)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q has a target without expr", p.Title)
					continue
				}
				exprs++
				for _, n := range metricNames(tg.Expr) {
					used[n] = append(used[n], p.Title)
				}
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := variableQuery(v.Query)
		for _, n := range metricNames(labelValuesExpr(q)) {
			used[n] = append(used[n], "variable $"+v.Name)
		}
	}
	if exprs < 20 {
		t.Fatalf("dashboard has %d queries; the parse probably failed", exprs)
	}

	for n, where := range used {
		if !exported[n] {
			t.Errorf("metric %s used by %q is not exported", n, where)
		}
	}

	// The dashboard covers what the issue asks for.
	for _, n := range []string{
		nameCost, nameTokens, nameRequests, nameDuration + "_bucket", nameTTFT + "_bucket",
		nameUpstreamErrors, nameRetries, nameFallbacks, nameInFlight, nameOpenStreams, nameRejections,
		nameAccessDenied, nameBudgetUsedUSD, nameBudgetLimitUSD, nameBudgetRemainingUSD,
		nameWriterQueueDepth, nameWriterDropped,
		nameWriterSpilled, nameWriterReplayed, nameWriterQuarantined, nameWriterFailing, nameWriterReady,
		nameBudgetAlerts, nameAlertDeliveries, nameAlertsDropped,
		nameAttempts, nameCooldowns, nameQueueWaits,
		nameChangeFeedListening, nameLeaseFailures, nameOpenMode, nameOverruns,
	} {
		if len(used[n]) == 0 {
			t.Errorf("no dashboard panel shows %s", n)
		}
	}
}

// exportedNames runs sample traffic through the API, scrapes the handler and
// returns every sample name it exports (histograms with their _bucket, _sum
// and _count series).
func exportedNames(t *testing.T) map[string]bool {
	m := New(buildinfo.Info{Version: "test"})
	m.ObserveRequest(benchSample())
	m.ObserveRequest(RequestSample{Door: DoorBedrock, Model: "claude-haiku-4-5", Provider: "bedrock", Status: 529,
		Origin: OriginUpstream, Duration: time.Second})
	m.InFlight(DoorAnthropic)
	m.OpenStream(DoorAnthropic)
	m.UpstreamError("bedrock", "ThrottlingException")
	m.Retry("bedrock")
	m.Fallback("claude-sonnet-4-5")
	m.Rejected(ReasonBudget)
	m.AccessDenied("api")
	m.RegisterBudgets(func() []BudgetSample {
		return []BudgetSample{{Scope: "team", Name: "platform", Period: "month", SpentMicros: 1, LimitMicros: 2,
			SpentTokens: 1, LimitTokens: 2, ResetAt: time.Now().Add(time.Hour)}}
	})
	m.RegisterWriter(func() WriterStats { return WriterStats{QueueDepth: 1, QueueCapacity: 10} })
	m.BudgetAlert("team", AlertThreshold, 80)
	m.AlertDelivery("ops", DeliveryDelivered)
	m.AlertDropped()
	m.RegisterOpenMode(func() bool { return false })
	m.RegisterReplicas(func() bool { return true }, func() int64 { return 0 })
	m.RegisterConfigReloads(func() (int64, int64) { return 1, 0 })
	// Labelled counters only export a series once counted.
	m.Attempt("bedrock", "anthropic.claude-sonnet-4-5", OutcomeThrottled)
	m.Cooldown("bedrock", "anthropic.claude-sonnet-4-5")
	m.QueueWait("bedrock", "anthropic.claude-sonnet-4-5", OutcomeAcquired)
	m.ReservationOverrun("claude-sonnet-4-5")

	fams, _ := scrape(t, m)
	out := map[string]bool{}
	for name, f := range fams {
		out[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		}
	}
	return out
}

// variableQuery returns a variable's query, stored by Grafana either as a
// string or as {"query": "..."}.
func variableQuery(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	json.Unmarshal(raw, &o)
	return o.Query
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*(?:,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*)?\)\s*$`)

// labelValuesExpr returns the series selector of a Grafana
// label_values(selector, label) query, "" for label_values(label), and the
// query itself otherwise (query_result(...) and plain PromQL).
func labelValuesExpr(q string) string {
	m := labelValuesRE.FindStringSubmatch(q)
	if m == nil {
		return q
	}
	if !strings.Contains(q, ",") {
		return "" // label_values(label): no metric
	}
	return m[1]
}

var (
	stringRE   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	matcherRE  = regexp.MustCompile(`\{[^{}]*\}`)
	rangeRE    = regexp.MustCompile(`\[[^\[\]]*\]`)
	groupingRE = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	tokenRE    = regexp.MustCompile(`[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?[a-zA-Z]*|\$?[a-zA-Z_:][a-zA-Z0-9_:]*`)

	promqlKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true, "offset": true, "bool": true, "inf": true, "nan": true,
		"Inf": true, "NaN": true,
	}
)

// metricNames returns the metric names a PromQL expression selects: every
// identifier that is not a function name, keyword, label name (in label
// matchers or grouping clauses), duration or Grafana variable.
func metricNames(expr string) []string {
	e := stringRE.ReplaceAllString(expr, `""`)
	e = matcherRE.ReplaceAllString(e, " ")
	e = rangeRE.ReplaceAllString(e, " ")
	e = groupingRE.ReplaceAllString(e, " ")
	seen := map[string]bool{}
	for _, loc := range tokenRE.FindAllStringIndex(e, -1) {
		tok := e[loc[0]:loc[1]]
		if tok[0] >= '0' && tok[0] <= '9' || tok[0] == '$' || promqlKeywords[tok] {
			continue
		}
		if rest := strings.TrimLeft(e[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // a function call
		}
		seen[tok] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`tollgate_requests_total`, []string{"tollgate_requests_total"}},
		{`sum by (user) (rate(tollgate_cost_usd_total{model=~"$model",user!="a{b}"}[$__rate_interval])) * 3600`,
			[]string{"tollgate_cost_usd_total"}},
		{`histogram_quantile(0.95, sum by (le, model) (rate(tollgate_time_to_first_token_seconds_bucket[5m])))`,
			[]string{"tollgate_time_to_first_token_seconds_bucket"}},
		{`max by (scope, name, period) (tollgate_budget_used_usd) / on (scope, name) group_left max(tollgate_budget_limit_usd offset 1h)`,
			[]string{"tollgate_budget_limit_usd", "tollgate_budget_used_usd"}},
		{`(min(tollgate_budget_reset_timestamp_seconds) - time()) / 3600 > bool 1e3`,
			[]string{"tollgate_budget_reset_timestamp_seconds"}},
		{`sum(rate(a_total[1m])) / sum(rate(b_total[1m])) and on() vector(1)`, []string{"a_total", "b_total"}},
		{`{__name__="x"}`, []string{}},
	}
	for _, tt := range tests {
		got := metricNames(tt.expr)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("metricNames(%q) (-want +got):\n%s", tt.expr, diff)
		}
	}

	for _, tt := range []struct{ q, want string }{
		{`label_values(tollgate_requests_total{instance=~"$instance"}, model)`, `tollgate_requests_total{instance=~"$instance"}`},
		{`label_values(model)`, ``},
		{`up{job="x"}`, `up{job="x"}`},
	} {
		if got := labelValuesExpr(tt.q); got != tt.want {
			t.Errorf("labelValuesExpr(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
}
