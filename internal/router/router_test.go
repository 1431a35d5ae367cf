package router

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollgate-gw/tollgate/internal/config"
)

func noEnv(string) (string, bool) { return "", false }

func newRouter(t testing.TB, yaml string) *Router {
	t.Helper()
	cfg, err := config.ParseWith([]byte(yaml), "t.yaml", noEnv)
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return r
}

// Rules Tollgate applies on every Bedrock route it derives itself.
var (
	mcpBetas  = []string{"mcp-servers-2025-12-04"}
	mcpFields = []string{"mcp_servers"}
)

func bedrockTarget(model string, extraBetas ...string) Target {
	return Target{Provider: "bedrock", Model: model, DropBetas: append(append([]string{}, mcpBetas...), extraBetas...), DropFields: mcpFields}
}

var sonnet45Drops = []string{"extended-cache-ttl-2025-04-11", "thinking-binding-controls-2026-08-01", "tool-search-tool-2025-10-19"}

const operatorConfig = `
providers:
  bedrock:
    region: eu-west-1
  anthropic: {}
models:
  - name: team-sonnet
    aliases: [Fast]
    drop_betas: [context-management-2025-06-27]
    drop_fields: [context_management]
    targets:
      - model: eu.anthropic.claude-3-7-sonnet-20250219-v1:0
        drop_betas: [token-efficient-tools-2025-02-19]
      - provider: anthropic
        model: claude-3-7-sonnet-20250219
  - name: team-opus
    targets:
      - model: arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/team
`

