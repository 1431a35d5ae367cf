package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// serve runs h's gateway the way `tollgate serve` does (Gateway.Serve, with
// its protocols and TLS) on a new loopback listener, and returns its
// address. The gateway stops when the test ends.
func serve(t *testing.T, h *testutil.Harness) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- h.Gateway.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// h2cClient speaks only HTTP/2 with prior knowledge, as the AWS SDK for
// JavaScript's default handler does: no HTTP/1.1 fallback, no upgrade.
func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}, Timeout: 20 * time.Second}
}

// gate sits between the gateway and the simulator and holds every
// streaming answer after its first AWS event-stream frame until release is
// called. A client that has read the first event while the rest is held
// proves the gateway flushed it, without timing anything.
type gate struct {
	once    sync.Once
	release chan struct{}
}

func (g *gate) Release() { g.once.Do(func() { close(g.release) }) }

// withGate puts a gate in front of the harness's simulator.
func withGate(t *testing.T) (*gate, testutil.Option) {
	g := &gate{release: make(chan struct{})}
	t.Cleanup(g.Release)
	return g, testutil.WithConfig(func(c *config.Config) {
		p := c.Providers["bedrock"]
		target, err := url.Parse(p.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		rp := &httputil.ReverseProxy{
			Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = r.In.Host },
			FlushInterval: -1,
			ModifyResponse: func(resp *http.Response) error {
				if strings.HasSuffix(resp.Request.URL.Path, "/invoke-with-response-stream") {
					resp.Body = &heldBody{ReadCloser: resp.Body, release: g.release}
				}
				return nil
			},
		}
		srv := &http.Server{Handler: rp}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		p.Endpoint = "http://" + ln.Addr().String()
		c.Providers["bedrock"] = p
	})
}

// heldBody passes the first event-stream frame through, then blocks until
// release is closed.
type heldBody struct {
	io.ReadCloser
	release <-chan struct{}
	first   int // bytes of the first frame still to pass; -1 before it is known
	started bool
}

func (b *heldBody) Read(p []byte) (int, error) {
	if !b.started {
		var prelude [4]byte
		if _, err := io.ReadFull(b.ReadCloser, prelude[:]); err != nil {
			return 0, err
		}
		b.started = true
		b.first = int(binary.BigEndian.Uint32(prelude[:])) - 4
		return copy(p, prelude[:]), nil // the caller's buffer holds at least 4 bytes
	}
	if b.first > 0 {
		n, err := b.ReadCloser.Read(p[:min(len(p), b.first)])
		b.first -= n
		return n, err
	}
	<-b.release
	return b.ReadCloser.Read(p)
}

