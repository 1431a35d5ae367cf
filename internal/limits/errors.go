package limits

import (
	"errors"
	"fmt"
	"strings"
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
	// KeyName is the alias of the key that called, named in the message
	// when set; the ledger does not know it, the gateway sets it.
	KeyName string
	// Elsewhere, when not zero, is what other replicas hold of the budget
	// in leases (Shared only) at a refusal that is theirs: the call would
	// fit in what is neither spent nor leased to them. Their unused leases
	// come back within a few flush intervals, so the refusal is transient
	// and RetryAfter says when to try again.
	Elsewhere  Amount
	RetryAfter time.Duration
}

// Transient reports whether the refusal is only because other replicas
// hold the budget in leases for now: a retry after RetryAfter may pass.
func (e *OverBudgetError) Transient() bool { return e.Elsewhere != (Amount{}) }

// Error reads, for example: `over budget: budget "team-ml daily" of key
// "alice-laptop" has $0.42 left of $5.00 this period (resets
// 2026-12-04T00:00Z); this call could cost up to $3.36`. The budget is
// named by its scope's alias or name and its period, and the key by its
// alias (KeyName, set by the gateway, which knows who called), so that
// the person refused can tell which budget it is without an id. What is
// left is the limit less settled spend and what calls in progress are
// expected to cost. A transient refusal of a Shared ledger (other replicas
// hold the budget in leases) says so instead: `… has $0.42 left of $5.00,
// of which $0.40 is held by other replicas' leases; retry shortly; …`.
func (e *OverBudgetError) Error() string {
	name := e.Budget.ScopeName
	if name == "" {
		name = e.Budget.Scope.ID
	}
	var b strings.Builder
	fmt.Fprintf(&b, "over budget: budget %q", name+" "+e.Budget.Period.adjective())
	if e.Budget.Scope.Kind != KindKey {
		fmt.Fprintf(&b, " (%s)", e.Budget.Scope.Kind)
	}
	if e.KeyName != "" {
		fmt.Fprintf(&b, " of key %q", e.KeyName)
	}
	if e.Transient() {
		// What the budget has left is not spent; part of it is held
		// by the other replicas, who give back what they do not use.
		left := e.Limit.sub(e.Spent).nonNegative()
		held := e.Elsewhere
		if e.Unit == "tokens" {
			fmt.Fprintf(&b, " has %d tokens left of %d, of which %d are held by other replicas' leases; retry shortly",
				left.Tokens, e.Limit.Tokens, held.Tokens)
		} else {
			fmt.Fprintf(&b, " has %s left of %s, of which %s is held by other replicas' leases; retry shortly",
				usd(left.Micros), usd(e.Limit.Micros), usd(held.Micros))
		}
		if e.Unit == "tokens" {
			fmt.Fprintf(&b, "; this call could use up to %d tokens", e.Requested.Tokens)
		} else {
			fmt.Fprintf(&b, "; this call could cost up to %s", usd(e.Requested.Micros))
		}
		return b.String()
	}
	left := e.Limit.sub(e.Spent).sub(e.Reserved).nonNegative()
	if e.Unit == "tokens" {
		fmt.Fprintf(&b, " has %d tokens left of %d", left.Tokens, e.Limit.Tokens)
	} else {
		fmt.Fprintf(&b, " has %s left of %s", usd(left.Micros), usd(e.Limit.Micros))
	}
	if e.ResetAt.IsZero() {
		b.WriteString(" (it never resets)")
	} else {
		fmt.Fprintf(&b, " this period (resets %s)", e.ResetAt.UTC().Format("2006-01-02T15:04Z"))
	}
	if e.Unit == "tokens" {
		fmt.Fprintf(&b, "; this call could use up to %d tokens", e.Requested.Tokens)
	} else {
		fmt.Fprintf(&b, "; this call could cost up to %s", usd(e.Requested.Micros))
	}
	return b.String()
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
