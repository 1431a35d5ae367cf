// Package tokens is the one home of a call's token counts by kind. Every
// layer that carries them — the upstream parser (anthropic.Usage), the usage
// record and its price (usage), store rows and rollups, metrics, the admin
// views and the live feed, and the CLI — uses Counts, so that the kinds are
// spelled out once.
//
// It sits below every one of those packages (it imports nothing of the
// project) because anthropic, which parses the upstream's figures, is itself
// below usage.
//
// Adding a kind touches: the field here, and Add, Total and Prompt (TestKinds
// fails until they count it); its parser, anthropic/usage.go; its rate,
// usage.Price and Cost (usage/prices.go, and config's price schema); the
// store schema (a migration, store/usage.go's tokenArgs and column lists,
// store/query.go's sums and scan); and its metric label (metrics/names.go
// and the kind loop in metrics.go). Its JSON tag names it at once in the
// admin usage rows, which embed Counts; the admin OpenAPI document, the
// usage CSV (admin/usage.go), the access log (server's tokenAttrs), the
// live feed (admin/live.go, which sums cache writes) and the CLI table
// (cmd/tollgate/cmd_usage.go) list kinds for people and take it when it
// should show there.
package tokens

// Counts are a call's tokens by kind, or a sum of them. Input excludes cache
// reads and writes, as both the Anthropic API and Bedrock report it; every
// kind is billed at its own rate and none is ever added into another.
//
// The JSON names are the admin API's and the store's column names; they are
// part of the API and must not change.
type Counts struct {
	Input        int64 `json:"input_tokens"`
	Output       int64 `json:"output_tokens"`
	CacheWrite5m int64 `json:"cache_write_5m_tokens"` // written to the 5-minute cache
	CacheWrite1h int64 `json:"cache_write_1h_tokens"` // written to the 1-hour cache
	CacheRead    int64 `json:"cache_read_tokens"`
}

// Add adds o to c, kind by kind, for sums and rollups.
func (c *Counts) Add(o Counts) {
	c.Input += o.Input
	c.Output += o.Output
	c.CacheWrite5m += o.CacheWrite5m
	c.CacheWrite1h += o.CacheWrite1h
	c.CacheRead += o.CacheRead
}

// Total is the tokens of every kind together, the unit of token budgets and
// rate limits: a cache read counts as a token like any other, whatever it
// costs.
func (c Counts) Total() int64 {
	return c.Prompt() + c.Output
}

// Prompt is the whole input of the call: input plus cache writes and reads,
// what a long-context price threshold is measured against.
func (c Counts) Prompt() int64 {
	return c.Input + c.CacheWrite5m + c.CacheWrite1h + c.CacheRead
}

// CacheWrite is the tokens written to the cache at either lifetime, as the
// upstream's cache_creation_input_tokens and the live feed report them.
func (c Counts) CacheWrite() int64 {
	return c.CacheWrite5m + c.CacheWrite1h
}

// NonNegative returns c with negative counts raised to zero, so that a
// malformed upstream figure can never reduce a price or a sum.
func (c Counts) NonNegative() Counts {
	return Counts{max(c.Input, 0), max(c.Output, 0), max(c.CacheWrite5m, 0), max(c.CacheWrite1h, 0), max(c.CacheRead, 0)}
}
