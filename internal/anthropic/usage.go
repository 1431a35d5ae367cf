package anthropic

import "github.com/tidwall/gjson"

// Usage is the token count of one call, by kind. InputTokens excludes cache
// reads and writes, as both the Anthropic API and Bedrock report it; each kind
// is billed at its own rate and none is ever added into another.
type Usage struct {
	InputTokens        int64  `json:"input_tokens"`
	OutputTokens       int64  `json:"output_tokens"`
	CacheReadTokens    int64  `json:"cache_read_input_tokens"`
	CacheWriteTokens   int64  `json:"cache_creation_input_tokens"` // 5m + 1h
	CacheWrite5mTokens int64  `json:"cache_write_5m_tokens"`
	CacheWrite1hTokens int64  `json:"cache_write_1h_tokens"`
	StopReason         string `json:"stop_reason,omitempty"`
	SawMessageStop     bool   `json:"-"`
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
		setIfPositive(&u.InputTokens, m.Get("inputTokenCount"))
		setIfPositive(&u.OutputTokens, m.Get("outputTokenCount"))
		setIfPositive(&u.CacheReadTokens, m.Get("cacheReadInputTokenCount"))
		setIfPositive(&u.CacheWriteTokens, m.Get("cacheWriteInputTokenCount"))
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
	setIfPositive(&u.InputTokens, r.Get("input_tokens"))
	setIfPositive(&u.OutputTokens, r.Get("output_tokens"))
	setIfPositive(&u.CacheReadTokens, r.Get("cache_read_input_tokens"))
	setIfPositive(&u.CacheWriteTokens, r.Get("cache_creation_input_tokens"))
	setIfPositive(&u.CacheWrite5mTokens, r.Get("cache_creation.ephemeral_5m_input_tokens"))
	setIfPositive(&u.CacheWrite1hTokens, r.Get("cache_creation.ephemeral_1h_input_tokens"))
}

// normalise keeps the cache-write total and its TTL split consistent: writes
// with no TTL split are 5-minute writes, the API default.
func (u *Usage) normalise() {
	split := u.CacheWrite5mTokens + u.CacheWrite1hTokens
	switch {
	case split > u.CacheWriteTokens:
		u.CacheWriteTokens = split
	case split < u.CacheWriteTokens:
		u.CacheWrite5mTokens = u.CacheWriteTokens - u.CacheWrite1hTokens
	}
}

func setIfPositive(dst *int64, r gjson.Result) {
	if v := r.Int(); v > 0 {
		*dst = v
	}
}
