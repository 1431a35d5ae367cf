package conformance

import (
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/access"
	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

const (
	// accessHeader and accessSecret pass the gateway's access rule; the
	// rule allows no network, so every client must send them.
	accessHeader = "X-Tollgate-Access"
	accessSecret = "conformance-access-secret-0123456789"

	// requestTags is what clients send in x-tollgate-tags.
	requestTags = "repo=org/app,pr=7"

	// simReply is the simulator's default answer text.
	simReply = "Hello from bedrock-sim."
)

// requireEnv returns the value of name, which a conformance test needs.
// Unset, the test skips, or fails when CI=true, naming the command that sets
// it: a CI machine without Node must not pass silently.
func requireEnv(t *testing.T, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	msg := name + ` is not set; run: eval "$(./scripts/claude-code.sh)" (installs the pinned Claude Code and the Node SDKs)`
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// hit is one request that reached the gateway's handler.
type hit struct {
	Method, Path string
	Session      string // x-claude-code-session-id
	Stream       bool   // a streaming call: the Bedrock stream route, or "stream":true
	Model        string // "model" of an Anthropic body, the path id of a Bedrock one
	Status       int
}

// isCall reports whether h is a model call (not a warm-up or control-plane
// request).
func (h hit) isCall() bool {
	return h.Method == http.MethodPost && (strings.HasPrefix(h.Path, "/v1/messages") || strings.HasPrefix(h.Path, "/model/") ||
		h.Path == "/v1/chat/completions")
}

// gateway is a Tollgate gateway in front of a Bedrock simulator, both on
// 127.0.0.1, that records every request reaching it and every usage row it
// writes. Each scenario builds its own, so that scenarios run in parallel and
// counts stay exact.
type gateway struct {
	*testutil.Harness

	feed     <-chan usage.Record
	mu       sync.Mutex
	hits     []hit
	inFlight int
	records  []usage.Record
}

// newGateway builds and starts a gateway with one access rule: the API paths
// of both front doors are open only to requests carrying the access header,
// from any address (no CIDR, so loopback is not allowed by network).
//
// opts are applied after those, so that a further WithMiddleware wraps the
// handler inside the request counter.
func newGateway(t *testing.T, opts ...testutil.Option) *gateway {
	t.Helper()
	g := &gateway{}
	g.Harness = testutil.Start(t, append([]testutil.Option{
		testutil.WithConfig(func(c *config.Config) {
			c.Access = access.Config{Rules: []access.Rule{{
				Name:        "api",
				Paths:       []string{"/v1/*", "/model/*"},
				AllowHeader: &access.Header{Name: accessHeader, Secrets: []string{accessSecret}},
			}}}
		}),
		testutil.WithMiddleware(g.count)}, opts...)...)
	feed, cancel := g.Gateway.Writer.Subscribe()
	t.Cleanup(cancel)
	g.feed = feed
	return g
}

// count wraps the gateway's handler to record each request that reaches it.
func (g *gateway) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hit{Method: r.Method, Path: r.URL.Path, Session: r.Header.Get("x-claude-code-session-id")}
		if h.isCall() {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			if rest, ok := strings.CutPrefix(r.URL.Path, "/model/"); ok {
				// The id may hold a '/' (a decoded ARN); the operation
				// is the last segment.
				i := strings.LastIndexByte(rest, '/')
				h.Model, h.Stream = rest[:max(i, 0)], rest[i+1:] == "invoke-with-response-stream"
			} else {
				h.Model = gjson.GetBytes(body, "model").String()
				h.Stream = gjson.GetBytes(body, "stream").Bool()
			}
		}
		g.mu.Lock()
		i := len(g.hits)
		g.hits = append(g.hits, h)
		g.inFlight++
		g.mu.Unlock()
		rw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			g.mu.Lock()
			g.hits[i].Status = rw.status
			g.inFlight--
			g.mu.Unlock()
		}()
		next.ServeHTTP(rw, r)
	})
}

// settle waits until no request is in flight, then returns the model calls
// that reached the gateway and every usage row written so far. A row is
// written before its handler returns, so once nothing is in flight every
// row is on the feed.
func (g *gateway) settle(t *testing.T) (calls []hit, recs []usage.Record) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	g.mu.Lock()
	for g.inFlight > 0 {
		if time.Now().After(deadline) {
			g.mu.Unlock()
			t.Fatalf("requests still in flight after 15 s")
		}
		g.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		g.mu.Lock()
	}
	for _, h := range g.hits {
		if h.isCall() {
			calls = append(calls, h)
		}
	}
	g.mu.Unlock()
	for {
		select {
		case r := <-g.feed:
			g.records = append(g.records, r)
			continue
		default:
		}
		break
	}
	return calls, slices.Clone(g.records)
}

// simInvokes returns the model calls the simulator received (what the
// gateway sent upstream, retries included).
func (g *gateway) simInvokes() []bedrocksim.RecordedRequest {
	var out []bedrocksim.RecordedRequest
	for _, r := range g.Sim.Requests() {
		if r.Op == bedrocksim.OpInvokeModel || r.Op == bedrocksim.OpInvokeModelWithResponseStream {
			out = append(out, r)
		}
	}
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer's Flush.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
