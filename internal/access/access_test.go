package access

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// request builds a server-side request as net/http would hand it over.
func request(method, target, remote string, header ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// gateway is the configuration of the tests: an API group open to the office
// and to the CI secret, an admin group open to loopback, and an ops group
// open only to its own header.
func gateway() Config {
	return Config{
		TrustedProxies: []string{"10.0.0.0/8", "fd00::/8"},
		Rules: []Rule{
			{
				Name:        "api",
				Paths:       []string{"/v1/*", "/model/*", "/inference-profiles*"},
				AllowCIDRs:  []string{"203.0.113.0/24", "2001:db8::/32"},
				AllowHeader: &Header{Secrets: []string{apiSecret, apiSecretNext}},
			},
			{
				Name:       "admin",
				Paths:      []string{"/admin/*", "/ui/*", "/metrics"},
				AllowCIDRs: []string{"127.0.0.1/32", "::1/128"},
			},
			{
				Name:        "ops",
				Paths:       []string{"/debug/*"},
				AllowHeader: &Header{Name: "x-ops-key", Secrets: []string{opsSecret}},
			},
		},
	}
}

// TestMatrix is the access-rule matrix: where the client is (inside or
// outside allow_cidrs; IPv4, IPv6 or IPv4-mapped; direct or behind trusted
// proxies) times what the header carries, on an API path. The request is
// allowed exactly when the client is inside or the header is right.
func TestMatrix(t *testing.T) {
	rs := mustCompile(t, gateway())
	type where struct {
		name   string
		remote string
		xff    []string // X-Forwarded-For lines
		client string
		inside bool
	}
	wheres := []where{
		{name: "ipv4 direct inside", remote: "203.0.113.7:5000", client: "203.0.113.7", inside: true},
		{name: "ipv4 direct outside", remote: "198.51.100.7:5000", client: "198.51.100.7"},
		{name: "ipv6 direct inside", remote: "[2001:db8::7]:5000", client: "2001:db8::7", inside: true},
		{name: "ipv6 direct outside", remote: "[2001:db9::7]:5000", client: "2001:db9::7"},
		{name: "ipv4-mapped direct inside", remote: "[::ffff:203.0.113.7]:5000", client: "203.0.113.7", inside: true},
		{name: "ipv4-mapped direct outside", remote: "[::ffff:198.51.100.7]:5000", client: "198.51.100.7"},
		{name: "proxy inside", remote: "10.0.0.5:443", xff: []string{"203.0.113.7"}, client: "203.0.113.7", inside: true},
		{name: "proxy outside", remote: "10.0.0.5:443", xff: []string{"198.51.100.7"}, client: "198.51.100.7"},
		{name: "proxy ipv6 inside", remote: "[fd00::1]:443", xff: []string{"2001:db8::7"}, client: "2001:db8::7", inside: true},
		{name: "proxy ipv4-mapped peer and entry", remote: "[::ffff:10.0.0.5]:443", xff: []string{"::ffff:203.0.113.7"}, client: "203.0.113.7", inside: true},
		{name: "proxy entry with port", remote: "10.0.0.5:443", xff: []string{"203.0.113.7:61234"}, client: "203.0.113.7", inside: true},
		{name: "chained proxies inside", remote: "10.0.0.5:443", xff: []string{"203.0.113.7, 10.1.1.1"}, client: "203.0.113.7", inside: true},
		{name: "chained proxies on two header lines", remote: "10.0.0.5:443", xff: []string{"203.0.113.7", "10.1.1.1"}, client: "203.0.113.7", inside: true},
		{name: "chained proxies spoofed leftmost", remote: "10.0.0.5:443", xff: []string{"203.0.113.7, 198.51.100.7, 10.1.1.1"}, client: "198.51.100.7"},
		{name: "proxy without header", remote: "10.0.0.5:443", client: "10.0.0.5"},
		{name: "proxy malformed entry", remote: "10.0.0.5:443", xff: []string{"203.0.113.7, unknown"}, client: "10.0.0.5"},
		{name: "untrusted peer spoofs header", remote: "198.51.100.7:5000", xff: []string{"203.0.113.7"}, client: "198.51.100.7"},
		{name: "untrusted ipv6 peer spoofs header", remote: "[2001:db9::7]:5000", xff: []string{"2001:db8::7"}, client: "2001:db9::7"},
	}
	type carry struct {
		name   string
		values []string // X-Tollgate-Access lines
		right  bool
	}
	carries := []carry{
		{name: "header right", values: []string{apiSecret}, right: true},
		{name: "header right rotated", values: []string{apiSecretNext}, right: true},
		{name: "header wrong", values: []string{"not-the-secret-0123456789"}},
		{name: "header prefix of secret", values: []string{apiSecret[:len(apiSecret)-1]}},
		{name: "header secret and more", values: []string{apiSecret + "x"}},
		{name: "header other rule's secret", values: []string{opsSecret}},
		{name: "header missing"},
		{name: "header empty", values: []string{""}},
		{name: "header repeated", values: []string{"wrong-guess-0123456789", apiSecret}},
	}
	for _, w := range wheres {
		for _, c := range carries {
			t.Run(w.name+"/"+c.name, func(t *testing.T) {
				r := request("POST", "/v1/messages", w.remote)
				for _, v := range w.xff {
					r.Header.Add("X-Forwarded-For", v)
				}
				for _, v := range c.values {
					r.Header.Add("x-tollgate-access", v)
				}
				got := rs.Check(r)
				want := Decision{Allowed: w.inside || c.right, Rule: "api", ClientIP: netip.MustParseAddr(w.client)}
				if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), ignoreReason); diff != "" {
					t.Errorf("Check(%s, X-Forwarded-For %q) (-want +got):\n%s", w.remote, w.xff, diff)
				}
				for _, v := range c.values {
					if v != "" && strings.Contains(got.Reason, v) {
						t.Errorf("Check().Reason = %q, echoes the header value", got.Reason)
					}
				}
			})
		}
	}
}