func TestResolve(t *testing.T) {
	r := newRouter(t, operatorConfig)
	teamSonnet := Route{
		Model: "team-sonnet",
		Targets: []Target{
			{
				Provider:   "bedrock",
				Model:      "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
				DropBetas:  []string{"context-management-2025-06-27", "token-efficient-tools-2025-02-19"},
				DropFields: []string{"context_management"},
			},
			{
				Provider:   "anthropic",
				Model:      "claude-3-7-sonnet-20250219",
				DropBetas:  []string{"context-management-2025-06-27"},
				DropFields: []string{"context_management"},
			},
		},
	}
	opus48 := Route{Model: "claude-opus-4-8", Targets: []Target{bedrockTarget("global.anthropic.claude-opus-4-8")}}
	sonnet45 := Route{
		Model:   "claude-sonnet-4-5-20250929",
		Targets: []Target{bedrockTarget("global.anthropic.claude-sonnet-4-5-20250929-v1:0", sonnet45Drops...)},
	}
	tests := []struct {
		name string
		in   string
		want Route
	}{
		// 1. names and aliases
		{name: "listed model", in: "team-sonnet", want: teamSonnet},
		{name: "alias", in: "Fast", want: teamSonnet},
		{name: "alias ignoring case", in: "FAST", want: teamSonnet},
		{name: "name ignoring case", in: "Team-Sonnet", want: teamSonnet},
		{name: "catalog name", in: "claude-opus-4-8", want: opus48},
		{name: "catalog alias", in: "claude-sonnet-4-5", want: sonnet45},
		{name: "catalog dated name", in: "claude-sonnet-4-5-20250929", want: sonnet45},
		{name: "claude code sonnet", in: "claude-sonnet-5", want: Route{Model: "claude-sonnet-5", Targets: []Target{bedrockTarget("global.anthropic.claude-sonnet-5")}}},
		{name: "claude code haiku", in: "claude-haiku-4-5-20251001", want: Route{
			Model: "claude-haiku-4-5-20251001", Targets: []Target{bedrockTarget("global.anthropic.claude-haiku-4-5-20251001-v1:0")},
		}},
		{name: "us-only model keeps us profile", in: "claude-opus-4-1", want: Route{
			Model: "claude-opus-4-1-20250805", Targets: []Target{bedrockTarget("us.anthropic.claude-opus-4-1-20250805-v1:0")},
		}},

		// 2. [1m]
		{name: "1m suffix", in: "claude-opus-4-8[1m]", want: Route{Model: "claude-opus-4-8", Targets: opus48.Targets, AddBetas: []string{Beta1M}}},
		{name: "1m suffix any case", in: "claude-opus-4-8[1M]", want: Route{Model: "claude-opus-4-8", Targets: opus48.Targets, AddBetas: []string{Beta1M}}},
		{name: "1m suffix on alias", in: "fast[1m]", want: Route{Model: "team-sonnet", Targets: teamSonnet.Targets, AddBetas: []string{Beta1M}}},
		{name: "1m suffix on raw id", in: "us.anthropic.claude-opus-4-8[1m]", want: Route{Model: "claude-opus-4-8", Targets: opus48.Targets, AddBetas: []string{Beta1M}}},
		{name: "1m suffix on pattern", in: "claude-opus-9[1m]", want: Route{
			Model: "claude-opus-9", Targets: []Target{bedrockTarget("global.anthropic.claude-opus-9")}, AddBetas: []string{Beta1M},
		}},

		// 3. raw Bedrock ids
		{name: "client us id gets operator prefix", in: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", want: sonnet45},
		{name: "client base id", in: "anthropic.claude-sonnet-4-5-20250929-v1:0", want: sonnet45},
		{name: "id without version", in: "us.anthropic.claude-opus-4-8", want: opus48},
		{name: "id with version the catalog lacks", in: "us.anthropic.claude-opus-4-8-v1:0", want: opus48},
		{name: "claude code opus 4.6 probe", in: "us.anthropic.claude-opus-4-6-v1", want: Route{
			Model: "claude-opus-4-6", Targets: []Target{bedrockTarget("global.anthropic.claude-opus-4-6-v1")},
		}},
		{name: "dated id without version", in: "eu.anthropic.claude-sonnet-4-5-20250929", want: sonnet45},
		{name: "exact upstream id of listed model", in: "eu.anthropic.claude-3-7-sonnet-20250219-v1:0", want: teamSonnet},
		{name: "base id of listed model beats catalog", in: "apac.anthropic.claude-3-7-sonnet-20250219-v1:0", want: teamSonnet},
		{name: "exact ARN of listed model", in: "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/team", want: Route{
			Model: "team-opus", Targets: []Target{{Provider: "bedrock", Model: "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/team"}},
		}},
		{name: "application inference profile ARN passes through", in: "arn:aws:bedrock:us-east-1:999:application-inference-profile/x1", want: Route{
			Model: "arn:aws:bedrock:us-east-1:999:application-inference-profile/x1", Targets: []Target{bedrockTarget("arn:aws:bedrock:us-east-1:999:application-inference-profile/x1")},
		}},
		{name: "govcloud ARN passes through", in: "arn:aws-us-gov:bedrock:us-gov-west-1:1:inference-profile/us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0", want: Route{
			Model:   "arn:aws-us-gov:bedrock:us-gov-west-1:1:inference-profile/us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0",
			Targets: []Target{bedrockTarget("arn:aws-us-gov:bedrock:us-gov-west-1:1:inference-profile/us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0")},
		}},
		{name: "unknown Bedrock id passes through, named without prefix and version", in: "us.anthropic.claude-mythos-1-v1:0", want: Route{
			Model: "claude-mythos-1", Targets: []Target{bedrockTarget("us.anthropic.claude-mythos-1-v1:0")},
		}},

		// 4. patterns
		{name: "new dated model via pattern", in: "claude-sonnet-9-20270101", want: Route{
			Model: "claude-sonnet-9-20270101", Targets: []Target{bedrockTarget("global.anthropic.claude-sonnet-9-20270101-v1:0")},
		}},
		{name: "new undated model via pattern", in: "claude-opus-9", want: Route{
			Model: "claude-opus-9", Targets: []Target{bedrockTarget("global.anthropic.claude-opus-9")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Resolve(tt.in)
			if err != nil {
				t.Fatalf("Resolve(%q) = %v, want %v", tt.in, err, tt.want)
			}
			if diff := cmp.Diff(tt.want, got, ignorePolicy); diff != "" {
				t.Errorf("Resolve(%q) = %v, want %v\n(-want +got):\n%s", tt.in, got, tt.want, diff)
			}
		})
	}
}

func TestResolveUnknown(t *testing.T) {
	r := newRouter(t, operatorConfig)
	for _, name := range []string{
		"gpt-4",
		"",
		"[1m]",
		"gpt-4[1m]",
		"claude-opus-4-8[1m][1m]",
		"sonnet",                           // not an alias here
		"us.meta.llama3-70b-instruct-v1:0", // not Claude
		"arn:aws:s3:::bucket",
	} {
		got, err := r.Resolve(name)
		if !errors.Is(err, ErrUnknownModel) {
			t.Errorf("Resolve(%q) = %v, %v, want ErrUnknownModel", name, got, err)
		}
	}
	if _, err := r.Resolve("gpt-4"); err == nil || err.Error() != `unknown model "gpt-4"` {
		t.Errorf(`Resolve("gpt-4") error = %v, want it to name the model`, err)
	}
}

// On the Anthropic API alone, catalog names map to themselves, Bedrock ids
// a client sends map to the same model by name, and ids nothing can serve
// are unknown rather than sent to an API that cannot take them.
func TestResolveAnthropicOnly(t *testing.T) {
	r := newRouter(t, "providers:\n  anthropic: {}\n")
	sonnet := Route{Model: "claude-sonnet-4-5-20250929", Targets: []Target{{Provider: "anthropic", Model: "claude-sonnet-4-5-20250929"}}}
	tests := []struct {
		name, in string
		want     Route
	}{
		{name: "catalog", in: "claude-sonnet-4-5", want: sonnet},
		{name: "bedrock id by name", in: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", want: sonnet},
		{name: "pattern", in: "claude-sonnet-9-20270101", want: Route{
			Model: "claude-sonnet-9-20270101", Targets: []Target{{Provider: "anthropic", Model: "claude-sonnet-9-20270101"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Resolve(tt.in)
			if err != nil {
				t.Fatalf("Resolve(%q) = %v, want %v", tt.in, err, tt.want)
			}
			if diff := cmp.Diff(tt.want, got, ignorePolicy); diff != "" {
				t.Errorf("Resolve(%q) = %v, want %v\n(-want +got):\n%s", tt.in, got, tt.want, diff)
			}
		})
	}
	for _, in := range []string{"arn:aws:bedrock:us-east-1:1:application-inference-profile/x", "us.anthropic.claude-unknown-1"} {
		if got, err := r.Resolve(in); !errors.Is(err, ErrUnknownModel) {
			t.Errorf("Resolve(%q) = %v, %v, want ErrUnknownModel (no Bedrock provider)", in, got, err)
		}
	}
}

// Raw ids go to a Bedrock provider even when the default provider is the
// Anthropic API.
// ignorePolicy leaves the routing policy (strategy, weights, caps,
// cooldowns) out of resolution tests; health_test.go tests it.
var ignorePolicy = cmp.Options{
	cmpopts.IgnoreFields(Target{}, "Weight", "MaxConcurrent", "QueueTimeout", "Cooldown"),
	cmpopts.IgnoreFields(Route{}, "Strategy"),
}

func TestResolvePassThroughProvider(t *testing.T) {
	r := newRouter(t, `
providers:
  anthropic: {}
  z-aws: {type: bedrock, region: us-east-1}
  a-aws: {type: bedrock, region: us-west-2}
routing:
  default_provider: anthropic
`)
	in := "arn:aws:bedrock:us-east-1:1:application-inference-profile/x"
	got, err := r.Resolve(in)
	want := Route{Model: in, Targets: []Target{{Provider: "a-aws", Model: in, DropBetas: mcpBetas, DropFields: mcpFields}}}
	if err != nil || !cmp.Equal(want, got, ignorePolicy) {
		t.Errorf("Resolve(%q) = %v, %v, want %v", in, got, err, want)
	}
}

func TestResolvePrefixNone(t *testing.T) {
	r := newRouter(t, "routing:\n  bedrock_prefix: none\n")
	tests := []struct{ in, want string }{
		{"claude-sonnet-4-5", "anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"claude-sonnet-9-20270101", "anthropic.claude-sonnet-9-20270101-v1:0"},
		{"claude-opus-9", "anthropic.claude-opus-9"},
		{"us.anthropic.claude-opus-4-8", "anthropic.claude-opus-4-8"},
	}
	for _, tt := range tests {
		got, err := r.Resolve(tt.in)
		if err != nil || got.Targets[0].Model != tt.want {
			t.Errorf("Resolve(%q) = %v, %v, want target %q", tt.in, got, err, tt.want)
		}
	}
}

func TestResolvePatternsOff(t *testing.T) {
	r := newRouter(t, "routing:\n  patterns: []\n")
	if got, err := r.Resolve("claude-sonnet-9-20270101"); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("Resolve(new model) with patterns off = %v, %v, want ErrUnknownModel", got, err)
	}
	if _, err := r.Resolve("claude-opus-4-8"); err != nil {
		t.Errorf("Resolve(catalog model) with patterns off = %v", err)
	}
}

func TestResolveCustomPattern(t *testing.T) {
	r := newRouter(t, `
routing:
  patterns:
    - match: "*-fast"
      model: "{prefix}.anthropic.claude-haiku-4-5-20251001-v1:0"
    - match: "team-*-x"
      model: "{prefix}.{name}"
`)
	tests := []struct{ in, want string }{
		{"anything-fast", "global.anthropic.claude-haiku-4-5-20251001-v1:0"},
		{"team-a-x", "global.team-a-x"},
		{"team--x", "global.team--x"},
	}
	for _, tt := range tests {
		got, err := r.Resolve(tt.in)
		if err != nil || got.Targets[0].Model != tt.want {
			t.Errorf("Resolve(%q) = %v, %v, want target %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"team-x", "fast", "xteam-a-x"} {
		if got, err := r.Resolve(in); !errors.Is(err, ErrUnknownModel) {
			t.Errorf("Resolve(%q) = %v, %v, want ErrUnknownModel", in, got, err)
		}
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		glob, name string
		want       bool
	}{
		{"claude-*", "claude-x", true},
		{"claude-*", "claude-", true},
		{"claude-*", "claud", false},
		{"claude-*-20*", "claude-sonnet-4-20250514", true},
		{"claude-*-20*", "claude-opus-4-8", false},
		{"*", "", true},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"a*b*c", "abbc", true},
		{"a*b*c", "acb", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tt := range tests {
		p := pattern{glob: splitGlob(tt.glob)}
		if got := p.match(tt.name); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.glob, tt.name, got, tt.want)
		}
	}
}

func TestTrimVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929"},
		{"anthropic.claude-opus-4-6-v1", "anthropic.claude-opus-4-6"},
		{"anthropic.claude-opus-4-8", "anthropic.claude-opus-4-8"},
		{"anthropic.claude-x-vnext", "anthropic.claude-x-vnext"},
		{"anthropic.claude-x-v1:", "anthropic.claude-x-v1:"},
	}
	for _, tt := range tests {
		if got := trimVersion(tt.in); got != tt.want {
			t.Errorf("trimVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestModels(t *testing.T) {
	r := newRouter(t, operatorConfig)
	got := r.Models()
	if len(got) < 3 {
		t.Fatalf("Models() = %v", got)
	}
	want := []ModelInfo{
		{ID: "team-sonnet", DisplayName: "team-sonnet"},
		{ID: "team-opus", DisplayName: "team-opus"},
		{ID: "claude-opus-5-5", DisplayName: "Claude Opus 5.5"},
	}
	if diff := cmp.Diff(want, got[:3]); diff != "" {
		t.Errorf("Models() first entries (-want +got):\n%s", diff)
	}
	var sonnet *ModelInfo
	for i := range got {
		if got[i].ID == "claude-sonnet-4-5-20250929" {
			sonnet = &got[i]
		}
	}
	if sonnet == nil || !sonnet.CreatedAt.Equal(time.Date(2025, 9, 29, 0, 0, 0, 0, time.UTC)) || sonnet.DisplayName != "Claude Sonnet 4.5" {
		t.Errorf("Models() Sonnet 4.5 = %+v", sonnet)
	}
	// A copy: callers cannot change the router.
	got[0].ID = "changed"
	if r.Models()[0].ID != "team-sonnet" {
		t.Error("Models() returned the router's own slice")
	}
	if diff := cmp.Diff(r.Models(), newRouter(t, operatorConfig).Models()); diff != "" {
		t.Errorf("Models() order is not stable (-first +second):\n%s", diff)
	}
}

// Default() is what `tollgate serve` runs with: every name Claude Code sends
// must resolve (claude-code-trace.md §4, §8, §9).
func TestDefaultResolvesClaudeCode(t *testing.T) {
	r, err := New(config.DefaultWith(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, model, target string }{
		{"claude-opus-4-8", "claude-opus-4-8", "global.anthropic.claude-opus-4-8"},
		{"claude-opus-4-8[1m]", "claude-opus-4-8", "global.anthropic.claude-opus-4-8"},
		{"claude-sonnet-5", "claude-sonnet-5", "global.anthropic.claude-sonnet-5"},
		{"claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001", "global.anthropic.claude-haiku-4-5-20251001-v1:0"},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"us.anthropic.claude-opus-4-6-v1", "claude-opus-4-6", "global.anthropic.claude-opus-4-6-v1"},
		{"us.anthropic.claude-opus-4-8", "claude-opus-4-8", "global.anthropic.claude-opus-4-8"},
		{"us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001", "global.anthropic.claude-haiku-4-5-20251001-v1:0"},
	}
	for _, tt := range tests {
		got, err := r.Resolve(tt.in)
		if err != nil || got.Model != tt.model || got.Targets[0].Model != tt.target || got.Targets[0].Provider != "bedrock" {
			t.Errorf("Resolve(%q) = %v, %v, want %s -> bedrock/%s", tt.in, got, err, tt.model, tt.target)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Error("New(nil) = nil error")
	}
	cfg := config.DefaultWith(noEnv)
	cfg.Models = []config.Model{{Name: "x", Targets: []config.Target{{Provider: "nope", Model: "m"}}}}
	if _, err := New(cfg); err == nil {
		t.Error("New(config with unknown provider) = nil error")
	}
}

// Resolving a configured name is the hot path: map lookups, no allocation.
func TestResolveAllocs(t *testing.T) {
	r := newRouter(t, operatorConfig)
	for _, name := range []string{"team-sonnet", "claude-opus-4-8", "claude-opus-4-8[1m]", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = r.Resolve(name) }); n != 0 {
			t.Errorf("Resolve(%q) allocates %v times, want 0", name, n)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	r := newRouter(b, operatorConfig)
	for _, name := range []string{"claude-opus-4-8", "Claude-Opus-4-8", "claude-opus-4-8[1m]", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-9-20270101"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = r.Resolve(name)
			}
		})
	}
}
