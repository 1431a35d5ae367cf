package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/keys"
	"github.com/tollgate-gw/tollgate/internal/metrics"
	"github.com/tollgate-gw/tollgate/internal/provider"
	"github.com/tollgate-gw/tollgate/internal/router"
	"github.com/tollgate-gw/tollgate/internal/spend"
)

// call is one model call as the pipeline carries it: who made it, where it
// was routed and served, what it holds against budgets and rate limits, and
// what it used. modelCall starts it and hands it down the pipeline (resolve,
// admit, dispatch, relay), each stage filling in its part; once the handler
// has returned, the adapter settles it (finish), counts it (observe) and
// logs it. id, door and start are the exchange's, copied for the stages
// that report them.
type call struct {
	id      string
	door    door
	start   time.Time
	metered bool // a Messages call: billed, and counted in the request metrics

	model    string // as requested
	routed   string // public model name after routing
	provider string // served target: provider name
	target   string // served target: upstream model id
	upstream string // upstream request id
	stream   bool
	attempts int
	ttfb     time.Duration
	usage    *anthropic.Usage
	dropped  []string // betas the provider dropped
	acct     *account // set by admit for metered calls; settled by finish
	// routing is the Server's routing when the call started; the call
	// keeps it to its end, whatever a reload swaps in meanwhile.
	routing *Routing
}

// callSpec is a Messages call as a front door decoded it.
type callSpec struct {
	principal keys.Principal
	model     string // model name or id as the client sent it
	maxTokens int64  // max_tokens, checked by maxTokens
	body      []byte // Anthropic-shaped body, raw
	stream    bool
	betas     *anthropic.BetaSet // header betas, plus the body's on the Bedrock door
	header    http.Header
	// door, when set, answers this call in place of the route's door: the
	// OpenAI door's answer depends on the request (openai_door.go).
	door door
	// tags are attribution tags the body carries (OpenAI's user), added
	// to the usage row's.
	tags map[string]string
}

// headerBetas reads the anthropic-beta header lines.
func headerBetas(r *http.Request) (*anthropic.BetaSet, error) {
	set := &anthropic.BetaSet{}
	if err := set.AddHeader(r.Header.Values("anthropic-beta")); err != nil {
		return nil, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"anthropic-beta: at most %d values of at most %d bytes each", anthropic.MaxBetas, anthropic.MaxBetaLen)
	}
	return set, nil
}

// authenticate reads the client key from x-api-key or Authorization: Bearer —
// Claude Code sends either, or both, depending on which variable holds the
// key — and returns the principal.
func (s *Server) authenticate(r *http.Request, x *exchange) (keys.Principal, error) {
	secret, err := keys.FromHeader(r.Header)
	if errors.Is(err, keys.ErrSigV4) {
		return keys.Principal{}, apierror.Client(http.StatusUnauthorized, apierror.TypeAuthentication,
			"this gateway does not accept AWS SigV4 signatures; send the gateway key as a bearer token (AWS_BEARER_TOKEN_BEDROCK) or set CLAUDE_CODE_SKIP_BEDROCK_AUTH=1 and send it in an x-api-key header").NoRetry()
	}
	p, err := s.auth.Authenticate(r.Context(), secret)
	if errors.Is(err, keys.ErrUnconfirmed) {
		// An open gateway could not check the database for keys: refuse
		// rather than admit unchecked.
		e := apierror.Gateway(err, "the gateway cannot check API keys right now; try again shortly")
		e.Status = http.StatusServiceUnavailable
		return keys.Principal{}, e
	}
	if err != nil {
		// The caller holds the secret, so saying why it failed leaks
		// nothing and saves a support round trip.
		msg := "invalid API key"
		switch {
		case errors.Is(err, keys.ErrNoKeys):
			msg = noKeysMessage
		case errors.Is(err, keys.ErrMissingKey):
			msg = "missing API key: send the gateway key in the x-api-key header or as Authorization: Bearer"
		case errors.Is(err, keys.ErrDisabledKey):
			msg = "API key revoked (or its user disabled); ask the gateway admin for a new one"
		case errors.Is(err, keys.ErrExpiredKey):
			msg = "API key expired; ask the gateway admin for a new one"
		}
		return keys.Principal{}, apierror.Client(http.StatusUnauthorized, apierror.TypeAuthentication, "%s", msg).NoRetry()
	}
	x.keyName = p.KeyName
	return p, nil
}