var ignoreReason = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Reason" }, cmp.Ignore())

func TestPathGroups(t *testing.T) {
	rs := mustCompile(t, gateway())
	const (
		office   = "203.0.113.7:5000"
		outside  = "198.51.100.7:5000"
		loopback = "127.0.0.1:5000"
	)
	tests := []struct {
		name        string
		method      string
		path        string
		remote      string
		header      []string
		wantAllowed bool
		wantRule    string
	}{
		{"admin with api secret", "GET", "/admin/keys", outside, []string{"X-Tollgate-Access", apiSecret}, false, "admin"},
		{"admin from office", "GET", "/admin/keys", office, nil, false, "admin"},
		{"admin from loopback", "GET", "/admin/keys", loopback, nil, true, "admin"},
		{"admin from ipv6 loopback", "GET", "/admin/keys", "[::1]:5000", nil, true, "admin"},
		{"admin bare prefix", "GET", "/admin", outside, nil, false, "admin"},
		{"admin trailing slash", "GET", "/admin/", outside, nil, false, "admin"},
		{"ui", "GET", "/ui/usage", outside, nil, false, "admin"},
		{"metrics", "GET", "/metrics", office, nil, false, "admin"},
		{"metrics from loopback", "GET", "/metrics", loopback, nil, true, "admin"},
		{"api from office", "POST", "/v1/messages", office, nil, true, "api"},
		{"api from loopback", "POST", "/v1/messages", loopback, nil, false, "api"},
		{"bedrock invoke with secret", "POST", "/model/us.anthropic.claude-sonnet-4-5/invoke-with-response-stream", outside, []string{"X-Tollgate-Access", apiSecret}, true, "api"},
		{"bedrock arn model id", "POST", "/model/arn:aws:bedrock:us-east-1:123456789012:application-inference-profile%2Fabc/invoke", outside, nil, false, "api"},
		{"inference profiles", "GET", "/inference-profiles", outside, nil, false, "api"},
		{"inference profile", "GET", "/inference-profiles/global.anthropic.claude-opus-4-5", outside, nil, false, "api"},
		{"ops with its header", "GET", "/debug/pprof/", outside, []string{"X-Ops-Key", opsSecret}, true, "ops"},
		{"ops secret in api header", "GET", "/debug/pprof/", outside, []string{"X-Tollgate-Access", opsSecret}, false, "ops"},
		{"ops with api secret", "GET", "/debug/pprof/", outside, []string{"X-Ops-Key", apiSecret}, false, "ops"},
		{"ops from office", "GET", "/debug/pprof/", office, nil, false, "ops"},
		{"unmatched root", "HEAD", "/", outside, nil, true, ""},
		{"unmatched prefix lookalike", "GET", "/v1beta", outside, nil, true, ""},
		{"unmatched case differs", "GET", "/ADMIN/keys", outside, nil, true, ""},
		{"health probe unmatched", "GET", "/healthz", outside, nil, true, ""},
		{"dot segments into admin", "GET", "/v1/../admin/keys", office, nil, false, "admin"},
		{"dot segments out of admin", "POST", "/admin/../v1/messages", outside, []string{"X-Tollgate-Access", apiSecret}, false, "admin"},
		{"encoded dot segments out of admin", "POST", "/admin/%2e%2e/v1/messages", outside, []string{"X-Tollgate-Access", apiSecret}, false, "admin"},
		{"double slash", "GET", "//admin//keys", outside, nil, false, "admin"},
		{"encoded admin", "GET", "/%61dmin/keys", outside, nil, false, "admin"},
		{"dot segments within api", "POST", "/v1/x/../messages", office, nil, true, "api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.method, tt.path, tt.remote, tt.header...)
			d := rs.Check(r)
			if d.Allowed != tt.wantAllowed || d.Rule != tt.wantRule {
				t.Errorf("Check(%s %s from %s) = %+v, want allowed %v by rule %q", tt.method, tt.path, tt.remote, d, tt.wantAllowed, tt.wantRule)
			}
		})
	}
}

