package usage

import (
	"math"
	"testing"
)

// TestWorstCostSaturates: a reservation priced from absurd counts or prices
// saturates rather than wrapping to a small or negative amount.
func TestWorstCostSaturates(t *testing.T) {
	p := Price{Input: 3_000_000, Output: 15_000_000, CacheWrite1h: 6_000_000}
	tests := []struct {
		name        string
		p           Price
		in, out     int64
		wantAtLeast int64
	}{
		{"huge output", p, 1, math.MaxInt64, math.MaxInt64},
		{"huge prompt", p, math.MaxInt64, 1, math.MaxInt64},
		{"both huge", p, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{"huge prices", Price{Input: math.MaxInt64, Output: math.MaxInt64}, 1_000_000, 1_000_000, math.MaxInt64},
		{"negative counts", p, -5, -5, 0},
	}
	for _, tt := range tests {
		if got := WorstCost(tt.p, tt.in, tt.out); got < tt.wantAtLeast || got < 0 {
			t.Errorf("%s: WorstCost(%d, %d) = %d, want at least %d", tt.name, tt.in, tt.out, got, tt.wantAtLeast)
		}
	}
}

// TestWorstCaseSaturates: no max_tokens or price can wrap the reservation
// below what the call can cost.
func TestWorstCaseSaturates(t *testing.T) {
	dear := Price{Input: math.MaxInt64, Output: math.MaxInt64, CacheWrite1h: math.MaxInt64}
	var last int64
	for _, maxOut := range []int64{1, 1_000_000, math.MaxInt64 - 1, math.MaxInt64} {
		tokens, micros := WorstCase([]byte(`{"messages":[]}`), maxOut, dear)
		if tokens < maxOut || micros < last {
			t.Errorf("WorstCase(max_tokens %d) = %d tokens, %d micros, want tokens >= %d and micros >= %d", maxOut, tokens, micros, maxOut, last)
		}
		last = micros
	}
	if last != math.MaxInt64 {
		t.Errorf("WorstCase(max_tokens 2^63-1) micros = %d, want saturated", last)
	}
}
