package gateway

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"

	"github.com/tollgate-gw/tollgate/internal/certs"
	"github.com/tollgate-gw/tollgate/internal/config"
)

// Protocols returns the HTTP versions a plain-HTTP gateway listener serves:
// HTTP/1.1 and HTTP/2 with prior knowledge (h2c), on the same port. h2c is
// not a curiosity: the AWS SDK for JavaScript v3 talks to bedrock-runtime
// through its NodeHttp2Handler by default, which opens an http:// endpoint
// with the HTTP/2 connection preface and nothing else, and fails with
// ERR_HTTP2_ERROR against an HTTP/1.1-only server. Over TLS, HTTP/2 is
// negotiated by ALPN instead (see Gateway.secure).
//
// The upgrade dance of RFC 7540 (Upgrade: h2c on an HTTP/1.1 request) is not
// offered; no client Tollgate serves uses it, and RFC 9113 deprecated it.
func Protocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP2(true)
	return p
}

// loadTLS reads the config's certificate pair once, so that a gateway whose
// files do not load fails at start, before it prints that it serves. It
// returns nil when the config asks for plain HTTP.
func loadTLS(cfg *config.Config, log *slog.Logger) (*certs.Reloader, error) {
	if !cfg.TLS.Enabled() {
		return nil, nil
	}
	return certs.New(cfg.TLS.CertFile, cfg.TLS.KeyFile, certs.Options{Logger: log})
}

// Scheme is "https" when the gateway serves TLS on its main listener, and
// "http" otherwise, for the URL printed at start.
func (g *Gateway) Scheme() string {
	if g.tls != nil {
		return "https"
	}
	return "http"
}

// secure prepares hs and ln for the gateway's protocols: every listener
// speaks HTTP/1.1 and HTTP/2; with TLS configured, ln is wrapped so that
// each connection is a TLS connection whose certificate comes from the
// reloader. Handshakes are bounded by hs's header timeout, as net/http does
// for any TLS connection.
func (g *Gateway) secure(hs *http.Server, ln net.Listener) net.Listener {
	hs.Protocols = Protocols()
	if g.tls == nil {
		return ln
	}
	hs.TLSConfig = g.tls.TLSConfig()
	return tls.NewListener(ln, hs.TLSConfig)
}
