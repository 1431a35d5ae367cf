package limits

import (
	"context"
	"errors"
	"testing"
)

// linearAsk is a call whose worst case is in + maxOut × per micro-USD (and
// in + maxOut tokens), that may be shrunk down to floorOut output tokens:
// the shape of a Messages call whose max_tokens the gateway may lower.
func linearAsk(est, in, per, maxOut, floorOut int64) Ask {
	worst := func(m int64) Amount { return Amount{Micros: in + m*per, Tokens: in + m} }
	return Ask{
		Estimate: Amount{Micros: est, Tokens: est},
		Worst:    worst(maxOut),
		Floor:    worst(min(floorOut, maxOut)),
		Shrink: func(room Amount) (Amount, bool) {
			m := min(maxOut, (room.Micros-in)/per, room.Tokens-in)
			if m < min(floorOut, maxOut) {
				return Amount{}, false
			}
			return worst(m), true
		},
	}
}

// TestAdmit: the two checks of estimate mode, strict mode, and the shrink
// of a call whose worst case does not fit what is left.
func TestAdmit(t *testing.T) {
	tests := []struct {
		name string
		b    Budget
		// spent is settled before the call; held is one reservation in
		// flight (estimate = worst = held).
		spent, held int64
		ask         Ask
		wantWorst   int64 // micro-USD held; -1: refused
	}{
		{"early in the period: the whole worst case",
			Budget{LimitMicros: 10_000, Overdraft: Amount{Micros: 500}}, 0, 0,
			linearAsk(100, 100, 1, 4_000, 1_000), 4_100},
		{"estimate mode: the estimate fits, the worst case is shrunk into limit + overdraft",
			Budget{LimitMicros: 10_000, Overdraft: Amount{Micros: 500}}, 8_000, 0,
			linearAsk(100, 100, 1, 4_000, 1_000), 2_500},
		{"strict mode: shrunk into the limit",
			Budget{LimitMicros: 10_000, Overdraft: Amount{Micros: 500}, Strict: true}, 8_000, 0,
			linearAsk(100, 100, 1, 4_000, 1_000), 2_000},
		{"strict mode: not even the floor fits",
			Budget{LimitMicros: 10_000, Strict: true}, 9_500, 0,
			linearAsk(100, 100, 1, 4_000, 1_000), -1},
		{"estimate mode: the floor fits only thanks to the overdraft",
			Budget{LimitMicros: 10_000, Overdraft: Amount{Micros: 1_000}}, 9_500, 0,
			linearAsk(100, 100, 1, 4_000, 1_000), 1_500},
		{"estimate mode: the estimate does not fit",
			Budget{LimitMicros: 10_000, Overdraft: Amount{Micros: 5_000}}, 9_950, 0,
			linearAsk(100, 100, 1, 4_000, 1_000), -1},
		{"estimate mode: worst cases in flight cap the shrink",
			Budget{LimitMicros: 10_000, Overdraft: Amount{Micros: 500}}, 5_000, 3_000,
			linearAsk(100, 100, 1, 4_000, 1_000), 2_500},
		{"a call that cannot be shrunk is refused",
			Budget{LimitMicros: 10_000, Overdraft: Amount{Micros: 500}}, 8_000, 0,
			Ask{Estimate: Amount{Micros: 100}, Worst: Amount{Micros: 4_100}}, -1},
		{"max_tokens below the floor is never raised",
			Budget{LimitMicros: 10_000}, 0, 0,
			linearAsk(10, 100, 1, 500, 1_000), 600},
		{"tokens: shrunk into the token ceiling",
			Budget{LimitTokens: 10_000, Overdraft: Amount{Tokens: 1_000}}, 9_000, 0,
			linearAsk(100, 100, 1, 4_000, 1_000), 2_000},
		{"zero overdraft: estimate mode is as tight as strict",
			Budget{LimitMicros: 10_000}, 8_000, 0,
			linearAsk(100, 100, 1, 4_000, 1_000), 2_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLedger(fixedNow)
			b := tt.b
			b.ID, b.Scope = "b", keyA
			mustLoad(t, l, b)
			ctx := context.Background()
			if tt.spent > 0 {
				r, err := l.Admit(ctx, []Scope{keyA}, Ask{Worst: Amount{Micros: tt.spent, Tokens: tt.spent}})
				if err != nil {
					t.Fatal(err)
				}
				r.Settle(Amount{Micros: tt.spent, Tokens: tt.spent})
			}
			if tt.held > 0 {
				if _, err := l.Admit(ctx, []Scope{keyA}, Ask{Estimate: Amount{Micros: tt.held, Tokens: tt.held}, Worst: Amount{Micros: tt.held, Tokens: tt.held}}); err != nil {
					t.Fatal(err)
				}
			}
			r, err := l.Admit(ctx, []Scope{keyA}, tt.ask)
			got := int64(-1)
			if err == nil {
				got = r.Worst().Micros
				if r.Estimate().Micros > got {
					t.Errorf("estimate %d held above the worst case %d", r.Estimate().Micros, got)
				}
			} else if !errors.Is(err, ErrOverBudget) {
				t.Fatalf("Admit = %v, want admitted or over budget", err)
			}
			if got != tt.wantWorst {
				t.Errorf("Admit held worst %d (err %v), want %d", got, err, tt.wantWorst)
			}
			if err == nil && b.LimitTokens > 0 && r.Worst().Tokens+tt.spent+tt.held > b.LimitTokens+b.Overdraft.Tokens {
				t.Errorf("held %d tokens, past the ceiling", r.Worst().Tokens)
			}
		})
	}
}

