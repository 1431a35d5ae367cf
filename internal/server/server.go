// Package server is the gateway's HTTP adapter and call pipeline: routes for
// every front door, middleware (access rules, request id, recovery, access
// log), the pipeline from authentication to relay and settlement, and
// graceful shutdown of the calls it serves. It is given everything it uses
// through Options (package gateway builds them from the config); domain
// packages never import it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-gw/tollgate/internal/access"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/keys"
	"github.com/tollgate-gw/tollgate/internal/metrics"
	"github.com/tollgate-gw/tollgate/internal/provider"
	"github.com/tollgate-gw/tollgate/internal/router"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// Authenticator turns a client key into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (keys.Principal, error)
}

// Options configure a Server.
type Options struct {
	// Router, Providers, Prices, MaxRetries, Region, ProviderTypes and
	// ProviderRegions make the initial Routing; SetRouting replaces them
	// at run time (runtime models, a config reload).
	Router *router.Router
	// TargetHealth holds target cooldowns and in-flight counts across
	// calls; nil makes a fresh one on the real clock. It is an option so
	// that it can outlive a Server (a reload) and so that tests can set
	// its clock and random source.
	TargetHealth *router.Health
	Providers    map[string]provider.Provider
	Auth         Authenticator
	Logger       *slog.Logger

	// The settings below are taken as given: their defaults live in one
	// place, internal/config/defaults.go, and package gateway passes the
	// config's values. New refuses the ones that must be positive.

	// MaxBodyBytes caps request bodies (config server.max_body_bytes).
	MaxBodyBytes int64
	// BodyReadTimeout bounds reading a request body, from the moment its
	// handler starts (config server.body_read_timeout).
	BodyReadTimeout time.Duration
	// PingInterval is the upstream silence after which a keep-alive ping is
	// sent to a streaming client (config server.ping_interval); zero or
	// negative disables pings.
	PingInterval time.Duration
	// MaxRetries per provider, by provider name (config
	// providers.*.max_retries); missing means no retries.
	MaxRetries map[string]int
	// RetryBackoff is the first retry delay; it doubles per attempt
	// (config.DefaultRetryBackoff).
	RetryBackoff time.Duration
	// MaxRetryAfter is the longest upstream retry-after the gateway waits
	// out itself; longer ones are returned to the client
	// (config.DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// Region is reported in Bedrock control-plane answers: the default
	// Bedrock provider's region.
	Region string
	// ProviderTypes and ProviderRegions describe providers by name, for
	// pricing and usage rows.
	ProviderTypes   map[string]string
	ProviderRegions map[string]string

	// Metrics records Prometheus metrics; nil records none.
	Metrics *metrics.Metrics
	// MetricsOnMain serves GET /metrics on the main listener.
	MetricsOnMain bool

	// Ready reports whether the gateway can serve, for /readyz. Keys and
	// budgets are served from memory, so a database that does not answer
	// is not by itself a reason to say no (a load balancer would drain
	// every replica at once); usage that would be lost is.
	Ready func(ctx context.Context) error
	// Health returns the details GET /readyz?verbose=1 reports as JSON
	// beside the verdict; nil reports the verdict only.
	Health func(ctx context.Context) any

	// Admin serves /admin/ (the admin REST API); nil leaves it unmounted.
	Admin http.Handler
	// Console serves /ui/ (the web console); nil leaves it unmounted. It
	// sits behind the access rules that guard /admin/ as well as any rule
	// matching /ui itself: the console is the admin API with a face, and an
	// operator who fenced /admin/ in must not find it open under /ui/.
	Console http.Handler
	// Exchanges serve /v1/auth/ (credential exchanges such as GitHub
	// Actions OIDC tokens for keys), answering in their own OAuth-style
	// JSON; nil leaves it unmounted.
	Exchanges http.Handler

	// Access rules, checked before anything else; nil allows all.
	Access *access.Rules

	// Metering and enforcement; each is optional.
	Budgets Budgets     // budgets with reservations
	Limiter RateLimiter // rate limits
	Prices  Pricer      // price table
	Usage   UsageWriter // where usage records go
}

