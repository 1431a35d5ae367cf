package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/spend"
)

// setSpendHeaders tells a client of the Anthropic door how much of its
// tightest budget it has used (package spend), so that Claude Code warns at
// 75 % and 95 % before the cap stops it. The Bedrock door does not: Bedrock
// clients never read these headers.
func (s *Server) setSpendHeaders(ctx context.Context, w http.ResponseWriter, c *call, a *account) {
	if !c.door.tellsSpend() || s.opts.Budgets == nil {
		return
	}
	// What calls in flight hold, as a status reports it, is their
	// estimates (estimate mode) or worst cases (strict); taking off this
	// call's estimate never shows a budget emptier than it is.
	l, ok := spend.Nearest(s.opts.Budgets.Covering(ctx, a.scopes), a.res.Estimate())
	if !ok {
		return
	}
	spend.SetAllowed(w.Header(), l)
	a.spendHeaders = true
}

// overBudget is the refusal of a call its budget cannot cover: a 429 that
// Claude Code must not retry (it would retry up to ten times over minutes).
// On the Anthropic door it is the billing_error with the spend headers at
// the cap, which makes Claude Code print the message as it is, where it
// otherwise prefixes a gateway's 429 with "Server is temporarily limiting
// requests (not your usage limit)". The Bedrock door keeps the plain
// rate_limit_error, which Bedrock clients map to a throttling error.
func (s *Server) overBudget(w http.ResponseWriter, c *call, err error) error {
	if errors.Is(err, limits.ErrUnavailable) {
		// Replicas sharing PostgreSQL: the lease in hand ran out and the
		// database did not answer in time (fail closed). Ours, transient.
		e := apierror.Gateway(err, "budgets cannot be checked right now (the database does not answer); retry shortly")
		e.Status, e.Type, e.RetryAfter = http.StatusServiceUnavailable, apierror.TypeOverloaded, time.Second
		retry := true
		e.ShouldRetry = &retry
		return e
	}
	var ob *limits.OverBudgetError
	if errors.As(err, &ob) && ob.Transient() {
		// Replicas sharing PostgreSQL: the budget is not spent but
		// leased to the other replicas for now, and they give back what
		// they do not use within a few flush intervals. Transient: a 429
		// to retry, not the spend cap.
		e := apierror.Client(http.StatusTooManyRequests, apierror.TypeRateLimit, "%s", err.Error())
		e.RetryAfter = max((ob.RetryAfter+time.Second-1)/time.Second, 1) * time.Second
		retry := true
		e.ShouldRetry = &retry
		return e
	}
	if !c.door.tellsSpend() || !errors.As(err, &ob) {
		return apierror.Client(http.StatusTooManyRequests, apierror.TypeRateLimit, "%s", err.Error()).NoRetry()
	}
	e := apierror.Client(http.StatusTooManyRequests, apierror.TypeBilling, "%s", err.Error()).NoRetry()
	e.RetryAfter = spend.RetryAfter(ob, c.start)
	spend.SetRejected(w.Header(), ob)
	return e
}
