package certs_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/certs"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// pair is a certificate and key file in a test directory.
type pair struct {
	t         *testing.T
	cert, key string
	version   int // bumps the files' mtime on every write
}

func newPair(t *testing.T) *pair {
	dir := t.TempDir()
	return &pair{t: t, cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem")}
}

// write replaces both files with a new self-signed pair named cn. Each write
// gets its own modification time, so that a change is seen even on a file
// system with coarse timestamps, and even when the sizes stay the same.
func (p *pair) write(cn string) *x509.Certificate {
	c := testutil.WriteSelfSigned(p.t, p.cert, p.key, cn)
	p.touch(p.cert, p.key)
	return c
}

func (p *pair) touch(files ...string) {
	p.version++
	at := time.Date(2026, 1, 1, 0, p.version, 0, 0, time.UTC)
	for _, f := range files {
		if err := os.Chtimes(f, at, at); err != nil {
			p.t.Fatal(err)
		}
	}
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// handshake runs one TLS handshake against cfg over an in-memory connection
// and returns the common name of the certificate the server presented.
func handshake(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	srv := tls.Server(sc, cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Handshake(); sc.Close() }()
	cli := tls.Client(cc, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	if err := cli.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	return cli.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestReloader(t *testing.T) {
	p := newPair(t)
	p.write("first")
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	logs := &logBuf{}
	r, err := certs.New(p.cert, p.key, certs.Options{
		CheckInterval: 5 * time.Second,
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
		Now:           clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := r.TLSConfig()

	if got := handshake(t, cfg); got != "first" {
		t.Fatalf("first handshake presented %q, want first", got)
	}

	// Replaced files are not looked at again within the check interval...
	p.write("second")
	clk.Add(4 * time.Second)
	if got := handshake(t, cfg); got != "first" {
		t.Errorf("handshake within the check interval presented %q, want first", got)
	}
	// ...and are served from the next handshake after it.
	clk.Add(time.Second)
	if got := handshake(t, cfg); got != "second" {
		t.Errorf("handshake after the files changed presented %q, want second", got)
	}

	// A bad pair (a certificate whose key was not written yet) is refused
	// with a warning; the current certificate stays.
	keep, err := os.ReadFile(p.key)
	if err != nil {
		t.Fatal(err)
	}
	p.write("third")
	if err := os.WriteFile(p.key, keep, 0o600); err != nil {
		t.Fatal(err)
	}
	p.touch(p.key)
	clk.Add(time.Minute)
	if got := handshake(t, cfg); got != "second" {
		t.Errorf("handshake after a mismatched pair presented %q, want second (kept)", got)
	}
	if !strings.Contains(logs.String(), "do not load") {
		t.Errorf("log = %q, want a warning that the new files do not load", logs.String())
	}
	// A file that disappears mid-replacement changes nothing either.
	if err := os.Rename(p.cert, p.cert+".tmp"); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if got := handshake(t, cfg); got != "second" {
		t.Errorf("handshake with the certificate file missing presented %q, want second (kept)", got)
	}
	if err := os.Rename(p.cert+".tmp", p.cert); err != nil {
		t.Fatal(err)
	}

	// Once the pair is whole again it is served.
	p.write("fourth")
	clk.Add(time.Minute)
	if got := handshake(t, cfg); got != "fourth" {
		t.Errorf("handshake after a good pair presented %q, want fourth", got)
	}
	if !strings.Contains(logs.String(), "certificate reloaded") {
		t.Errorf("log = %q, want a line for the reload", logs.String())
	}
}

func TestNewRefusesBadPairs(t *testing.T) {
	good := newPair(t)
	good.write("good")
	other := newPair(t)
	other.write("other")
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cert, key, want string
	}{
		{"missing certificate", filepath.Join(t.TempDir(), "none.pem"), good.key, "certificate file"},
		{"missing key", good.cert, filepath.Join(t.TempDir(), "none.pem"), "key file"},
		{"key of another certificate", good.cert, other.key, "private key does not match"},
		{"not PEM", garbage, good.key, "failed to find any PEM data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.New(tt.cert, tt.key, certs.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%s, %s) = %v, want an error containing %q", tt.cert, tt.key, err, tt.want)
			}
		})
	}
}
