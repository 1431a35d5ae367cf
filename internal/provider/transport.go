package provider

import (
	"net"
	"net/http"
	"time"
)

// TransportOptions tune the HTTP transport to one upstream.
type TransportOptions struct {
	ConnectTimeout      time.Duration
	FirstByteTimeout    time.Duration
	MaxIdleConnsPerHost int
}

// NewTransport returns a transport for long-lived, high-fan-in upstream
// traffic: a large keep-alive pool per host (every request goes to the same
// one or two hosts), HTTP/2 when the upstream offers it over TLS, bounded
// connect and time-to-headers, and no overall timeout, so that a healthy
// stream may run as long as the model writes.
func NewTransport(o TransportOptions) *http.Transport {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.FirstByteTimeout <= 0 {
		o.FirstByteTimeout = 120 * time.Second
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 256
	}
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.FirstByteTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          o.MaxIdleConnsPerHost * 4,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
	}
}
