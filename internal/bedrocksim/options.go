package bedrocksim

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults used when the matching Options field is left at its zero value.
// The credential pair is public on purpose: it is what cmd/bedrock-sim and
// the README examples use, and it guards nothing.
const (
	DefaultRegion          = "us-east-1"
	DefaultAccessKeyID     = "AKIDSIMULATOR"
	DefaultSecretAccessKey = "simulator-secret"
	DefaultReply           = "Hello from bedrock-sim."
	DefaultThinkingKey     = "bedrock-sim-thinking-key"
	DefaultMaxRecorded     = 1000

	// MaxBodyBytes is the largest request body accepted (20 MiB, the
	// Bedrock user guide's limit). Larger bodies get 413 with a
	// ValidationException.
	MaxBodyBytes = 20 << 20

	// SimAccountID is the AWS account that owns the simulated inference
	// profiles (the account AWS documentation uses in examples).
	SimAccountID = "111122223333"
)

// Options configures a Server. Every field is optional.
type Options struct {
	// Region is the region the simulator serves; SigV4 credential scopes
	// must name it. Default DefaultRegion (us-east-1).
	Region string

	// AccessKeyID and SecretAccessKey are the only SigV4 credentials
	// accepted. When both are empty they default to DefaultAccessKeyID and
	// DefaultSecretAccessKey.
	AccessKeyID     string
	SecretAccessKey string

	// SessionToken, when set, must arrive as X-Amz-Security-Token on
	// SigV4 requests. When empty, requests that carry a token are rejected
	// like AWS rejects an unknown token.
	SessionToken string

	// APIKey is a Bedrock API key accepted as "Authorization: Bearer <key>".
	// Empty disables bearer auth: every bearer request is rejected.
	APIKey string

	// AllowUnsigned accepts requests that carry no Authorization header at
	// all, as a gateway does for Claude Code's CLAUDE_CODE_SKIP_BEDROCK_AUTH=1.
	// Requests that do carry one are still verified. Default false.
	AllowUnsigned bool

	// Reply is the text answered when the prompt has no block marker and
	// no tool_result. Default DefaultReply.
	Reply string

	// FirstByteLatency delays the start of every response (status line
	// and headers included); [[sim:latency D]] overrides it per request.
	// Default 0.
	FirstByteLatency time.Duration

	// TokensPerSecond paces generated output: before each stream delta the
	// simulator waits tokens(delta)/TokensPerSecond seconds, and InvokeModel
	// waits output_tokens/TokensPerSecond before answering. 0 means as fast
	// as possible. [[sim:tps N]] overrides it per request.
	TokensPerSecond float64

	// Fault is a fault applied to every InvokeModel and
	// InvokeModelWithResponseStream request whose prompt has no fault
	// marker of its own. It uses the marker vocabulary without the
	// brackets, e.g. "throttle", "throttle 2" or "midstream-error
	// modelStreamErrorException". Default none.
	Fault string

	// RejectBetas lists beta flags that Bedrock rejects for the model
	// being simulated. A request carrying one in anthropic_beta (body) or
	// in the anthropic-beta header gets 400 ValidationException
	// "invalid beta flag".
	RejectBetas []string

	// RejectFields lists body fields that Bedrock rejects with 400
	// ValidationException "<path>: Extra inputs are not permitted". A plain
	// name ("output_config") is a top-level key; a dotted path with "*"
	// wildcards ("tools.*.defer_loading") reaches into arrays and objects.
	RejectFields []string

	// MinCacheableTokens is the smallest prefix, in estimated tokens, that
	// a cache_control breakpoint can cache; shorter breakpoints are
	// ignored. Real Bedrock uses 1024 or more depending on the model; the
	// default 0 lets tests cache tiny prompts.
	MinCacheableTokens int

	// MaxRecorded bounds the ring of requests returned by Requests.
	// Default DefaultMaxRecorded (1000).
	MaxRecorded int

	// ThinkingKey is the HMAC-SHA256 key of thinking-block signatures.
	// Default DefaultThinkingKey.
	ThinkingKey []byte

	// Seed makes generated ids, request ids and padding reproducible for
	// a given sequence of requests. 0 picks a random seed.
	Seed uint64

	// Now is the clock used for SigV4 date checks, cache lifetimes and the
	// reported latencies. Default time.Now. Pacing and delays always use
	// real timers.
	Now func() time.Time

	// Logger receives one debug line per request and warnings for bad
	// scripts. Default discards.
	Logger *slog.Logger
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.AccessKeyID == "" && o.SecretAccessKey == "" {
		o.AccessKeyID, o.SecretAccessKey = DefaultAccessKeyID, DefaultSecretAccessKey
	}
	if o.Reply == "" {
		o.Reply = DefaultReply
	}
	if o.MaxRecorded <= 0 {
		o.MaxRecorded = DefaultMaxRecorded
	}
	if len(o.ThinkingKey) == 0 {
		o.ThinkingKey = []byte(DefaultThinkingKey)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate reports configuration mistakes that New would otherwise turn
// into a 500 on every request: an unparsable Fault, negative durations or
// rates.
func (o Options) Validate() error {
	var errs []error
	if _, err := parseFault(o.Fault); err != nil {
		errs = append(errs, err)
	}
	if o.FirstByteLatency < 0 {
		errs = append(errs, fmt.Errorf("bedrocksim: FirstByteLatency %v is negative", o.FirstByteLatency))
	}
	if o.TokensPerSecond < 0 {
		errs = append(errs, fmt.Errorf("bedrocksim: TokensPerSecond %v is negative", o.TokensPerSecond))
	}
	if o.MinCacheableTokens < 0 {
		errs = append(errs, fmt.Errorf("bedrocksim: MinCacheableTokens %d is negative", o.MinCacheableTokens))
	}
	return errors.Join(errs...)
}
