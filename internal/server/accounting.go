package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/keys"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/metrics"
	"github.com/tollgate-gw/tollgate/internal/router"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// UsageWriter queues usage records for persistence without blocking.
type UsageWriter interface {
	Add(rec usage.Record) bool
}

// Budgets holds budget reservations: a call's worst case is reserved
// against every budget that covers it before any upstream work, and the
// reservation settled with the actual cost when the call ends.
// *limits.Ledger implements it in process; a ledger shared across replicas
// will too.
type Budgets interface {
	// Admit holds a call's estimate and worst case, possibly shrinking the
	// worst case (limits.Ask).
	Admit(ctx context.Context, scopes []limits.Scope, ask limits.Ask) (*limits.Reservation, error)
	// Remaining is the tightest budget's status, for the remaining-budget
	// headers; false when no budget covers scopes.
	Remaining(ctx context.Context, scopes []limits.Scope) (limits.BudgetStatus, bool)
	// Covering is the status of every budget covering scopes, for the
	// spend headers Claude Code reads.
	Covering(ctx context.Context, scopes []limits.Scope) []limits.BudgetStatus
}

// RateLimiter admits calls under requests/min, tokens/min and concurrency
// limits. release, called once when the call ends with the tokens it used,
// frees the concurrency slot and corrects the token count.
// *limits.Limiter implements it.
type RateLimiter interface {
	Acquire(ctx context.Context, scopes []limits.Scope, tokens int64) (release func(actualTokens int64), err error)
}

// Pricer prices calls.
type Pricer interface {
	Lookup(providerType, upstreamModel, publicModel string) (usage.Price, bool)
}

// account is the accounting state of one metered call: the principal, the
// budget reservation and rate-limit slot it holds, and what the usage record
// needs. It is finished exactly once, in the request's deferred epilogue, so
// a panic, an error, a cut stream and a success are all settled and recorded.
type account struct {
	principal keys.Principal
	scopes    []limits.Scope
	res       *limits.Reservation
	release   func(actualTokens int64)
	door      metrics.Door
	session   string
	tags      map[string]string
	// deltaBytes counts the text, thinking and tool-input bytes relayed on
	// a stream, to estimate output tokens when a stream is cut before its
	// final usage arrives.
	deltaBytes int64
	// spendHeaders is set when the answer tells the client about its
	// budget (spendheaders.go); the upstream's own rate-limit headers are
	// then dropped.
	spendHeaders bool
	// prefixes are the prompt's prefix hashes, remembered when the call
	// succeeds: the provider cached them (usage.Estimator).
	prefixes usage.Prefixes
}

// allowedModel reports whether the principal's model allowlist admits the
// route. Allowlist entries may be aliases; they are resolved through the
// router so that "claude-sonnet-4-5" admits "claude-sonnet-4-5-20250929".
func allowedModel(r *router.Router, p keys.Principal, rt router.Route) bool {
	if len(p.Models) == 0 {
		return true
	}
	for _, m := range p.Models {
		if m == rt.Model {
			return true
		}
		if other, err := r.Resolve(m); err == nil && other.Model == rt.Model {
			return true
		}
	}
	return false
}

