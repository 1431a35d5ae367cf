package usage

import (
	"math"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/tokens"
)

func mustPrices(t *testing.T, ov ...PriceOverride) *Prices {
	t.Helper()
	p, err := NewPrices(ov)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// each is 1,000 tokens of every kind.
var each = tokens.Counts{Input: 1000, Output: 1000, CacheWrite5m: 1000, CacheWrite1h: 1000, CacheRead: 1000}

// TestCost checks costs computed by hand from protocols.md §6.2/§6.3, in
// micro-USD: tokens × $/M = µ$ (1,000 tokens at $3/M = 3,000 µ$).
func TestCost(t *testing.T) {
	mixed := tokens.Counts{Input: 1000, Output: 500, CacheWrite5m: 2000, CacheWrite1h: 3000, CacheRead: 10000}
	// 210K of input: long context for Sonnet 4/4.5.
	long := tokens.Counts{Input: 150_000, Output: 1000, CacheWrite5m: 30_000, CacheWrite1h: 10_000, CacheRead: 20_000}
	tests := []struct {
		name             string
		provider         string
		upstream, public string
		tokens           tokens.Counts
		want             int64
	}{
		// Sonnet 4.5 list: 1000×3 + 500×15 + 2000×3.75 + 3000×6 + 10000×0.3
		// = 3000 + 7500 + 7500 + 18000 + 3000.
		{"sonnet 4.5 anthropic, every kind", "anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5", mixed, 39_000},
		{"sonnet 4.5 input only", "anthropic", "claude-sonnet-4-5", "", tokens.Counts{Input: 1000}, 3_000},
		{"sonnet 4.5 output only", "anthropic", "claude-sonnet-4-5", "", tokens.Counts{Output: 1000}, 15_000},
		{"sonnet 4.5 5m write only", "anthropic", "claude-sonnet-4-5", "", tokens.Counts{CacheWrite5m: 1000}, 3_750},
		{"sonnet 4.5 1h write only", "anthropic", "claude-sonnet-4-5", "", tokens.Counts{CacheWrite1h: 1000}, 6_000},
		{"sonnet 4.5 cache read only", "anthropic", "claude-sonnet-4-5", "", tokens.Counts{CacheRead: 1000}, 300},
		{"sonnet 4.5 global profile = list", "bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", mixed, 39_000},
		// Regional +10%: 1000×3.3 + 500×16.5 + 2000×4.125 + 3000×6.6 + 10000×0.33.
		{"sonnet 4.5 us profile +10%", "bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", mixed, 42_900},
		{"sonnet 4.5 jp profile +10%", "bedrock", "jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "", mixed, 42_900},
		{"sonnet 4.5 in-region id +10%", "bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", "", mixed, 42_900},
		{"sonnet 4.5 ARN: premium from the public name", "bedrock", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", "claude-sonnet-4-5", mixed, 42_900},
		{"provider inferred from a bedrock id", "", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "", mixed, 42_900},
		{"sonnet 4 regional: no premium", "bedrock", "apac.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4-20250514", mixed, 39_000},
		{"sonnet 3.7 regional: no premium", "bedrock", "eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "", each, 28_050},
		// Long context, whole request: 150000×6 + 1000×22.5 + 30000×7.5 +
		// 10000×12 + 20000×0.6 = 900000 + 22500 + 225000 + 120000 + 12000.
		{"sonnet 4.5 long context", "anthropic", "claude-sonnet-4-5-20250929", "", long, 1_279_500},
		{"sonnet 4 long context", "bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0", "", long, 1_279_500},
		// ×1.1 stacked: 150000×6.6 + 1000×24.75 + 30000×8.25 + 10000×13.2 +
		// 20000×0.66 = 990000 + 24750 + 247500 + 132000 + 13200.
		{"sonnet 4.5 long context regional", "bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "", long, 1_407_450},
		{"exactly 200K input is not long", "anthropic", "claude-sonnet-4-5", "", tokens.Counts{Input: 100_000, CacheRead: 100_000, Output: 1}, 300_000 + 30_000 + 15},
		{"200,001 input is long", "anthropic", "claude-sonnet-4-5", "", tokens.Counts{Input: 100_001, CacheRead: 100_000}, 600_006 + 60_000},
		{"sonnet 4.6 has no long-context price", "anthropic", "claude-sonnet-4-6", "", tokens.Counts{Input: 300_000}, 900_000},
		{"sonnet 4.6 regional", "bedrock", "us.anthropic.claude-sonnet-4-6", "", tokens.Counts{Input: 300_000}, 990_000},
		{"sonnet 5 global", "bedrock", "global.anthropic.claude-sonnet-5", "", each, 28_050},
		// Opus 4.5 family regional: 5.5 + 27.5 + 6.875 + 11 + 0.55 per 1K.
		{"opus 4.8 us", "bedrock", "us.anthropic.claude-opus-4-8", "claude-opus-4-8", each, 51_425},
		{"opus 4.6 anthropic", "anthropic", "claude-opus-4-6", "", each, 46_750},
		{"opus 4.5 eu", "bedrock", "eu.anthropic.claude-opus-4-5-20251101-v1:0", "", each, 51_425},
		// Opus 4/4.1: 15 + 75 + 18.75 + 30 + 1.5, no premium.
		{"opus 4.1 us", "bedrock", "us.anthropic.claude-opus-4-1-20250805-v1:0", "", each, 140_250},
		{"opus 4 alias", "anthropic", "claude-opus-4-0", "", each, 140_250},
		// Haiku 4.5 regional: 1.1 + 5.5 + 1.375 + 2.2 + 0.11.
		{"haiku 4.5 eu", "bedrock", "eu.anthropic.claude-haiku-4-5-20251001-v1:0", "", each, 10_285},
		{"haiku 4.5 global", "bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "", each, 9_350},
		// Haiku 3.5: 0.8 + 4 + 1 + 1.6 + 0.08.
		{"haiku 3.5", "bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0", "", each, 7_480},
		// One input token of Haiku 3.5 is 0.8 µ$: rounded up, never down.
		{"rounds up once", "anthropic", "claude-3-5-haiku-latest", "", tokens.Counts{Input: 1}, 1},
		{"sum before rounding", "anthropic", "claude-3-5-haiku-latest", "", tokens.Counts{Input: 1, CacheRead: 3}, 2}, // 0.8 + 0.24
		{"nothing used", "anthropic", "claude-sonnet-4-5", "", tokens.Counts{}, 0},
		{"negative counts ignored", "anthropic", "claude-sonnet-4-5", "", tokens.Counts{Input: -5, Output: 1000}, 15_000},
	}
	p := mustPrices(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			price, ok := p.Lookup(tt.provider, tt.upstream, tt.public)
			if !ok {
				t.Fatalf("Lookup(%q, %q, %q): no price", tt.provider, tt.upstream, tt.public)
			}
			if got := Cost(price, tt.tokens); got != tt.want {
				t.Errorf("Cost(%s, %+v) = %d, want %d", tt.upstream, tt.tokens, got, tt.want)
			}
		})
	}
}

func TestWorstCost(t *testing.T) {
	p := mustPrices(t)
	sonnet, _ := p.Lookup("anthropic", "claude-sonnet-4-5", "")
	tests := []struct {
		prompt, maxOut, want int64
	}{
		{10_000, 32_000, 10_000*6 + 32_000*15},    // prompt at the 1h write rate
		{250_000, 1_000, 250_000*12 + 1_000*45/2}, // long context: $12 1h write, $22.50 out
		{0, 0, 0},
	}
	for _, tt := range tests {
		if got := WorstCost(sonnet, tt.prompt, tt.maxOut); got != tt.want {
			t.Errorf("WorstCost(sonnet 4.5, %d, %d) = %d, want %d", tt.prompt, tt.maxOut, got, tt.want)
		}
		// Never below the actual cost of any split of the same tokens.
		actual := Cost(sonnet, tokens.Counts{Input: tt.prompt / 2, CacheWrite5m: tt.prompt / 4, CacheWrite1h: tt.prompt / 4, Output: tt.maxOut})
		if w := WorstCost(sonnet, tt.prompt, tt.maxOut); actual > w {
			t.Errorf("actual %d above worst case %d", actual, w)
		}
	}
}

func TestCostSaturates(t *testing.T) {
	huge := tokens.Counts{Output: math.MaxInt64}
	if got := Cost(Price{Output: 100_000_000}, huge); got != math.MaxInt64 {
		t.Errorf("Cost overflow = %d, want MaxInt64", got)
	}
	// 128-bit intermediate: exact where int64 products would overflow.
	if got := Cost(Price{Input: 1_000_000_000}, tokens.Counts{Input: 1e12, Output: 0}); got != 1e15 {
		t.Errorf("Cost = %d, want 1e15", got)
	}
}

func TestOverrides(t *testing.T) {
	custom := Price{Input: 1, Output: 2}
	p := mustPrices(t,
		PriceOverride{Match: "us.anthropic.claude-sonnet-4-5*", Provider: "bedrock", Price: Price{Input: 7}},
		PriceOverride{Match: "my-model", Price: custom},
		PriceOverride{Match: "claude-opus-*", Provider: "anthropic", Price: Price{Input: 9}},
		PriceOverride{Match: "eu.anthropic.claude-haiku-4-5-2025100?-v1:0", Price: Price{Input: 11}},
	)
	tests := []struct {
		provider, upstream, public string
		wantInput                  int64
	}{
		{"bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", 7},
		{"bedrock", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", 3_300_000},
		{"bedrock", "arn:aws:bedrock:eu-west-1:1:application-inference-profile/x", "my-model", 1},
		{"anthropic", "claude-opus-4-5", "claude-opus-4-5", 9},
		{"bedrock", "global.anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5", 5_000_000},
		{"bedrock", "eu.anthropic.claude-haiku-4-5-20251001-v1:0", "", 11},
	}
	for _, tt := range tests {
		got, ok := p.Lookup(tt.provider, tt.upstream, tt.public)
		if !ok || got.Input != tt.wantInput {
			t.Errorf("Lookup(%q, %q, %q) = %+v, %v; want input %d", tt.provider, tt.upstream, tt.public, got, ok, tt.wantInput)
		}
	}
	for _, bad := range []PriceOverride{{Match: ""}, {Match: "x", Price: Price{Output: -1}}} {
		if _, err := NewPrices([]PriceOverride{bad}); err == nil {
			t.Errorf("NewPrices(%+v) succeeded", bad)
		}
	}
}

func TestPriceRecord(t *testing.T) {
	p := mustPrices(t)
	rec := Record{Model: "claude-sonnet-4-5", UpstreamModel: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
		Tokens: tokens.Counts{Input: 1000, Output: 500, CacheWrite5m: 2000, CacheWrite1h: 3000, CacheRead: 10000}}
	if miss := p.Price("bedrock", &rec); miss || rec.CostMicros != 42_900 || rec.Unpriced {
		t.Errorf("Price = %v, record cost %d unpriced %v; want 42900", miss, rec.CostMicros, rec.Unpriced)
	}
	unknown := Record{Model: "gpt-9", UpstreamModel: "gpt-9", Tokens: tokens.Counts{Input: 10}, CostMicros: 77}
	if miss := p.Price("anthropic", &unknown); !miss || !unknown.Unpriced || unknown.CostMicros != 0 {
		t.Errorf("first unknown: miss %v, %+v", miss, unknown)
	}
	if miss := p.Price("anthropic", &unknown); miss || !unknown.Unpriced {
		t.Errorf("second unknown: reported again (%v)", miss)
	}
	for _, name := range []string{"claude-opus-5", "claude-instant-1", "", "arn:aws:bedrock:x"} {
		if _, ok := p.Lookup("bedrock", name, name); ok {
			t.Errorf("Lookup(%q) found a price for an unknown model", name)
		}
	}
}

// TestCatalogPriced checks that every model the gateway ships a route for —
// by name, alias and Bedrock id under every inference-profile prefix — has a
// price.
func TestCatalogPriced(t *testing.T) {
	p := mustPrices(t)
	names := []string{
		"claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-5-20251101",
		"claude-opus-4-1-20250805", "claude-sonnet-4-20250514", "claude-opus-4-20250514",
		"claude-3-7-sonnet-20250219", "claude-3-5-haiku-20241022", "claude-opus-4-6", "claude-sonnet-4-6",
		"claude-opus-4-7", "claude-opus-4-8", "claude-sonnet-5",
		"global.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-opus-4-8",
		"us.anthropic.claude-opus-4-6-v1", "anthropic.claude-sonnet-4-6",
	}
	for _, n := range names {
		if _, ok := p.Lookup("", n, ""); !ok {
			t.Errorf("no price for %s", n)
		}
	}
	noEnv := func(string) (string, bool) { return "", false }
	checked := 0
	for _, prefix := range []string{"global", "us", "eu", "jp", "apac", "au", config.PrefixNone} {
		c := config.DefaultWith(noEnv)
		c.Routing.BedrockPrefix = prefix
		for _, m := range c.AllModels() {
			for _, tg := range m.Targets {
				// Only the upstream id: the public name must not be needed.
				if _, ok := p.Lookup("bedrock", tg.Model, ""); !ok {
					t.Errorf("prefix %s: no price for %s (%s)", prefix, tg.Model, m.Name)
				}
				checked++
			}
			for _, n := range append([]string{m.Name}, m.Aliases...) {
				if _, ok := p.Lookup("anthropic", n, ""); !ok {
					t.Errorf("no price for model name %s", n)
				}
			}
		}
	}
	if checked < 13 {
		t.Errorf("only %d catalog routes checked; is the catalog on?", checked)
	}
}

func TestModelKey(t *testing.T) {
	tests := []struct{ in, key, profile string }{
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", "us"},
		{"us-gov.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet", "us-gov"},
		{"anthropic.claude-opus-4-6-v1", "claude-opus-4-6", ""},
		{"global.anthropic.claude-opus-4-8", "claude-opus-4-8", "global"},
		{"claude-3-5-haiku-latest", "claude-3-5-haiku", ""},
		{"claude-sonnet-4-0", "claude-sonnet-4", ""},
		{"Claude-Opus-4-1", "claude-opus-4-1", ""},
		{"us.claude-sonnet-4-5", "us.claude-sonnet-4-5", ""},
	}
	for _, tt := range tests {
		if k, pr := modelKey(tt.in); k != tt.key || pr != tt.profile {
			t.Errorf("modelKey(%q) = %q, %q; want %q, %q", tt.in, k, pr, tt.key, tt.profile)
		}
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"claude-*", "claude-opus-4", true},
		{"*", "x", true},
		{"*", "", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"*/abc", "arn:aws:bedrock:x:1:application-inference-profile/abc", true},
	}
	for _, tt := range tests {
		if got := glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
