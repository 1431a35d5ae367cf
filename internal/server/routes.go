package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/tollgate-gw/tollgate/internal/access"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/metrics"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// exchange is the access-log record of one request, owned by the adapter
// (handle): what its one log line reports. A model call's own state — route,
// served target, reservation, usage — is in call, which the pipeline
// carries; handle reads it once the handler has returned.
type exchange struct {
	id      string
	door    door
	start   time.Time
	keyName string // set by authenticate
	origin  apierror.Origin
	errMsg  string
	cause   error
	call    *call // set by modelCall; nil for other handlers
}

// handlerFunc is a handler that reports its error instead of writing it; the
// adapter writes it once, in the door's format.
type handlerFunc func(w http.ResponseWriter, r *http.Request, x *exchange) error

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	a, b, o := anthropicDoor{}, bedrockDoor{}, openaiDoor{}
	// route serves pattern for method, and answers any other method on it
	// with a 405 and an Allow header, in the door's format: ServeMux would
	// otherwise hand such requests to the door's catch-all, a 404.
	route := func(d door, method, pattern string, h handlerFunc) {
		mux.Handle(method+" "+pattern, s.handle(d, h))
		mux.Handle(pattern, s.handle(d, methodNotAllowed(method)))
	}

	// Connection warm-up probes Claude Code sends without credentials.
	mux.Handle("HEAD /{$}", s.handle(a, s.hello))
	mux.Handle("HEAD /api/hello", s.handle(a, s.hello))
	mux.Handle("GET /healthz", s.handle(a, s.healthz))
	mux.Handle("GET /readyz", s.handle(a, s.readyz))

	// Anthropic front door.
	route(a, http.MethodPost, "/v1/messages", s.modelCall(opMessages))
	// OpenAI front door (openai_door.go); its GET /v1/models shares the
	// Anthropic route, which answers OpenAI clients in their shape.
	route(o, http.MethodPost, "/v1/chat/completions", s.modelCall(opMessages))
	route(a, http.MethodPost, "/v1/messages/count_tokens", s.modelCall(opCountTokens))
	route(a, http.MethodGet, "/v1/models", s.anthropicModels)
	mux.Handle("GET /v1/models/{id}", s.handle(a, s.anthropicModel))
	mux.Handle("/v1/", s.handle(a, notFound))
	// Without an exact pattern, ServeMux redirects /v1 to /v1/ (and /model,
	// /admin likewise); the gateway never redirects.
	mux.Handle("/v1", s.handle(a, notFound))

	// Bedrock front door.
	route(b, http.MethodPost, "/model/{id}/invoke", s.modelCall(opMessages))
	route(b, http.MethodPost, "/model/{id}/invoke-with-response-stream", s.modelCall(opMessagesStream))
	route(b, http.MethodPost, "/model/{id}/count-tokens", s.modelCall(opCountTokens))
	mux.Handle("GET /inference-profiles", s.handle(b, s.bedrockListProfiles))
	mux.Handle("GET /inference-profiles/{id}", s.handle(b, s.bedrockGetProfile))
	mux.Handle("/model/", s.handle(b, notFound))
	mux.Handle("/model", s.handle(b, notFound))
	mux.Handle("/inference-profiles", s.handle(b, notFound))
	mux.Handle("/inference-profiles/", s.handle(b, notFound))

	if s.opts.MetricsOnMain && s.opts.Metrics != nil {
		mux.Handle("GET /metrics", s.opts.Metrics.Handler())
	}
	if s.opts.Admin != nil {
		// The admin API writes its own JSON errors; handle adds the request
		// id and the access-log line.
		mux.Handle("/admin/", s.handle(a, func(w http.ResponseWriter, r *http.Request, x *exchange) error {
			s.opts.Admin.ServeHTTP(w, r)
			return nil
		}))
	}

	if s.opts.Exchanges != nil {
		// Like the admin API, the exchanges write their own (OAuth) errors.
		mux.Handle("/v1/auth/", s.handle(a, func(w http.ResponseWriter, r *http.Request, x *exchange) error {
			s.opts.Exchanges.ServeHTTP(w, r)
			return nil
		}))
	}

	mux.Handle("/admin", s.handle(a, notFound))
	if s.opts.Console != nil {
		console := s.handle(a, func(w http.ResponseWriter, r *http.Request, x *exchange) error {
			if d := s.opts.Access.Check(asAdmin(r)); !d.Allowed {
				s.opts.Metrics.AccessDenied(d.Rule)
				return apierror.Client(http.StatusForbidden, apierror.TypePermission,
					"access denied by rule %q: this client may not reach the console, which the rules of /admin/ guard (ask the gateway operator for the access header or an allowlisted network)", d.Rule).NoRetry()
			}
			s.opts.Console.ServeHTTP(w, r)
			return nil
		})
		mux.Handle("/ui/", console)
		mux.Handle("/ui", console)
	}
	mux.Handle("/", s.handle(a, notFound))
	return mux
}

