package usage

// The embedded price table: Anthropic API list prices, which are also
// Bedrock's prices through the global inference profile, in micro-USD per
// million tokens. Sources: protocols.md §6.2 (Anthropic pricing page) and
// §6.3 (Bedrock: regional premium). Operators override any entry in the
// configuration (prices:), which is also the way to follow a price change
// before a release does.
//
// Cache writes cost 1.25× input (5-minute TTL) or 2× input (1-hour TTL) and
// cache reads 0.1× input, on both providers.

// m is dollars per million tokens expressed in micro-dollars, for
// readability: m(3) == 3_000_000.
func m(usd float64) int64 { return USDPerMillion(usd) }

// rates builds a price from input and output prices and the standard cache
// multipliers.
func rates(in, out float64) Price {
	return Price{Input: m(in), Output: m(out), CacheWrite5m: m(in * 1.25), CacheWrite1h: m(in * 2), CacheRead: m(in / 10)}
}

// longContextSonnet is the price of a Sonnet 4 or 4.5 request with more than
// 200K input tokens (the 1M-context beta): the whole request at $6 input and
// $22.50 output, cache multipliers stacked on the higher input price
// ($7.50, $12.00, $0.60).
func longContextSonnet() Price {
	p := rates(3, 15)
	lc := rates(6, 22.5)
	p.LongContextAbove, p.LongContext = 200_000, &lc
	return p
}

// family is the price of a group of models that share it.
type family struct {
	price Price
	// regionalPremium marks Sonnet 4.5 and later models, which cost 10%
	// more on Bedrock through regional and geographic inference profiles
	// and in-region ids than through the global profile.
	regionalPremium bool
}

// families maps a model key (see modelKey) to its price.
var families = func() map[string]family {
	opus45 := family{rates(5, 25), true}
	opus4 := family{rates(15, 75), false}
	sonnet45 := family{longContextSonnet(), true}
	sonnet4 := family{longContextSonnet(), false}
	// Sonnet 4.6 and 5 have a 1M context window at the standard price (no
	// long-context premium); their list price is assumed equal to Sonnet
	// 4.5's until a source says otherwise.
	sonnetLater := family{rates(3, 15), true}
	return map[string]family{
		// The 5.5 generation (Claude Code 2.1.332's defaults) has no
		// published price in our sources; each is assumed at its family's
		// latest known price. Override under prices: when it is known.
		"claude-opus-5-5":   opus45,
		"claude-sonnet-5-5": sonnetLater,
		"claude-haiku-5-5":  {rates(1, 5), true},

		// Opus 4.6, 4.7 and 4.8 are assumed to keep Opus 4.5's price.
		"claude-opus-4-5": opus45,
		"claude-opus-4-6": opus45,
		"claude-opus-4-7": opus45,
		"claude-opus-4-8": opus45,

		"claude-opus-4-1": opus4,
		"claude-opus-4":   opus4,

		"claude-sonnet-5":   sonnetLater,
		"claude-sonnet-4-6": sonnetLater,
		"claude-sonnet-4-5": sonnet45,
		"claude-sonnet-4":   sonnet4,

		"claude-haiku-4-5": {rates(1, 5), true},

		"claude-3-7-sonnet": {rates(3, 15), false},
		"claude-3-5-haiku":  {rates(0.8, 4), false},
	}
}()