// Server is the gateway's HTTP handler set.
type Server struct {
	// routing is what a reload may swap (SetRouting); a call reads it
	// once, when it starts.
	routing atomic.Pointer[Routing]
	// access is the access-rules middleware in force around inner
	// (SetAccess).
	access    atomic.Pointer[http.Handler]
	inner     http.Handler
	health    *router.Health
	auth      Authenticator
	log       *slog.Logger
	opts      Options
	mux       *http.ServeMux
	handler   http.Handler     // mux behind the access rules
	unpriced  sync.Map         // upstream model ids already warned about
	estimator *usage.Estimator // realistic estimates for budgets in estimate mode
	active    sync.WaitGroup   // handlers running, for Drain

	// cut ends when the shutdown grace has run out; calls still running
	// then end with an error in their own format (see Serve).
	cut     context.Context
	cutCall context.CancelCauseFunc
}

// errShuttingDown is the cause of calls cut at the end of the shutdown grace.
var errShuttingDown = errors.New("server: shutdown grace period ended")

// shutdownError is what a client whose call was cut by a shutdown is told:
// overloaded_error (Bedrock door: ServiceUnavailableException), which every
// client retries — on another replica, or on this one once it is back.
func shutdownError() *apierror.Error {
	return &apierror.Error{Status: http.StatusServiceUnavailable, Type: apierror.TypeOverloaded, Origin: apierror.OriginGateway,
		Message: "the gateway is shutting down and cut this call; retry it", Err: errShuttingDown}
}

// callContext returns the context of a model call: r's, cancelled with
// cause errShuttingDown when the shutdown grace runs out.
func (s *Server) callContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	stop := context.AfterFunc(s.cut, func() { cancel(errShuttingDown) })
	return ctx, func() { stop(); cancel(nil) }
}

// Drain waits until every handler has returned — and so settled and queued
// its usage record — or ctx ends. http.Server.Close does not wait for
// handlers; call Drain after it and before closing the usage writer, or the
// longest (and dearest) streams of a shutdown would go unrecorded.
func (s *Server) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("server: drain ended with handlers still running: %w", ctx.Err())
	}
}

// MetricsHandler serves the Prometheus metrics.
func (s *Server) MetricsHandler() http.Handler { return s.opts.Metrics.Handler() }

// reject counts a refused request by reason.
func (s *Server) reject(reason metrics.Reason) { s.opts.Metrics.Rejected(reason) }

