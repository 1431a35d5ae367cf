package limits

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// ScopeKind is what a budget or rate limit is attached to: a key, a user or
// a team. Its values are stored as they are, in the store's scope_kind
// columns.
type ScopeKind string

// The scope kinds.
const (
	KindKey  ScopeKind = "key"
	KindUser ScopeKind = "user"
	KindTeam ScopeKind = "team"
)

// Scope is the principal a budget or rate limit applies to: a key, a user or
// a team, by id.
type Scope struct {
	Kind ScopeKind
	ID   string
}

// String returns the scope as `kind "id"`, the form used in error messages.
func (s Scope) String() string { return fmt.Sprintf("%s %q", s.Kind, s.ID) }

// Amount is a quantity in both budget units: micro-USD and tokens.
type Amount struct {
	Micros int64
	Tokens int64
}

// add and sub saturate at the int64 bounds: amounts come from estimates and
// usage reports, and a sum that wrapped negative would let a budget admit
// calls without limit. The ledger only holds non-negative amounts.
func (a Amount) add(b Amount) Amount {
	return Amount{satAdd(a.Micros, b.Micros), satAdd(a.Tokens, b.Tokens)}
}

func (a Amount) sub(b Amount) Amount {
	return Amount{satAdd(a.Micros, satNeg(b.Micros)), satAdd(a.Tokens, satNeg(b.Tokens))}
}

