package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/tollgate-gw/tollgate/internal/apierror"
)

// TransportOptions tune the HTTP transport to one upstream.
type TransportOptions struct {
	// ConnectTimeout bounds dialing and the TLS handshake. Default 10s.
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the response headers of a
	// streaming call, which arrive as soon as generation starts. Default
	// 120s.
	FirstByteTimeout time.Duration
	// NonStreamTimeout bounds a non-streaming call, whose headers arrive only
	// when the whole answer is generated — minutes for a long answer (Claude
	// Code's own non-streaming timeout is 300 s; its API_TIMEOUT_MS default
	// 600 s). Default 15m.
	NonStreamTimeout time.Duration
	// ReadIdleTimeout bounds the silence between two reads of a response
	// body once its headers have arrived: a stream before its first event
	// or between events, and a non-streaming body cut half-way. Without it
	// an upstream that sends headers and then nothing holds the call — its
	// budget reservation, its concurrency slot and, with pings, its client —
	// for ever. Default 5m: Claude Code's own stream watchdog gives up after
	// 300 s of silence (CLAUDE_STREAM_IDLE_TIMEOUT_MS has that as its
	// minimum) and applies the same 5 minutes to Bedrock, which sends no
	// pings, so a healthy stream is never quieter than that; shorter values
	// risk cutting real answers (a large tool input is generated in one
	// silent piece when fine-grained tool streaming is off, and a huge
	// prompt takes a while before its first token).
	ReadIdleTimeout     time.Duration
	MaxIdleConnsPerHost int
}

func (o *TransportOptions) applyDefaults() {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.FirstByteTimeout <= 0 {
		o.FirstByteTimeout = 120 * time.Second
	}
	if o.NonStreamTimeout <= 0 {
		o.NonStreamTimeout = 15 * time.Minute
	}
	if o.ReadIdleTimeout <= 0 {
		o.ReadIdleTimeout = 5 * time.Minute
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 256
	}
}

// headerTimeout is the time allowed for response headers.
func (o TransportOptions) headerTimeout(stream bool) time.Duration {
	if stream {
		return o.FirstByteTimeout
	}
	return o.NonStreamTimeout
}

// NewTransport returns a transport for long-lived, high-fan-in upstream
// traffic: a large keep-alive pool per host (every request goes to the same
// one or two hosts), HTTP/2 when the upstream offers it over TLS, bounded
// connect time, and no overall timeout, so that a healthy stream may run as
// long as the model writes. The wait for response headers is bounded per
// call by doTimed, because it differs between streaming and non-streaming
// calls.
func NewTransport(o TransportOptions) *http.Transport {
	o.applyDefaults()
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          o.MaxIdleConnsPerHost * 4,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
	}
}

// errHeaderTimeout is the cause of a call cancelled for want of response
// headers.
var errHeaderTimeout = errors.New("no response from the upstream in time")

// errReadIdle is the cause of a call cancelled because its response body went
// silent.
var errReadIdle = errors.New("the upstream went silent in the middle of its answer")

// doTimed sends req, cancelling it if no response headers arrive within
// timeout. The response body has no overall deadline — a healthy stream may
// run as long as the model writes — but each read of it must return within
// o.ReadIdleTimeout, or the call is cancelled and the read fails with an
// *apierror.Error of type timeout_error, origin upstream, not retryable
// (the upstream may have generated, and billed, part of the answer).
// Closing the body releases the call's context.
func doTimed(client *http.Client, req *http.Request, o TransportOptions, stream bool, upstream string) (*http.Response, error) {
	timeout := o.headerTimeout(stream)
	ctx, cancel := context.WithCancelCause(req.Context())
	t := time.AfterFunc(timeout, func() { cancel(errHeaderTimeout) })
	resp, err := client.Do(req.WithContext(ctx))
	fired := !t.Stop()
	if err == nil && fired {
		resp.Body.Close()
		err = context.Cause(ctx)
	}
	if err != nil {
		cancel(nil)
		if errors.Is(context.Cause(ctx), errHeaderTimeout) {
			return nil, fmt.Errorf("%w after %s", errHeaderTimeout, timeout)
		}
		return nil, err
	}
	b := &idleBody{body: resp.Body, ctx: ctx, cancel: cancel, idle: o.ReadIdleTimeout, upstream: upstream}
	b.timer = time.AfterFunc(time.Hour, func() { cancel(errReadIdle) })
	b.timer.Stop()
	resp.Body = b
	return resp, nil
}

// idleBody is a response body whose every read must return within idle. The
// clock runs only inside Read, so a slow client downstream, which delays the
// next Read, never counts as upstream silence.
type idleBody struct {
	body     io.ReadCloser
	ctx      context.Context
	cancel   context.CancelCauseFunc
	timer    *time.Timer
	idle     time.Duration
	upstream string
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.body.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && errors.Is(context.Cause(b.ctx), errReadIdle) {
		err = &apierror.Error{Status: http.StatusGatewayTimeout, Type: apierror.TypeTimeout, Origin: apierror.OriginUpstream,
			Message: fmt.Sprintf("%s sent nothing for %s in the middle of its answer; the gateway gave up on it", b.upstream, b.idle),
			Err:     fmt.Errorf("%w: %w", errReadIdle, err)}
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}