// TestParseOverdraft: the three forms, and what they resolve to.
func TestParseOverdraft(t *testing.T) {
	limit := Amount{Micros: 5_000_000, Tokens: 1_000_000}
	tests := []struct {
		in   string
		want Amount
		err  bool
	}{
		{"", Amount{250_000, 50_000}, false},
		{"5%", Amount{250_000, 50_000}, false},
		{"0%", Amount{}, false},
		{"12.5 %", Amount{625_000, 125_000}, false},
		{"0.50", Amount{Micros: 500_000}, false},
		{"$1", Amount{Micros: 1_000_000}, false},
		{"20000 tokens", Amount{Tokens: 20_000}, false},
		{"-1", Amount{}, true},
		{"101%", Amount{}, true},
		{"lots", Amount{}, true},
		{"NaN%", Amount{}, true},
		{"1.5 tokens", Amount{}, true},
	}
	for _, tt := range tests {
		o, err := ParseOverdraft(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseOverdraft(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		if got := o.Resolve(limit); got != tt.want {
			t.Errorf("ParseOverdraft(%q).Resolve = %+v, want %+v", tt.in, got, tt.want)
		}
		if back, err := ParseOverdraft(o.String()); err != nil || back != o {
			t.Errorf("ParseOverdraft(%q).String() = %q, which reads back as %+v, %v", tt.in, o.String(), back, err)
		}
	}
}

// FuzzParseOverdraft: any input parses or fails cleanly, and what parses
// reads back the same.
func FuzzParseOverdraft(f *testing.F) {
	for _, s := range []string{"", "5%", "0.50", "$2", "100 tokens", "1e308", "-0%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOverdraft(s)
		if err != nil {
			return
		}
		if r := o.Resolve(Amount{Micros: 1 << 40, Tokens: 1 << 40}); r.Micros < 0 || r.Tokens < 0 {
			t.Fatalf("ParseOverdraft(%q) resolves negative: %+v", s, r)
		}
		if back, err := ParseOverdraft(o.String()); err != nil || back != o {
			t.Fatalf("ParseOverdraft(%q).String() = %q reads back as %+v, %v", s, o.String(), back, err)
		}
	})
}
