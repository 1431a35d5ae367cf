// Package limits enforces budgets and rate limits in process, on the request
// path, without touching the database.
//
// # Budgets: reserve, then settle
//
// A gateway that checks spend before a call and records it after lets
// concurrent calls overrun a budget: fifty calls that all start while $0.90 of
// a $1.00 budget is spent all see $0.10 left, and all go ahead. The Ledger
// closes that gap with reservations:
//
//  1. Before the upstream is called, Reserve takes the call's worst-case cost
//     (prompt estimate plus max_tokens at the output price, in micro-USD and
//     in tokens) and, atomically across every budget that covers the caller
//     (key, user, team; several budgets per scope are allowed), checks
//     spent + reserved + worst <= limit for each unit that has a limit. If
//     every budget passes, worst is added to each budget's reserved amount;
//     if any fails, nothing is changed and an *OverBudgetError names the
//     budget and when it resets. A call is therefore refused only when a
//     budget really cannot cover its worst case.
//  2. When the call ends, Settle releases the reservation and adds the actual
//     cost to spent; Release does the same with no charge, for calls that
//     never reached the upstream. Both are idempotent.
//
// Spend can exceed a limit only by what settled calls used beyond their
// reservation (an estimate that was too low): the sum over calls of
// max(0, actual - reserved).
//
// # Locking
//
// Each budget has its own account with its own mutex. Reserve locks the
// accounts of the budgets it touches in one global order (a sequence number
// given to each account when it is created), so two calls that share some
// budgets can never deadlock, and calls of unrelated keys never contend.
// Settle locks one account at a time: releasing and charging are independent
// per budget. The set of budgets is a read-only snapshot behind an
// atomic.Pointer that Load replaces.
//
// # Periods
//
// A budget's period is a day (from local midnight), a week (from Monday
// 00:00), a month (from the 1st, 00:00) or Total (never resets), in the
// budget's time zone; period bounds come from time.Date in that zone, so a
// day that has 23 or 25 hours because of a DST change is still one day.
// Rollover is lazy: the first access after the period end starts the new
// period with nothing spent or reserved.
//
// A call is charged to the period in which it was reserved. When a call that
// started at 23:59 settles at 00:01, its cost goes to the day that has ended
// (the usage row carries the request's start time, so the store agrees), and
// its reservation no longer counts against the new day.
//
// # Reloads
//
// Load replaces the budget set atomically. A budget whose ID, scope, period
// and time zone are unchanged keeps its account — spend, in-flight
// reservations and thresholds already announced — and only takes the new
// limits and thresholds. Any other budget starts from the spend that the
// spent callback reads from the store for its current period. Calls still in
// flight against a removed or re-periodised budget settle into the old
// account and reach the new one through the store at the next reload.
//
// # Rate limits
//
// The Limiter enforces requests per minute and tokens per minute with GCRA,
// the virtual-scheduling form of a token bucket whose capacity is the
// per-minute limit and which refills continuously at limit/60 s, the same
// model Anthropic's API uses for its own rate limits. It keeps one timestamp
// per scope and unit, whatever the traffic. Tokens per minute are charged at
// the estimate when a call is admitted and corrected to the actual count when
// it ends. Concurrency is a counter per scope.
package limits
