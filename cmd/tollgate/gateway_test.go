package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-gw/tollgate/internal/access"
	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/server"
)

const (
	testAdminKey     = "tga-test-admin-key-0123456789"
	testStaticKey    = "tg-static-test-key-0123456789"
	testAccessSecret = "access-secret-0123456789abcdef"
)

// testGateway is a real gateway, built from a config as `tollgate serve`
// builds it, in front of the Bedrock simulator, both on loopback.
type testGateway struct {
	URL string
	gw  *server.Gateway
}

// gatewaySetup is what options adjust before the gateway starts.
type gatewaySetup struct {
	cfg            *config.Config
	sim            bedrocksim.Options
	closedUpstream bool // the bedrock provider points at a port nobody listens on
	tls            bool // the gateway listens with TLS, with a certificate no one trusts
}

type gatewayOption func(*gatewaySetup)

// withAccessRule guards /v1/* and /model/* with a rule that allows only
// TEST-NET-3 addresses or the header X-Tollgate-Access: testAccessSecret.
func withAccessRule(s *gatewaySetup) {
	s.cfg.Access = access.Config{Rules: []access.Rule{{
		Name:        "api",
		Paths:       []string{"/v1/*", "/model/*"},
		AllowCIDRs:  []string{"203.0.113.0/24"},
		AllowHeader: &access.Header{Name: "X-Tollgate-Access", Secrets: []string{testAccessSecret}},
	}}}
}

// withFault makes the simulator fail every invoke with the fault marker.
func withFault(fault string) gatewayOption {
	return func(s *gatewaySetup) { s.sim.Fault = fault }
}

func withClosedUpstream(s *gatewaySetup) { s.closedUpstream = true }

func withTLS(s *gatewaySetup) { s.tls = true }

// startGateway starts a gateway with a static key (testStaticKey), the admin
// key testAdminKey, and TOLLGATE_URL and TOLLGATE_ADMIN_KEY set for the CLI.
func startGateway(t *testing.T, opts ...gatewayOption) *testGateway {
	t.Helper()
	t.Setenv("TOLLGATE_ADMIN_KEY", testAdminKey) // read by FromConfig and by the CLI
	set := gatewaySetup{
		cfg: config.DefaultWith(func(string) (string, bool) { return "", false }),
		sim: bedrocksim.Options{Region: "us-east-1"},
	}
	cfg := set.cfg
	cfg.Database = "sqlite://" + filepath.Join(t.TempDir(), "tollgate.db")
	cfg.Keys = []config.Key{{Name: "static", Secret: testStaticKey}}
	cfg.Server.PingInterval = -1
	cfg.Usage.FlushInterval = 10 * time.Millisecond
	for _, o := range opts {
		o(&set)
	}
	sim := httptest.NewServer(bedrocksim.New(set.sim))
	t.Cleanup(sim.Close)
	p := cfg.Providers["bedrock"]
	p.Region = "us-east-1"
	p.Endpoint = sim.URL
	if set.closedUpstream {
		p.Endpoint = "http://" + closedPort(t)
		zero := 0
		p.MaxRetries = &zero
	}
	cfg.Providers["bedrock"] = p
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	gw, err := server.FromConfig(context.Background(), cfg, log, server.BuildOptions{
		Credentials: map[string]aws.CredentialsProvider{
			"bedrock": credentials.NewStaticCredentialsProvider(bedrocksim.DefaultAccessKeyID, bedrocksim.DefaultSecretAccessKey, ""),
		},
	})
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	t.Cleanup(func() { gw.Close(context.Background()) })
	hs := httptest.NewUnstartedServer(gw.Server)
	if set.tls {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	t.Setenv("TOLLGATE_URL", hs.URL)
	return &testGateway{URL: hs.URL, gw: gw}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// cli runs the tollgate command line as main does.
func cli(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	err = run(ctx, args, &out, &errb)
	return out.String(), errb.String(), err
}

// mustCLI runs the command line and fails the test on an error.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errb, err := cli(t, args...)
	if err != nil {
		t.Fatalf("tollgate %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errb)
	}
	return out
}

// message is the answer to one Messages call.
type message struct {
	status int
	header http.Header
	body   string
	usage  struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	}
}

// call sends a small Messages request with key to the gateway.
func (g *testGateway) call(t *testing.T, key, model, prompt string) message {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": model, "max_tokens": 50,
		"messages": []any{map[string]any{"role": "user", "content": prompt}}})
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/messages", bytes.NewReader(body))
	req.Header.Set("x-api-key", key)
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	m := message{status: resp.StatusCode, header: resp.Header, body: string(raw)}
	var parsed struct {
		Usage json.RawMessage `json:"usage"`
	}
	if json.Unmarshal(raw, &parsed) == nil && parsed.Usage != nil {
		json.Unmarshal(parsed.Usage, &m.usage)
	}
	return m
}
