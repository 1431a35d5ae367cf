package limits

import (
	"errors"
	"fmt"
	"time"
)

// ErrOverBudget is matched by every *OverBudgetError:
// errors.Is(err, ErrOverBudget).
var ErrOverBudget = errors.New("over budget")

// ErrUnavailable is matched by a Shared refusal when the database that
// holds the budgets could not be reached in time and the lease in hand does
// not cover the call: the outage policy (fail closed, or open up to an
// allowance) decided.
var ErrUnavailable = errors.New("budget store unavailable")

// ErrRateLimited is matched by every *RateLimitError:
// errors.Is(err, ErrRateLimited).
var ErrRateLimited = errors.New("rate limited")

// OverBudgetError is a refusal by Ledger.Reserve: Budget cannot cover the
// call's worst case. The message is meant for the client (it names the
// budget and when it resets), so it carries no internal detail.
type OverBudgetError struct {
	Budget Budget
	// Unit is the unit that ran out: "usd" or "tokens".
	Unit string
	// Spent is what settled calls have used this period, Reserved what calls
	// in flight hold, Requested the refused call's worst case, and Limit the
	// budget's limits.
	Spent, Reserved, Requested, Limit Amount
	// ResetAt is when the period ends and spend starts over; zero for a
	// Total budget, which never resets.
	ResetAt time.Time
}

// Error reads, for example: `over budget: monthly budget of team "acme"
// (b1) has $0.98 of $1.00 spent and $0.01 held by calls in progress, not
// enough for this request (up to $0.05); it resets at 2026-03-01 00:00 CET`.
// The scope is named by its alias or name when the budget has one
// (Budget.ScopeName), so that the person refused can tell which budget it
// is; the id in parentheses is what `tollgate budgets update` takes.
func (e *OverBudgetError) Error() string {
	var used string
	if e.Unit == "tokens" {
		used = fmt.Sprintf("%d of %d tokens used", e.Spent.Tokens, e.Limit.Tokens)
		if e.Reserved.Tokens > 0 {
			used += fmt.Sprintf(" and %d held by calls in progress", e.Reserved.Tokens)
		}
		used += fmt.Sprintf(", not enough for this request (up to %d tokens)", e.Requested.Tokens)
	} else {
		used = fmt.Sprintf("%s of %s spent", usd(e.Spent.Micros), usd(e.Limit.Micros))
		if e.Reserved.Micros > 0 {
			used += fmt.Sprintf(" and %s held by calls in progress", usd(e.Reserved.Micros))
		}
		used += fmt.Sprintf(", not enough for this request (up to %s)", usd(e.Requested.Micros))
	}
	reset := "it never resets"
	if !e.ResetAt.IsZero() {
		reset = "it resets at " + e.ResetAt.Format("2006-01-02 15:04 MST")
	}
	return fmt.Sprintf("over budget: %s budget of %s (%s) has %s; %s",
		e.Budget.Period.adjective(), e.Budget.scope(), e.Budget.ID, used, reset)
}

// Is makes errors.Is(err, ErrOverBudget) true.
func (e *OverBudgetError) Is(target error) bool { return target == ErrOverBudget }

// usd formats micro-USD as dollars, with cents, or with more digits when the
// amount is below a cent.
func usd(micros int64) string {
	if micros != 0 && micros < 10_000 && micros > -10_000 {
		return fmt.Sprintf("$%.6f", float64(micros)/1e6)
	}
	return fmt.Sprintf("$%.2f", float64(micros)/1e6)
}

// Rate-limit kinds.
const (
	KindRPM        = "rpm"
	KindTPM        = "tpm"
	KindConcurrent = "concurrent"
)

// RateLimitError is a refusal by Limiter.Acquire.
type RateLimitError struct {
	Scope Scope
	// ScopeName is the scope's alias or name, named in the message when
	// set, as the CLI shows it.
	ScopeName string
	// Kind is KindRPM, KindTPM or KindConcurrent.
	Kind string
	// Limit is the limit that was hit, in requests or tokens per minute or
	// concurrent requests.
	Limit int
	// RetryAfter is when the call would be admitted if nothing else
	// arrived. For concurrency it is a fixed hint (ConcurrentRetryAfter):
	// a slot frees when some call ends, which cannot be predicted.
	RetryAfter time.Duration
}

// Error reads, for example: `rate limited: key "k1" allows 60 requests per
// minute; retry in 2s`.
func (e *RateLimitError) Error() string {
	var what string
	switch e.Kind {
	case KindRPM:
		what = fmt.Sprintf("%d requests per minute", e.Limit)
	case KindTPM:
		what = fmt.Sprintf("%d tokens per minute", e.Limit)
	default:
		what = fmt.Sprintf("%d concurrent requests", e.Limit)
	}
	scope := e.Scope.String()
	if e.ScopeName != "" {
		scope = fmt.Sprintf("%s %q", e.Scope.Kind, e.ScopeName)
	}
	return fmt.Sprintf("rate limited: %s allows %s; retry in %ds", scope, what, e.RetryAfterSeconds())
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up and at least
// 1, the form of the retry-after header.
func (e *RateLimitError) RetryAfterSeconds() int64 {
	return max(int64((e.RetryAfter+time.Second-1)/time.Second), 1)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }
