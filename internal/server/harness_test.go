package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/server"
)

const testKey = "tg-test-key-0123456789"

// harness is a gateway in front of a Bedrock simulator, both on loopback.
type harness struct {
	sim    *bedrocksim.Server
	simURL string
	gw     *httptest.Server
	srv    *server.Server
	gwy    *server.Gateway
	cfg    *config.Config
	logs   *logBuf
}

// harnessSettings are what harness options adjust before start.
type harnessSettings struct {
	cfg *config.Config
	sim bedrocksim.Options
	tls bool
}

type harnessOpt func(*harnessSettings)

// useTLS makes the gateway listen with TLS (the AWS SDK refuses to send a
// bearer token over plain HTTP).
func useTLS(s *harnessSettings) { s.tls = true }

func newHarness(t testing.TB, opts ...harnessOpt) *harness {
	t.Helper()
	set := harnessSettings{
		cfg: config.DefaultWith(func(string) (string, bool) { return "", false }),
		sim: bedrocksim.Options{Region: "us-east-1"},
	}
	cfg := set.cfg
	cfg.Database = "sqlite://" + filepath.Join(t.TempDir(), "tollgate.db")
	cfg.Keys = []config.Key{{Name: "tester", Secret: testKey}}
	cfg.Server.PingInterval = -1
	for _, o := range opts {
		o(&set)
	}
	sim := bedrocksim.New(set.sim)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	p := cfg.Providers["bedrock"]
	p.Endpoint = simSrv.URL
	p.Region = "us-east-1"
	cfg.Providers["bedrock"] = p
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}

	logs := &logBuf{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gwy, err := server.FromConfig(context.Background(), cfg, log, server.BuildOptions{
		Credentials: map[string]aws.CredentialsProvider{
			"bedrock": credentials.NewStaticCredentialsProvider(bedrocksim.DefaultAccessKeyID, bedrocksim.DefaultSecretAccessKey, ""),
		},
	})
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	t.Cleanup(func() { gwy.Close(context.Background()) })
	srv := gwy.Server
	gw := httptest.NewUnstartedServer(srv)
	if set.tls {
		gw.StartTLS()
	} else {
		gw.Start()
	}
	t.Cleanup(gw.Close)
	return &harness{sim: sim, simURL: simSrv.URL, gw: gw, srv: srv, gwy: gwy, cfg: cfg, logs: logs}
}

// withConfig adjusts the gateway config before it is built.
func withConfig(f func(*config.Config)) harnessOpt {
	return func(s *harnessSettings) { f(s.cfg) }
}

// withSim adjusts the simulator options.
func withSim(f func(*bedrocksim.Options)) harnessOpt {
	return func(s *harnessSettings) { f(&s.sim) }
}

// post sends a raw POST to the gateway and returns status, headers, body.
func (h *harness) post(t testing.TB, path, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	return h.do(t, http.MethodPost, path, body, hdr)
}

// do sends a raw request with the test key (unless hdr overrides it; an
// empty value deletes a header).
func (h *harness) do(t testing.TB, method, path, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.gw.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", testKey)
	req.Header.Set("anthropic-version", "2023-06-01")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// logBuf collects log output from concurrent handlers.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testConfig is the gateway config type, named short for option closures.
type testConfig = config.Config
