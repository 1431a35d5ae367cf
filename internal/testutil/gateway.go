// Package testutil builds, for tests only, a real Tollgate gateway in front of
// the Bedrock simulator, both on loopback, the way `tollgate serve` builds it
// from a config. The server, conformance and CLI tests share it, so that a
// change to how a gateway is assembled is made once.
//
// Nothing outside _test.go files may import this package.
package testutil

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
	"github.com/tollgate-gw/tollgate/internal/gateway"
	"github.com/tollgate-gw/tollgate/internal/router"
)

// Harness is a gateway built by gateway.FromConfig on a fresh SQLite database,
// serving on loopback in front of its own Bedrock simulator.
type Harness struct {
	// URL is the gateway's base URL (https:// with WithTLS).
	URL string
	// Server is the gateway's listener; Server.Client trusts its TLS
	// certificate.
	Server *httptest.Server
	// Gateway is what the gateway owns: store, accounts, usage writer.
	Gateway *gateway.Gateway
	// Sim is the simulator behind the gateway; it records what the gateway
	// sent upstream.
	Sim *bedrocksim.Server
	// SimURL is the simulator's base URL, for calls that bypass the gateway.
	SimURL string
	// Sims are the simulators by provider name: Sim as "bedrock", and one
	// per WithRegion.
	Sims map[string]*bedrocksim.Server
	// Config is the configuration the gateway was built from.
	Config *config.Config

	key  string // sent as x-api-key by Do, "" for none
	logs *logBuffer
}

// settings are what options adjust before Start builds the gateway.
type settings struct {
	configs    []func(*config.Config)
	sim        bedrocksim.Options
	tls        bool
	env        [][2]string
	key        string
	middleware []func(http.Handler) http.Handler
	creds      aws.CredentialsProvider
	regions    []region
	health     *router.Health
	clock      func() time.Time
}

// region is a further Bedrock provider with its own simulator.
type region struct {
	provider, name string
	sim            func(*bedrocksim.Options)
}

// Option adjusts the harness before the gateway is built.
type Option func(*settings)

// WithConfig edits the gateway config after the harness has filled in the
// database and the simulator endpoint, and before it is validated; edits run
// in the order given.
func WithConfig(f func(*config.Config)) Option {
	return func(s *settings) { s.configs = append(s.configs, f) }
}

// WithSim adjusts the simulator's options (faults, recording, region).
func WithSim(f func(*bedrocksim.Options)) Option {
	return func(s *settings) { f(&s.sim) }
}

// WithTLS makes the gateway listen with TLS, with a certificate only
// Server.Client trusts (the AWS SDK refuses to send a bearer token over
// plain HTTP).
func WithTLS() Option {
	return func(s *settings) { s.tls = true }
}

// WithEnv sets an environment variable for the test (t.Setenv) before the
// gateway is built, for what FromConfig reads from the environment, such as
// TOLLGATE_ADMIN_KEY.
func WithEnv(name, value string) Option {
	return func(s *settings) { s.env = append(s.env, [2]string{name, value}) }
}

// WithCredentials makes the gateway sign its Bedrock requests with creds
// instead of the simulator's default key pair, for tests of what happens
// when Bedrock refuses the gateway's own credentials.
func WithCredentials(creds aws.CredentialsProvider) Option {
	return func(s *settings) { s.creds = creds }
}

// WithStaticKey adds a static key to the config and makes it the x-api-key
// that Do and Post send by default.
func WithStaticKey(name, secret string) Option {
	return func(s *settings) {
		s.key = secret
		s.configs = append(s.configs, func(c *config.Config) {
			c.Keys = append(c.Keys, config.Key{Name: name, Secret: secret})
		})
	}
}

// WithoutRetries stops the gateway retrying the simulator, so that an
// upstream failure reaches the client at once.
func WithoutRetries() Option {
	return WithConfig(func(c *config.Config) {
		zero := 0
		p := c.Providers["bedrock"]
		p.MaxRetries = &zero
		c.Providers["bedrock"] = p
	})
}

// WithRegion adds a Bedrock provider named provider, in AWS region name,
// served by a simulator of its own, so that a test can make one region
// throttle (Harness.Sims[provider].SetFault) while another answers. f, if
// not nil, adjusts that simulator's options. The provider is added before
// WithConfig edits run, so they can route models to it.
func WithRegion(provider, name string, f func(*bedrocksim.Options)) Option {
	return func(s *settings) { s.regions = append(s.regions, region{provider, name, f}) }
}