// resolve maps the requested model to a route.
func (s *Server) resolve(c *call, model string) (router.Route, error) {
	c.model = model
	if model == "" {
		return router.Route{}, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "model: field required")
	}
	rt, err := c.routing.Router.Resolve(model)
	if err != nil {
		return router.Route{}, apierror.Client(http.StatusNotFound, apierror.TypeNotFound,
			"model %q is not configured on this gateway (GET /v1/models lists the models it serves)", model)
	}
	c.routed = rt.Model
	return rt, nil
}

// messages runs a Messages call end to end: route, dispatch with retries and
// fallback, then relay the answer in the door's format.
func (s *Server) messages(w http.ResponseWriter, r *http.Request, c *call, spec callSpec) error {
	p := spec.principal
	rt, err := s.resolve(c, spec.model)
	if err != nil {
		return err
	}
	if err := s.admit(w, r, c, p, rt, &spec); err != nil {
		return err
	}
	c.stream = spec.stream
	if err := spec.betas.Add(rt.AddBetas...); err != nil {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%v", err)
	}
	betas := spec.betas.List()
	ctx, stop := s.callContext(r.Context())
	defer stop()
	res, err := s.dispatch(ctx, c, rt, func(t router.Target) *provider.Call {
		return &provider.Call{Model: t.Model, Body: spec.body, Stream: spec.stream, Betas: betas,
			Header: spec.header, DropBetas: t.DropBetas, DropFields: t.DropFields}
	}, s.attempt)
	if err != nil {
		if errors.Is(context.Cause(ctx), errShuttingDown) {
			return shutdownError()
		}
		return err
	}
	defer res.release()
	for k, v := range res.resp.Header {
		if c.acct != nil && c.acct.spendHeaders && spend.IsRateLimitHeader(k) {
			continue // the budget headers describe this caller; the upstream's, the gateway's account
		}
		w.Header()[k] = v
	}
	if !spec.stream {
		u := anthropic.UsageFromMessage(res.resp.Body)
		c.usage = &u
		c.ttfb = time.Since(c.start)
		w.Header().Set("Content-Type", "application/json")
		c.door.answerHeader(w.Header(), u)
		return c.door.writeAnswer(w, res.resp.Body)
	}
	return s.relay(ctx, w, c, res)
}

// countTokens counts a call's input tokens through the same dispatch as a
// Messages call — retries, fallback, metrics — since counting is not billed
// it skips admit, but the key's model allowlist still applies.
func (s *Server) countTokens(r *http.Request, c *call, spec callSpec) (int64, error) {
	rt, err := s.resolve(c, spec.model)
	if err != nil {
		return 0, err
	}
	p := spec.principal
	if !allowedModel(c.routing.Router, p, rt) {
		return 0, apierror.Client(http.StatusForbidden, apierror.TypePermission,
			"key %q may not use model %q", p.KeyName, rt.Model).NoRetry()
	}
	if err := spec.betas.Add(rt.AddBetas...); err != nil {
		return 0, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%v", err)
	}
	betas := spec.betas.List()
	ctx, stop := s.callContext(r.Context())
	defer stop()
	res, err := s.dispatch(ctx, c, rt, func(t router.Target) *provider.Call {
		return &provider.Call{Model: t.Model, Body: spec.body, Betas: betas, Header: spec.header,
			DropBetas: t.DropBetas, DropFields: t.DropFields}
	}, countAttempt)
	if err != nil {
		if errors.Is(context.Cause(ctx), errShuttingDown) {
			return 0, shutdownError()
		}
		return 0, err
	}
	res.release()
	return res.count, nil
}

// countAttempt makes one upstream token count.
func countAttempt(ctx context.Context, p provider.Provider, call *provider.Call) (*dispatched, error) {
	n, err := p.CountTokens(ctx, call)
	if err != nil {
		return nil, err
	}
	return &dispatched{count: n}, nil
}

// dispatched is a successful upstream answer. For a stream, the events come
// through pump; first is the first event when it arrived before the client's
// stream had to start (see attempt). A token count has no resp, only count.
type dispatched struct {
	// release frees the target's slot (router.Health.Acquire); the caller
	// defers it, so that a stream holds its slot until its last byte.
	release  func()
	count    int64
	resp     *provider.Response
	pump     *eventPump
	first    anthropic.Event
	hasFirst bool
}