// New returns a Server.
func New(o Options) (*Server, error) {
	if o.Router == nil {
		return nil, errors.New("server: router is required")
	}
	if o.Auth == nil {
		return nil, errors.New("server: authenticator is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.MaxBodyBytes <= 0:
		return nil, errors.New("server: MaxBodyBytes must be positive")
	case o.BodyReadTimeout <= 0:
		return nil, errors.New("server: BodyReadTimeout must be positive")
	case o.RetryBackoff <= 0:
		return nil, errors.New("server: RetryBackoff must be positive")
	case o.MaxRetryAfter <= 0:
		return nil, errors.New("server: MaxRetryAfter must be positive")
	}
	s := &Server{health: o.TargetHealth, auth: o.Auth, log: o.Logger, opts: o,
		estimator: usage.NewEstimator(nil)}
	s.routing.Store(routingFrom(o))
	if s.health == nil {
		s.health = router.NewHealth(nil, nil)
	}
	s.cut, s.cutCall = context.WithCancelCause(context.Background())
	s.mux = s.routes()
	s.inner = s.canonicalPaths(s.mux)
	s.SetAccess(o.Access)
	s.handler = s.limitHeaders(http.HandlerFunc(s.checkAccess))
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// denyAccess answers a request the access rules refused: 403 in the format
// of the front door the path belongs to, origin client, logged.
func (s *Server) denyAccess(w http.ResponseWriter, r *http.Request, d access.Decision) {
	s.opts.Metrics.AccessDenied(d.Rule)
	x := &exchange{id: newRequestID(), door: s.doorOf(r), start: time.Now()}
	rw := &statusWriter{ResponseWriter: w}
	rw.Header().Set("x-request-id", x.id)
	_, body := s.guardBody(w, r)
	body.abandon(rw.Header()) // the body is never read: close, do not drain
	e := apierror.Client(http.StatusForbidden, apierror.TypePermission,
		"access denied by rule %q: this client may not reach %s (ask the gateway operator for the access header or an allowlisted network)", d.Rule, r.URL.Path).NoRetry()
	s.writeError(rw, x, e)
	x.errMsg = e.Message + " [" + d.Reason + ", client " + d.ClientIP.String() + "]"
	s.logExchange(r, rw, x, nil)
}

// maxHeaderBytes caps a request's header block, set explicitly rather than
// left to net/http's default (the same 1 MiB): Claude Code sends a few KB of
// headers, and custom headers (ANTHROPIC_CUSTOM_HEADERS) and long beta lists
// stay far below this. The gateway answers header blocks over
// maxHeaderBytesInFormat itself, in the door's format (limitHeaders); one
// over this is answered by net/http, with a plain-text "431 Request Header
// Fields Too Large" and no x-request-id or error origin, before any handler
// runs: net/http offers no hook for that answer, nor for the plain-text 400s
// it writes for requests it cannot parse. Those are the only answers the
// gateway does not write itself.
const maxHeaderBytes = 1 << 20

// canonicalPaths answers a request whose path is not in canonical form
// ("//v1/messages", "/v1/./messages") with a 404 in its door's format, with
// a request id and origin client, instead of the redirect ServeMux would
// send. A redirected POST loses its body or its credentials in many clients
// and Claude Code expects none; serving the cleaned path instead would let a
// request reach a route by a spelling the access rules, which match the path
// as sent, were not written for.
func (s *Server) canonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect && access.CleanPath(r.URL.Path) != r.URL.Path {
			s.handle(s.doorOf(r), notCanonical).ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func notCanonical(w http.ResponseWriter, r *http.Request, x *exchange) error {
	return apierror.Client(http.StatusNotFound, apierror.TypeNotFound,
		"no route for %s %s: the path is not in canonical form (the gateway does not redirect; send %s)", r.Method, r.URL.Path, access.CleanPath(r.URL.Path))
}

// HTTPServer returns an http.Server for this handler with timeouts fit for
// streaming: a short header timeout, and no read or write timeout, because a
// stream may legitimately run for many minutes. Request bodies are bounded
// per request instead (Options.BodyReadTimeout), and stalled clients by a
// write deadline per stream event.
func (s *Server) HTTPServer(addr string, readHeaderTimeout, idleTimeout time.Duration) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// cutWait bounds the wait, after calls were cut at the end of the shutdown
// grace, for their handlers to write the error and return. A handler only
// lingers while a client does not read its error event.
const cutWait = 5 * time.Second

// Serve serves on ln until ctx is cancelled, then shuts down gracefully,
// letting open streams run for up to grace. Calls still running when grace
// runs out are cut by the gateway, not by a closed socket: a stream gets an
// in-stream overloaded_error (an exception frame on the Bedrock door) saying
// the gateway is shutting down, a call still waiting for its upstream gets
// a 503 in its door's format, both recorded with origin gateway; the
// connections are closed once their handlers have returned, or after
// cutWait.
func (s *Server) Serve(ctx context.Context, hs *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		s.cutCall(errShuttingDown)
		wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), cutWait)
		_ = s.Drain(wctx)
		wcancel()
		hs.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			return ErrGraceExpired
		}
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// ErrGraceExpired is returned by Serve when requests were still running at
// the end of the shutdown grace period and were cut: an expected outcome of
// shutting down under load, not a failure.
var ErrGraceExpired = errors.New("server: shutdown grace period ended with requests still running; they were cut")
