package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// TestNoRedirects: paths that ServeMux would redirect — unclean ones, and
// subtree roots without their slash — get a 404 in their door's format with
// a request id and origin client, never a redirect (a redirected POST loses
// its body or credentials, and Claude Code expects none). The request line
// is written raw, since HTTP clients may clean paths themselves.
func TestNoRedirects(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		path    string
		bedrock bool
	}{
		{"//v1/messages", false},
		{"/v1/./messages", false},
		{"/v1/../v1/messages", false},
		{"/v1//messages", false},
		{"/v1", false},
		{"/admin", false},
		{"//model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", true},
		{"/model/x/../us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", true},
		{"/model", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(h.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			body := `{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nx-api-key: %s\r\nContent-Length: %d\r\n\r\n%s", tt.path, testKey, len(body), body)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 404 || resp.Header.Get("Location") != "" {
				t.Errorf("answer = %d Location %q, want 404 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if resp.Header.Get("x-request-id") == "" || resp.Header.Get("x-tollgate-error-origin") != "client" {
				t.Errorf("headers = %v, want x-request-id and x-tollgate-error-origin: client", resp.Header)
			}
			if tt.bedrock {
				if resp.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" || gjson.GetBytes(b, "message").String() == "" {
					t.Errorf("answer = %v %s, want an AWS ResourceNotFoundException", resp.Header, b)
				}
			} else if gjson.GetBytes(b, "error.type").String() != "not_found_error" {
				t.Errorf("body = %s, want an Anthropic not_found_error", b)
			}
		})
	}
}

// TestOversizedHeadersInFormat: a header block over the gateway's limit gets
// a 431 in its door's format with a request id and origin client, not
// net/http's plain text, and the connection is closed without reading the
// body.
func TestOversizedHeadersInFormat(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		path    string
		bedrock bool
	}{
		{"/v1/messages", false},
		{"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", true},
	} {
		t.Run(tt.path, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(h.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			big := strings.Repeat("a", 100<<10)
			// The body is announced but never sent: the answer must not
			// wait for it.
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nx-api-key: %s\r\nx-big: %s\r\nContent-Length: 100\r\n\r\n", tt.path, testKey, big)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Fatalf("answer = %d %s, want 431", resp.StatusCode, b)
			}
			if resp.Header.Get("x-request-id") == "" || resp.Header.Get("x-tollgate-error-origin") != "client" {
				t.Errorf("headers = %v, want x-request-id and x-tollgate-error-origin: client", resp.Header)
			}
			if tt.bedrock {
				if resp.Header.Get("X-Amzn-ErrorType") == "" || !strings.Contains(gjson.GetBytes(b, "message").String(), "headers") {
					t.Errorf("answer = %v %s, want an AWS error naming the headers", resp.Header, b)
				}
			} else if gjson.GetBytes(b, "error.type").String() != "invalid_request_error" || !strings.Contains(string(b), "headers") {
				t.Errorf("body = %s, want an Anthropic invalid_request_error naming the headers", b)
			}
		})
	}
}