// asAdmin returns r as if it were addressed to /admin/, for checking the
// console against the access rules of the admin API.
func asAdmin(r *http.Request) *http.Request {
	r2 := r.Clone(r.Context())
	u := *r.URL
	u.Path, u.RawPath = "/admin/", ""
	r2.URL = &u
	return r2
}

// adapter is a handlerFunc adapted into an http.Handler by handle, with the
// door whose format it answers in. The mux's handlers are adapters, so the
// mux itself says which door a path belongs to (see doorOf).
type adapter struct {
	s    *Server
	door door
	h    handlerFunc
}

// handle adapts a handlerFunc: it assigns the request id, recovers panics,
// writes a returned error in the door's format, and logs one line.
func (s *Server) handle(d door, h handlerFunc) *adapter {
	return &adapter{s: s, door: d, h: h}
}

func (a *adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, d, h := a.s, a.door, a.h
	x := &exchange{id: newRequestID(), door: d, start: time.Now()}
	rw := &statusWriter{ResponseWriter: w}
	rw.Header().Set("x-request-id", x.id)
	d.header(rw.Header(), x.id)
	s.active.Add(1)
	r, body := s.guardBody(w, r)
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			err := apierror.Gateway(fmt.Errorf("panic: %v\n%s", p, debug.Stack()), "internal gateway error")
			if !rw.wrote {
				body.abandon(rw.Header())
				s.writeError(rw, x, err)
			}
			x.cause = err
		}
		// Settle and record first, whatever happened: a reservation or
		// a rate-limit slot must never leak.
		rec := s.finish(x.call, rw.status, x.origin, x.errMsg)
		s.observe(x, rec, rw.status)
		s.logExchange(r, rw, x, rec)
		s.active.Done()
		if p == http.ErrAbortHandler {
			panic(p)
		}
	}()
	if err := h(rw, r, x); err != nil {
		if rw.wrote {
			// The stream already started: the handler has sent an
			// in-stream error; just record it.
			e := apierror.From(err)
			x.origin, x.errMsg, x.cause = e.Origin, e.Message, e
			return
		}
		if body.timedOut {
			err = apierror.Client(http.StatusRequestTimeout, apierror.TypeInvalidRequest,
				"the request body did not arrive within %s", s.opts.BodyReadTimeout)
		}
		body.abandon(rw.Header())
		s.writeError(rw, x, err)
	}
}

// doorOf returns the door whose format answers r: the door of the route the
// mux would serve r's canonical path with, or the Anthropic door for paths
// outside the adapters (such as /metrics).
func (s *Server) doorOf(r *http.Request) door {
	r2 := *r
	u := *r.URL
	u.Path, u.RawPath = access.CleanPath(r.URL.Path), ""
	r2.URL = &u
	if h, _ := s.mux.Handler(&r2); h != nil {
		if a, ok := h.(*adapter); ok {
			return a.door
		}
	}
	return anthropicDoor{}
}

