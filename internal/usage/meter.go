package usage

import (
	"math"
	"time"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

// Metering policy: how a call is reserved before it runs, and charged when
// the upstream's own figures are missing. The call pipeline applies it; the
// rules live here, beside the prices they use.

// UnknownModelPrice prices models missing from the price table: the dearest
// Claude rates (Opus 4.1 on the Anthropic API). Budgets then stay enforced —
// a zero price would let an unpriced model bypass every USD budget — and the
// row, flagged unpriced, shows an upper bound rather than a silent zero.
var UnknownModelPrice = Price{
	Input: 15_000_000, Output: 75_000_000, CacheWrite5m: 18_750_000, CacheWrite1h: 30_000_000, CacheRead: 1_500_000,
}

// WorstCase is the most a call can cost, in tokens and micro-USD: its prompt
// at its upper bound (anthropic.PromptTokenBound: one token per byte of
// body, plus allowances for images, documents and tool use, at most the
// largest context window) at the dearest input rate — the prompt could all
// be a 1-hour cache write — plus max_tokens of output. It bounds everything
// the body shows; content the upstream adds on its own (MCP tool
// definitions, server-tool results) can still exceed it, and the call is
// charged its actual all the same.
func WorstCase(body []byte, maxTokens int64, p Price) (tokens, micros int64) {
	in := anthropic.PromptTokenBound(body)
	return satAdd(in, max(maxTokens, 0)), WorstCost(p, in, maxTokens)
}

// satAdd adds two non-negative int64s, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// CutStreamOutput is the output to charge for a stream cut before the
// upstream's final usage arrived: what it reported so far, or an estimate
// from the bytes of text, thinking and tool input relayed (about four bytes
// a token), whichever is more. A cut stream is charged for what was
// generated.
func CutStreamOutput(reported, deltaBytes int64) int64 {
	return max(reported, (deltaBytes+3)/4)
}

// Price sets the record's cost at p. known is false when p is
// UnknownModelPrice standing in for a missing entry: the row is flagged
// unpriced.
func (r *Record) Price(p Price, known bool) {
	r.CostMicros = Cost(p, r.Tokens)
	r.Unpriced = !known
}

// Facts are what the call pipeline knows of a metered call when it ends.
// NewRecord turns them into the call's usage record, so that the pipeline
// passes facts and applies none of the metering policy itself.
type Facts struct {
	// Record carries who, what and where, copied into the record as it is:
	// RequestID, the attribution (KeyID … Tags), the routing
	// (ModelRequested … Stream) and the outcome (Status, ErrorOrigin). Its
	// Time, LatencyMs, TTFTMs, Tokens, CostMicros and Unpriced are
	// NewRecord's to set, from the fields below, and are ignored.
	Record

	Start   time.Time     // when the request arrived
	Latency time.Duration // the whole request
	TTFT    time.Duration // to the first byte or token sent; 0 when none was

	// Reported is what the upstream reported; nil when it never answered.
	Reported *anthropic.Usage
	// RelayedBytes counts the text, thinking and tool-input bytes relayed
	// on a stream, to estimate the output of a stream cut before its final
	// usage arrived.
	RelayedBytes int64

	// Price is the price of the target that served the call (a fallback
	// may differ from the primary the reservation was priced on); Priced
	// is false when it is UnknownModelPrice standing in for a missing
	// entry. Both are ignored when the call reached no target
	// (Record.UpstreamModel is ""): such a call costs nothing.
	Price  Price
	Priced bool
}

// NewRecord returns the usage record of a finished call: its facts, its
// tokens as reported — or, for a stream cut before the final usage, with the
// output estimated from what was relayed (CutStreamOutput) — and their cost.
func NewRecord(f Facts) Record {
	rec := f.Record
	rec.Time = f.Start.UTC()
	rec.LatencyMs = f.Latency.Milliseconds()
	rec.TTFTMs = f.TTFT.Milliseconds()
	var u anthropic.Usage
	if f.Reported != nil {
		u = *f.Reported
	}
	if rec.Stream && !u.SawMessageStop && f.RelayedBytes > 0 {
		// Cut stream: charge what was generated, estimated from the bytes
		// relayed, when the upstream's own count never arrived.
		u.Output = CutStreamOutput(u.Output, f.RelayedBytes)
	}
	rec.Tokens = u.Counts
	rec.CostMicros, rec.Unpriced = 0, false
	if rec.UpstreamModel != "" {
		rec.Price(f.Price, f.Priced)
	}
	return rec
}