// The first rule whose pattern matches decides, even when a later rule
// would allow the request.
func TestFirstMatch(t *testing.T) {
	rs := mustCompile(t, Config{Rules: []Rule{
		{Name: "models", Paths: []string{"/v1/models*"}, AllowCIDRs: []string{"0.0.0.0/0", "::/0"}},
		{Name: "api", Paths: []string{"/v1/*"}, AllowCIDRs: []string{"203.0.113.0/24"}},
		{Name: "everything", Paths: []string{"*"}, AllowCIDRs: []string{"198.51.100.0/24"}},
	}})
	tests := []struct {
		path, remote string
		wantAllowed  bool
		wantRule     string
	}{
		{"/v1/models", "198.51.100.7:1", true, "models"},
		{"/v1/models/claude-opus-4-5", "[2001:db9::1]:1", true, "models"},
		{"/v1/messages", "198.51.100.7:1", false, "api"},
		{"/v1/messages", "203.0.113.7:1", true, "api"},
		{"/admin", "203.0.113.7:1", false, "everything"},
		{"/admin", "198.51.100.7:1", true, "everything"},
	}
	for _, tt := range tests {
		d := rs.Check(request("GET", tt.path, tt.remote))
		if d.Allowed != tt.wantAllowed || d.Rule != tt.wantRule {
			t.Errorf("Check(%s from %s) = %+v, want allowed %v by rule %q", tt.path, tt.remote, d, tt.wantAllowed, tt.wantRule)
		}
	}
}

// Health probes come from the load balancer, without the secret: a
// catch-all rule leaves them alone, a rule that names them does not, and a
// probe with a query (the operators' details) is guarded like any path.
func TestProbes(t *testing.T) {
	rs := mustCompile(t, Config{Rules: []Rule{
		{Name: "readiness", Paths: []string{"/readyz"}, AllowCIDRs: []string{"127.0.0.1"}},
		{Name: "all", Paths: []string{"*"}, AllowCIDRs: []string{"203.0.113.0/24"}},
	}})
	tests := []struct {
		path        string
		wantAllowed bool
		wantRule    string
	}{
		{"/healthz", true, ""},
		{"/readyz", false, "readiness"},
		{"/healthz?verbose=1", false, "all"}, // operators' details, not a probe
		{"/healthz/", false, "all"},
		{"/healthzz", false, "all"},
		{"/v1/messages", false, "all"},
	}
	for _, tt := range tests {
		d := rs.Check(request("GET", tt.path, "10.0.0.9:1"))
		if d.Allowed != tt.wantAllowed || d.Rule != tt.wantRule {
			t.Errorf("Check(%s) = %+v, want allowed %v by rule %q", tt.path, d, tt.wantAllowed, tt.wantRule)
		}
	}
}