// satAdd returns x + y, clamped to the int64 range.
func satAdd(x, y int64) int64 {
	s := x + y
	switch {
	case x > 0 && y > 0 && s < 0:
		return math.MaxInt64
	case x < 0 && y < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

func satNeg(x int64) int64 {
	if x == math.MinInt64 {
		return math.MaxInt64
	}
	return -x
}

// nonNegative clamps each unit at zero, so that a bad estimate or usage
// report can never credit a budget.
func (a Amount) nonNegative() Amount { return Amount{max(a.Micros, 0), max(a.Tokens, 0)} }

// Period is how often a budget starts over.
type Period int

// Periods. The zero value is Total, a budget that never resets.
const (
	Total Period = iota
	Day
	Week
	Month

	// minute is the fixed one-minute window of the shared rate limiter's
	// per-minute counters (SharedLimiter); budgets never use it.
	minute Period = 100
)

// String returns the period's name as used in configuration and messages.
func (p Period) String() string {
	switch p {
	case Day:
		return "day"
	case Week:
		return "week"
	case Month:
		return "month"
	case Total:
		return "total"
	case minute:
		return "minute"
	}
	return fmt.Sprintf("Period(%d)", int(p))
}

// adjective is the period as a word before "budget": "daily budget".
func (p Period) adjective() string {
	switch p {
	case Day:
		return "daily"
	case Week:
		return "weekly"
	case Month:
		return "monthly"
	case Total:
		return "total"
	}
	return p.String()
}

// ParsePeriod parses "day", "week", "month" or "total".
func ParsePeriod(s string) (Period, error) {
	for _, p := range []Period{Day, Week, Month, Total} {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("limits: unknown budget period %q (want day, week, month or total)", s)
}

// Budget is a spending limit on one scope, in micro-USD and/or tokens, per
// period.
type Budget struct {
	ID    string
	Scope Scope

	// LimitMicros is the limit in micro-USD per period; 0 means no limit in
	// money.
	LimitMicros int64
	// LimitTokens is the limit in tokens of every kind per period; 0 means
	// no limit in tokens.
	LimitTokens int64

	Period Period
	// Location is the time zone whose midnight starts a period. Nil means
	// UTC.
	Location *time.Location

	// Thresholds are soft alerts in percent of the limit (e.g. 50, 80,
	// 100); Ledger.OnThreshold is called once per threshold per period when
	// spend reaches it.
	Thresholds []int

	// Strict makes the budget admit a call only when its worst case fits
	// under the limit (spent + worst cases in flight + this worst case <=
	// limit): spend can never pass the limit, at the price of refusing
	// calls near the end of a period that would in fact have fitted.
	// Otherwise (estimate mode, the default in configuration) a call is
	// admitted on its realistic estimate and its worst case is bounded by
	// the limit plus Overdraft. See the package documentation.
	Strict bool
	// Overdraft is how far settled spend may go past the limit in estimate
	// mode, per unit (resolved from a percentage by the caller); ignored
	// when Strict. Zero makes estimate mode as tight as strict mode.
	Overdraft Amount

	// ScopeName is the scope's name for people — the key's alias, the
	// user's or team's name — used in the over-budget message instead of
	// the opaque id; empty, the message names the id. A rename does not
	// reset the budget's spend.
	ScopeName string
}

// ceiling is what settled spend plus the worst cases in flight may reach,
// per unit: the limit plus the overdraft (strict: the limit). 0 means no
// limit in that unit.
func (b *Budget) ceiling() Amount {
	c := Amount{b.LimitMicros, b.LimitTokens}
	if b.Strict {
		return c
	}
	if c.Micros > 0 {
		c.Micros = satAdd(c.Micros, max(b.Overdraft.Micros, 0))
	}
	if c.Tokens > 0 {
		c.Tokens = satAdd(c.Tokens, max(b.Overdraft.Tokens, 0))
	}
	return c
}

// Ask is what one call asks of the budgets that cover it.
type Ask struct {
	// Estimate is the call's realistic cost: what it will most likely be
	// charged. In estimate mode, settled spend plus the estimates in flight
	// plus this one must fit under the limit.
	Estimate Amount
	// Worst bounds what the call can be charged at the max_tokens it asked
	// for. Settled spend plus the worst cases in flight plus this one must
	// fit under the limit plus the overdraft (strict: the limit).
	Worst Amount
	// Shrink, when set, says what the call's worst case would be if its
	// max_tokens were lowered to fit room (per unit, the most any budget
	// can still hold): the largest worst case not above room, or false
	// when even the smallest max_tokens the gateway allows does not fit.
	// It is called with locks held, so it must be quick and pure. Nil
	// means the call cannot be shrunk.
	Shrink func(room Amount) (Amount, bool)
	// Floor is the worst case at the smallest max_tokens Shrink allows
	// (Worst when Shrink is nil): what a replica sharing the budget must at
	// least lease.
	Floor Amount
}

// normal clamps the ask's amounts at zero and makes Estimate <= Floor <=
// Worst.
func (k Ask) normal() Ask {
	k.Worst = k.Worst.nonNegative()
	if k.Shrink == nil {
		k.Floor = k.Worst
	}
	k.Floor = minAmount(k.Floor.nonNegative(), k.Worst)
	k.Estimate = minAmount(k.Estimate.nonNegative(), k.Worst)
	return k
}

func minAmount(a, b Amount) Amount { return Amount{min(a.Micros, b.Micros), min(a.Tokens, b.Tokens)} }

// within reports whether v <= room in every unit that limit limits (a
// non-zero unit of limit).
func within(v, room, limit Amount) bool {
	return (limit.Micros == 0 || v.Micros <= room.Micros) && (limit.Tokens == 0 || v.Tokens <= room.Tokens)
}

// DefaultOverdraftPercent is the overdraft of a budget in estimate mode
// that does not set one: 5 % of its limit. Small enough that the worst a
// period can end at is close to what was configured ($5.25 for $5.00), and
// large enough to hold one typical call's worst case beyond the realistic
// estimates, which is what keeps the last dollars of a period usable.
const DefaultOverdraftPercent = 5

// Overdraft is a budget's overdraft as configured: a percentage of its
// limit, or an amount in USD or tokens.
type Overdraft struct {
	// Percent of the limit, in each unit the budget limits; used when
	// Set is "%".
	Percent float64
	// Micros and Tokens are absolute amounts.
	Micros, Tokens int64
	// Unit says which form was given: "%", "usd" or "tokens"; empty means
	// the default (DefaultOverdraftPercent).
	Unit string
}

// ParseOverdraft parses "5%", "0.50" or "$0.50" (USD), or "20000 tokens".
// The empty string is the default.
func ParseOverdraft(s string) (Overdraft, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return Overdraft{}, nil
	case strings.HasSuffix(t, "%"):
		v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
		if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
			return Overdraft{}, fmt.Errorf("limits: overdraft %q: want a percentage from 0%% to 100%%", s)
		}
		return Overdraft{Percent: v, Unit: "%"}, nil
	case strings.HasSuffix(t, "tokens"):
		v, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(t, "tokens")), 10, 64)
		if err != nil || v < 0 {
			return Overdraft{}, fmt.Errorf("limits: overdraft %q: want a whole number of tokens, e.g. \"20000 tokens\"", s)
		}
		return Overdraft{Tokens: v, Unit: "tokens"}, nil
	}
	v, err := strconv.ParseFloat(strings.TrimPrefix(t, "$"), 64)
	if err != nil || v < 0 || v > 1e9 || math.IsNaN(v) {
		return Overdraft{}, fmt.Errorf("limits: overdraft %q: want a percentage (\"5%%\"), USD (\"0.50\") or tokens (\"20000 tokens\")", s)
	}
	return Overdraft{Micros: int64(math.Round(v * 1e6)), Unit: "usd"}, nil
}

