package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/access"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// trickle opens a raw connection to the gateway, sends the request head with
// a Content-Length of 1000 and the first byte of the body, and then one more
// byte every 20 ms — never the whole body — until the test ends. It returns
// the connection and a function reporting how many body bytes were sent.
func trickle(t *testing.T, h *testutil.Harness, path string, hdr map[string]string) (net.Conn, func() int) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	// A bound, not an assertion: a gateway that never answers fails the
	// test instead of hanging it.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n", path)
	for k, v := range hdr {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n{")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	sent := 1
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			mu.Lock()
			if sent >= 999 { // never complete the body
				mu.Unlock()
				return
			}
			mu.Unlock()
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
			mu.Lock()
			sent++
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(stop); <-done; conn.Close() })
	return conn, func() int { mu.Lock(); defer mu.Unlock(); return sent }
}

// TestSlowBodyAnsweredAndClosed: a caller that sends the head of a request
// and then trickles its body gets its refusal — 401 for a bad key, 403 from
// an access rule — while its body is still incomplete, in the door's format
// with a request id and origin client, and the gateway closes the connection
// instead of reading the rest. An authenticated caller that trickles is cut
// by the body read timeout with a 408, and closed likewise.
func TestSlowBodyAnsweredAndClosed(t *testing.T) {
	rules := func(c *config.Config) {
		c.Access = access.Config{Rules: []access.Rule{{
			Name:       "closed",
			Paths:      []string{"/v1/messages/count_tokens"},
			AllowCIDRs: []string{"192.0.2.0/24"},
		}}}
	}
	// Refusals are checked with the default body read timeout (60 s), so
	// that only the refusal itself can end the exchange in time.
	refusing := newHarness(t, testutil.WithConfig(rules))
	slow := newHarness(t, testutil.WithConfig(func(c *config.Config) { c.Server.BodyReadTimeout = 300 * time.Millisecond }))
	tests := []struct {
		name       string
		h          *testutil.Harness
		path       string
		hdr        map[string]string
		wantStatus int
	}{
		{"no key", refusing, "/v1/messages", nil, 401},
		{"bad key", refusing, "/v1/messages", map[string]string{"x-api-key": "wrong"}, 401},
		{"bad key bedrock", refusing, bedrockModelPath + "invoke", map[string]string{"Authorization": "Bearer wrong"}, 401},
		{"access rule", refusing, "/v1/messages/count_tokens", map[string]string{"x-api-key": testKey}, 403},
		{"authenticated but slow", slow, "/v1/messages", map[string]string{"x-api-key": testKey}, 408},
		{"authenticated but slow bedrock", slow, bedrockModelPath + "invoke-with-response-stream", map[string]string{"x-api-key": testKey}, 408},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, sent := trickle(t, tt.h, tt.path, tt.hdr)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer while the body trickles: %v", err)
			}
			if n := sent(); n >= 1000 {
				t.Fatalf("answer came after the whole body (%d bytes)", n)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d (%s), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if resp.Header.Get("x-request-id") == "" || resp.Header.Get("x-tollgate-error-origin") != "client" {
				t.Errorf("headers = %v, want x-request-id and x-tollgate-error-origin: client", resp.Header)
			}
			if !resp.Close {
				t.Error("answer does not say Connection: close")
			}
			// The gateway hangs up rather than reading the rest of the body
			// (a reset when it closed with our trickle unread).
			if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("after the answer, read = %v, want the connection closed by the gateway", err)
			}
		})
	}
}
