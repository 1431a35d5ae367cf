package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/access"
	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

const (
	testAdminKey     = "tga-test-admin-key-0123456789"
	testStaticKey    = "tg-static-test-key-0123456789"
	testAccessSecret = "access-secret-0123456789abcdef"
)

// Options of startGateway that the doctor tests use.
var (
	// withAccessRule guards /v1/* and /model/* with a rule that allows only
	// TEST-NET-3 addresses or the header X-Tollgate-Access: testAccessSecret.
	withAccessRule = testutil.WithConfig(func(c *config.Config) {
		c.Access = access.Config{Rules: []access.Rule{{
			Name:        "api",
			Paths:       []string{"/v1/*", "/model/*"},
			AllowCIDRs:  []string{"203.0.113.0/24"},
			AllowHeader: &access.Header{Name: "X-Tollgate-Access", Secrets: []string{testAccessSecret}},
		}}}
	})
	// withTLS makes the gateway listen with TLS, with a certificate no one
	// trusts.
	withTLS = testutil.WithTLS()
	// withNoRetries makes the gateway pass upstream failures on at once.
	withNoRetries = testutil.WithoutRetries()
)

// withFault makes the simulator fail every invoke with the fault marker.
func withFault(fault string) testutil.Option {
	return testutil.WithSim(func(o *bedrocksim.Options) { o.Fault = fault })
}

// withClosedUpstream points the bedrock provider at a loopback port nobody
// listens on, without retries.
func withClosedUpstream(t *testing.T) testutil.Option {
	addr := closedPort(t)
	return testutil.WithConfig(func(c *config.Config) {
		p := c.Providers["bedrock"]
		p.Endpoint = "http://" + addr
		zero := 0
		p.MaxRetries = &zero
		c.Providers["bedrock"] = p
	})
}

// testGateway is a real gateway in front of the Bedrock simulator, both on
// loopback.
type testGateway struct{ *testutil.Harness }

// startGateway starts a real gateway, built from a config as `tollgate serve`
// builds it, in front of the Bedrock simulator, with a static key
// (testStaticKey, also the key Do sends by default), the admin key testAdminKey,
// and TOLLGATE_URL and TOLLGATE_ADMIN_KEY set for the CLI.
func startGateway(t *testing.T, opts ...testutil.Option) *testGateway {
	t.Helper()
	base := []testutil.Option{
		testutil.WithEnv("TOLLGATE_ADMIN_KEY", testAdminKey), // read by FromConfig and by the CLI
		testutil.WithStaticKey("static", testStaticKey),
		testutil.WithConfig(func(c *config.Config) {
			c.Server.PingInterval = -1
			c.Usage.FlushInterval = 10 * time.Millisecond
		}),
	}
	h := testutil.Start(t, append(base, opts...)...)
	t.Setenv("TOLLGATE_URL", h.URL)
	return &testGateway{h}
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
	status, hdr, raw := g.Post(t, "/v1/messages", string(body), map[string]string{"x-api-key": key})
	m := message{status: status, header: hdr, body: raw}
	var parsed struct {
		Usage json.RawMessage `json:"usage"`
	}
	if json.Unmarshal([]byte(raw), &parsed) == nil && parsed.Usage != nil {
		json.Unmarshal(parsed.Usage, &m.usage)
	}
	return m
}
