package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tollgate-gw/tollgate/internal/buildinfo"
	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// scrape fetches m's handler through a real HTTP server and parses the text
// exposition.
func scrape(t testing.TB, m *Metrics) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200: %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, body)
	}
	return fams, string(body)
}

// series returns the samples of one family as "label=value,..." → value;
// histograms report their sample count.
func series(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	f := fams[name]
	if f == nil {
		return nil
	}
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		var parts []string
		for _, l := range m.GetLabel() {
			parts = append(parts, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(parts)
		var v float64
		switch {
		case m.Counter != nil:
			v = m.GetCounter().GetValue()
		case m.Gauge != nil:
			v = m.GetGauge().GetValue()
		case m.Histogram != nil:
			v = float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			v = m.GetUntyped().GetValue()
		}
		out[strings.Join(parts, ",")] = v
	}
	return out
}

func TestObserveRequest(t *testing.T) {
	m := New(buildinfo.Info{Version: "1.2.3", Revision: "0123456789ab", Time: "2026-01-02T15:04:05Z", GoVersion: "go1.26.8", Modified: true})
	m.ObserveRequest(RequestSample{
		Door: DoorAnthropic, Model: "claude-sonnet-4-5", Provider: "bedrock", Status: 200, Stream: true,
		Duration: 3 * time.Second, TTFT: 400 * time.Millisecond,
		Tokens:     tokens.Counts{Input: 10, Output: 200, CacheWrite5m: 1000, CacheWrite1h: 2000, CacheRead: 5000},
		CostMicros: 12_345, KeyAlias: "alice-laptop", UserAlias: "alice", TeamAlias: "platform",
	})
	m.ObserveRequest(RequestSample{
		Door: DoorAnthropic, Model: "claude-sonnet-4-5", Provider: "bedrock", Status: 200, Stream: true,
		Duration: time.Second, TTFT: 200 * time.Millisecond,
		Tokens:     tokens.Counts{Input: 5, Output: 100},
		CostMicros: 1_000, KeyAlias: "alice-laptop", UserAlias: "alice", TeamAlias: "platform",
	})
	m.ObserveRequest(RequestSample{
		Door: DoorBedrock, Model: "claude-haiku-4-5", Provider: "bedrock", Status: 429, Origin: OriginUpstream,
		Duration: 50 * time.Millisecond, KeyAlias: "ci-org-app", TeamAlias: "platform",
	})
	m.ObserveRequest(RequestSample{Door: DoorAnthropic, Status: 401, Origin: OriginClient, Duration: time.Millisecond})

	fams, _ := scrape(t, m)
	tests := []struct {
		name string
		want map[string]float64
	}{
		{nameRequests, map[string]float64{
			"door=anthropic,model=claude-sonnet-4-5,origin=none,provider=bedrock,status=200":  2,
			"door=bedrock,model=claude-haiku-4-5,origin=upstream,provider=bedrock,status=429": 1,
			"door=anthropic,model=none,origin=client,provider=none,status=401":                1,
		}},
		{nameDuration, map[string]float64{
			"door=anthropic,model=claude-sonnet-4-5,stream=true": 2,
			"door=bedrock,model=claude-haiku-4-5,stream=false":   1,
			"door=anthropic,model=none,stream=false":             1,
		}},
		{nameTTFT, map[string]float64{
			"door=anthropic,model=claude-sonnet-4-5": 2,
		}},
		{nameTokens, map[string]float64{
			"kind=input,model=claude-sonnet-4-5":          15,
			"kind=output,model=claude-sonnet-4-5":         300,
			"kind=cache_write_5m,model=claude-sonnet-4-5": 1000,
			"kind=cache_write_1h,model=claude-sonnet-4-5": 2000,
			"kind=cache_read,model=claude-sonnet-4-5":     5000,
		}},
		{nameCost, map[string]float64{
			"key=alice-laptop,model=claude-sonnet-4-5,team=platform,user=alice": 0.013345,
		}},
		{nameBuildInfo, map[string]float64{"date=2026-01-02T15:04:05Z,goversion=go1.26.8,modified=true,revision=0123456789ab,version=1.2.3": 1}},
	}
	for _, tt := range tests {
		got := series(fams, tt.name)
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(approx)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}

	// The duration histogram put 3 s and 1 s into the right buckets.
	for _, s := range fams[nameDuration].GetMetric() {
		if labelOf(s, labelStream) != "true" {
			continue
		}
		h := s.GetHistogram()
		if h.GetSampleSum() != 4 {
			t.Errorf("duration sum = %v, want 4", h.GetSampleSum())
		}
		for _, b := range h.GetBucket() {
			want := uint64(0)
			switch {
			case b.GetUpperBound() >= 5:
				want = 2
			case b.GetUpperBound() >= 1:
				want = 1
			}
			if b.GetCumulativeCount() != want {
				t.Errorf("duration bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	}
}

func approx(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestCountersAndGauges(t *testing.T) {
	m := New(buildinfo.Info{Version: "dev"})
	doneA := m.InFlight(DoorAnthropic)
	m.InFlight(DoorAnthropic)
	doneB := m.InFlight(DoorBedrock)
	closeS := m.OpenStream(DoorAnthropic)
	doneA()
	doneB()
	closeS()
	m.OpenStream(DoorOpenAI)
	m.OpenStream("gopher") // no such door: counted as other

	m.UpstreamError("bedrock", "ThrottlingException")
	m.UpstreamError("bedrock", "ThrottlingException")
	m.UpstreamError("anthropic", "overloaded_error")
	m.Retry("bedrock")
	m.Retry("bedrock")
	m.Fallback("claude-sonnet-4-5")
	m.ReservationOverrun("claude-sonnet-4-5")
	m.ReservationOverrun("claude-sonnet-4-5")
	m.Rejected(ReasonBudget)
	m.Rejected(ReasonRateLimit)
	m.Rejected(ReasonAuth)
	m.Rejected(ReasonModelNotAllowed)
	m.Rejected("something-new")
	m.AccessDenied("api")
	m.AccessDenied("admin")
	m.AccessDenied("api")

	fams, _ := scrape(t, m)
	tests := []struct {
		name string
		want map[string]float64
	}{
		{nameInFlight, map[string]float64{"door=anthropic": 1, "door=bedrock": 0, "door=openai": 0, "door=other": 0}},
		{nameOpenStreams, map[string]float64{"door=anthropic": 0, "door=bedrock": 0, "door=openai": 1, "door=other": 1}},
		{nameUpstreamErrors, map[string]float64{
			"provider=bedrock,type=ThrottlingException": 2,
			"provider=anthropic,type=overloaded_error":  1,
		}},
		{nameRetries, map[string]float64{"provider=bedrock": 2}},
		{nameFallbacks, map[string]float64{"model=claude-sonnet-4-5": 1}},
		{nameOverruns, map[string]float64{"model=claude-sonnet-4-5": 2}},
		{nameRejections, map[string]float64{
			"reason=budget": 1, "reason=rate_limit": 1, "reason=auth": 1, "reason=model_not_allowed": 1,
			"reason=access": 3, "reason=other": 1,
		}},
		{nameAccessDenied, map[string]float64{"group=api": 2, "group=admin": 1}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, series(fams, tt.name)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestBudgetsAndWriter(t *testing.T) {
	m := New(buildinfo.Info{Version: "dev"})
	fams, _ := scrape(t, m)
	if fams[nameBudgetUsedUSD] != nil || fams[nameWriterQueueDepth] != nil {
		t.Fatalf("budget or writer metrics exported before anything was registered")
	}

	reset := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	budgets := []BudgetSample{
		{Scope: "team", Name: "platform", Period: "month", SpentMicros: 120_500_000, ReservedMicros: 2_000_000,
			LimitMicros: 200_000_000, SpentTokens: 9_000_000, ResetAt: reset},
		{Scope: "key", Name: "ci-org-app", Period: "total", SpentMicros: 5_000_000, SpentTokens: 100,
			LimitTokens: 1000, ReservedTokens: 950},
		// Duplicate identity: skipped rather than breaking the scrape.
		{Scope: "team", Name: "platform", Period: "month", SpentMicros: 1},
	}
	m.RegisterBudgets(func() []BudgetSample { return budgets })
	m.RegisterWriter(func() WriterStats {
		return WriterStats{QueueDepth: 7, QueueCapacity: 100_000, Written: 12_000, Dropped: 3, FailedFlushes: 1,
			Spilled: 40, Replayed: 30, Quarantined: 2, SpillBytes: 4096, Ready: true,
			FailingSince: reset.Add(-90 * time.Second), LastWrite: reset.Add(-2 * time.Minute), Now: reset}
	})

	fams, _ = scrape(t, m)
	team := "name=platform,period=month,scope=team"
	key := "name=ci-org-app,period=total,scope=key"
	tests := []struct {
		name string
		want map[string]float64
	}{
		{nameBudgetUsedUSD, map[string]float64{team: 120.5, key: 5}},
		{nameBudgetReservedUSD, map[string]float64{team: 2, key: 0}},
		{nameBudgetLimitUSD, map[string]float64{team: 200}},
		{nameBudgetRemainingUSD, map[string]float64{team: 77.5}},
		{nameBudgetUsedTokens, map[string]float64{team: 9_000_000, key: 100}},
		{nameBudgetReservedTokens, map[string]float64{team: 0, key: 950}},
		{nameBudgetLimitTokens, map[string]float64{key: 1000}},
		{nameBudgetRemainingTokens, map[string]float64{key: 0}},
		{nameBudgetResetTime, map[string]float64{team: float64(reset.Unix())}},
		{nameWriterQueueDepth, map[string]float64{"": 7}},
		{nameWriterQueueCapacity, map[string]float64{"": 100_000}},
		{nameWriterWritten, map[string]float64{"": 12_000}},
		{nameWriterDropped, map[string]float64{"": 3}},
		{nameWriterFailedFlushes, map[string]float64{"": 1}},
		{nameWriterSpilled, map[string]float64{"": 40}},
		{nameWriterReplayed, map[string]float64{"": 30}},
		{nameWriterQuarantined, map[string]float64{"": 2}},
		{nameWriterSpillBytes, map[string]float64{"": 4096}},
		{nameWriterFailing, map[string]float64{"": 90}},
		{nameWriterLastWrite, map[string]float64{"": float64(reset.Add(-2 * time.Minute).Unix())}},
		{nameWriterReady, map[string]float64{"": 1}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, series(fams, tt.name), cmp.Comparer(approx)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}

	// The snapshot is read at every scrape, and can be replaced.
	budgets = budgets[:1]
	budgets[0].SpentMicros = 150_000_000
	fams, _ = scrape(t, m)
	if diff := cmp.Diff(map[string]float64{team: 150}, series(fams, nameBudgetUsedUSD)); diff != "" {
		t.Errorf("after change (-want +got):\n%s", diff)
	}
	m.RegisterBudgets(nil)
	m.RegisterWriter(nil)
	fams, _ = scrape(t, m)
	if fams[nameBudgetUsedUSD] != nil || fams[nameWriterQueueDepth] != nil {
		t.Errorf("budget or writer metrics still exported after unregistering")
	}
}

func TestLabelCaps(t *testing.T) {
	m := NewWithCaps(buildinfo.Info{Version: "dev"}, Caps{Models: 3, Users: 2})
	for i := range 10 {
		m.ObserveRequest(RequestSample{Door: DoorAnthropic, Model: fmt.Sprintf("claude-x-%d", i), Status: 200,
			Duration: time.Second, CostMicros: 1, UserAlias: fmt.Sprintf("user%d", i)})
	}
	m.ObserveRequest(RequestSample{Door: "smtp", Model: "claude-x-0", Status: 999, Origin: "martian", Duration: time.Second})
	fams, _ := scrape(t, m)

	want := map[string]float64{
		"door=anthropic,model=claude-x-0,origin=none,provider=none,status=200": 1,
		"door=anthropic,model=claude-x-1,origin=none,provider=none,status=200": 1,
		"door=anthropic,model=claude-x-2,origin=none,provider=none,status=200": 1,
		"door=anthropic,model=other,origin=none,provider=none,status=200":      7,
		"door=other,model=claude-x-0,origin=other,provider=none,status=other":  1,
	}
	if diff := cmp.Diff(want, series(fams, nameRequests)); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	users := map[string]bool{}
	for _, s := range fams[nameCost].GetMetric() {
		users[labelOf(s, labelUser)] = true
	}
	if diff := cmp.Diff(map[string]bool{"user0": true, "user1": true, "other": true}, users); diff != "" {
		t.Errorf("user label values (-want +got):\n%s", diff)
	}
}

// TestSecretsNeverBecomeLabels feeds values that a careless caller might
// pass instead of aliases — a raw gateway key, a request id, an AWS access
// key, an Anthropic key, a key hash — into every string the API takes, and
// checks that none of them reaches /metrics.
func TestSecretsNeverBecomeLabels(t *testing.T) {
	secrets := []string{
		"tg-demo-3f9a1c0be47d2a8e6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a",
		"tg_live_4kX9mQ2pL7vR8sT1wY3zA6bC0dE5fG",
		"req_0123456789abcdef01234567",
		"AKIAIOSFODNN7EXAMPLE",
		"sk-ant-api03-abcdefghijklmnop",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"Zx8Kq2Lm/9Pw4Rt7Yv1Nb5Hc3+Jd6Fg0SaTeUiOpAs",
	}
	m := New(buildinfo.Info{Version: "dev"})
	for _, s := range secrets {
		m.ObserveRequest(RequestSample{Door: DoorAnthropic, Model: s, Provider: s, Status: 200, Duration: time.Second,
			Tokens: tokens.Counts{Input: 1}, CostMicros: 1, KeyAlias: s, UserAlias: s, TeamAlias: s})
		m.UpstreamError(s, s)
		m.Retry(s)
		m.Fallback(s)
		m.AccessDenied(s)
		m.Rejected(Reason(s))
	}
	m.RegisterBudgets(func() []BudgetSample {
		var out []BudgetSample
		for _, s := range secrets {
			out = append(out, BudgetSample{Scope: "key", Name: s, Period: "day", LimitMicros: 1})
		}
		return out
	})
	_, body := scrape(t, m)
	for _, s := range secrets {
		// Check a distinctive fragment too, in case a value were cut.
		for _, frag := range []string{s, s[len(s)-12:]} {
			if strings.Contains(body, frag) {
				t.Errorf("/metrics contains %q", frag)
			}
		}
	}
	if !strings.Contains(body, `key="redacted"`) || !strings.Contains(body, `name="redacted"`) {
		t.Errorf("/metrics does not show redacted values")
	}

	// The API has no field that could carry a request id, a key id or a
	// secret: every string it takes is a name or an alias.
	for _, typ := range []reflect.Type{reflect.TypeFor[RequestSample](), reflect.TypeFor[BudgetSample]()} {
		for f := range typ.Fields() {
			n := strings.ToLower(f.Name)
			if strings.HasSuffix(n, "id") || strings.Contains(n, "secret") || strings.Contains(n, "hash") ||
				f.Type.Kind() == reflect.String && n != "name" && !strings.HasSuffix(n, "alias") &&
					!slices.Contains([]string{"door", "model", "provider", "origin", "scope", "period"}, n) {
				t.Errorf("%s has a field %s; the metrics API must take aliases and names only", typ.Name(), f.Name)
			}
		}
	}
}

func TestLabelValue(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "none"},
		{"ci-org-app", "ci-org-app"},
		{"alice", "alice"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"},
		{"global.anthropic.claude-opus-4-5-20251101-v1:0", "global.anthropic.claude-opus-4-5-20251101-v1:0"},
		{"ThrottlingException", "ThrottlingException"},
		{"platform-team-europe-west", "platform-team-europe-west"},
		{"anthropicclaudesonnet45v1", "anthropicclaudesonnet45v1"}, // long run but only three digits
		{"550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-446655440000"},
		{"req_0123456789abcdef01234567", "redacted"},
		{"tg-demo-3f9a1c0be47d2a8e6b5c4d3e2f1a0b9c", "redacted"},
		{"AKIAIOSFODNN7EXAMPLE", "redacted"},
		{"sk-ant-x", "redacted"},
		{"bad\xffutf8", "invalid"},
		{"claude-sonnet-4-5\x00", "invalid"},
		{"tab\there", "invalid"},
		{"c1\u0085control", "invalid"},
		{"del\x7f", "invalid"},
		{strings.Repeat("a", 129), "invalid"},
	}
	for _, tt := range tests {
		if got := labelValue(tt.in); got != tt.want {
			t.Errorf("labelValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.ObserveRequest(RequestSample{Door: DoorAnthropic, Status: 200})
	m.InFlight(DoorAnthropic)()
	m.OpenStream(DoorBedrock)()
	m.UpstreamError("p", "t")
	m.Retry("p")
	m.Fallback("m")
	m.Rejected(ReasonBudget)
	m.AccessDenied("g")
	m.RegisterBudgets(func() []BudgetSample { return nil })
	m.RegisterWriter(func() WriterStats { return WriterStats{} })
	if m.Registry() != nil {
		t.Errorf("nil Metrics has a registry")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Metrics handler = %d, want 404", rec.Code)
	}
}

func TestRuntimeCollectors(t *testing.T) {
	fams, _ := scrape(t, New(buildinfo.Info{Version: "dev"}))
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("%s not exported", name)
		}
	}
}

func TestObserveRequestDoesNotAllocate(t *testing.T) {
	m := New(buildinfo.Info{Version: "dev"})
	s := benchSample()
	m.ObserveRequest(s) // create the series
	if n := testing.AllocsPerRun(100, func() { m.ObserveRequest(s) }); n != 0 {
		t.Errorf("ObserveRequest allocates %v times per call once its series exist, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { m.InFlight(DoorAnthropic)() }); n != 0 {
		t.Errorf("InFlight allocates %v times per call, want 0", n)
	}
}

func benchSample() RequestSample {
	return RequestSample{
		Door: DoorAnthropic, Model: "claude-sonnet-4-5", Provider: "bedrock", Status: 200, Stream: true,
		Duration: 3 * time.Second, TTFT: 400 * time.Millisecond,
		Tokens:     tokens.Counts{Input: 10, Output: 200, CacheWrite5m: 1000, CacheRead: 5000},
		CostMicros: 12_345, KeyAlias: "alice-laptop", UserAlias: "alice", TeamAlias: "platform",
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New(buildinfo.Info{Version: "dev"})
	s := benchSample()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest(s)
	}
}

func BenchmarkObserveRequestParallel(b *testing.B) {
	m := New(buildinfo.Info{Version: "dev"})
	models := []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := benchSample()
		i := 0
		for pb.Next() {
			s.Model = models[i%len(models)]
			i++
			m.ObserveRequest(s)
		}
	})
}

func BenchmarkInFlight(b *testing.B) {
	m := New(buildinfo.Info{Version: "dev"})
	b.ReportAllocs()
	for b.Loop() {
		m.InFlight(DoorAnthropic)()
	}
}

// TestConcurrentUse exercises the copy-on-write caches and label sets from
// several goroutines while scraping; run with -race.
func TestConcurrentUse(t *testing.T) {
	m := NewWithCaps(buildinfo.Info{Version: "dev"}, Caps{Models: 5})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				s := benchSample()
				s.Model = fmt.Sprintf("claude-%d", (g+i)%8)
				m.ObserveRequest(s)
				m.UpstreamError("bedrock", "ThrottlingException")
				m.InFlight(DoorBedrock)()
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			scrape(t, m)
		}
	})
	wg.Wait()
	fams, _ := scrape(t, m)
	var total float64
	models := map[string]bool{}
	for k, v := range series(fams, nameRequests) {
		total += v
		models[k] = true
	}
	if total != 800 {
		t.Errorf("requests total = %v, want 800", total)
	}
	if len(models) != 6 { // 5 admitted models and "other"
		t.Errorf("distinct request series = %d, want 6: %v", len(models), models)
	}
}