// dispatch tries the route's targets in the order Health.Order gives for
// its strategy, skipping targets that are cooling down. A throttle or a 5xx
// starts the target's cooldown (Health.Cool, honouring retry-after), so that
// in a throttling storm only the first call pays for a failed attempt on the
// region; the call itself moves to the next ready target at once, since
// another region answers sooner than a back-off. A target with no ready
// alternative is retried with exponential backoff as before: on a single
// target, patience is the only remedy. A target at its max_concurrent is
// waited for up to its queue_timeout, then passed over; when every target
// was busy the call gets a 529 overloaded_error. Nothing is retried once a
// byte has gone to the client, so retries are invisible and never duplicate
// output. Every attempt is counted (Metrics.Attempt) and every failed one
// logged with its provider, target, outcome and what comes next.
//
// try makes one attempt: s.attempt for a Messages call, countAttempt for a
// token count. A successful answer holds its target's slot until
// dispatched.release, which the caller defers.
func (s *Server) dispatch(ctx context.Context, c *call, rt router.Route, build func(router.Target) *provider.Call,
	try func(context.Context, provider.Provider, *provider.Call) (*dispatched, error)) (*dispatched, error) {
	order := s.health.Order(rt)
	var last error
	for i, t := range order {
		if i > 0 {
			s.opts.Metrics.Fallback(rt.Model)
		}
		p, ok := c.routing.Providers[t.Provider]
		if !ok {
			last = apierror.Gateway(nil, "model %q routes to provider %q, which is not configured", rt.Model, t.Provider)
			continue
		}
		release, queued, err := s.health.Acquire(ctx, t)
		if queued {
			outcome := metrics.OutcomeAcquired
			if err != nil {
				outcome = metrics.OutcomeBusy
			}
			s.opts.Metrics.QueueWait(t.Provider, t.Model, outcome)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, clientGone(ctx.Err())
			}
			s.opts.Metrics.Attempt(t.Provider, t.Model, metrics.OutcomeBusy)
			s.log.Info("upstream target busy", "id", c.id, "provider", t.Provider, "target", t.Model,
				"max_concurrent", t.MaxConcurrent, "waited", t.QueueTimeout)
			last = &apierror.Error{Status: 529, Type: apierror.TypeOverloaded, Origin: apierror.OriginGateway,
				Message: fmt.Sprintf("every target of model %q is at its concurrency limit; try again shortly", rt.Model), Err: err}
			continue
		}
		c.provider, c.target = t.Provider, t.Model
		res, next, err := s.tryTarget(ctx, c, t, p, build(t), try, i < len(order)-1)
		if err == nil {
			res.release = release
			return res, nil
		}
		release()
		last = err
		if !next {
			return nil, err
		}
	}
	if last == nil {
		last = apierror.Gateway(nil, "model %q has no targets", rt.Model)
	}
	return nil, last
}