func (s *Server) writeError(w http.ResponseWriter, x *exchange, err error) {
	e := apierror.From(err)
	x.origin, x.errMsg, x.cause = e.Origin, e.Message, e
	if c := x.call; c != nil && e.UpstreamRequestID != "" {
		c.upstream = e.UpstreamRequestID
	}
	h := w.Header()
	h.Set("x-tollgate-error-origin", string(e.Origin))
	if e.ExceptionType != "" {
		// Bedrock's own name for the failure (ThrottlingException,
		// AccessDeniedException, ...), which the Anthropic error type
		// cannot carry, for operators and tollgate doctor.
		h.Set("x-tollgate-upstream-error", e.ExceptionType)
	}
	if e.RetryAfter > 0 {
		h.Set("retry-after", fmt.Sprint(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	switch {
	case e.ShouldRetry != nil:
		h.Set("x-should-retry", fmt.Sprint(*e.ShouldRetry))
	case e.Retryable && e.Origin == apierror.OriginUpstream:
		// Retries here ran out, but the failure is transient (throttling,
		// overload): let the client try again later.
		h.Set("x-should-retry", "true")
	}
	x.door.writeError(w, x.id, e)
}

func (s *Server) logExchange(r *http.Request, w *statusWriter, x *exchange, rec *usage.Record) {
	level := slog.LevelInfo
	if x.origin == apierror.OriginGateway || w.status >= 500 && x.origin != apierror.OriginUpstream {
		level = slog.LevelError
	} else if x.origin != "" {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("id", x.id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", w.status),
		slog.Float64("dur_ms", float64(time.Since(x.start).Microseconds())/1000),
	}
	if x.keyName != "" {
		attrs = append(attrs, slog.String("key", x.keyName))
	}
	if c := x.call; c != nil {
		attrs = s.callAttrs(attrs, c, rec)
	}
	if x.origin != "" {
		attrs = append(attrs, slog.String("error_origin", string(x.origin)), slog.String("error", x.errMsg))
		if x.cause != nil && level == slog.LevelError {
			attrs = append(attrs, slog.String("cause", x.cause.Error()))
		}
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// callAttrs adds a model call's routing, timing and usage to its log line.
func (s *Server) callAttrs(attrs []slog.Attr, c *call, rec *usage.Record) []slog.Attr {
	if c.model != "" {
		attrs = append(attrs, slog.String("model", c.model), slog.String("route", c.routed),
			slog.String("provider", c.provider), slog.String("target", c.target),
			slog.Bool("stream", c.stream), slog.Int("attempts", c.attempts))
	}
	if c.upstream != "" {
		attrs = append(attrs, slog.String("upstream_request_id", c.upstream))
	}
	if c.ttfb > 0 {
		attrs = append(attrs, slog.Float64("ttfb_ms", float64(c.ttfb.Microseconds())/1000))
	}
	if r := rec; r != nil {
		// The recorded (and charged) figures, which for a cut stream include
		// the estimate of what was generated.
		stop := ""
		if c.usage != nil {
			stop = c.usage.StopReason
		}
		attrs = append(attrs, slog.Group("usage", append(tokenAttrs(r.Tokens),
			slog.Int64("cost_micros", r.CostMicros), slog.String("stop_reason", stop))...))
	} else if u := c.usage; u != nil {
		attrs = append(attrs, slog.Group("usage", append(tokenAttrs(u.Counts), slog.String("stop_reason", u.StopReason))...))
	}
	if len(c.dropped) > 0 {
		attrs = append(attrs, slog.Any("dropped_betas", c.dropped))
	}
	return attrs
}

// tokenAttrs are the access log's token counts, by kind.
func tokenAttrs(t tokens.Counts) []any {
	return []any{slog.Int64("input", t.Input), slog.Int64("output", t.Output),
		slog.Int64("cache_read", t.CacheRead), slog.Int64("cache_write_5m", t.CacheWrite5m),
		slog.Int64("cache_write_1h", t.CacheWrite1h)}
}

// observe records a finished model call in the metrics.
func (s *Server) observe(x *exchange, rec *usage.Record, status int) {
	c := x.call
	if c == nil || !c.metered || s.opts.Metrics == nil {
		return
	}
	sample := metrics.RequestSample{
		Door: x.door.name(), Model: c.routed, Provider: c.provider, Status: status,
		Origin: x.origin, Stream: c.stream, Duration: time.Since(x.start), TTFT: c.ttfb,
		KeyAlias: x.keyName,
	}
	if r := rec; r != nil {
		sample.Tokens = r.Tokens
		sample.CostMicros = r.CostMicros
	}
	if a := c.acct; a != nil {
		sample.UserAlias = a.principal.UserName
		sample.TeamAlias = a.principal.TeamName
	}
	s.opts.Metrics.ObserveRequest(sample)
}

func (s *Server) hello(w http.ResponseWriter, r *http.Request, x *exchange) error {
	w.WriteHeader(http.StatusOK)
	return nil
}

// readyz answers 200 when the gateway can serve (Options.Ready), 503 when
// not; with ?verbose=1 it adds the details as JSON (readyzDetails). It does
// not call upstreams, which a load balancer should not depend on.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, x *exchange) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var err error
	if s.opts.Ready != nil {
		err = s.opts.Ready(ctx)
	}
	if r.URL.Query().Has("verbose") {
		return s.readyzDetails(ctx, w, err)
	}
	if err != nil {
		return &apierror.Error{Status: http.StatusServiceUnavailable, Type: apierror.TypeOverloaded,
			Origin: apierror.OriginGateway, Message: "not ready: usage cannot be persisted (details: GET /readyz?verbose=1 and the gateway log)", Err: err}
	}
	return s.healthz(w, r, x)
}

// healthz answers 200 while the process serves HTTP.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, x *exchange) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write([]byte(`{"status":"ok"}`))
	return err
}

// notFound answers paths the gateway does not serve, in the format of the
// front door the path belongs to.
func notFound(w http.ResponseWriter, r *http.Request, x *exchange) error {
	return apierror.Client(http.StatusNotFound, apierror.TypeNotFound, "no route for %s %s", r.Method, r.URL.Path)
}

// methodNotAllowed answers a served path asked with the wrong method.
func methodNotAllowed(allow string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, x *exchange) error {
		w.Header().Set("Allow", allow)
		return apierror.Client(http.StatusMethodNotAllowed, apierror.TypeInvalidRequest,
			"method %s is not allowed on %s; use %s", r.Method, r.URL.Path, allow)
	}
}

// guardBody bounds the time a request body may take to arrive: a read
// deadline of BodyReadTimeout from now, cleared as soon as the body has been
// read to its end, so that it never cuts the answer — a stream runs for
// minutes — nor trips net/http's background read, which would cancel the
// request. Requests without a body are left alone. The request returned
// carries the guarded body; r itself is not changed, because net/http
// inspects the original body after the handler.
func (s *Server) guardBody(w http.ResponseWriter, r *http.Request) (*http.Request, *bodyGuard) {
	g := &bodyGuard{rc: http.NewResponseController(w)}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		g.done = true
		return r, g
	}
	// Not every ResponseWriter supports deadlines (httptest's recorder does
	// not); the guard then only tracks the body.
	_ = g.rc.SetReadDeadline(time.Now().Add(s.opts.BodyReadTimeout))
	g.ReadCloser = r.Body
	r2 := r.WithContext(r.Context())
	r2.Body = g
	return r2, g
}

// bodyGuard is a request body that knows whether it was read to the end and
// whether its read deadline cut it.
type bodyGuard struct {
	io.ReadCloser
	rc       *http.ResponseController
	done     bool // no body, or read to io.EOF
	timedOut bool
}

func (g *bodyGuard) Read(p []byte) (int, error) {
	n, err := g.ReadCloser.Read(p)
	switch {
	case err == io.EOF && !g.done:
		g.done = true
		_ = g.rc.SetReadDeadline(time.Time{})
	case err != nil && err != io.EOF && errors.Is(err, os.ErrDeadlineExceeded):
		g.timedOut = true
	}
	return n, err
}

// abandon prepares an answer given before the body was read to its end — a
// refused key, a refused path, a body too large or too slow: the connection
// is closed after the answer instead of reused. Otherwise net/http, to keep
// the connection, first reads up to 256 KiB of the unread body before it
// writes the answer (and again when it closes the body), so a caller with
// no key could hold the connection, unanswered, by trickling a body slowly.
// "Connection: close" skips the first read; a read deadline in the past
// makes the second fail at once.
func (g *bodyGuard) abandon(h http.Header) {
	if g.done {
		return
	}
	h.Set("Connection", "close")
	_ = g.rc.SetReadDeadline(time.Now())
}

// newRequestID returns "req_" and 24 random hex digits.
func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// statusWriter records the status and whether anything was written. It keeps
// Unwrap so http.ResponseController can reach the real writer's Flush.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
