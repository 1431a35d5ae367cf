package usage

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"

	"github.com/tollgate-gw/tollgate/internal/bedrock"
	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// Price is what one million tokens of each kind cost, in micro-USD: $3.00
// per million input tokens is Input: 3_000_000. Integers keep sums exact.
type Price struct {
	Input        int64
	Output       int64
	CacheWrite5m int64
	CacheWrite1h int64
	CacheRead    int64

	// LongContext, when set, replaces the whole price of a request whose
	// input — input, cache writes and cache reads together — exceeds
	// LongContextAbove tokens (Sonnet 4 and 4.5 beyond 200K, protocols.md
	// §6.2). It is never itself long-context priced.
	LongContextAbove int64
	LongContext      *Price
}

// Cost returns what u costs at p, in micro-USD: the sum over kinds of tokens
// times price per million, divided by one million once, at the end, and
// rounded up, so that rounding never bills less than the provider does.
// Negative counts count as zero; a cost beyond int64 saturates.
func Cost(p Price, u tokens.Counts) int64 {
	u = u.NonNegative()
	if p.LongContext != nil && p.LongContextAbove > 0 && u.Prompt() > p.LongContextAbove {
		p = *p.LongContext
	}
	var hi, lo uint64
	for _, term := range [...][2]int64{
		{u.Input, p.Input},
		{u.Output, p.Output},
		{u.CacheWrite5m, p.CacheWrite5m},
		{u.CacheWrite1h, p.CacheWrite1h},
		{u.CacheRead, p.CacheRead},
	} {
		h, l := bits.Mul64(uint64(term[0]), uint64(max(term[1], 0)))
		var carry uint64
		lo, carry = bits.Add64(lo, l, 0)
		hi, _ = bits.Add64(hi, h, carry)
	}
	const million = 1_000_000
	if hi >= million {
		return math.MaxInt64
	}
	q, r := bits.Div64(hi, lo, million)
	if r > 0 {
		q++
	}
	return int64(min(q, math.MaxInt64))
}

// WorstCost is an upper bound of what a call can cost at p, for a budget
// reservation: every prompt token billed at the dearest input-side rate (a
// prompt may be written to the 1-hour cache), max output tokens at the
// output rate, and the long-context price when the prompt crosses its
// threshold. promptTokens should be an estimate biased high.
func WorstCost(p Price, promptTokens, maxOutputTokens int64) int64 {
	if p.LongContext != nil && p.LongContextAbove > 0 && promptTokens > p.LongContextAbove {
		p = *p.LongContext
	}
	in := max(p.Input, p.CacheWrite5m, p.CacheWrite1h, p.CacheRead)
	return Cost(Price{Input: in, Output: p.Output}, tokens.Counts{Input: promptTokens, Output: maxOutputTokens})
}

// USDPerMillion converts a price in USD per million tokens, as configured,
// to micro-USD per million tokens, rounded to the nearest micro-dollar.
func USDPerMillion(usd float64) int64 { return int64(math.Round(usd * 1e6)) }

// PriceOverride replaces the default price of the models it matches.
type PriceOverride struct {
	// Match is a public model name or upstream model id, exact or a glob in
	// which * matches any run of characters and ? any one character
	// ("claude-opus-*", "us.anthropic.*"). It is tried against the upstream
	// id first, then the public name.
	Match string
	// Provider restricts the override to one provider type ("bedrock",
	// "anthropic"); empty matches any.
	Provider string
	// Price is used as it is: no regional premium is added.
	Price Price
}

// Prices resolves the price of a call: configured overrides first, in order,
// then the embedded defaults. It is safe for concurrent use.
type Prices struct {
	overrides []PriceOverride
	missed    sync.Map // model → struct{}: unpriced models already reported
}

// NewPrices returns the default price table with overrides on top.
func NewPrices(overrides []PriceOverride) (*Prices, error) {
	for i, o := range overrides {
		p := o.Price
		switch {
		case o.Match == "":
			return nil, fmt.Errorf("usage: price override %d has no match", i)
		case p.Input < 0 || p.Output < 0 || p.CacheWrite5m < 0 || p.CacheWrite1h < 0 || p.CacheRead < 0:
			return nil, fmt.Errorf("usage: price override %q has a negative price", o.Match)
		case p.LongContext != nil && p.LongContext.LongContext != nil:
			return nil, errors.New("usage: a long-context price cannot have a long-context price")
		}
	}
	return &Prices{overrides: append([]PriceOverride(nil), overrides...)}, nil
}

