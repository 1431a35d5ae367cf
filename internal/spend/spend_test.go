package spend

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/limits"
)

var resetAt = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // unix 1772409600

// usd is a daily budget of $limit with spent and reserved in micro-USD.
func usd(id string, limit, spent, reserved int64) limits.BudgetStatus {
	return limits.BudgetStatus{
		Budget:   limits.Budget{ID: id, LimitMicros: limit, Period: limits.Day},
		ResetAt:  resetAt,
		Spent:    limits.Amount{Micros: spent},
		Reserved: limits.Amount{Micros: reserved},
	}
}

func TestSetAllowed(t *testing.T) {
	tokens := limits.BudgetStatus{
		Budget:  limits.Budget{ID: "tok", LimitTokens: 1000, Period: limits.Month},
		ResetAt: resetAt.AddDate(0, 1, 0),
		Spent:   limits.Amount{Tokens: 960},
	}
	both := limits.BudgetStatus{ // $ at 10 %, tokens at 80 %: the tokens count
		Budget:  limits.Budget{ID: "both", LimitMicros: 1_000_000, LimitTokens: 1000, Period: limits.Day},
		ResetAt: resetAt,
		Spent:   limits.Amount{Micros: 100_000, Tokens: 800},
	}
	total := usd("total", 100, 50, 0)
	total.ResetAt = time.Time{}
	tests := []struct {
		name string
		sts  []limits.BudgetStatus
		own  limits.Amount
		want http.Header
	}{
		{"0 %", []limits.BudgetStatus{usd("b", 100, 0, 0)}, limits.Amount{}, allowed("0", "", "1772409600")},
		{"74 %", []limits.BudgetStatus{usd("b", 100, 74, 0)}, limits.Amount{}, allowed("0.74", "", "1772409600")},
		{"74.99 % is still below", []limits.BudgetStatus{usd("b", 10000, 7499, 0)}, limits.Amount{}, allowed("0.74", "", "1772409600")},
		{"75 %", []limits.BudgetStatus{usd("b", 100, 75, 0)}, limits.Amount{}, allowed("0.75", "0.75", "1772409600")},
		{"94 %", []limits.BudgetStatus{usd("b", 100, 94, 0)}, limits.Amount{}, allowed("0.94", "0.75", "1772409600")},
		{"95 %", []limits.BudgetStatus{usd("b", 100, 95, 0)}, limits.Amount{}, allowed("0.95", "0.95", "1772409600")},
		{"100 % admitted shows 99 %", []limits.BudgetStatus{usd("b", 100, 100, 0)}, limits.Amount{}, allowed("0.99", "0.95", "1772409600")},
		{"in flight counts", []limits.BudgetStatus{usd("b", 100, 50, 30)}, limits.Amount{}, allowed("0.8", "0.75", "1772409600")},
		{"own reservation does not count", []limits.BudgetStatus{usd("b", 100, 50, 40)}, limits.Amount{Micros: 40}, allowed("0.5", "", "1772409600")},
		{"token budget", []limits.BudgetStatus{tokens}, limits.Amount{}, allowed("0.96", "0.95", "1775088000")},
		{"higher unit of two", []limits.BudgetStatus{both}, limits.Amount{}, allowed("0.8", "0.75", "1772409600")},
		{"tightest of several", []limits.BudgetStatus{usd("key", 100, 10, 0), usd("team", 1000, 960, 0), usd("user", 100, 80, 0)},
			limits.Amount{}, allowed("0.96", "0.95", "1772409600")},
		{"tie goes to the later reset", []limits.BudgetStatus{usd("day", 100, 80, 0), tokens80(resetAt.AddDate(0, 0, 7))},
			limits.Amount{}, allowed("0.8", "0.75", "1773014400")},
		{"never resets: no reset headers", []limits.BudgetStatus{total}, limits.Amount{}, allowed("0.5", "", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := Nearest(tt.sts, tt.own)
			if !ok {
				t.Fatalf("Nearest(%d statuses) found none", len(tt.sts))
			}
			got := http.Header{}
			SetAllowed(got, l)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SetAllowed headers (-want +got):\n%s", diff)
			}
		})
	}
}

