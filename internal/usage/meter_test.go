package usage

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/tokens"
)

func TestNewRecord(t *testing.T) {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	who := Record{RequestID: "req-1", KeyID: "key_1", KeyAlias: "ci", UserID: "u1", TeamID: "t1", SessionID: "s1",
		Tags: map[string]string{"repo": "app"}, ModelRequested: "sonnet", Model: "claude-sonnet-4-5",
		UpstreamModel: "claude-sonnet-4-5-20250929", Provider: "anthropic", Door: "anthropic", Status: 200}
	price := Price{Input: 3_000_000, Output: 15_000_000, CacheWrite5m: 3_750_000, CacheWrite1h: 6_000_000, CacheRead: 300_000}
	reported := &anthropic.Usage{Counts: tokens.Counts{Input: 1000, Output: 100, CacheWrite5m: 10, CacheWrite1h: 20, CacheRead: 30},
		SawMessageStop: true}
	cut := &anthropic.Usage{Counts: tokens.Counts{Input: 1000, Output: 1}}
	with := func(f func(*Record)) Record { r := who; f(&r); return r }

	tests := []struct {
		name string
		in   Facts
		want Record
	}{
		{
			name: "reported and priced",
			in: Facts{Record: who, Start: start, Latency: 1500 * time.Millisecond, TTFT: 300 * time.Millisecond,
				Reported: reported, Price: price, Priced: true},
			want: with(func(r *Record) {
				r.Time, r.LatencyMs, r.TTFTMs = start.UTC(), 1500, 300
				r.Tokens = reported.Counts
				r.CostMicros = Cost(price, reported.Counts)
			}),
		},
		{
			name: "unknown model: costed at the stand-in price, flagged",
			in:   Facts{Record: who, Start: start, Reported: reported, Price: UnknownModelPrice, Priced: false},
			want: with(func(r *Record) {
				r.Time, r.Tokens = start.UTC(), reported.Counts
				r.CostMicros, r.Unpriced = Cost(UnknownModelPrice, reported.Counts), true
			}),
		},
		{
			name: "cut stream: output estimated from the bytes relayed",
			in: Facts{Record: with(func(r *Record) { r.Stream = true }), Start: start, Reported: cut,
				RelayedBytes: 401, Price: price, Priced: true},
			want: with(func(r *Record) {
				r.Stream, r.Time = true, start.UTC()
				r.Tokens = tokens.Counts{Input: 1000, Output: 101}
				r.CostMicros = Cost(price, r.Tokens)
			}),
		},
		{
			name: "finished stream: the reported output stands",
			in: Facts{Record: with(func(r *Record) { r.Stream = true }), Start: start, Reported: reported,
				RelayedBytes: 1 << 20, Price: price, Priced: true},
			want: with(func(r *Record) {
				r.Stream, r.Time, r.Tokens = true, start.UTC(), reported.Counts
				r.CostMicros = Cost(price, reported.Counts)
			}),
		},
		{
			name: "no target reached: nothing used, nothing costed",
			in: Facts{Record: with(func(r *Record) { r.UpstreamModel, r.Provider, r.Status = "", "", 503 }),
				Start: start, Price: price, Priced: false},
			want: with(func(r *Record) { r.UpstreamModel, r.Provider, r.Status, r.Time = "", "", 503, start.UTC() }),
		},
		{
			name: "facts the caller set on the computed fields are ignored",
			in: Facts{Record: with(func(r *Record) {
				r.LatencyMs, r.TTFTMs, r.Tokens, r.CostMicros, r.Unpriced = 9, 9, tokens.Counts{Input: 9}, 9, true
			}), Start: start, Price: price, Priced: true},
			want: with(func(r *Record) { r.Time = start.UTC() }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewRecord(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewRecord(%s) (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}