// admit runs the checks a metered call must pass before any upstream work:
// model allowlist, rate limits, and a budget reservation of its worst case.
//
// When a budget cannot hold the call's worst case but can hold it with a
// lower max_tokens, spec.body is rewritten with that max_tokens and the
// answer carries x-tollgate-max-tokens-clamped.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, c *call, p keys.Principal, rt router.Route, spec *callSpec) error {
	if !allowedModel(c.routing.Router, p, rt) {
		s.reject(metrics.ReasonModelNotAllowed)
		return apierror.Client(http.StatusForbidden, apierror.TypePermission,
			"key %q may not use model %q (allowed: %s)", p.KeyName, rt.Model, strings.Join(p.Models, ", ")).NoRetry()
	}
	a := &account{
		principal: p,
		scopes:    p.Scopes(),
		door:      c.door.name(),
		session:   truncate(r.Header.Get("x-claude-code-session-id"), 128),
		tags:      mergeTags(p.Tags, r.Header.Get("x-tollgate-tags")),
	}
	for k, v := range spec.tags {
		if a.tags == nil {
			a.tags = map[string]string{}
		}
		a.tags[k] = v
	}
	c.acct = a
	// Reserve at the dearest target: a fallback to another target must not
	// cost more than was reserved.
	plan := s.planCost(c.routing, rt, *spec, a)
	worst := plan.worst(spec.maxTokens)
	if s.opts.Limiter != nil {
		release, err := s.opts.Limiter.Acquire(r.Context(), a.scopes, worst.Tokens)
		if err != nil {
			s.reject(metrics.ReasonRateLimit)
			e := apierror.Client(http.StatusTooManyRequests, apierror.TypeRateLimit, "%s", err.Error())
			if rl, ok := err.(*limits.RateLimitError); ok {
				e.RetryAfter = time.Duration(rl.RetryAfterSeconds()) * time.Second
			}
			// Transient: say so, because Claude Code retries a 429 by
			// default only for API-key users, not bearer-token users.
			retry := true
			e.ShouldRetry = &retry
			return e
		}
		a.release = release
	}
	if s.opts.Budgets != nil {
		res, err := s.opts.Budgets.Admit(r.Context(), a.scopes, plan.ask(spec.maxTokens))
		if err != nil {
			s.reject(metrics.ReasonBudget)
			var ob *limits.OverBudgetError
			if errors.As(err, &ob) {
				ob.KeyName = p.KeyName
			}
			return s.overBudget(w, c, err)
		}
		a.res = res
		if got := res.Worst(); got != worst {
			// Shrunk to fit what the budget has left: lower max_tokens
			// to what was reserved, and say so.
			m := plan.fit(got, spec.maxTokens)
			body, err := setMaxTokens(spec.body, m)
			if err != nil {
				res.Release()
				a.res = nil
				return apierror.Gateway(err, "lower max_tokens to fit the budget")
			}
			spec.body = body
			w.Header().Set("x-tollgate-max-tokens-clamped", strconv.FormatInt(m, 10))
		}
		s.setSpendHeaders(r.Context(), w, c, a)
		if st, ok := s.opts.Budgets.Remaining(r.Context(), a.scopes); ok {
			h := w.Header()
			if st.Budget.LimitMicros > 0 {
				h.Set("x-tollgate-budget-remaining-usd", fmt.Sprintf("%.6f", float64(st.Remaining.Micros)/1e6))
			}
			if st.Budget.LimitTokens > 0 {
				h.Set("x-tollgate-budget-remaining-tokens", strconv.FormatInt(st.Remaining.Tokens, 10))
			}
			if !st.ResetAt.IsZero() {
				h.Set("x-tollgate-budget-reset", st.ResetAt.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}

// finish settles and records a metered call, and returns the usage record
// it queued (nil for a call that was never admitted). It runs once per call,
// after the response, whatever happened; origin is the error's, if the call
// failed.
func (s *Server) finish(c *call, status int, origin apierror.Origin, errMsg string) *usage.Record {
	if c == nil || c.acct == nil {
		return nil
	}
	a := c.acct
	f := usage.Facts{
		Record: usage.Record{
			RequestID:      c.id,
			KeyID:          a.principal.KeyID,
			KeyAlias:       a.principal.KeyName,
			UserID:         a.principal.UserID,
			TeamID:         a.principal.TeamID,
			SessionID:      a.session,
			Tags:           a.tags,
			ModelRequested: c.model,
			Model:          c.routed,
			UpstreamModel:  c.target,
			Provider:       c.provider,
			Region:         c.routing.providerRegion(c.provider),
			Door:           string(a.door),
			Stream:         c.stream,
			Status:         status,
			ErrorOrigin:    string(origin),
			Attempts:       c.attempts,
		},
		Start:        c.start,
		Latency:      time.Since(c.start),
		TTFT:         c.ttfb,
		Reported:     c.usage,
		RelayedBytes: a.deltaBytes,
	}
	// What the client was told, and the upstream's id of the last attempt,
	// for the console's page of the call.
	f.ErrorMessage, f.UpstreamRequestID = errMsg, c.upstream
	if c.target != "" {
		f.Price, f.Priced = c.routing.pricing(c.provider, c.target, c.routed)
		if !f.Priced {
			s.warnUnpriced(c.target)
		}
	}
	rec := usage.NewRecord(f)
	if c.usage != nil && status < 300 {
		s.estimator.ObserveOutput(a.principal.KeyID, c.routed, rec.Tokens.Output)
		s.estimator.RememberPrefixes(a.principal.KeyID, a.prefixes)
	}
	actual := limits.Amount{Micros: rec.CostMicros, Tokens: rec.Tokens.Total()}
	if w := a.res.Worst(); a.res != nil && (actual.Micros > w.Micros || actual.Tokens > w.Tokens) {
		// The upstream billed more than the worst case the call reserved
		// (server tools, MCP definitions, or a bad estimate). The actual
		// is charged all the same; the overrun is measured so that it is
		// seen, not silently absorbed.
		s.opts.Metrics.ReservationOverrun(c.routed)
		s.log.Warn("call used more than it reserved; charged the actual",
			"id", c.id, "model", c.routed, "reserved_micros", w.Micros, "actual_micros", actual.Micros,
			"reserved_tokens", w.Tokens, "actual_tokens", actual.Tokens)
	}
	a.res.Settle(actual)
	if a.release != nil {
		a.release(rec.Tokens.Total())
	}
	if s.opts.Usage != nil {
		s.opts.Usage.Add(rec)
	}
	return &rec
}

// pricing returns the price of a call, and false (with the conservative
// usage.UnknownModelPrice) when the table has no entry.
func (rt *Routing) pricing(providerName, upstreamModel, publicModel string) (usage.Price, bool) {
	if rt.Prices != nil {
		if p, ok := rt.Prices.Lookup(rt.providerType(providerName), upstreamModel, publicModel); ok {
			return p, true
		}
	}
	return usage.UnknownModelPrice, false
}

// warnUnpriced logs once per model that its calls are recorded unpriced.
func (s *Server) warnUnpriced(model string) {
	if _, loaded := s.unpriced.LoadOrStore(model, true); !loaded {
		s.log.Warn("no price known for model; usage rows are flagged unpriced (add it under prices: in the config)", "model", model)
	}
}

// truncate cuts s to at most n bytes, at a rune boundary so that valid
// UTF-8 stays valid.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// mergeTags merges a key's tags with the request's x-tollgate-tags header
// ("repo=org/app,pr=42"); the request wins on conflicts.
func mergeTags(keyTags map[string]string, header string) map[string]string {
	if header == "" && len(keyTags) == 0 {
		return nil
	}
	out := make(map[string]string, len(keyTags)+2)
	for k, v := range keyTags {
		out[k] = v
	}
	for _, kv := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || len(k) > 64 || len(v) > 256 || len(out) >= 32 {
			continue
		}
		out[k] = v
	}
	return out
}

// minClampedMaxTokens is the smallest max_tokens the gateway lowers a call
// to when its worst case does not fit what a budget has left: below it, an
// answer is likely cut short to the point of being useless, and the call is
// refused instead.
const minClampedMaxTokens = 1_024

// costPlan is a call's cost as a function of its max_tokens, priced at the
// dearest of its route's targets.
type costPlan struct {
	price    usage.Price
	bound    int64 // worst-case prompt tokens
	estimate int64 // realistic prompt tokens
	cached   float64
	outEst   int64 // realistic output, before the cap of max_tokens
	floor    int64 // the smallest max_tokens the call may be lowered to
}

func (s *Server) planCost(rg *Routing, rt router.Route, spec callSpec, a *account) costPlan {
	pl := costPlan{bound: anthropic.PromptTokenBound(spec.body), estimate: usage.PromptEstimate(spec.body)}
	first := true
	for _, t := range rt.Targets {
		p, _ := rg.pricing(t.Provider, t.Model, rt.Model)
		if first || usage.WorstCost(p, pl.bound, spec.maxTokens) >= usage.WorstCost(pl.price, pl.bound, spec.maxTokens) {
			pl.price, first = p, false
		}
	}
	a.prefixes = s.estimator.PromptPrefixes(spec.body)
	pl.cached = s.estimator.CachedShare(a.principal.KeyID, a.prefixes)
	pl.outEst = s.estimator.Output(a.principal.KeyID, rt.Model, spec.maxTokens)
	pl.floor = minClampedMaxTokens
	if th := gjson.GetBytes(spec.body, "thinking"); th.Get("type").Str == "enabled" {
		// max_tokens must stay above the thinking budget.
		pl.floor = max(pl.floor, th.Get("budget_tokens").Int()+1)
	}
	pl.floor = min(pl.floor, spec.maxTokens)
	return pl
}

// worst is the call's worst case at max_tokens m.
func (pl *costPlan) worst(m int64) limits.Amount {
	return limits.Amount{Tokens: pl.bound + max(m, 0), Micros: usage.WorstCost(pl.price, pl.bound, m)}
}

// ask is what the call asks of its budgets at max_tokens m.
func (pl *costPlan) ask(m int64) limits.Ask {
	_, est := usage.EstimateCost(pl.price, pl.estimate, pl.cached, min(pl.outEst, m))
	return limits.Ask{
		Estimate: limits.Amount{Tokens: pl.estimate + min(pl.outEst, m), Micros: est},
		Worst:    pl.worst(m),
		Floor:    pl.worst(pl.floor),
		Shrink: func(room limits.Amount) (limits.Amount, bool) {
			if w := pl.worst(pl.floor); w.Micros > room.Micros || w.Tokens > room.Tokens {
				return limits.Amount{}, false
			}
			return pl.worst(pl.fit(room, m)), true
		},
	}
}

// fit is the largest max_tokens from floor to m whose worst case is within
// room (floor when none is).
func (pl *costPlan) fit(room limits.Amount, m int64) int64 {
	lo, hi := pl.floor, m
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if w := pl.worst(mid); w.Micros <= room.Micros && w.Tokens <= room.Tokens {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// setMaxTokens rewrites the top-level max_tokens of a JSON body to m.
func setMaxTokens(body []byte, m int64) ([]byte, error) {
	v := gjson.GetBytes(body, "max_tokens")
	if !v.Exists() || v.Index <= 0 || v.Index+len(v.Raw) > len(body) {
		return nil, fmt.Errorf("server: no max_tokens to lower in the body")
	}
	out := make([]byte, 0, len(body))
	out = append(out, body[:v.Index]...)
	out = strconv.AppendInt(out, m, 10)
	return append(out, body[v.Index+len(v.Raw):]...), nil
}