func TestReasons(t *testing.T) {
	rs := mustCompile(t, gateway())
	tests := []struct {
		name   string
		r      *http.Request
		reason string
	}{
		{"allowed by ip", request("POST", "/v1/messages", "203.0.113.7:1"), "client IP is in allow_cidrs of rule api"},
		{"allowed by header", request("POST", "/v1/messages", "198.51.100.7:1", "X-Tollgate-Access", apiSecret), "header X-Tollgate-Access carries a secret of rule api"},
		{"no rule", request("GET", "/", "198.51.100.7:1"), "no access rule matches the path"},
		{"probe", request("GET", "/healthz", "198.51.100.7:1"), "health probe, which no rule lists literally"},
		{"missing", request("POST", "/v1/messages", "198.51.100.7:1"), "client IP 198.51.100.7 is not in allow_cidrs; header X-Tollgate-Access is missing"},
		{"empty", request("POST", "/v1/messages", "[2001:db9::1]:1", "X-Tollgate-Access", ""), "client IP 2001:db9::1 is not in allow_cidrs; header X-Tollgate-Access is empty"},
		{"wrong", request("POST", "/v1/messages", "198.51.100.7:1", "X-Tollgate-Access", "guess-0123456789abcdef"), "client IP 198.51.100.7 is not in allow_cidrs; header X-Tollgate-Access does not carry a secret of this rule"},
		{"repeated", request("POST", "/v1/messages", "198.51.100.7:1", "X-Tollgate-Access", "a", "X-Tollgate-Access", apiSecret), "client IP 198.51.100.7 is not in allow_cidrs; header X-Tollgate-Access is repeated"},
		{"no header in rule", request("GET", "/metrics", "198.51.100.7:1", "X-Tollgate-Access", apiSecret), "client IP 198.51.100.7 is not in allow_cidrs; rule has no allow_header"},
		{"no cidrs in rule", request("GET", "/debug/vars", "198.51.100.7:1"), "rule has no allow_cidrs; header X-Ops-Key is missing"},
		{"unparseable peer", request("POST", "/v1/messages", "@"), "client IP unknown (unparseable peer address); header X-Tollgate-Access is missing"},
		{"malformed forwarded", request("POST", "/v1/messages", "10.0.0.5:1", "X-Forwarded-For", "unknown"), "client IP 10.0.0.5 is not in allow_cidrs (X-Forwarded-For from a trusted proxy was malformed; the client IP is the last trusted hop); header X-Tollgate-Access is missing"},
		{"cleaned path", request("GET", "/v1/../metrics", "203.0.113.7:1"), `path cleaned to "/metrics": client IP 203.0.113.7 is not in allow_cidrs; rule has no allow_header`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rs.Check(tt.r).Reason; got != tt.reason {
				t.Errorf("Check().Reason = %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestNilRules(t *testing.T) {
	var rs *Rules
	r := request("GET", "/admin", "[::ffff:198.51.100.7]:1", "X-Forwarded-For", "203.0.113.7")
	want := Decision{Allowed: true, ClientIP: netip.MustParseAddr("198.51.100.7"), Reason: reasonNoRule}
	if got := rs.Check(r); got != want {
		t.Errorf("(*Rules)(nil).Check() = %+v, want %+v", got, want)
	}
}

type okHandler struct{ calls *int }

func (h okHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	*h.calls++
	io.WriteString(w, "ok")
}

// The middleware over real HTTP: the peer is loopback, so the API group is
// reached with the secret or through a trusted proxy on loopback.
func TestMiddleware(t *testing.T) {
	c := gateway()
	c.TrustedProxies = append(c.TrustedProxies, "127.0.0.1")
	c.Rules[1].AllowCIDRs = []string{"::1"} // admin: IPv6 loopback only
	rs := mustCompile(t, c)

	var calls int
	var denied []Decision
	deny := func(w http.ResponseWriter, r *http.Request, d Decision) {
		denied = append(denied, d)
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "denied by %s", d.Rule)
	}
	srv := httptest.NewServer(rs.Middleware(okHandler{&calls}, deny))
	defer srv.Close()
	plain := httptest.NewServer(rs.Middleware(okHandler{&calls}, nil))
	defer plain.Close()

	tests := []struct {
		name       string
		base       string
		path       string
		header     []string
		wantStatus int
		wantBody   string
		wantCalls  int
	}{
		{"api without secret", srv.URL, "/v1/messages", nil, 403, "denied by api", 0},
		{"api with secret", srv.URL, "/v1/messages", []string{"X-Tollgate-Access", apiSecret}, 200, "ok", 1},
		{"api from office via proxy", srv.URL, "/v1/messages", []string{"X-Forwarded-For", "203.0.113.7"}, 200, "ok", 1},
		{"api spoofed via proxy", srv.URL, "/v1/messages", []string{"X-Forwarded-For", "203.0.113.7, 198.51.100.7"}, 403, "denied by api", 0},
		{"admin from ipv4 loopback", srv.URL, "/admin/keys", nil, 403, "denied by admin", 0},
		{"unmatched", srv.URL, "/", nil, 200, "ok", 1},
		{"plain deny", plain.URL, "/v1/messages", nil, 403, "403 forbidden by access rules\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, denied = 0, nil
			req, err := http.NewRequest("GET", tt.base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody || calls != tt.wantCalls {
				t.Errorf("GET %s = %d %q with %d calls to next, want %d %q with %d",
					tt.path, resp.StatusCode, body, calls, tt.wantStatus, tt.wantBody, tt.wantCalls)
			}
			if tt.base == srv.URL && tt.wantStatus == 403 && (len(denied) != 1 || denied[0].Allowed || !denied[0].ClientIP.IsValid()) {
				t.Errorf("deny got %+v, want one denial with a client IP", denied)
			}
		})
	}
}

func TestMiddlewareWithoutRules(t *testing.T) {
	var calls int
	next := okHandler{&calls}
	for _, rs := range []*Rules{nil, mustCompile(t, Config{TrustedProxies: []string{"10.0.0.0/8"}})} {
		if h := rs.Middleware(next, nil); h != http.Handler(next) {
			t.Errorf("Middleware() with no rules = %T, want next itself", h)
		}
	}
}
