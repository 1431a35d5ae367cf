package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
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
	NonStreamTimeout    time.Duration
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

// doTimed sends req, cancelling it if no response headers arrive within
// timeout. The response body, once returned, has no deadline; closing it
// releases the call's context.
func doTimed(client *http.Client, req *http.Request, timeout time.Duration) (*http.Response, error) {
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
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
