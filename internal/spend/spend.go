// Package spend tells Claude Code how much of its budget a caller has used,
// in the anthropic-ratelimit-unified-* response headers that Claude Code
// (2.1.225 and later) reads from a gateway: on answers that go through, the
// share of the budget nearest its limit, so that the client warns at 75 %
// and 95 %; on the refusal at the cap, the headers that make it print the
// gateway's message as it is and stop, without retrying.
//
// Claude Code reads these headers only when it talks to a gateway it signed
// in to (or holds a bearer token meant for one: a JWT whose audience is
// "claude-gateway"). With an API key, or an opaque bearer token, it ignores
// them, so sending them costs nothing there. Bedrock-mode clients never read
// them. See docs/budgets.md for what users see.
package spend

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/limits"
)

// Header names, as Claude Code reads them.
const (
	HeaderStatus              = "anthropic-ratelimit-unified-status"
	HeaderReset               = "anthropic-ratelimit-unified-reset"
	HeaderRepresentativeClaim = "anthropic-ratelimit-unified-representative-claim"
	HeaderOverageStatus       = "anthropic-ratelimit-unified-overage-status"
	HeaderOverageReset        = "anthropic-ratelimit-unified-overage-reset"
	HeaderOverageUtilization  = "anthropic-ratelimit-unified-overage-utilization"
	HeaderOverageThreshold    = "anthropic-ratelimit-unified-overage-surpassed-threshold"
	HeaderOveragePeriod       = "anthropic-ratelimit-unified-overage-period"
	HeaderOverageDisabled     = "anthropic-ratelimit-unified-overage-disabled-reason"
)

// Statuses of HeaderStatus.
const (
	StatusAllowed  = "allowed"
	StatusWarning  = "allowed_warning"
	StatusRejected = "rejected"
)

// Warning thresholds, as fractions of the limit, highest first: the values
// of HeaderOverageThreshold Claude Code knows.
var thresholds = [...]float64{0.95, 0.75}

// Level is where a call stands against the covering budget nearest its
// limit.
type Level struct {
	Budget limits.Budget
	// Utilization is what settled calls spent plus what other calls in
	// flight hold, as a fraction of the limit, the higher of the two units
	// when the budget has both.
	Utilization float64
	// ResetAt is when the budget starts over; zero for a budget that never
	// does.
	ResetAt time.Time
}

// Nearest returns the level of the budget in sts that is nearest its limit,
// or false when sts is empty. own is the calling request's own reservation,
// held against every covering budget: it is left out, because it is a worst
// case (the whole context window, all of max_tokens) rather than spend, and
// counting it would warn about money that will never be spent. Ties go to
// the budget that resets later, the one that would stop the caller longer.
func Nearest(sts []limits.BudgetStatus, own limits.Amount) (Level, bool) {
	var best Level
	found := false
	for _, st := range sts {
		l := Level{Budget: st.Budget, Utilization: utilization(st, own), ResetAt: st.ResetAt}
		if !found || l.Utilization > best.Utilization ||
			l.Utilization == best.Utilization && resetsLater(l.ResetAt, best.ResetAt) {
			best, found = l, true
		}
	}
	return best, found
}

// utilization is st's spent and held amount, less own, over its limit, in
// the unit nearest its limit.
func utilization(st limits.BudgetStatus, own limits.Amount) float64 {
	share := func(spent, reserved, own, limit int64) float64 {
		if limit <= 0 {
			return 0
		}
		used := float64(max(spent, 0)) + float64(max(reserved-max(own, 0), 0))
		return used / float64(limit)
	}
	return max(share(st.Spent.Micros, st.Reserved.Micros, own.Micros, st.Budget.LimitMicros),
		share(st.Spent.Tokens, st.Reserved.Tokens, own.Tokens, st.Budget.LimitTokens))
}

// resetsLater reports whether reset time x is later than y; zero (never) is
// the latest.
func resetsLater(x, y time.Time) bool {
	switch {
	case y.IsZero():
		return false
	case x.IsZero():
		return true
	}
	return x.After(y)
}

