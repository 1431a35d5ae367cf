package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/provider"
	"github.com/tollgate-gw/tollgate/internal/router"
)

// ProbeResult is the outcome of Probe: what an operator needs to tell a
// working route from a broken one, and whose fault a failure is.
type ProbeResult struct {
	// RequestID is the gateway's id of the probe, as in its log lines.
	RequestID string
	// Model is the public name the probe was routed as.
	Model string
	// Provider and Target are the target that answered (or failed last).
	Provider, Target string
	// Status is the HTTP status the probe got: 200, or the error's.
	Status int
	// Latency is from start to the complete answer.
	Latency time.Duration
	// Attempts counts upstream attempts, retries and fallbacks included.
	Attempts int
	// UpstreamRequestID is the provider's request id, for its support.
	UpstreamRequestID string
	// Origin and Error describe a failure: client (unknown model),
	// upstream (the provider said so) or gateway.
	Origin apierror.Origin
	Error  string
}

// Probe sends a one-token, non-streamed Messages call for model through
// the routing in force, exactly as a client's call would go — resolution,
// target order, retries and fallback, concurrency caps — but without a key,
// budget or usage row: it is the operator checking a route, typically one
// just added (tollgate models test). Its one output token is the provider's
// to bill and not the gateway's to charge.
func (s *Server) Probe(ctx context.Context, model string) ProbeResult {
	c := &call{id: newRequestID(), start: time.Now(), routing: s.routing.Load()}
	out := ProbeResult{RequestID: c.id, Model: model}
	fail := func(err error) ProbeResult {
		e := apierror.From(err)
		out.Status, out.Origin, out.Error = e.Status, e.Origin, e.Message
		if e.UpstreamRequestID != "" {
			c.upstream = e.UpstreamRequestID
		}
		out.Provider, out.Target, out.Attempts, out.UpstreamRequestID = c.provider, c.target, c.attempts, c.upstream
		out.Latency = time.Since(c.start)
		return out
	}
	rt, err := s.resolve(c, model)
	if err != nil {
		return fail(err)
	}
	out.Model = rt.Model
	body, _ := json.Marshal(map[string]any{
		"model": rt.Model, "max_tokens": 1,
		"messages": []map[string]string{{"role": "user", "content": "Reply with one word."}},
	})
	res, err := s.dispatch(ctx, c, rt, func(t router.Target) *provider.Call {
		return &provider.Call{Model: t.Model, Body: body, Header: http.Header{},
			DropBetas: t.DropBetas, DropFields: t.DropFields}
	}, s.attempt)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail(apierror.Gateway(ctx.Err(), "the probe was cancelled or timed out: %v", ctx.Err()))
		}
		return fail(err)
	}
	res.release()
	if res.pump != nil {
		res.pump.stop()
	}
	out.Status = http.StatusOK
	out.Provider, out.Target, out.Attempts = c.provider, c.target, c.attempts
	if res.resp != nil {
		out.UpstreamRequestID = res.resp.RequestID
	}
	out.Latency = time.Since(c.start)
	return out
}
