package limits

import (
	"fmt"
	"math"
	"math/bits"
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

	// ScopeName is the scope's name for people — the key's alias, the
	// user's or team's name — used in the over-budget message instead of
	// the opaque id; empty, the message names the id. A rename does not
	// reset the budget's spend.
	ScopeName string
}

// scope names the budget's scope in messages: key "ci", else key "key_…".
func (b *Budget) scope() string {
	if b.ScopeName == "" {
		return b.Scope.String()
	}
	return fmt.Sprintf("%s %q", b.Scope.Kind, b.ScopeName)
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
