package usage

import (
	"testing"
	"time"
)

// TestEstimatorOutput: the 90th percentile of a key's recent outputs on a
// model, capped by max_tokens, with a default before any history.
func TestEstimatorOutput(t *testing.T) {
	e := NewEstimator(nil)
	if got := e.Output("k", "m", 32_000); got != DefaultOutputEstimate {
		t.Errorf("Output without history = %d, want %d", got, DefaultOutputEstimate)
	}
	if got := e.Output("k", "m", 100); got != 100 {
		t.Errorf("Output capped by max_tokens 100 = %d, want 100", got)
	}
	for i := range 60 {
		e.ObserveOutput("k", "m", int64(i%10+1)*100) // 100 … 1000
	}
	if got := e.Output("k", "m", 32_000); got != 900 {
		t.Errorf("Output p90 = %d, want 900", got)
	}
	if got := e.Output("k", "other", 32_000); got != DefaultOutputEstimate {
		t.Errorf("Output of another model = %d, want the default", got)
	}
}

// TestEstimatorCache: a prompt that starts with what the key sent up to a
// cache_control breakpoint within the cache's lifetime counts that share
// as read from the cache; another key's, or an expired one, does not.
func TestEstimatorCache(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	e := NewEstimator(func() time.Time { return now })
	turn1 := []byte(`{"system":"you are helpful","messages":[{"role":"user","content":[{"type":"text","text":"long context here","cache_control":{"type":"ephemeral"}}]}]}`)
	turn2 := []byte(`{"system":"you are helpful","messages":[{"role":"user","content":[{"type":"text","text":"long context here","cache_control":{"type":"ephemeral"}}]},{"role":"assistant","content":"ok"},{"role":"user","content":"next"}]}`)
	if s := e.CachedShare("k", e.PromptPrefixes(turn2)); s != 0 {
		t.Errorf("CachedShare before any call = %v, want 0", s)
	}
	e.RememberPrefixes("k", e.PromptPrefixes(turn1))
	s := e.CachedShare("k", e.PromptPrefixes(turn2))
	if s <= 0.3 || s >= 1 {
		t.Errorf("CachedShare of the next turn = %v, want most of the prompt but not all", s)
	}
	if s := e.CachedShare("other", e.PromptPrefixes(turn2)); s != 0 {
		t.Errorf("CachedShare of another key = %v, want 0", s)
	}
	now = now.Add(CacheTTL)
	if s := e.CachedShare("k", e.PromptPrefixes(turn2)); s != 0 {
		t.Errorf("CachedShare after the cache's lifetime = %v, want 0", s)
	}
	// Priced: cache reads are cheaper than fresh input.
	p := Price{Input: 3_000_000, CacheRead: 300_000, Output: 15_000_000}
	_, cold := EstimateCost(p, 10_000, 0, 100)
	_, warm := EstimateCost(p, 10_000, 0.9, 100)
	if warm >= cold {
		t.Errorf("EstimateCost with 90 %% cached = %d, not below %d", warm, cold)
	}
}
