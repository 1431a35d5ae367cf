// Package usage meters calls: the usage record of every request, prices, the
// asynchronous batched writer that persists records, and the rollups that
// charts and budgets read instead of raw rows.
package usage

import (
	"time"

	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// Record is one metered request: what it used, what it cost, and everything
// needed to attribute it. Money is integer micro-USD and times are UTC, so
// sums are exact and the SQL is portable.
type Record struct {
	RequestID string    // the gateway's x-request-id
	Time      time.Time // when the request arrived (UTC)

	// Attribution.
	KeyID     string            // virtual key id ("" for static/anonymous keys)
	KeyAlias  string            // key alias or static key name
	UserID    string            // owning user id, if any
	TeamID    string            // owning team id, if any
	SessionID string            // x-claude-code-session-id
	Tags      map[string]string // key tags merged with x-tollgate-tags (request wins)

	// Routing.
	ModelRequested string // model as the client sent it
	Model          string // public model name after routing (price and chart key)
	UpstreamModel  string // provider's model id actually called
	Provider       string // provider name from the config
	Region         string // provider region, "" when not applicable
	Door           string // "anthropic", "bedrock" or "openai"
	Stream         bool

	// Outcome.
	Status int // HTTP status sent to the client (200 even when a stream failed later)
	// Attempts is the number of upstream attempts the call made: 1 when
	// the first answered, more after retries and fallbacks (the answering
	// target is UpstreamModel at Provider), 0 when none was made (refused
	// before routing).
	Attempts    int
	ErrorOrigin string // "", "client", "gateway" or "upstream"
	// ErrorMessage is the error the client was told (already scrubbed of
	// credentials), cut to MaxErrorMessage bytes; "" on success.
	ErrorMessage string
	// UpstreamRequestID is the provider's request id of the last attempt
	// (Bedrock's x-amzn-requestid), for support cases; "" when none.
	UpstreamRequestID string
	LatencyMs         int64 // whole request
	TTFTMs            int64 // time to first byte/token; 0 when none was sent

	// Tokens are what the call used, by kind; Tokens.Total() is the unit
	// of token budgets and rate limits.
	Tokens tokens.Counts

	// CostMicros is the price of the tokens above, in micro-USD.
	CostMicros int64
	// Unpriced is set when no price was known for the model: the row is
	// kept, flagged, and never silently costed at zero.
	Unpriced bool
}

// MaxErrorMessage bounds Record.ErrorMessage: enough for any message the
// gateway writes, not a place to keep an upstream's whole answer.
const MaxErrorMessage = 500