// tryTarget makes the attempts of one call on one target: the first, then
// retries with back-off while the failure is retryable. It stops early, with
// next set, when the target started a cooldown and another target is ready
// (more), and returns next false when the failure must go to the client as
// it is.
func (s *Server) tryTarget(ctx context.Context, c *call, t router.Target, p provider.Provider, call *provider.Call,
	try func(context.Context, provider.Provider, *provider.Call) (*dispatched, error), more bool) (res *dispatched, next bool, err error) {
	retries := c.routing.MaxRetries[t.Provider]
	for attempt := 0; ; attempt++ {
		c.attempts++
		res, err := try(ctx, p, call)
		outcome := attemptOutcome(err)
		s.opts.Metrics.Attempt(t.Provider, t.Model, outcome)
		if err == nil {
			if res.resp != nil {
				c.dropped = res.resp.DroppedBetas
				c.upstream = res.resp.RequestID
			}
			s.log.Debug("upstream attempt", "id", c.id, "provider", t.Provider, "target", t.Model, "attempt", c.attempts, "outcome", outcome)
			return res, false, nil
		}
		e := apierror.From(err)
		if e.UpstreamRequestID != "" {
			c.upstream = e.UpstreamRequestID
		}
		if e.Origin == apierror.OriginUpstream {
			s.opts.Metrics.UpstreamError(t.Provider, e.Type)
		}
		var cooldown time.Duration
		if e.Retryable && (outcome == metrics.OutcomeThrottled || outcome == metrics.OutcomeServer) {
			if cooldown = s.health.Cool(t, e.RetryAfter); cooldown > 0 {
				s.opts.Metrics.Cooldown(t.Provider, t.Model)
			}
		}
		failed := func(then string, delay time.Duration) {
			s.log.Info("upstream attempt failed", "id", c.id, "provider", t.Provider, "target", t.Model,
				"attempt", c.attempts, "outcome", outcome, "status", e.Status, "type", e.Type,
				"cooldown", cooldown, "then", then, "delay", delay, "err", e.Message)
		}
		switch {
		case !e.Retryable || ctx.Err() != nil:
			failed("answer", 0)
			return nil, false, err
		case cooldown > 0 && more:
			failed("next target", 0)
			return nil, true, err
		case attempt >= retries:
			failed("next target", 0)
			return nil, true, err
		}
		delay := s.backoff(attempt)
		if e.RetryAfter > 0 {
			if e.RetryAfter > s.opts.MaxRetryAfter {
				failed("next target", 0) // too long to wait here: try the next target or tell the client
				return nil, true, err
			}
			delay = e.RetryAfter
		}
		failed("retry", delay)
		s.opts.Metrics.Retry(t.Provider)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, false, err
		}
	}
}

// attemptOutcome classifies an attempt for the metrics and the cooldowns:
// throttles and 5xx are the upstream's capacity speaking, anything else is
// about the call.
func attemptOutcome(err error) metrics.Outcome {
	if err == nil {
		return metrics.OutcomeOK
	}
	e := apierror.From(err)
	switch {
	case e.Origin != apierror.OriginUpstream:
		return metrics.OutcomeError
	case e.Status == http.StatusTooManyRequests || e.Status == 529:
		return metrics.OutcomeThrottled
	case e.Status >= 500 && e.Type != apierror.TypeTimeout:
		return metrics.OutcomeServer
	}
	return metrics.OutcomeError
}

// attempt makes one upstream call. For a stream it waits for the first event
// before anything goes to the client, so that a stream failing at once —
// throttled, cut, refused — can still be retried or answered with a proper
// status line. That wait is bounded by PingInterval: an upstream silent for
// that long before its first event (a long prompt, a slow region) makes
// attempt hand the stream over without a first event, and relay starts the
// client's stream — headers, then pings — at once. A silent client would
// otherwise be cut by its load balancer or its own watchdog, and a stalled
// upstream would hold it without a byte until the read idle timeout. The price
// is that a failure after that point is no longer retried: it becomes an
// in-stream error event, which Claude Code retries itself. With pings
// disabled, the wait is bounded by the provider's read idle timeout alone.
func (s *Server) attempt(ctx context.Context, p provider.Provider, call *provider.Call) (*dispatched, error) {
	resp, err := p.Send(ctx, call)
	if err != nil {
		return nil, err
	}
	if resp.Events == nil {
		return &dispatched{resp: resp}, nil
	}
	pump := startPump(resp.Events)
	var start <-chan time.Time
	if s.opts.PingInterval > 0 {
		t := time.NewTimer(s.opts.PingInterval)
		defer t.Stop()
		start = t.C
	}
	select {
	case it := <-pump.first:
		pump.first = nil
		if it.err != nil {
			pump.stop()
			e := apierror.From(streamError(it.err))
			e.Retryable = e.Retryable || e.Origin == apierror.OriginUpstream && e.Status >= 500 && e.Type != apierror.TypeTimeout
			return nil, e
		}
		return &dispatched{resp: resp, pump: pump, first: it.ev, hasFirst: true}, nil
	case <-start:
		return &dispatched{resp: resp, pump: pump}, nil
	case <-ctx.Done():
		pump.stop()
		return nil, clientGone(ctx.Err())
	}
}

// pumped is one read from an upstream stream.
type pumped struct {
	ev  anthropic.Event
	err error
}