// String returns the overdraft in the form ParseOverdraft reads; empty for
// the default.
func (o Overdraft) String() string {
	switch o.Unit {
	case "%":
		return strconv.FormatFloat(o.Percent, 'f', -1, 64) + "%"
	case "usd":
		return strconv.FormatFloat(float64(o.Micros)/1e6, 'f', -1, 64)
	case "tokens":
		return strconv.FormatInt(o.Tokens, 10) + " tokens"
	}
	return ""
}

// Resolve is the overdraft of a budget with the given limits, per unit. A
// percentage applies to each unit; an amount in one unit leaves the other
// with none (strict in that unit).
func (o Overdraft) Resolve(limit Amount) Amount {
	switch o.Unit {
	case "usd":
		return Amount{Micros: o.Micros}
	case "tokens":
		return Amount{Tokens: o.Tokens}
	}
	pct := o.Percent
	if o.Unit == "" {
		pct = DefaultOverdraftPercent
	}
	return Amount{int64(float64(limit.Micros) * pct / 100), int64(float64(limit.Tokens) * pct / 100)}
}

func (b *Budget) location() *time.Location {
	if b.Location == nil {
		return time.UTC
	}
	return b.Location
}

// sameAccount reports whether a reload of b as nb can keep b's spend and
// reservations: same identity and the same period boundaries.
func (b *Budget) sameAccount(nb *Budget) bool {
	return b.ID == nb.ID && b.Scope == nb.Scope && b.Period == nb.Period &&
		b.location().String() == nb.location().String()
}

// PeriodBounds returns the start and end of the period containing t, in the
// budget's time zone. A Total budget's period has a zero start and a zero
// end (it never ends).
func (b *Budget) PeriodBounds(t time.Time) (start, end time.Time) {
	loc := b.location()
	y, m, d := t.In(loc).Date()
	switch b.Period {
	case Day:
		return time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	case Week:
		back := (int(t.In(loc).Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, loc), time.Date(y, m, d-back+7, 0, 0, 0, 0, loc)
	case Month:
		return time.Date(y, m, 1, 0, 0, 0, 0, loc), time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	case minute:
		start := t.Truncate(time.Minute)
		return start, start.Add(time.Minute)
	}
	return time.Time{}, time.Time{}
}

// atLeastPercent reports whether v is at least pct percent of limit
// (v*100 >= pct*limit), computed in 128 bits so that no product wraps.
// limit is positive; v and pct below zero count as zero.
func atLeastPercent(v int64, pct int, limit int64) bool {
	vh, vl := bits.Mul64(uint64(max(v, 0)), 100)
	ph, pl := bits.Mul64(uint64(max(pct, 0)), uint64(limit))
	return vh > ph || vh == ph && vl >= pl
}
