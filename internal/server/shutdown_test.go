package server_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// TestShutdownRecordsEveryCall stops a serving gateway (as SIGTERM does)
// while one stream finishes within the grace period and another outlives
// it. The one cut at the end of the grace gets an in-stream overloaded_error
// saying the gateway is shutting down, and is recorded with origin gateway,
// not as a client that left. Both calls are settled and their usage rows
// persisted before the database closes.
func TestShutdownRecordsEveryCall(t *testing.T) {
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) { c.Server.ShutdownGrace = 700 * time.Millisecond }))
	p := h.NewPrincipal(t, "sam", testutil.PrincipalSpec{KeyUSD: 100})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- h.Gateway.Serve(ctx, ln) }()

	stream := func(prompt string) (<-chan string, <-chan string) {
		body := `{"model":"claude-haiku-4-5","max_tokens":4000,"stream":true,"messages":[{"role":"user","content":"` + prompt + `"}]}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/v1/messages", strings.NewReader(body))
		req.Header.Set("x-api-key", p.Secret)
		req.Header.Set("Content-Type", "application/json")
		started, done := make(chan string, 1), make(chan string, 1)
		go func() {
			var all strings.Builder
			defer func() { done <- all.String() }()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				started <- "error: " + err.Error()
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sent := false
			for sc.Scan() {
				all.WriteString(sc.Text() + "\n")
				if !sent && strings.HasPrefix(sc.Text(), "event: content_block_delta") {
					started <- "ok"
					sent = true
				}
			}
			if !sent {
				started <- "no delta: " + all.String()
			}
		}()
		return started, done
	}
	words := func(n int) string { return strings.Repeat("word ", n) }
	short, shortDone := stream("[[sim:text " + words(4) + "]] [[sim:tps 20]]") // about 0.3 s
	long, longDone := stream("[[sim:text " + words(200) + "]] [[sim:tps 20]]") // about 10 s
	for _, c := range []<-chan string{short, long} {
		if s := <-c; s != "ok" {
			t.Fatalf("stream did not start: %s", s)
		}
	}
	stop() // SIGTERM
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if body := <-shortDone; !strings.Contains(body, "event: message_stop") {
		t.Errorf("the stream that ended within the grace was not whole:\n%s", body)
	}
	body := <-longDone
	if !strings.Contains(body, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"") || !strings.Contains(body, "shutting down") {
		t.Errorf("the stream cut at the end of the grace did not end with an overloaded_error saying so; it ended:\n%.300s", body[max(0, len(body)-300):])
	}
	var cutOrigin string
	for _, line := range strings.Split(h.Logs(), "\n") {
		if gjson.Get(line, "msg").String() == "request" && strings.Contains(gjson.Get(line, "error").String(), "shutting down") {
			cutOrigin = gjson.Get(line, "error_origin").String()
		}
	}
	if cutOrigin != "gateway" {
		t.Errorf("the cut stream was logged with error_origin %q, want gateway", cutOrigin)
	}

	// The gateway closed its database; open it again, as a restart would.
	st, err := store.Open(context.Background(), h.Config.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Usage(context.Background(), store.UsageQuery{By: store.ByKey})
	if err != nil || len(rows) != 1 {
		t.Fatalf("usage = %+v, %v", rows, err)
	}
	if rows[0].Requests != 2 || rows[0].Tokens.Output == 0 || rows[0].CostMicros == 0 {
		t.Errorf("usage after shutdown = %+v, want both calls recorded and charged", rows[0])
	}
}
