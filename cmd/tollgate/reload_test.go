package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
)

// TestServeReloadsOnSIGHUP runs `tollgate serve --config FILE`, changes the
// file and sends the process SIGHUP: a model added to the file is served
// without a restart, and a changed listen address is reported as needing
// one; then an invalid file is refused — the running config keeps serving,
// and the error is logged, counted in tollgate_config_reloads_total and
// shown in /readyz?verbose=1.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	sim := httptest.NewServer(bedrocksim.New(bedrocksim.Options{Region: "us-east-1"}))
	defer sim.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", bedrocksim.DefaultAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", bedrocksim.DefaultSecretAccessKey)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("TOLLGATE_ADMIN_KEY", testAdminKey)
	dir := t.TempDir()
	addr := closedPort(t)
	path := filepath.Join(dir, "tollgate.yaml")
	const key = "tg-hup-test-key-0123456789"
	write := func(listen, models string) {
		t.Helper()
		cfg := fmt.Sprintf(`listen: %s
data_dir: %s
log: {level: info}
providers:
  bedrock:
    region: us-east-1
    endpoint: %s
keys:
  - {name: tester, secret: %s}
models:
%s`, listen, dir, sim.URL, key, models)
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const first = "  - {name: first, targets: [{provider: bedrock, model: us.anthropic.claude-haiku-4-5-20251001-v1:0}]}\n"
	const second = "  - {name: second, targets: [{provider: bedrock, model: us.anthropic.claude-sonnet-4-5-20250929-v1:0}]}\n"
	write(addr, first)

	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", path}, &out, &errb) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve exited with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
		if t.Failed() {
			t.Logf("serve stderr:\n%s", errb.String())
		}
	}()

	base := "http://" + addr
	get := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("x-api-key", key)
		req.Header.Set("content-type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	call := func(model string) int {
		st, _ := get(http.MethodPost, "/v1/messages", `{"model":"`+model+`","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
		return st
	}
	// until polls cond for at most 10 s: the reload runs on the signal
	// handler's goroutine, after Kill returns.
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waited 10s for %s", what)
			}
		}
	}
	until("the gateway to serve", func() bool { return call("first") == http.StatusOK })
	if st := call("second"); st != http.StatusNotFound {
		t.Fatalf("second before the reload = %d, want 404", st)
	}

	// A valid change: a model added, the listen address changed.
	write("127.0.0.1:1", first+second)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	until("the added model to be served", func() bool { return call("second") == http.StatusOK })
	until("the restart warning", func() bool {
		return strings.Contains(errb.String(), "need a restart") && strings.Contains(errb.String(), `"settings":["listen"]`)
	})

	// An invalid file: refused, the running config stays.
	write(addr, first+"  - {name: broken, targets: [{provider: nowhere, model: x}]}\n")
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	until("the refusal in /readyz", func() bool {
		_, body := get(http.MethodGet, "/readyz?verbose=1", "")
		return strings.Contains(body, `"result":"invalid"`)
	})
	if st := call("second"); st != http.StatusOK {
		t.Errorf("second after an invalid reload = %d, want 200 (the running config stays)", st)
	}
	if !strings.Contains(errb.String(), `"level":"ERROR","msg":"config reload refused; the running config stays"`) || !strings.Contains(errb.String(), "nowhere") {
		t.Errorf("the refusal is not logged at error level with its reason:\n%s", errb.String())
	}
	_, _ = get(http.MethodGet, "/readyz?verbose=1", "")
	_, metrics := get(http.MethodGet, "/metrics", "")
	for _, want := range []string{`tollgate_config_reloads_total{result="ok"} 1`, `tollgate_config_reloads_total{result="invalid"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