// WithTargetHealth gives the gateway h for its target cooldowns and
// in-flight counts, so that a test controls their clock and random source.
func WithTargetHealth(h *router.Health) Option {
	return func(s *settings) { s.health = h }
}

// WithClock gives the gateway a clock for key expiry and the credential
// exchanges, so that a test moves time instead of sleeping.
func WithClock(now func() time.Time) Option {
	return func(s *settings) { s.clock = now }
}

// WithMiddleware wraps the gateway's handler, for tests that observe every
// request reaching it. The first wrapper given is the outermost.
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return func(s *settings) { s.middleware = append(s.middleware, mw) }
}

// Start builds and serves a gateway in front of a new simulator. Everything
// is torn down when the test ends: the gateway's listener first, so that no
// request is in flight, then the gateway (flushing the usage writer and
// closing the store), then the simulator. When the test has failed, the
// gateway's log is printed.
func Start(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	set := settings{sim: bedrocksim.Options{Region: "us-east-1"}}
	for _, o := range opts {
		o(&set)
	}
	for _, kv := range set.env {
		t.Setenv(kv[0], kv[1])
	}

	sim := bedrocksim.New(set.sim)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)

	cfg := config.DefaultWith(func(string) (string, bool) { return "", false })
	dataDir := t.TempDir()
	cfg.DataDir = dataDir
	cfg.Database = "sqlite://" + filepath.Join(dataDir, "tollgate.db")
	cfg.Usage.SpillPath = filepath.Join(dataDir, "usage-spill.jsonl")
	cfg.Usage.QuarantinePath = filepath.Join(dataDir, "usage-quarantine.jsonl")
	p := cfg.Providers["bedrock"]
	p.Endpoint = simSrv.URL
	p.Region = "us-east-1"
	cfg.Providers["bedrock"] = p
	sims := map[string]*bedrocksim.Server{"bedrock": sim}
	for _, rg := range set.regions {
		o := bedrocksim.Options{Region: rg.name}
		if rg.sim != nil {
			rg.sim(&o)
		}
		rs := bedrocksim.New(o)
		srv := httptest.NewServer(rs)
		t.Cleanup(srv.Close)
		sims[rg.provider] = rs
		rp := p // the defaults of the first provider, in another region
		rp.Region, rp.Endpoint = rg.name, srv.URL
		cfg.Providers[rg.provider] = rp
	}
	if len(set.regions) > 0 {
		cfg.Routing.DefaultProvider = "bedrock"
	}
	for _, f := range set.configs {
		f(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}

	creds := set.creds
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider(bedrocksim.DefaultAccessKeyID, bedrocksim.DefaultSecretAccessKey, "")
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	credMap := map[string]aws.CredentialsProvider{}
	for name := range sims {
		credMap[name] = creds
	}
	gwy, err := gateway.FromConfig(context.Background(), cfg, log, gateway.BuildOptions{
		Credentials:  credMap,
		TargetHealth: set.health,
		Clock:        set.clock,
	})
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	var h http.Handler = gwy.Server
	for i := len(set.middleware) - 1; i >= 0; i-- {
		h = set.middleware[i](h)
	}
	hs := httptest.NewUnstartedServer(h)
	// The protocols `tollgate serve` speaks: HTTP/2 with prior knowledge
	// next to HTTP/1.1 on plain HTTP (clients such as the AWS SDK for
	// JavaScript need it).
	hs.Config.Protocols = gateway.Protocols()
	if set.tls {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(func() {
		hs.Close()
		if err := gwy.Close(context.Background()); err != nil {
			t.Logf("closing the gateway: %v", err)
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	return &Harness{URL: hs.URL, Server: hs, Gateway: gwy, Sim: sim, SimURL: simSrv.URL, Sims: sims, Config: cfg, key: set.key, logs: logs}
}

// Logs returns what the gateway has logged so far, as JSON lines.
func (h *Harness) Logs() string { return h.logs.String() }

// Post sends a raw POST to the gateway; see Do.
func (h *Harness) Post(t testing.TB, path, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	return h.Do(t, http.MethodPost, path, body, hdr)
}

// Do sends a raw request to the gateway and returns the status, headers and
// body. It sends Content-Type: application/json, anthropic-version and the
// WithStaticKey key as x-api-key; hdr overrides them, and an empty value
// deletes a header.
func (h *Harness) Do(t testing.TB, method, path, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, h.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if h.key != "" {
		req.Header.Set("x-api-key", h.key)
	}
	req.Header.Set("anthropic-version", "2023-06-01")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := h.Server.Client().Do(req)
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

// logBuffer collects log output from concurrent handlers.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