// eventPump is an upstream stream whose first read runs on its own
// goroutine, so that attempt can wait for the first event, a deadline and
// the client at once. That goroutine ends with the first read: the relay
// reads every later event itself, on the handler's goroutine, which keeps an
// open stream at the goroutines net/http needs (the connection's, its
// background reader, and an HTTP/1 upstream's read and write loops) instead
// of one more parked for the stream's whole life.
type eventPump struct {
	events provider.EventStream
	// first delivers the first read (buffered: the reader never blocks on
	// it); nil once it has been received.
	first chan pumped
}

func startPump(events provider.EventStream) *eventPump {
	p := &eventPump{events: events, first: make(chan pumped, 1)}
	go func() {
		ev, err := events.Next()
		p.first <- pumped{ev, err}
	}()
	return p
}

// next returns the next event: the first read's result while it is
// pending, then reads of the stream.
func (p *eventPump) next() (anthropic.Event, error) {
	if p.first != nil {
		it := <-p.first
		p.first = nil
		return it.ev, it.err
	}
	return p.events.Next()
}

// ready reports whether the next event has already arrived whole, so that
// reading it costs no wait: then the event just written may wait for it in
// the response buffer, and both go out in one flush. A stream that cannot
// tell is never ready, so every event is flushed.
func (p *eventPump) ready() bool {
	if p.first != nil {
		return false
	}
	r, ok := p.events.(interface{ Ready() bool })
	return ok && r.Ready()
}

// stop closes the upstream stream, which unblocks a read in progress.
func (p *eventPump) stop() {
	p.events.Close()
}

func (s *Server) backoff(attempt int) time.Duration {
	d := s.opts.RetryBackoff << attempt
	return d/2 + rand.N(d/2+1)
}

// streamError turns a stream read failure into an *apierror.Error.
func streamError(err error) error {
	var e *apierror.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &apierror.Error{Status: http.StatusBadGateway, Type: apierror.TypeAPI, Origin: apierror.OriginUpstream,
		Message: "the upstream stream ended unexpectedly", Retryable: true, Err: err}
}

