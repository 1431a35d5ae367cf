// Package limits enforces budgets and rate limits on the request path: in
// process (Ledger, Limiter) for one replica, and shared across replicas
// through PostgreSQL (Shared, SharedLimiter), behind the same methods and
// one conformance suite for each pair.
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
// # Estimate mode and strict mode: usable to the end
//
// Worst-case reservations alone are exact but leave the end of a period
// unusable: Claude Code asks for max_tokens of 32,000–64,000, so a "say hi"
// call on Opus reserves dollars it will never spend, and the last few
// dollars of every period refuse everything. Each budget therefore keeps
// two sums of its calls in flight, estimates and worst cases, and admits a
// call (Admit, with an Ask) only when, in every unit it limits,
//
//	(E) spent + estimates in flight + estimate <= limit
//	(W) spent + worst cases in flight + worst <= limit + overdraft
//
// In strict mode (Budget.Strict) the overdraft is zero and (E) is not
// checked: it follows from (W), since an estimate never exceeds its worst
// case. Early in a period both pass; near its end (W) caps how much can be
// in flight. When only (W) fails and the ask can be shrunk (Ask.Shrink:
// the gateway may lower the call's max_tokens, never below a floor and
// always above a thinking budget), the call is admitted with the largest
// worst case that fits every covering budget; it is refused only when even
// the floor does not fit.
//
// The guarantee: settled spend never exceeds limit + overdraft (strict:
// the limit), except by what calls were charged beyond their worst case
// (content the gateway cannot see, such as MCP tool definitions; counted as
// overruns). Proof sketch: (W) makes spent + worst cases in flight <=
// ceiling an invariant — it holds at the start of a period (nothing spent
// or held), admission preserves it by the check, and settlement replaces a
// held worst case w by the call's actual cost a <= w, which cannot
// increase the sum. Since worst cases in flight are never negative,
// spent <= ceiling at every instant. Estimates only decide who is admitted
// and never enter the bound, so a bad estimate (a long answer, a cache
// miss) costs at most usable headroom, never the guarantee. Actual spend
// above a call's estimate is charged in full: metering stays exact, and
// the overdraft is what bounds it.
//
// Usability: a call is refused by (E) only when the budget is, by the
// estimates, spent; by (W) only when not even the floor fits in what the
// worst cases in flight leave. Once calls settle, their worst cases come
// back, so at most one floor-sized worst case of the limit stays unused in
// strict mode (in estimate mode, (E) stops at the limit while (W) still
// has the overdraft); with 500 concurrent calls over 3 replicas the tests
// use 99 % of a budget in either mode.
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
//
// # Several replicas: leases
//
// Replicas sharing PostgreSQL use Shared instead of Ledger. The database
// holds, per budget and period, the settled spend of every replica
// (budget_spend) and each replica's lease (budget_leases: an amount and an
// expiry). Leases are of worst cases, against the budget's ceiling (limit
// plus overdraft; the limit in strict mode), the quantity (W) bounds. A
// lease is granted in one transaction that locks the period's spend row,
// first writes the asking replica's unflushed charges, then ends expired
// leases by counting them as spent (below), and grants as much as fits:
//
//	grant = min(want, ceiling - spent - sum(live leases)), refused if < need
//
// so spent + sum(leases) <= ceiling after every commit, whatever the number
// of replicas; a replica holds worst cases only from its lease, so the
// invariant of (W), and with it the guarantee, holds across replicas. The
// estimate check (E) is per replica: against the database's spend as of
// the last exchange, this replica's unflushed charges and its own
// estimates in flight. It may admit more than one replica would, never
// past what the leases bound. A call is shrunk only after the database was
// asked for its whole worst case (need = the floor, want = the worst). want is SharePercent (default 10 %) of what the budget has
// left, capped by MaxLease, and never less than the call's need: near the
// end of a budget, leases shrink to exactly one call's worst case.
//
// Reserve serves from the lease in hand under the account's mutex, without a
// database round trip, while the lease covers the call; otherwise it takes a
// new lease (one database call per budget at a time, bounded by Timeout).
// Settle charges the actual cost locally; every FlushInterval (default
// 200 ms) the flusher moves the charges from the lease into the spend in one
// transaction (spent + leases does not grow), renews the lease, and gives
// back what an idle lease (no reservation for a whole interval) or a
// single-call lease did not use; a settled single-call lease wakes the
// flusher at once. A grant carries the charges too: the flusher waits for
// a grant in progress on the same budget, and a slow grant on a loaded
// database must not hold charges back. Close (a cancelled Run) gives
// everything back.
//
// # A replica that dies: its lease is spent
//
// What a replica spends from its lease reaches the database only when it
// flushes: at any instant its lease in the database holds its calls in
// flight, its charges settled since the last flush, and what it has not
// used, and nothing outside the replica knows how these split. When it
// dies (SIGKILL, a lost host), the database still holds the lease, and the
// replica's usage rows cannot settle the question either: the rows it had
// queued die with it. So an expired lease is never returned to the pool:
// the grant that finds it expired moves it, in full, into spent. Then
// everything the dead replica spent is within what the database counts for
// it (its flushed charges plus its lease), and the invariant above bounds
// the sum of every replica's spend, the dead one's included, by the
// ceiling, however long its last flush was in flight and however many rows
// it lost. (Returning the lease, as Tollgate first did, let the survivors
// spend the dead replica's unflushed charges a second time: up to 9 % over
// the limit in TestReplicaKilledMidLoad, which now asserts the bound.) The
// price is the unused part of the dead lease, lost for the rest of the
// period; for a Total budget, for good, until an operator raises the limit.
// It is at most one lease: SharePercent of what the budget had left when
// it was granted, capped by MaxLease; set MaxLease where a share of a large
// budget is more than a crash may cost. Other choices, weighed: reconciling
// the lease from the usage rows that landed undercounts by the rows lost
// with the replica (one usage flush interval plus a write in flight), so it
// breaks the guarantee by exactly the amount at stake; tying the TTL to
// the flush interval bounds how stale budget_spend is, not what a crash
// leaves unflushed (a flush in flight on a loaded database took 0.8 s).
//
// A replica that is alive but could not renew its lease for a whole TTL
// (the database unreachable for longer than about half of it) finds its
// lease counted as spent too, and the charges it flushes afterwards are
// added again: spend is counted twice, never too little. Concurrency
// counters of SharedLimiter are the exception: a slot is held by a call,
// which died with its replica, so their expired leases are reclaimed
// (LeaseRequest.Reclaim).
//
// # Refusals while other replicas hold the budget
//
// A replica can be refused a lease that the budget has, because other
// replicas hold it (with SharePercent 50 the first two leases take three
// quarters of what is left). That refusal is transient and says so: its
// *OverBudgetError has Elsewhere (what the other replicas hold) and a
// RetryAfter of two flush intervals, its message reads "… of which $x is
// held by other replicas' leases; retry shortly", and the gateway answers
// a 429 rate_limit_error with retry-after that clients retry, not the
// spend cap. The other replicas give back what they hold unused: an idle
// lease at the next flush, a single-call lease at once, and a lease in use
// that holds more unused than the budget has left unleased gives back half
// the difference at each flush (excess), until the replica and the pool
// hold the same. A dead replica's lease is also "held elsewhere" until it
// expires (TTL); after that the refusal is final.
//
// Guarantees and tolerances:
//
//   - Recorded spend never passes a budget's ceiling (limit + overdraft;
//     strict: the limit), across all replicas, except by what calls used
//     beyond their worst case (as in process).
//   - Unused, while every replica is alive: once calls settle and leases
//     are given back, at most one call's worst case per replica is left
//     unusable (lease fragments near the end, when leases are single
//     calls). While calls run, other replicas' leases can refuse a call for
//     a few flush intervals: the refusal says so and asks for a retry, and
//     a busy replica holds at most as much unused as the budget has left
//     unleased after its next flush (half the excess goes back each flush),
//     so larger shares cost waiting, not budget. An idle replica holds its
//     lease for at most two flush intervals. With 500 concurrent calls over
//     3 replicas, 99.5 % of a budget was used in the tests.
//   - A replica that dies: its lease is held for TTL (default 30 s), then
//     counted as spent, so the budget holds through the crash, with what it
//     had settled but not flushed and its calls in flight covered. What it
//     had not used of its lease is lost until the period ends (at most one
//     lease). Its usage rows queued but not written are lost with it (at
//     most the usage flush interval plus a write in flight): the usage
//     tables then show less than was spent, budget_spend does not. Lease
//     expiry compares replica clocks: they must agree to well within TTL. A
//     replica never serves from a lease past 90 % of its TTL without
//     renewing it.
//   - Status, Remaining and Covering report the database's totals as of
//     this replica's last exchange with it, plus its own unflushed charges;
//     threshold alerts are raised by each replica as its view crosses them
//     (the alerts package claims each one once across replicas).
//   - Outages: calls keep flowing on the leases in hand; when one runs out
//     and the database does not answer within Timeout, the call is refused
//     with ErrUnavailable (fail closed), or, with an OutageAllowance,
//     admitted up to that amount per budget and period (fail open). Charges
//     are kept and written once the database is back.
//
// SharedLimiter applies the same leases to rate limits: a request counter
// and a token counter per fixed one-minute window (at most the limit within
// a window, but up to twice it over 60 s straddling a boundary, where the
// in-process GCRA allows none), and a concurrency counter held while a call
// runs (a dead replica's slots come back after TTL). Small limits lease one
// call at a time, so each admission under them is a database round trip.
package limits