// Threshold returns the highest warning threshold the level has reached,
// or 0 below the first.
func (l Level) Threshold() float64 {
	for _, t := range thresholds {
		if l.Utilization >= t {
			return t
		}
	}
	return 0
}

// Status returns StatusWarning from the first threshold on, else
// StatusAllowed. A call that was admitted is never StatusRejected.
func (l Level) Status() string {
	if l.Threshold() > 0 {
		return StatusWarning
	}
	return StatusAllowed
}

// SetAllowed sets on h the headers of an answer that went through: the
// status, the share used, the highest threshold reached and when the budget
// resets. The claim "overage" is what makes Claude Code word the warning as
// spend ("You've used 80% of your usage credits") rather than as one of its
// plan windows.
func SetAllowed(h http.Header, l Level) {
	status := l.Status()
	h.Set(HeaderStatus, status)
	h.Set(HeaderRepresentativeClaim, "overage")
	h.Set(HeaderOverageStatus, status)
	// Admitted, so below the limit: never show 100 % on an answer that
	// went through.
	h.Set(HeaderOverageUtilization, fraction(min(l.Utilization, 0.99)))
	if t := l.Threshold(); t > 0 {
		h.Set(HeaderOverageThreshold, fraction(t))
	}
	setReset(h, l.ResetAt)
}

// SetRejected sets on h the headers of the refusal e at the cap, which make
// Claude Code print the answer's message as it is and not retry: status
// rejected, the disabled reason org_spend_cap_reached, the budget's period,
// and when it resets. There is deliberately no representative claim and no
// overage status: with them the client words the refusal itself ("You've
// hit your usage limit") instead of printing the gateway's message. The
// caller still sends x-should-retry: false and retry-after (RetryAfter).
func SetRejected(h http.Header, e *limits.OverBudgetError) {
	h.Set(HeaderStatus, StatusRejected)
	var u float64
	if e.Limit.Micros > 0 && e.Unit != "tokens" {
		u = float64(e.Spent.Micros+e.Reserved.Micros) / float64(e.Limit.Micros)
	} else if e.Limit.Tokens > 0 {
		u = float64(e.Spent.Tokens+e.Reserved.Tokens) / float64(e.Limit.Tokens)
	}
	h.Set(HeaderOverageUtilization, fraction(u))
	h.Set(HeaderOverageThreshold, "1")
	h.Set(HeaderOveragePeriod, e.Budget.Period.String())
	h.Set(HeaderOverageDisabled, "org_spend_cap_reached")
	setReset(h, e.ResetAt)
}

// RetryAfter is how long until e's budget resets, in whole seconds rounded
// up and at least one second, for the retry-after header; 0 for a budget
// that never resets.
func RetryAfter(e *limits.OverBudgetError, now time.Time) time.Duration {
	if e.ResetAt.IsZero() {
		return 0
	}
	d := e.ResetAt.Sub(now)
	return max((d+time.Second-1)/time.Second, 1) * time.Second
}

func setReset(h http.Header, at time.Time) {
	if at.IsZero() {
		return
	}
	s := strconv.FormatInt(at.Unix(), 10)
	h.Set(HeaderReset, s)
	h.Set(HeaderOverageReset, s)
}

// fraction formats a share rounded down to two decimals ("0.8", "0.95"), so
// that the percentage Claude Code shows never runs ahead of the status.
func fraction(f float64) string {
	f = math.Floor(max(f, 0)*100+1e-9) / 100
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// IsRateLimitHeader reports whether name is one of the upstream's own
// anthropic-ratelimit-* headers, which must not reach a client that is
// also told about its budget: they describe the gateway's upstream account,
// and Claude Code would read them as the user's.
func IsRateLimitHeader(name string) bool {
	return len(name) >= len("anthropic-ratelimit-") && strings.EqualFold(name[:len("anthropic-ratelimit-")], "anthropic-ratelimit-")
}