// relay copies a stream to the client, flushing every event as it arrives and
// sending a ping when the upstream has been silent for PingInterval (Bedrock
// never pings; Claude Code gives up on a stream silent for 300 s and load
// balancers often cut idle connections after 60 s). A stream handed over
// without its first event (see attempt) starts with a ping, since the
// upstream has already been silent that long. An upstream that stays silent
// longer than its read idle timeout ends the stream with an in-stream
// timeout_error, origin upstream; a shutdown whose grace has run out ends it
// with an in-stream overloaded_error, origin gateway.
//
// The upstream is read on the handler's goroutine. What it cannot wait for
// while blocked in a read comes to it as the end of that read: the end of
// ctx closes the upstream stream (context.AfterFunc), and the pings run on a
// timer (time.AfterFunc) that writes under mu, the one lock on the
// client's side of the stream; a ping that fails closes the upstream stream
// too.
//
// Events that arrived together — read from the connection in one piece —
// go out in one flush, so that a burst of back-to-back deltas costs one
// write syscall instead of one per event; an event is never held for one
// that has not arrived yet (eventPump.ready).
//
// ctx is the call's context: it ends when the client leaves or when the
// shutdown grace runs out (cause errShuttingDown).
func (s *Server) relay(ctx context.Context, w http.ResponseWriter, c *call, res *dispatched) error {
	pump := res.pump
	defer pump.stop()
	defer context.AfterFunc(ctx, func() { pump.stop() })()
	defer s.opts.Metrics.OpenStream(c.door.name())()
	ew := c.door.streamWriter(w)
	ew.header(w.Header())
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)

	var (
		mu      sync.Mutex // guards w, ew, rc, the fields below
		closed  bool       // relay has returned: the ping timer must not write
		pingErr error      // a ping's write failed
		// A client that stops reading must not hold the upstream
		// stream, its reservation and its concurrency slot forever: a
		// write may block at most streamWriteTimeout. The deadline is
		// moved at most once a second, since moving it costs a poller
		// update, and cleared at the end so a keep-alive connection is
		// left as it was found.
		deadlineAt time.Time
	)
	deadline := func() {
		now := time.Now()
		if deadlineAt.Sub(now) < streamWriteTimeout-time.Second {
			deadlineAt = now.Add(streamWriteTimeout)
			_ = rc.SetWriteDeadline(deadlineAt)
		}
	}
	defer rc.SetWriteDeadline(time.Time{})
	deadline()

	usage := &anthropic.Usage{}
	c.usage = usage
	emit := func(ev anthropic.Event) error {
		if c.ttfb == 0 {
			c.ttfb = time.Since(c.start)
		}
		usage.ObserveEvent(ev)
		if ev.Type == anthropic.EventContentBlockDelta && c.acct != nil {
			c.acct.deltaBytes += deltaSize(ev.Data)
		}
		return ew.writeEvent(ev)
	}
	ping := func() error {
		deadline()
		if err := ew.writeEvent(anthropic.Event{Type: anthropic.EventPing, Data: anthropic.PingData}); err != nil {
			return clientGone(err)
		}
		if err := rc.Flush(); err != nil {
			return clientGone(err)
		}
		return nil
	}
	// fail ends the stream with an in-stream error event.
	fail := func(e *apierror.Error) error {
		mu.Lock()
		defer mu.Unlock()
		deadline()
		ew.writeError(e)
		rc.Flush()
		return e
	}

	mu.Lock()
	var err error
	if res.hasFirst {
		if err = emit(res.first); err == nil && !pump.ready() {
			err = rc.Flush()
		}
	} else if s.opts.PingInterval > 0 {
		err = ping()
	} else {
		err = rc.Flush()
	}
	var pingT *time.Timer
	if err == nil && s.opts.PingInterval > 0 {
		pingT = time.AfterFunc(s.opts.PingInterval, func() {
			mu.Lock()
			defer mu.Unlock()
			if closed || pingErr != nil {
				return
			}
			if err := ping(); err != nil {
				pingErr = err
				pump.stop()
				return
			}
			pingT.Reset(s.opts.PingInterval)
		})
	}
	mu.Unlock()
	if err != nil {
		return clientGone(err)
	}
	defer func() {
		// After this, the ping timer finds closed set, or has finished
		// its write: nothing touches w once relay has returned.
		mu.Lock()
		closed = true
		mu.Unlock()
		if pingT != nil {
			pingT.Stop()
		}
	}()

	for {
		ev, err := pump.next()
		if err != nil {
			mu.Lock()
			perr := pingErr
			mu.Unlock()
			switch {
			case perr != nil:
				return perr
			case err == io.EOF:
				if !usage.SawMessageStop {
					// A clean end without message_stop is a broken
					// stream; say so, so the client retries.
					return fail(apierror.From(streamError(io.ErrUnexpectedEOF)))
				}
				return nil
			case ctx.Err() != nil:
				return s.stopped(ctx, fail)
			}
			return fail(apierror.From(streamError(err)))
		}
		if pingT != nil {
			pingT.Reset(s.opts.PingInterval)
		}
		mu.Lock()
		deadline()
		err = emit(ev)
		// Flush unless the next event is already here: events that came
		// in together go out in one write, and none waits for a later
		// one.
		if err == nil && !pump.ready() {
			err = rc.Flush()
		}
		mu.Unlock()
		if err != nil {
			return clientGone(err)
		}
	}
}

// stopped ends a stream whose call context ended: in-stream with the
// shutdown error when the gateway cut it, quietly when the client left.
func (s *Server) stopped(ctx context.Context, fail func(*apierror.Error) error) error {
	if errors.Is(context.Cause(ctx), errShuttingDown) {
		return fail(shutdownError())
	}
	return clientGone(ctx.Err())
}

// deltaSize is the size of the generated content a delta event carries. It
// runs on every delta, so it parses a view of data instead of a copy
// (gjson.GetBytes copies what it finds); nothing keeps the view.
func deltaSize(data []byte) int64 {
	if len(data) == 0 {
		return 0
	}
	d := gjson.Get(unsafe.String(&data[0], len(data)), "delta")
	var n int
	for _, f := range [...]string{"text", "partial_json", "thinking"} {
		n += len(d.Get(f).Str)
	}
	return int64(n)
}

// streamWriteTimeout is how long one write to a streaming client may block.
const streamWriteTimeout = 60 * time.Second

func clientGone(err error) error {
	return &apierror.Error{Status: 499, Type: apierror.TypeAPI, Origin: apierror.OriginClient, Message: "client closed the connection", Err: err}
}
