package usage

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// Estimator makes the realistic cost estimates that budgets in estimate
// mode admit calls on (limits.Ask.Estimate). It remembers, in memory and
// per replica, two things about recent calls:
//
//   - output: the last outputWindow output counts per key and model, whose
//     90th percentile is a call's expected output (capped by its
//     max_tokens); DefaultOutputEstimate before there is any history.
//   - cache: the prompt prefixes a key sent up to a cache_control
//     breakpoint in the last CacheTTL. A new prompt that starts with one of
//     them is assumed to read that prefix from the cache, priced at the
//     cache-read rate. This is a conservative heuristic: the provider
//     writes a prefix to its cache at a breakpoint, and Claude Code's next
//     turn repeats the whole previous conversation; a prefix the provider
//     evicted early makes the estimate low, which the overdraft absorbs.
//
// Estimates only decide admission: calls are still charged exactly what
// they used. Memory is bounded: past maxEntries keys (or key+model pairs)
// a map starts over.
type Estimator struct {
	now  func() time.Time
	seed maphash.Seed

	mu      sync.Mutex
	outputs map[string]*outputRing
	caches  map[string]*prefixRing
}

const (
	outputWindow = 64
	prefixWindow = 32
	maxEntries   = 10_000
	// DefaultOutputEstimate is the output expected of a key and model with
	// no history yet: a typical agentic turn (a tool call with some text)
	// is well under it.
	DefaultOutputEstimate = 2_048
	// CacheTTL is how long a prompt prefix is assumed to stay in the
	// provider's cache: the default 5-minute cache.
	CacheTTL = 5 * time.Minute
)

type outputRing struct {
	n    int
	vals [outputWindow]int64
}

type prefixRing struct {
	n       int
	entries [prefixWindow]struct {
		h  uint64
		at time.Time
	}
}

// NewEstimator returns an estimator with no history, reading the time from
// now (time.Now when nil).
func NewEstimator(now func() time.Time) *Estimator {
	if now == nil {
		now = time.Now
	}
	return &Estimator{now: now, seed: maphash.MakeSeed(), outputs: map[string]*outputRing{}, caches: map[string]*prefixRing{}}
}

// Output returns the output tokens to expect of a call of key on model:
// the 90th percentile of its recent calls, capped by maxTokens.
func (e *Estimator) Output(key, model string, maxTokens int64) int64 {
	e.mu.Lock()
	r := e.outputs[key+"\x00"+model]
	var v int64 = DefaultOutputEstimate
	if r != nil && r.n > 0 {
		n := min(r.n, outputWindow)
		vals := slices.Clone(r.vals[:n])
		e.mu.Unlock()
		slices.Sort(vals)
		v = vals[(n*9-1)/10]
	} else {
		e.mu.Unlock()
	}
	return max(min(v, maxTokens), 0)
}

// ObserveOutput records the output tokens a call of key on model used.
func (e *Estimator) ObserveOutput(key, model string, out int64) {
	k := key + "\x00" + model
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.outputs[k]
	if r == nil {
		if len(e.outputs) >= maxEntries {
			clear(e.outputs)
		}
		r = &outputRing{}
		e.outputs[k] = r
	}
	r.vals[r.n%outputWindow] = max(out, 0)
	r.n++
}

// Prefixes are the hashes of a prompt's prefixes: after the tools and the
// system prompt, then after each message, with the bytes each covers and
// whether a cache_control breakpoint ends it.
type Prefixes struct {
	hashes []uint64
	bytes  []int64
	breaks []bool
	total  int64
}

// PromptPrefixes hashes body's prefixes in the order the provider caches
// them: tools, system, then messages.
func (e *Estimator) PromptPrefixes(body []byte) Prefixes {
	root := gjson.ParseBytes(body)
	var h maphash.Hash
	h.SetSeed(e.seed)
	p := Prefixes{total: int64(len(body))}
	var covered int64
	add := func(raw string) {
		h.WriteString(raw)
		h.WriteByte(0)
		covered += int64(len(raw))
		p.hashes = append(p.hashes, h.Sum64())
		p.bytes = append(p.bytes, covered)
		p.breaks = append(p.breaks, strings.Contains(raw, `"cache_control"`))
	}
	add(root.Get("tools").Raw)
	add(root.Get("system").Raw)
	root.Get("messages").ForEach(func(_, m gjson.Result) bool {
		add(m.Raw)
		return true
	})
	return p
}

// CachedShare returns the share of the prompt (0 to 1) that key sent as a
// prefix ending at a breakpoint within CacheTTL: what is likely read from
// the cache.
func (e *Estimator) CachedShare(key string, p Prefixes) float64 {
	if p.total == 0 {
		return 0
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.caches[key]
	if r == nil {
		return 0
	}
	for i := len(p.hashes) - 1; i >= 0; i-- {
		for j := range min(r.n, prefixWindow) {
			if en := r.entries[j]; en.h == p.hashes[i] && now.Sub(en.at) < CacheTTL {
				return min(float64(p.bytes[i])/float64(p.total), 1)
			}
		}
	}
	return 0
}

// RememberPrefixes records the prefixes of a prompt key sent that end at a
// cache_control breakpoint: the provider wrote them to its cache.
func (e *Estimator) RememberPrefixes(key string, p Prefixes) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.caches[key]
	for i, h := range p.hashes {
		if !p.breaks[i] {
			continue
		}
		if r == nil {
			if len(e.caches) >= maxEntries {
				clear(e.caches)
			}
			r = &prefixRing{}
			e.caches[key] = r
		}
		r.entries[r.n%prefixWindow].h, r.entries[r.n%prefixWindow].at = h, now
		r.n++
	}
}

// EstimateCost prices a realistic estimate of a call: promptTokens input,
// of which the cachedShare read from the cache, and outputTokens output.
// Tokens are the sum of both.
func EstimateCost(p Price, promptTokens int64, cachedShare float64, outputTokens int64) (tokensTotal, micros int64) {
	cached := int64(float64(promptTokens) * min(max(cachedShare, 0), 1))
	c := tokens.Counts{Input: promptTokens - cached, CacheRead: cached, Output: outputTokens}
	return satAdd(promptTokens, outputTokens), Cost(p, c)
}

// PromptEstimate is anthropic.PromptTokenEstimate, here so that the call
// pipeline asks one package for its estimates.
func PromptEstimate(body []byte) int64 { return anthropic.PromptTokenEstimate(body) }