// TestHTTP2PriorKnowledge calls the gateway with a client that speaks only
// cleartext HTTP/2, through both front doors: JSON answers, an SSE stream
// and an AWS event stream whose first event must arrive while the upstream
// still holds the rest, and an oversized body.
func TestHTTP2PriorKnowledge(t *testing.T) {
	g, gated := withGate(t)
	h := newHarness(t, gated, testutil.WithConfig(func(c *config.Config) { c.Server.MaxBodyBytes = 64 << 10 }))
	base := "http://" + serve(t, h)
	c := h2cClient()

	post := func(t *testing.T, path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("x-api-key", testKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("anthropic-version", "2023-06-01")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.ProtoMajor != 2 {
			t.Errorf("POST %s answered over %s, want HTTP/2", path, resp.Proto)
		}
		return resp
	}
	readAll := func(t *testing.T, r io.Reader) string {
		t.Helper()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
		return string(b)
	}
	const msg = `{"model":"claude-haiku-4-5","max_tokens":100,%s"messages":[{"role":"user","content":"hi [[sim:text over h2]]"}]}`
	anthropicBody := func(stream bool) string {
		if stream {
			return strings.Replace(msg, "%s", `"stream":true,`, 1)
		}
		return strings.Replace(msg, "%s", "", 1)
	}
	const bedrockPath = "/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/"
	bedrockBody := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"hi [[sim:text over h2]]"}]}`

	t.Run("anthropic json", func(t *testing.T) {
		resp := post(t, "/v1/messages", anthropicBody(false))
		body := readAll(t, resp.Body)
		if resp.StatusCode != 200 || gjson.Get(body, "content.0.text").Str != "over h2" {
			t.Errorf("POST /v1/messages = %d %s, want 200 and the text", resp.StatusCode, body)
		}
	})
	t.Run("bedrock json", func(t *testing.T) {
		resp := post(t, bedrockPath+"invoke", bedrockBody)
		body := readAll(t, resp.Body)
		if resp.StatusCode != 200 || gjson.Get(body, "content.0.text").Str != "over h2" {
			t.Errorf("POST invoke = %d %s, want 200 and the text", resp.StatusCode, body)
		}
	})
	t.Run("anthropic stream flushes", func(t *testing.T) {
		resp := post(t, "/v1/messages", anthropicBody(true))
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("stream answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		sc := bufio.NewScanner(resp.Body)
		if !sc.Scan() || sc.Text() != "event: message_start" {
			t.Fatalf("first line = %q (%v), want event: message_start while the upstream holds the rest", sc.Text(), sc.Err())
		}
		g.Release()
		rest := readAll(t, resp.Body)
		// Only the first event existed when the scanner read, so the rest,
		// up to the end, is still in the body.
		if !strings.Contains(rest, "event: message_stop") {
			t.Errorf("stream after release = %q, want it to end with message_stop", rest)
		}
	})
	t.Run("bedrock event stream", func(t *testing.T) {
		g.Release() // this one is only about completing over h2
		resp := post(t, bedrockPath+"invoke-with-response-stream", bedrockBody)
		body := readAll(t, resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.amazon.eventstream" ||
			!strings.Contains(body, ":event-type") || !strings.Contains(body, "chunk") {
			t.Errorf("event stream = %d %q, %d bytes, want 200 and chunk frames", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		big := strings.Replace(anthropicBody(false), "hi ", "hi "+strings.Repeat("x", 128<<10), 1)
		resp := post(t, "/v1/messages", big)
		body := readAll(t, resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || gjson.Get(body, "error.type").Str != "request_too_large" {
			t.Errorf("oversized body = %d %s, want 413 request_too_large", resp.StatusCode, body)
		}
	})
}

// TestHTTPS serves the gateway with a certificate from files: HTTP/2 is
// negotiated by ALPN (HTTP/1.1 still works), and replacing the files changes
// the certificate the next handshakes present, without a restart.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := testutil.WriteSelfSigned(t, certFile, keyFile, "first")
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) {
		c.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	}))
	if got := h.Gateway.Scheme(); got != "https" {
		t.Errorf("Scheme() = %q, want https", got)
	}
	addr := serve(t, h)

	client := func(trust *x509.Certificate, http2 bool) *http.Client {
		pool := x509.NewCertPool()
		pool.AddCert(trust)
		p := new(http.Protocols)
		p.SetHTTP1(!http2)
		p.SetHTTP2(http2)
		return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			Protocols:       p,
			TLSClientConfig: &tls.Config{RootCAs: pool},
		}}
	}
	call := func(t *testing.T, c *http.Client) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "https://"+addr+"/v1/messages",
			strings.NewReader(`{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi [[sim:text over tls]]"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("x-api-key", testKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("POST over TLS: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || gjson.GetBytes(b, "content.0.text").Str != "over tls" {
			t.Errorf("POST over TLS = %d %s, want 200 and the text", resp.StatusCode, b)
		}
		return resp
	}

	for _, tt := range []struct {
		name  string
		http2 bool
		major int
	}{{"http2 by ALPN", true, 2}, {"http/1.1", false, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			resp := call(t, client(first, tt.http2))
			if resp.ProtoMajor != tt.major || resp.TLS == nil {
				t.Errorf("answered over %s (TLS %v), want HTTP/%d over TLS", resp.Proto, resp.TLS != nil, tt.major)
			}
		})
	}
	t.Run("plain http refused", func(t *testing.T) {
		resp, err := h2cClient().Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			t.Errorf("plain HTTP/2 on the TLS port = %s, want a failure", resp.Status)
		}
	})

	t.Run("certificate reload", func(t *testing.T) {
		second := testutil.WriteSelfSigned(t, certFile, keyFile, "second")
		// A modification time other than the first pair's, however coarse
		// the file system's clock.
		later := time.Now().Add(time.Hour)
		for _, f := range []string{certFile, keyFile} {
			if err := os.Chtimes(f, later, later); err != nil {
				t.Fatal(err)
			}
		}
		// The files are looked at again at most every few seconds: new
		// connections present the new certificate once that has passed.
		// Poll with fresh connections (bounded), never asserting on time.
		deadline := time.Now().Add(30 * time.Second)
		for {
			conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			got := conn.ConnectionState().PeerCertificates[0]
			conn.Close()
			if got.Equal(second) {
				break
			}
			if !got.Equal(first) {
				t.Fatalf("handshake presented %q, want first or second", got.Subject.CommonName)
			}
			if time.Now().After(deadline) {
				t.Fatal("the replaced certificate was not served within 30 s")
			}
			time.Sleep(200 * time.Millisecond)
		}
		resp := call(t, client(second, true))
		if resp.ProtoMajor != 2 {
			t.Errorf("after reload answered over %s, want HTTP/2", resp.Proto)
		}
	})
}