// Lookup returns the price of a call to upstreamModel on a provider of type
// providerType ("bedrock" or "anthropic"; empty infers it from the id),
// routed from the public model name publicModel.
//
// Overrides match either name. The defaults are found from the upstream id
// and, when it is not a known model (an application inference profile ARN,
// a custom deployment name), from the public name. On Bedrock, the global
// inference profile is list price and regional and geographic profiles and
// in-region ids carry the 10% premium of Sonnet 4.5 and later models
// (protocols.md §6.3); an ARN, whose profile cannot be seen, is charged the
// premium, so that an unknown case never under-bills.
func (p *Prices) Lookup(providerType, upstreamModel, publicModel string) (Price, bool) {
	for _, o := range p.overrides {
		if o.Provider != "" && o.Provider != providerType {
			continue
		}
		if glob(o.Match, upstreamModel) || glob(o.Match, publicModel) {
			return o.Price, true
		}
	}
	bedrock := providerType == "bedrock" || providerType == "" && looksBedrock(upstreamModel)
	key, profile := modelKey(upstreamModel)
	f, ok := families[key]
	if !ok {
		key, _ = modelKey(publicModel)
		if f, ok = families[key]; !ok {
			return Price{}, false
		}
	}
	if bedrock && profile != "global" && f.regionalPremium {
		return premium(f.price), true
	}
	return f.price, true
}

// Price sets rec.CostMicros and rec.Unpriced from the record's tokens and
// models, for a call on a provider of type providerType. An unpriced record
// costs 0 and is flagged; the result is true the first time a model is found
// unpriced, so that the caller logs one warning per model, not one per
// request.
func (p *Prices) Price(providerType string, rec *Record) (firstMiss bool) {
	price, ok := p.Lookup(providerType, rec.UpstreamModel, rec.Model)
	if !ok {
		rec.CostMicros, rec.Unpriced = 0, true
		_, seen := p.missed.LoadOrStore(providerType+"\x00"+rec.UpstreamModel+"\x00"+rec.Model, struct{}{})
		return !seen
	}
	rec.CostMicros, rec.Unpriced = Cost(price, rec.Tokens), false
	return false
}

// premium returns p with every rate raised by 10%, rounded up.
func premium(p Price) Price {
	up := func(v int64) int64 { return (v*11 + 9) / 10 }
	out := Price{
		Input:            up(p.Input),
		Output:           up(p.Output),
		CacheWrite5m:     up(p.CacheWrite5m),
		CacheWrite1h:     up(p.CacheWrite1h),
		CacheRead:        up(p.CacheRead),
		LongContextAbove: p.LongContextAbove,
	}
	if p.LongContext != nil {
		lc := premium(*p.LongContext)
		out.LongContext = &lc
	}
	return out
}

// looksBedrock reports whether id is a Bedrock model id or ARN.
func looksBedrock(id string) bool {
	return strings.HasPrefix(id, "arn:") || strings.Contains(id, "anthropic.")
}

// modelKey reduces a model name or Bedrock id to the key of its family in
// the price table, and returns its inference-profile prefix ("" when it has
// none): us.anthropic.claude-sonnet-4-5-20250929-v1:0 → claude-sonnet-4-5,
// "us". The date, Bedrock version and "-latest" suffixes are dropped.
func modelKey(id string) (key, profile string) {
	id = strings.ToLower(strings.TrimSpace(id))
	if strings.HasPrefix(id, "arn:") {
		return "", ""
	}
	if pp, base, ok := bedrock.SplitProfile(id); ok {
		id, profile = base, pp
	}
	id = strings.TrimPrefix(id, "anthropic.")
	// Bedrock version: -v1:0, -v1, :0.
	if i := strings.LastIndex(id, "-v"); i > 0 && allDigitsOrColon(id[i+2:]) {
		id = id[:i]
	}
	if i := strings.LastIndexByte(id, ':'); i > 0 && allDigitsOrColon(id[i+1:]) {
		id = id[:i]
	}
	id = strings.TrimSuffix(id, "-latest")
	if i := strings.LastIndexByte(id, '-'); i > 0 && len(id)-i-1 == 8 && allDigitsOrColon(id[i+1:]) {
		id = id[:i]
	}
	if k, ok := strings.CutSuffix(id, "-0"); ok { // claude-opus-4-0 alias
		id = k
	}
	return id, profile
}

func allDigitsOrColon(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != ':' {
			return false
		}
	}
	return true
}

// glob matches s against pattern, in which * matches any run of characters
// (including none) and ? any one character; an empty s never matches.
func glob(pattern, s string) bool {
	if s == "" {
		return false
	}
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
