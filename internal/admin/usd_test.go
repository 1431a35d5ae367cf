package admin

import (
	"encoding/json"
	"testing"
)

func TestParseUSD(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"50", 50_000_000, true},
		{"0.000001", 1, true},
		{"1.5e1", 15_000_000, true},
		{"12.3456789", 0, false},
		{"-1", 0, false},
		{"1e30", 0, false},
		{"abc", 0, false},
	}
	for _, tc := range tests {
		got, err := parseUSD("x", json.Number(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseUSD(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzUSD checks that formatting and parsing micro-USD round-trips exactly.
func FuzzUSD(f *testing.F) {
	for _, v := range []int64{0, 1, 999_999, 1_000_000, 50_500_000, 1<<63 - 1} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v int64) {
		if v < 0 {
			v = -(v + 1)
		}
		s := FormatUSD(v)
		got, err := parseUSD("x", json.Number(s))
		if err != nil || got != v {
			t.Fatalf("parseUSD(FormatUSD(%d) = %q) = %d, %v", v, s, got, err)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"7d", "2w", "12h", "90m", "1.5d", "-1d", "", "d", "1e400d", "NaNd", "Infw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parseDuration(s); err == nil && d < 0 {
			t.Fatalf("parseDuration(%q) = %v, want no negative durations", s, d)
		}
	})
}
