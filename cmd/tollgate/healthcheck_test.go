package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	g := startGateway(t)
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"not ready: database is locked"}}`))
	}))
	defer notReady.Close()
	closed := closedPort(t)

	for _, c := range []struct {
		name    string
		url     string
		wantErr string // "" for success
	}{
		{"readyz of a live gateway", g.URL + "/readyz", ""},
		{"healthz of a live gateway", g.URL + "/healthz", ""},
		{"not ready", notReady.URL + "/readyz", "answered HTTP 503: not ready: database is locked"},
		{"no such path", g.URL + "/nope", "answered HTTP 404"},
		{"nothing listens", "http://" + closed + "/readyz", "connection refused"},
		{"not a URL", "127.0.0.1:4000/readyz", "is not an http:// or https:// URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := cli(t, "healthcheck", "--url", c.url)
			if c.wantErr == "" {
				if err != nil || !strings.HasPrefix(out, "ok: GET ") {
					t.Errorf("healthcheck %s = %v, %q; want ok", c.url, err, out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("healthcheck %s = %v, want error containing %q", c.url, err, c.wantErr)
			}
		})
	}
}
