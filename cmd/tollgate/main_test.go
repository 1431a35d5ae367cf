package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/buildinfo"
)

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &errb); err != nil || !strings.HasPrefix(out.String(), "tollgate ") {
		t.Errorf("version: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"bogus"}, &out, &errb); err == nil || !strings.Contains(errb.String(), "Usage:") {
		t.Errorf("unknown command: err %v, stderr %q", err, errb.String())
	}
}

// TestCheckReportsEveryProblem: one run of check reports the problems of
// every pass — expansion, schema, validation, the environment — errors
// first, as text and as JSON.
func TestCheckReportsEveryProblem(t *testing.T) {
	const path = "testdata/check-broken.yaml"
	for _, c := range []struct {
		name   string
		args   []string
		golden string
	}{
		{"text", []string{"check", "--config", path}, "check_broken"},
		{"json", []string{"check", "--config", path, "--json"}, "check_broken_json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := cli(t, c.args...)
			if err == nil || err.Error() != "config: "+path+": 4 errors, 2 warnings" {
				t.Errorf("check = %v, want it to fail with 4 errors and 2 warnings", err)
			}
			golden(t, c.golden, out)
		})
	}
}

// TestDemo runs `tollgate demo` on a free port and makes one call through
// the printed settings.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--log-level", "warn"}, &out, &errb)
	}()

	var base, key string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && key == "" {
		time.Sleep(20 * time.Millisecond)
		if m := regexp.MustCompile(`export ANTHROPIC_BASE_URL=(\S+)\nexport ANTHROPIC_API_KEY=(\S+)`).FindStringSubmatch(out.String()); m != nil {
			base, key = m[1], m[2]
		}
	}
	if key == "" {
		t.Fatalf("demo printed no settings; stdout %q stderr %q", out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "CLAUDE_CODE_USE_BEDROCK=1") {
		t.Errorf("demo output lacks the Bedrock-mode lines:\n%s", out.String())
	}
	// The admin CLI works with the exported settings, on the port that
	// --listen chose.
	m := regexp.MustCompile(`(?m)^export TOLLGATE_URL=(\S+) TOLLGATE_ADMIN_KEY=(tga-\S+)$`).FindStringSubmatch(out.String())
	if m == nil || m[1] != base {
		t.Fatalf("demo stdout lacks export TOLLGATE_URL=%s TOLLGATE_ADMIN_KEY=…:\n%s", base, out.String())
	}
	t.Setenv("TOLLGATE_URL", m[1])
	t.Setenv("TOLLGATE_ADMIN_KEY", m[2])
	wantContains(t, "keys list against the demo", mustCLI(t, "keys", "list"), "No keys")
	if strings.Contains(errb.String(), m[2]) {
		t.Errorf("demo printed the admin key among its logs on stderr")
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/messages", strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Hello from bedrock-sim.") {
		t.Errorf("call through demo = %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not stop after cancel")
	}
}

// TestServeBindsBeforeState: with its port taken, serve fails before it
// creates the data directory or the database.
func TestServeBindsBeforeState(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("data_dir: "+dir+"\n"), 0o600)
	_, _, err = cli(t, "serve", "--config", cfg, "--listen", busy.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "listen on "+busy.Addr().String()) {
		t.Fatalf("serve on a busy port = %v, want a listen error", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("serve on a busy port left %s behind (stat: %v)", dir, err)
	}
}

// TestCheckReportsMissingKeyVariables: an unset API-key variable, which
// serve would refuse to start with, is a warning, and an error with
// --strict.
func TestCheckReportsMissingKeyVariables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("providers:\n  claude:\n    type: anthropic\n    api_key_env: TG_TEST_SURELY_UNSET_KEY\n"), 0o600)
	out, _, err := cli(t, "check", "--config", path)
	if err != nil || !strings.Contains(out, "warning: "+path+": provider claude: the API key variable TG_TEST_SURELY_UNSET_KEY is empty or unset") {
		t.Fatalf("check = %v, %q; want success with a warning naming the variable", err, out)
	}
	if _, _, err := cli(t, "check", "--config", path, "--strict"); err == nil || !strings.Contains(err.Error(), "1 warning") {
		t.Fatalf("check --strict = %v, want a failure", err)
	}
	t.Setenv("TG_TEST_SURELY_UNSET_KEY", "sk-ant-x")
	if out, _, err := cli(t, "check", "--config", path, "--strict"); err != nil || strings.Contains(out, "warning") {
		t.Fatalf("check --strict with the variable set = %v\n%s", err, out)
	}
}

// TestCheckExample: the documented example checks cleanly out of the box,
// its unset secrets being warnings.
func TestCheckExample(t *testing.T) {
	out, _, err := cli(t, "check", "--config", "../../examples/tollgate.yaml")
	if err != nil {
		t.Fatalf("check examples/tollgate.yaml = %v\n%s", err, out)
	}
	if strings.Contains(out, "error:") {
		t.Errorf("check examples/tollgate.yaml reports errors:\n%s", out)
	}
}

func TestPrintVersion(t *testing.T) {
	tests := []struct {
		name string
		in   buildinfo.Info
		want string
	}{
		{"release", buildinfo.Info{Version: "v1.2.3", Revision: "0123456789ab", Time: "2026-01-02T15:04:05Z", GoVersion: "go1.26.8"},
			"tollgate v1.2.3\ncommit:  0123456789ab\ndate:    2026-01-02T15:04:05Z\ngo:      go1.26.8\n"},
		{"dirty checkout", buildinfo.Info{Version: "dev", Revision: "0123456789ab", Modified: true, GoVersion: "go1.26.8"},
			"tollgate dev\ncommit:  0123456789ab (modified: built with uncommitted changes)\ndate:    unknown\ngo:      go1.26.8\n"},
		{"nothing known", buildinfo.Info{Version: "dev", GoVersion: "go1.26.8"},
			"tollgate dev\ncommit:  unknown\ndate:    unknown\ngo:      go1.26.8\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printVersion(&b, tt.in)
			if b.String() != tt.want {
				t.Errorf("printVersion(%+v) =\n%s\nwant\n%s", tt.in, b.String(), tt.want)
			}
		})
	}
}

// TestVersionStamped builds the binary the way the Dockerfile does, with
// -ldflags -X, and checks that the stamped values are what `tollgate
// version` prints: the variable names in the flags and in main must agree.
func TestVersionStamped(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "tollgate")
	ldflags := "-X main.version=v9.8.7 -X main.commit=fedcba9876543210fedcba9876543210fedcba98 -X main.date=2026-03-04T05:06:07Z"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("tollgate version: %v\n%s", err, out)
	}
	want := "tollgate v9.8.7\ncommit:  fedcba987654\ndate:    2026-03-04T05:06:07Z\ngo:      " + runtime.Version() + "\n"
	if string(out) != want {
		t.Errorf("tollgate version =\n%s\nwant\n%s", out, want)
	}
}
