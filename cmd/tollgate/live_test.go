package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestUsageFollow: `tollgate usage --follow` prints each call as it finishes,
// live, and stops when interrupted.
func TestUsageFollow(t *testing.T) {
	g := startGateway(t)
	secret := createKey(t, "--alias", "live-key")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"usage", "--follow"}, &out, &errb) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "TIME") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// The header is printed once the feed is open; a call made now shows.
	status, _, body := g.Post(t, "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":20,"messages":[{"role":"user","content":"hi [[sim:usage in=12 out=3 cw5m=0 cw1h=0 cr=0]]"}]}`,
		map[string]string{"x-api-key": secret})
	if status != 200 {
		t.Fatalf("call = %d %s", status, body)
	}
	for !strings.Contains(out.String(), "live-key") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("usage --follow ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("usage --follow did not stop when interrupted")
	}
	line := ""
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "live-key") {
			line = l
		}
	}
	for _, want := range []string{"claude-haiku-4-5-20251001", "200", " 12 ", " 3 "} {
		if !strings.Contains(line, want) {
			t.Errorf("live line %q lacks %q (output:\n%s)", line, want, out.String())
		}
	}
}
