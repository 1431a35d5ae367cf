package bedrocksim

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"
)

// Token estimate. The simulator has no tokenizer; every count is derived
// from byte lengths so that tests can predict it exactly:
//
//	tokens(n bytes) = ceil(n / 4)
//
// The prompt is the sequence of segments tools[0..], system (the whole
// string, or each block), then for each message its content (the whole
// string, or each block), each segment being the compact JSON (json.Compact)
// of that value as sent. Nothing else in the body counts (roles,
// max_tokens, thinking, metadata...). With B the total bytes of all
// segments, the prompt has max(1, tokens(B)) tokens.
func tokens(n int) int { return (n + 3) / 4 }

// segment is one cacheable unit of the prompt.
type segment struct {
	Bytes []byte
	Cache *cacheControl
}

// segments lists the prompt segments in cache-prefix order: tools, system,
// messages.
func (req *invokeRequest) segments() []segment {
	var segs []segment
	add := func(raw json.RawMessage) {
		sg := segment{Bytes: compactJSON(raw)}
		if len(raw) > 0 && raw[0] == '{' {
			var b block
			if json.Unmarshal(raw, &b) == nil && b.CacheControl != nil {
				sg.Cache = b.CacheControl
			}
		}
		segs = append(segs, sg)
	}
	for _, t := range req.Tools {
		add(t)
	}
	if len(req.System) > 0 {
		var blocks []json.RawMessage
		if req.System[0] == '[' && json.Unmarshal(req.System, &blocks) == nil {
			for _, b := range blocks {
				add(b)
			}
		} else {
			add(req.System)
		}
	}
	for _, m := range req.Messages {
		if m.Blocks == nil {
			add(m.Content)
			continue
		}
		for _, b := range m.Blocks {
			add(b)
		}
	}
	return segs
}

// promptTokens is the whole-prompt estimate, as CountTokens reports it.
func promptTokens(segs []segment) int {
	n := 0
	for _, s := range segs {
		n += len(s.Bytes)
	}
	return max(1, tokens(n))
}

// usage is what one answer reports. Input excludes cache reads and writes,
// as on Bedrock and the Anthropic API.
type usage struct {
	Input        int
	CacheWrite5m int
	CacheWrite1h int
	CacheRead    int
	Output       int
}

func (u usage) cacheWrite() int { return u.CacheWrite5m + u.CacheWrite1h }

// apply forces the numbers a [[sim:usage]] marker sets.
func (u usage) apply(o usageOverride) usage {
	set := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	set(&u.Input, o.Input)
	set(&u.Output, o.Output)
	set(&u.CacheWrite5m, o.CacheWrite5m)
	set(&u.CacheWrite1h, o.CacheWrite1h)
	set(&u.CacheRead, o.CacheRead)
	return u
}

// maxCacheEntries bounds the prompt cache. When full, expired entries are
// dropped, and if that is not enough the whole cache is.
const maxCacheEntries = 100_000

// promptCache simulates Bedrock prompt caching. A breakpoint is a segment
// carrying cache_control; its key is the hash of the model name and every
// segment up to and including it. A request reads from the longest
// breakpoint whose key is live, and writes every later breakpoint.
type promptCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	expires time.Time
	ttl     time.Duration
}

func newPromptCache() *promptCache {
	return &promptCache{entries: make(map[[sha256.Size]byte]cacheEntry)}
}

func (pc *promptCache) reset() {
	pc.mu.Lock()
	clear(pc.entries)
	pc.mu.Unlock()
}

func ttlOf(cc *cacheControl) time.Duration {
	if cc.TTL == "1h" {
		return time.Hour
	}
	return 5 * time.Minute
}

// account computes the input side of usage for segs and updates the cache:
//
//   - breakpoints are segments with cache_control whose prefix (all
//     segments up to and including it) is at least minTokens tokens;
//   - the hit is the last breakpoint whose prefix is cached and not
//     expired; cache_read = tokens(prefix bytes of the hit), and the hit's
//     lifetime restarts (a read refreshes the TTL);
//   - every breakpoint after the hit is written: it adds
//     tokens(its prefix) - tokens(previous breakpoint's prefix, or the hit's)
//     to cache_creation 1h if its cache_control.ttl is "1h", else to 5m;
//   - input = max(1, tokens(all bytes)) - tokens(prefix of the last
//     breakpoint) when there are breakpoints, else the whole estimate.
func (pc *promptCache) account(model string, segs []segment, now time.Time, minTokens int) usage {
	type breakpoint struct {
		key   [sha256.Size]byte
		bytes int
		ttl   time.Duration
	}
	h := sha256.New()
	h.Write([]byte(model))
	h.Write([]byte{0})
	var bps []breakpoint
	total := 0
	for _, sg := range segs {
		h.Write(sg.Bytes)
		h.Write([]byte{0})
		total += len(sg.Bytes)
		if sg.Cache != nil && tokens(total) >= minTokens {
			bp := breakpoint{bytes: total, ttl: ttlOf(sg.Cache)}
			h.Sum(bp.key[:0])
			bps = append(bps, bp)
		}
	}
	all := max(1, tokens(total))
	if len(bps) == 0 {
		return usage{Input: all}
	}

	pc.mu.Lock()
	defer pc.mu.Unlock()
	var u usage
	hit := -1
	for i := len(bps) - 1; i >= 0; i-- {
		if e, ok := pc.entries[bps[i].key]; ok && now.Before(e.expires) {
			hit = i
			pc.entries[bps[i].key] = cacheEntry{expires: now.Add(e.ttl), ttl: e.ttl}
			u.CacheRead = tokens(bps[i].bytes)
			break
		}
	}
	if len(pc.entries)+len(bps) > maxCacheEntries {
		pc.evict(now)
	}
	prev := u.CacheRead
	for _, bp := range bps[hit+1:] {
		t := tokens(bp.bytes)
		if bp.ttl == time.Hour {
			u.CacheWrite1h += t - prev
		} else {
			u.CacheWrite5m += t - prev
		}
		prev = t
		pc.entries[bp.key] = cacheEntry{expires: now.Add(bp.ttl), ttl: bp.ttl}
	}
	u.Input = all - prev
	return u
}

func (pc *promptCache) evict(now time.Time) {
	for k, e := range pc.entries {
		if !now.Before(e.expires) {
			delete(pc.entries, k)
		}
	}
	if len(pc.entries) >= maxCacheEntries {
		clear(pc.entries)
	}
}

// compactJSON is raw without insignificant white space; raw as it is if it
// is not valid JSON.
func compactJSON(raw []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw
	}
	return buf.Bytes()
}
