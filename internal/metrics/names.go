package metrics

import "github.com/tollgate-gw/tollgate/internal/apierror"

// Metric names. Every name Tollgate exports is here, and nowhere else; the
// Grafana dashboard test checks the dashboard against what the registry
// really exports.
const (
	namespace = "tollgate"

	nameRequests       = namespace + "_requests_total"
	nameDuration       = namespace + "_request_duration_seconds"
	nameTTFT           = namespace + "_time_to_first_token_seconds"
	nameTokens         = namespace + "_tokens_total"
	nameCost           = namespace + "_cost_usd_total"
	nameUpstreamErrors = namespace + "_upstream_errors_total"
	nameRetries        = namespace + "_upstream_retries_total"
	nameFallbacks      = namespace + "_fallbacks_total"
	nameAttempts       = namespace + "_upstream_attempts_total"
	nameCooldowns      = namespace + "_target_cooldowns_total"
	nameQueueWaits     = namespace + "_target_queue_waits_total"
	nameOverruns       = namespace + "_reservation_overruns_total"
	nameInFlight       = namespace + "_in_flight_requests"
	nameOpenStreams    = namespace + "_open_streams"
	nameRejections     = namespace + "_rejections_total"
	nameAccessDenied   = namespace + "_access_denied_total"
	nameBuildInfo      = namespace + "_build_info"

	nameBudgetUsedUSD         = namespace + "_budget_used_usd"
	nameBudgetReservedUSD     = namespace + "_budget_reserved_usd"
	nameBudgetLimitUSD        = namespace + "_budget_limit_usd"
	nameBudgetRemainingUSD    = namespace + "_budget_remaining_usd"
	nameBudgetUsedTokens      = namespace + "_budget_used_tokens"
	nameBudgetReservedTokens  = namespace + "_budget_reserved_tokens"
	nameBudgetLimitTokens     = namespace + "_budget_limit_tokens"
	nameBudgetRemainingTokens = namespace + "_budget_remaining_tokens"
	nameBudgetResetTime       = namespace + "_budget_reset_timestamp_seconds"

	nameWriterQueueDepth    = namespace + "_usage_writer_queue_depth"
	nameWriterQueueCapacity = namespace + "_usage_writer_queue_capacity"
	nameWriterWritten       = namespace + "_usage_writer_written_total"
	nameWriterDropped       = namespace + "_usage_writer_dropped_total"
	nameWriterFailedFlushes = namespace + "_usage_writer_failed_flushes_total"
	nameWriterSpilled       = namespace + "_usage_writer_spilled_total"
	nameWriterReplayed      = namespace + "_usage_writer_replayed_total"
	nameWriterQuarantined   = namespace + "_usage_writer_quarantined_total"
	nameWriterSpillBytes    = namespace + "_usage_writer_spill_bytes"
	nameWriterFailing       = namespace + "_usage_writer_failing_seconds"
	nameWriterLastWrite     = namespace + "_usage_writer_last_write_timestamp_seconds"
	nameWriterReady         = namespace + "_usage_writer_ready"
)

// Label names.
const (
	labelDoor     = "door"
	labelModel    = "model"
	labelProvider = "provider"
	labelStatus   = "status"
	labelOrigin   = "origin"
	labelStream   = "stream"
	labelKind     = "kind"
	labelKey      = "key"
	labelUser     = "user"
	labelTeam     = "team"
	labelType     = "type"
	labelReason   = "reason"
	labelGroup    = "group"
	labelTarget   = "target"
	labelScope    = "scope"
	labelName     = "name"
	labelPeriod   = "period"
	labelVersion  = "version"

	labelRevision  = "revision"
	labelDate      = "date"
	labelGoVersion = "goversion"
	labelModified  = "modified"
)

// Special label values.
const (
	valueNone     = "none"     // the value was empty: no model yet, no user, no error
	valueOther    = "other"    // over the label's cap, or outside a fixed set
	valueRedacted = "redacted" // looked like a secret or an id
	valueInvalid  = "invalid"  // not UTF-8, or too long
)

// Door is a front door's name: the value of the door label, and of the door
// column of usage rows. Only doors the server has are listed: each gets
// pre-created series, and a door that does not exist must not show up as a
// flat zero on dashboards.
type Door string

// The front doors.
const (
	DoorAnthropic Door = "anthropic"
	DoorBedrock   Door = "bedrock"
	// DoorOpenAI is the OpenAI-compatible door, POST /v1/chat/completions.
	DoorOpenAI Door = "openai"
)

// Error origins, the values of the origin label besides "none": apierror's
// origins, as in the x-tollgate-error-origin header.
const (
	OriginClient   = apierror.OriginClient
	OriginGateway  = apierror.OriginGateway
	OriginUpstream = apierror.OriginUpstream
)

// Reason is why a request was refused before reaching a provider: the value
// of the reason label of tollgate_rejections_total.
type Reason string

// The rejection reasons.
const (
	ReasonBudget          Reason = "budget"            // a budget could not cover the call's worst case
	ReasonRateLimit       Reason = "rate_limit"        // requests/min, tokens/min or concurrency
	ReasonAccess          Reason = "access"            // an access rule (IP allowlist / secret header) denied it
	ReasonAuth            Reason = "auth"              // missing, invalid, expired or disabled key
	ReasonModelNotAllowed Reason = "model_not_allowed" // the key may not use this model
)

// reasons are the rejection reasons that get their own series; anything
// else is counted as "other".
var reasons = []Reason{ReasonBudget, ReasonRateLimit, ReasonAccess, ReasonAuth, ReasonModelNotAllowed}

// Outcome is how one upstream attempt, or one wait for a target's slot,
// ended: the value of the outcome label of tollgate_upstream_attempts_total
// and tollgate_target_queue_waits_total.
type Outcome string

// The outcomes.
const (
	OutcomeOK        Outcome = "ok"        // answered (for a stream: its first event, or the stream handed over)
	OutcomeThrottled Outcome = "throttled" // 429 or 529 from the upstream
	OutcomeServer    Outcome = "5xx"       // another 5xx, or no answer (connection error, cut stream)
	OutcomeError     Outcome = "error"     // anything else: a 4xx, a timeout, the client leaving
	OutcomeBusy      Outcome = "busy"      // the target stayed at max_concurrent: no upstream request was made
	OutcomeAcquired  Outcome = "acquired"  // a queued call got its slot (queue waits only)
)

// Token kinds, the values of the kind label of tollgate_tokens_total.
const (
	KindInput        = "input"
	KindOutput       = "output"
	KindCacheWrite5m = "cache_write_5m"
	KindCacheWrite1h = "cache_write_1h"
	KindCacheRead    = "cache_read"
)

// durationBuckets suit whole model calls: from a 10 ms rejection to a
// 10-minute agentic stream.
var durationBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600}

// ttftBuckets suit time to first token: prompt caching and small models
// answer in a few hundred milliseconds, long uncached prompts take tens of
// seconds.
var ttftBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120}
