package anthropic

import (
	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// Usage is what the upstream reported of one call: its tokens by kind, and
// how it stopped. This file is the parser of the kinds: a new kind in
// tokens.Counts is read from the upstream's fields in mergeUsage (and, for
// Bedrock, ObserveEvent's invocation metrics).
type Usage struct {
	// Counts are the tokens as the upstream reported them; the cache-write
	// kinds are derived from what was observed (normalise), so they are
	// read, never set.
	tokens.Counts
	StopReason     string
	SawMessageStop bool

	// The cache-write figures as observed; the exported ones are derived
	// from these after every event and never fed back into them.
	obsWrite     int64
	obs5m, obs1h int64
	obsSplit     bool
}

// ObserveEvent folds the usage an event carries into u. Usage can appear in
// three places — message_start's message.usage, message_delta's cumulative
// usage, and Bedrock's invocation metrics on message_stop — and some
// upstreams put cache fields in only one of them. Each field takes the last
// non-zero value seen; values are never summed across events.
func (u *Usage) ObserveEvent(ev Event) {
	switch ev.Type {
	case EventMessageStart:
		u.mergeUsage(gjson.GetBytes(ev.Data, "message.usage"))
	case EventMessageDelta:
		u.mergeUsage(gjson.GetBytes(ev.Data, "usage"))
		if sr := gjson.GetBytes(ev.Data, "delta.stop_reason"); sr.Type == gjson.String {
			u.StopReason = sr.Str
		}
	case EventMessageStop:
		u.SawMessageStop = true
		m := gjson.GetBytes(ev.Data, "amazon-bedrock-invocationMetrics")
		if !m.Exists() {
			return
		}
		setIfPositive(&u.Input, m.Get("inputTokenCount"))
		setIfPositive(&u.Output, m.Get("outputTokenCount"))
		setIfPositive(&u.CacheRead, m.Get("cacheReadInputTokenCount"))
		setIfPositive(&u.obsWrite, m.Get("cacheWriteInputTokenCount"))
	}
	u.normalise()
}

// UsageFromMessage reads the usage of a non-streaming Message body.
func UsageFromMessage(body []byte) Usage {
	var u Usage
	r := gjson.ParseBytes(body)
	u.mergeUsage(r.Get("usage"))
	u.StopReason = r.Get("stop_reason").String()
	u.SawMessageStop = true
	u.normalise()
	return u
}

func (u *Usage) mergeUsage(r gjson.Result) {
	if !r.Exists() {
		return
	}
	setIfPositive(&u.Input, r.Get("input_tokens"))
	setIfPositive(&u.Output, r.Get("output_tokens"))
	setIfPositive(&u.CacheRead, r.Get("cache_read_input_tokens"))
	setIfPositive(&u.obsWrite, r.Get("cache_creation_input_tokens"))
	// A TTL split, when present, is authoritative, zeros included: a later
	// split replaces an earlier one rather than adding to it.
	if split := r.Get("cache_creation"); split.IsObject() {
		u.obsSplit = true
		u.obs5m = max(split.Get("ephemeral_5m_input_tokens").Int(), 0)
		u.obs1h = max(split.Get("ephemeral_1h_input_tokens").Int(), 0)
	}
}

// normalise derives the exported cache-write figures from the observed
// ones: the 1-hour writes are the split's; the 5-minute writes are the
// split's, or whatever of the total the split does not account for (writes
// without a TTL split are 5-minute writes, the API default). Their sum is
// Counts.CacheWrite.
func (u *Usage) normalise() {
	u.CacheWrite1h = 0
	u.CacheWrite5m = u.obsWrite
	if u.obsSplit {
		u.CacheWrite1h = u.obs1h
		u.CacheWrite5m = max(u.obs5m, u.obsWrite-u.obs1h)
	}
}

func setIfPositive(dst *int64, r gjson.Result) {
	if v := r.Int(); v > 0 {
		*dst = v
	}
}
