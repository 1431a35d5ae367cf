// Package certs serves a TLS certificate and key from files and picks up a
// renewed pair without a restart, for a gateway that terminates TLS itself on
// a single machine with no proxy in front (certbot, acme.sh or an operator
// replacing the files in place).
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultCheckInterval is how often, at most, the files are looked at again.
// A handshake costs two stat calls at most once per interval, so the check
// is free in practice, and a renewed certificate is served within seconds.
const DefaultCheckInterval = 5 * time.Second

// Options configure a Reloader.
type Options struct {
	// CheckInterval is the least time between two looks at the files.
	// Default DefaultCheckInterval; negative checks on every handshake.
	CheckInterval time.Duration
	// Logger receives reloads and failed reloads. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Reloader hands out the certificate read from a certificate and a key file,
// and reads them again when either file's modification time or size
// changes. A new pair that does not load (half written, mismatched, expired
// key format) is refused with a warning in the log and the previous
// certificate stays in service, so a botched renewal never takes the
// gateway off the air; it is retried when the files change again.
type Reloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	seen    stamp     // the files as last looked at, loaded or not
	checked time.Time // when the files were last looked at
}

// stamp identifies a version of the two files without reading them.
type stamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// New loads the pair once and returns a Reloader serving it. An error here
// means the gateway cannot serve TLS at all, so it is returned rather than
// logged.
func New(certFile, keyFile string, o Options) (*Reloader, error) {
	if o.CheckInterval == 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, interval: o.CheckInterval, log: o.Logger, now: o.Now}
	st, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := load(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert, r.seen, r.checked = cert, st, r.now()
	return r, nil
}

// GetCertificate implements tls.Config.GetCertificate: it returns the
// current certificate, first reloading the files if the check interval has
// passed and they changed.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= r.interval {
		r.checked = now
		r.refresh()
	}
	return r.cert, nil
}

// refresh loads the files if they changed since they were last seen. The
// caller holds mu.
func (r *Reloader) refresh() {
	st, err := r.stat()
	if err != nil {
		// A file briefly missing while it is being replaced is normal;
		// keep serving and look again next time.
		r.log.Warn("tls: cannot read the certificate files; keeping the current certificate", "err", err)
		return
	}
	if st == r.seen {
		return
	}
	r.seen = st
	cert, err := load(r.certFile, r.keyFile)
	if err != nil {
		r.log.Warn("tls: the changed certificate files do not load; keeping the current certificate until they change again",
			"cert_file", r.certFile, "key_file", r.keyFile, "err", err)
		return
	}
	r.cert = cert
	r.log.Info("tls: certificate reloaded", "cert_file", r.certFile, "subject", cert.Leaf.Subject.String(),
		"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
}

func (r *Reloader) stat() (stamp, error) {
	c, err := os.Stat(r.certFile)
	if err != nil {
		return stamp{}, fmt.Errorf("tls: certificate file: %w", err)
	}
	k, err := os.Stat(r.keyFile)
	if err != nil {
		return stamp{}, fmt.Errorf("tls: key file: %w", err)
	}
	return stamp{certMod: c.ModTime(), keyMod: k.ModTime(), certSize: c.Size(), keySize: k.Size()}, nil
}

// load reads a pair. tls.LoadX509KeyPair checks that the key matches the
// certificate and (since Go 1.23) parses the leaf, which the log line needs.
func load(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load %s and %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: parse %s: %w", certFile, err)
		}
	}
	return &cert, nil
}

// TLSConfig returns a server configuration that serves the reloaded
// certificate and offers HTTP/2 and HTTP/1.1 by ALPN, in that order of
// preference. TLS 1.2 is the floor: every client Tollgate serves has it.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}