func tokens80(reset time.Time) limits.BudgetStatus {
	return limits.BudgetStatus{
		Budget:  limits.Budget{ID: "week", LimitTokens: 1000, Period: limits.Week},
		ResetAt: reset,
		Spent:   limits.Amount{Tokens: 800},
	}
}

// allowed builds the headers of an admitted call; threshold "" for none,
// reset "" for a budget that never resets.
func allowed(util, threshold, reset string) http.Header {
	status := StatusAllowed
	if threshold != "" {
		status = StatusWarning
	}
	h := http.Header{}
	h.Set(HeaderStatus, status)
	h.Set(HeaderRepresentativeClaim, "overage")
	h.Set(HeaderOverageStatus, status)
	h.Set(HeaderOverageUtilization, util)
	if threshold != "" {
		h.Set(HeaderOverageThreshold, threshold)
	}
	if reset != "" {
		h.Set(HeaderReset, reset)
		h.Set(HeaderOverageReset, reset)
	}
	return h
}

func TestNearestNone(t *testing.T) {
	if l, ok := Nearest(nil, limits.Amount{}); ok {
		t.Errorf("Nearest(nil) = %+v, true; want false", l)
	}
}

func TestSetRejected(t *testing.T) {
	now := resetAt.Add(-90*time.Minute - 500*time.Millisecond)
	tests := []struct {
		name  string
		e     *limits.OverBudgetError
		want  http.Header
		retry time.Duration
	}{
		{
			name: "daily usd",
			e: &limits.OverBudgetError{Budget: limits.Budget{ID: "b", Period: limits.Day}, Unit: "usd",
				Spent: limits.Amount{Micros: 980_000}, Reserved: limits.Amount{Micros: 10_000}, Requested: limits.Amount{Micros: 50_000},
				Limit: limits.Amount{Micros: 1_000_000}, ResetAt: resetAt},
			want: http.Header{
				"Anthropic-Ratelimit-Unified-Status":                      {"rejected"},
				"Anthropic-Ratelimit-Unified-Overage-Utilization":         {"0.99"},
				"Anthropic-Ratelimit-Unified-Overage-Surpassed-Threshold": {"1"},
				"Anthropic-Ratelimit-Unified-Overage-Period":              {"day"},
				"Anthropic-Ratelimit-Unified-Overage-Disabled-Reason":     {"org_spend_cap_reached"},
				"Anthropic-Ratelimit-Unified-Reset":                       {"1772409600"},
				"Anthropic-Ratelimit-Unified-Overage-Reset":               {"1772409600"},
			},
			retry: 90*time.Minute + time.Second,
		},
		{
			name: "total tokens",
			e: &limits.OverBudgetError{Budget: limits.Budget{ID: "b", Period: limits.Total}, Unit: "tokens",
				Spent: limits.Amount{Tokens: 1000}, Limit: limits.Amount{Micros: 5_000_000, Tokens: 1000}},
			want: http.Header{
				"Anthropic-Ratelimit-Unified-Status":                      {"rejected"},
				"Anthropic-Ratelimit-Unified-Overage-Utilization":         {"1"},
				"Anthropic-Ratelimit-Unified-Overage-Surpassed-Threshold": {"1"},
				"Anthropic-Ratelimit-Unified-Overage-Period":              {"total"},
				"Anthropic-Ratelimit-Unified-Overage-Disabled-Reason":     {"org_spend_cap_reached"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := http.Header{}
			SetRejected(got, tt.e)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SetRejected headers (-want +got):\n%s", diff)
			}
			// With either, Claude Code words the refusal itself instead of
			// printing the gateway's message.
			for _, h := range []string{HeaderRepresentativeClaim, HeaderOverageStatus} {
				if got.Get(h) != "" {
					t.Errorf("SetRejected set %s", h)
				}
			}
			if r := RetryAfter(tt.e, now); r != tt.retry {
				t.Errorf("RetryAfter = %v, want %v", r, tt.retry)
			}
		})
	}
}

func TestIsRateLimitHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"anthropic-ratelimit-requests-remaining": true,
		"Anthropic-Ratelimit-Unified-Status":     true,
		"anthropic-ratelimit":                    false,
		"anthropic-version":                      false,
		"retry-after":                            false,
	} {
		if got := IsRateLimitHeader(name); got != want {
			t.Errorf("IsRateLimitHeader(%q) = %v, want %v", name, got, want)
		}
	}
}
