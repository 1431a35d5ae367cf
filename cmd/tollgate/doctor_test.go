package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// doctorVars are every variable doctor reads; each case starts with all of
// them empty, so the developer's own environment cannot leak in.
var doctorVars = []string{
	"ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CUSTOM_HEADERS",
	"ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL",
	"CLAUDE_CODE_USE_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL", "AWS_BEARER_TOKEN_BEDROCK", "CLAUDE_CODE_SKIP_BEDROCK_AUTH", "AWS_REGION",
	"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy",
}

func TestDoctor(t *testing.T) {
	const gw = "{gateway}" // replaced by the test gateway's URL
	for _, c := range []struct {
		name    string
		gateway []testutil.Option
		setup   func(t *testing.T) map[string]string // more variables, from the running gateway
		env     map[string]string
		args    []string
		// wantFailed is the check that fails, "" when all pass.
		wantFailed string
		wantHop    hop
		want       []string // in the output
	}{
		{
			name: "healthy, Anthropic mode",
			env:  map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": testStaticKey},
			want: []string{"✓ client configuration", "✓ gateway reachable", "✓ access rule and key", "✓ model route: the gateway serves claude-haiku-4-5",
				"✓ one-token call: POST /v1/messages answered 200", "All 5 checks passed"},
		},
		{
			name: "healthy, Bedrock mode with a bearer token",
			env: map[string]string{"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": gw, "AWS_REGION": "us-east-1",
				"AWS_BEARER_TOKEN_BEDROCK": testStaticKey},
			want: []string{"Bedrock mode", "AWS_BEARER_TOKEN_BEDROCK, sent as Authorization: Bearer", "✓ model route: the gateway routes claude-haiku-4-5",
				"✓ one-token call: POST /model/claude-haiku-4-5/invoke answered 200", "All 5 checks passed"},
		},
		{
			name:    "healthy through an access rule, Bedrock mode with x-api-key in custom headers",
			gateway: []testutil.Option{withAccessRule},
			env: map[string]string{"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": gw, "AWS_REGION": "us-east-1",
				"CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
				"ANTHROPIC_CUSTOM_HEADERS":      "x-api-key: " + testStaticKey + "\nX-Tollgate-Access: " + testAccessSecret + "\n"},
			want: []string{"custom headers: x-api-key, X-Tollgate-Access", "All 5 checks passed"},
		},
		{
			name:    "healthy with a virtual key, verbose",
			gateway: []testutil.Option{withAccessRule},
			setup: func(t *testing.T) map[string]string {
				return map[string]string{"ANTHROPIC_API_KEY": createKey(t, "--alias", "ci", "--budget-usd", "5", "--period", "day")}
			},
			env: map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_MODEL": "claude-sonnet-4-5",
				"ANTHROPIC_CUSTOM_HEADERS": "X-Tollgate-Access: " + testAccessSecret + "\nx-tollgate-tags: repo=org/app"},
			args: []string{"--verbose"},
			want: []string{"model claude-sonnet-4-5 (ANTHROPIC_MODEL)", "x-request-id req_", "budget left: $4.99", "All 5 checks passed"},
		},
		{
			name:       "base URL not set",
			env:        map[string]string{"ANTHROPIC_API_KEY": testStaticKey},
			wantFailed: "client configuration", wantHop: hopClient,
			want: []string{"ANTHROPIC_BASE_URL is not set", "api.anthropic.com"},
		},
		{
			name:       "base URL not a URL",
			env:        map[string]string{"ANTHROPIC_BASE_URL": "llm.example.com:4000", "ANTHROPIC_API_KEY": testStaticKey},
			wantFailed: "client configuration", wantHop: hopClient,
			want: []string{"is not an http:// or https:// URL"},
		},
		{
			name:       "base URL ending in /v1",
			env:        map[string]string{"ANTHROPIC_BASE_URL": gw + "/v1", "ANTHROPIC_API_KEY": testStaticKey},
			wantFailed: "client configuration", wantHop: hopClient,
			want: []string{"ends in /v1", "/v1/v1/messages"},
		},
		{
			name: "custom headers with a literal backslash-n",
			env: map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": testStaticKey,
				"ANTHROPIC_CUSTOM_HEADERS": `X-Tollgate-Access: ` + testAccessSecret + `\nx-tollgate-tags: repo=a`},
			wantFailed: "client configuration", wantHop: hopClient,
			want: []string{"ANTHROPIC_CUSTOM_HEADERS is malformed", `literal \n`},
		},
		{
			name: "custom headers without a colon",
			env: map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": testStaticKey,
				"ANTHROPIC_CUSTOM_HEADERS": "x-tollgate-tags: repo=a\nX-Tollgate-Access " + testAccessSecret},
			wantFailed: "client configuration", wantHop: hopClient,
			want: []string{"line 2 of ANTHROPIC_CUSTOM_HEADERS has no colon"},
		},
		{
			name:       "no key",
			env:        map[string]string{"ANTHROPIC_BASE_URL": gw},
			wantFailed: "client configuration", wantHop: hopClient,
			want: []string{"no gateway key is set", "ANTHROPIC_API_KEY"},
		},
		{
			name:       "Bedrock mode that would sign with SigV4",
			env:        map[string]string{"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": gw, "AWS_REGION": "us-east-1"},
			wantFailed: "client configuration", wantHop: hopClient,
			want: []string{"SigV4", "AWS_BEARER_TOKEN_BEDROCK"},
		},
		{
			name:       "nothing listens at the base URL",
			env:        map[string]string{"ANTHROPIC_BASE_URL": "http://{closed}", "ANTHROPIC_API_KEY": testStaticKey},
			wantFailed: "gateway reachable", wantHop: hopGateway,
			want: []string{"cannot reach the gateway", "connection refused"},
		},
		{
			name:       "TLS certificate not trusted",
			gateway:    []testutil.Option{withTLS},
			env:        map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": testStaticKey},
			wantFailed: "gateway reachable", wantHop: hopGateway,
			want: []string{"https://127.0.0.1:", "certificate is not trusted", "NODE_EXTRA_CA_CERTS"},
		},
		{
			name:       "http:// to a TLS port",
			gateway:    []testutil.Option{withTLS},
			env:        map[string]string{"ANTHROPIC_BASE_URL": "{plain}", "ANTHROPIC_API_KEY": testStaticKey},
			wantFailed: "gateway reachable", wantHop: hopGateway,
			want: []string{"speaks HTTPS", "https://"},
		},
		{
			name:       "wrong key",
			env:        map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": "tg-not-a-key-of-this-gateway-at-all"},
			wantFailed: "access rule and key", wantHop: hopGateway,
			want: []string{"rejected the key tg-not-a-ke…", "HTTP 401 authentication_error: invalid API key", "tollgate keys list"},
		},
		{
			name: "revoked virtual key, Bedrock mode",
			setup: func(t *testing.T) map[string]string {
				secret := createKey(t, "--alias", "gone")
				mustCLI(t, "keys", "revoke", "gone")
				return map[string]string{"AWS_BEARER_TOKEN_BEDROCK": secret}
			},
			env:        map[string]string{"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": gw, "AWS_REGION": "us-east-1"},
			wantFailed: "access rule and key", wantHop: hopGateway,
			want: []string{"rejected the key", "revoked"},
		},
		{
			name:       "access header missing",
			gateway:    []testutil.Option{withAccessRule},
			env:        map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": testStaticKey},
			wantFailed: "access rule and key", wantHop: hopGateway,
			want: []string{`access rule "api" refused this client`, "no custom headers are set", "HTTP 403 permission_error", "ANTHROPIC_CUSTOM_HEADERS"},
		},
		{
			name:    "access header with the wrong secret",
			gateway: []testutil.Option{withAccessRule},
			env: map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": testStaticKey,
				"ANTHROPIC_CUSTOM_HEADERS": "X-Tollgate-Access: not-the-secret-0123456789"},
			wantFailed: "access rule and key", wantHop: hopGateway,
			want: []string{`access rule "api" refused`, "the custom headers sent are X-Tollgate-Access"},
		},
		{
			name:       "unknown model",
			env:        map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": testStaticKey, "ANTHROPIC_MODEL": "gpt-4o"},
			wantFailed: "model route", wantHop: hopGateway,
			want: []string{`no route for model "gpt-4o"`, "HTTP 404", "e.g. claude-"},
		},
		{
			name:       "unknown model, Bedrock mode",
			env:        map[string]string{"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": gw, "AWS_REGION": "us-east-1", "AWS_BEARER_TOKEN_BEDROCK": testStaticKey},
			args:       []string{"--model", "gpt-4o"},
			wantFailed: "model route", wantHop: hopGateway,
			want: []string{"✓ access rule and key", `no route for model "gpt-4o"`},
		},
		{
			name: "model the key may not use",
			setup: func(t *testing.T) map[string]string {
				return map[string]string{"ANTHROPIC_API_KEY": createKey(t, "--alias", "sonnet-only", "--models", "claude-sonnet-4-5")}
			},
			env: map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-4-5"},
			// The gateway lists only the models a key may use, so the
			// refusal shows at the route check, before any call is made.
			wantFailed: "model route", wantHop: hopGateway,
			want: []string{"✓ access rule and key", "does not let this key use claude-haiku-4-5", `key "sonnet-only" may not use model`},
		},
		{
			name:       "Bedrock denies the gateway's role",
			gateway:    []testutil.Option{withFault("denied")},
			env:        map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": testStaticKey},
			wantFailed: "one-token call", wantHop: hopUpstream,
			want: []string{"✓ model route", "lacks bedrock:InvokeModel for claude-haiku-4-5", "Bedrock (relayed by the gateway) said: HTTP 403",
				"You don't have access to the model", "docs/deploy-ec2.md"},
		},
		{
			name:       "Bedrock denies the gateway's role, Bedrock mode",
			gateway:    []testutil.Option{withFault("denied")},
			env:        map[string]string{"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": gw, "AWS_REGION": "us-east-1", "AWS_BEARER_TOKEN_BEDROCK": testStaticKey},
			wantFailed: "one-token call", wantHop: hopUpstream,
			want: []string{"lacks bedrock:InvokeModel", "AccessDeniedException"},
		},
		{
			name:       "Bedrock throttles",
			gateway:    []testutil.Option{withFault("throttle"), withNoRetries},
			env:        map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": testStaticKey},
			wantFailed: "one-token call", wantHop: hopUpstream,
			want: []string{"Bedrock throttled the call"},
		},
		{
			name:       "gateway cannot reach Bedrock",
			gateway:    []testutil.Option{withClosedUpstream(t)},
			env:        map[string]string{"ANTHROPIC_BASE_URL": gw, "ANTHROPIC_API_KEY": testStaticKey},
			wantFailed: "one-token call", wantHop: hopUpstream,
			want: []string{"the gateway cannot reach Bedrock", "Bedrock could not be reached", "outbound HTTPS"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := startGateway(t, c.gateway...)
			for _, v := range doctorVars {
				t.Setenv(v, "")
			}
			env := map[string]string{}
			if c.setup != nil {
				env = c.setup(t)
			}
			closed := closedPort(t)
			for k, v := range c.env {
				v = strings.ReplaceAll(v, gw, g.URL)
				v = strings.ReplaceAll(v, "{plain}", strings.Replace(g.URL, "https://", "http://", 1))
				env[k] = strings.ReplaceAll(v, "{closed}", closed)
			}
			var secrets []string
			for k, v := range env {
				t.Setenv(k, v)
				if strings.Contains(k, "KEY") || strings.Contains(k, "TOKEN") {
					secrets = append(secrets, v)
				}
			}
			secrets = append(secrets, testAccessSecret, testStaticKey)

			out, errb, err := cli(t, append([]string{"doctor"}, c.args...)...)
			t.Logf("tollgate doctor %s\n%s", strings.Join(c.args, " "), out)
			if c.wantFailed == "" {
				if err != nil {
					t.Errorf("doctor = %v, want success\n%s%s", err, out, errb)
				}
			} else {
				if err == nil {
					t.Errorf("doctor succeeded, want %q to fail\n%s", c.wantFailed, out)
				}
				c.want = append(c.want, "✗ "+c.wantFailed+":", "Failed hop: "+string(c.wantHop)+" (", `at check "`+c.wantFailed+`"`, "What to change: ")
				if strings.Count(out, "✗") != 1 {
					t.Errorf("want exactly one failed check:\n%s", out)
				}
			}
			wantContains(t, "doctor output", out, c.want...)
			for _, s := range secrets {
				if len(s) >= 16 && strings.Contains(out+errb, s) {
					t.Errorf("doctor printed a secret (%.6s…):\n%s", s, out)
				}
			}
		})
	}
}

func TestParseCustomHeaders(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    []string // names
		wantErr string
	}{
		{in: "", want: nil},
		{in: "X-A: 1\r\nx-b: two words\n\n", want: []string{"X-A", "x-b"}},
		{in: "X-A: a:b:c", want: []string{"X-A"}},
		{in: "X A: 1", wantErr: "not a valid header name"},
		{in: "X-A 1", wantErr: "no colon"},
		{in: "X-A: 1, X-B: 2", wantErr: "several headers on one line"},
		{in: `X-A: 1\nX-B: 2`, wantErr: `literal \n`},
		{in: "X-A: \x01", wantErr: "control characters"},
	} {
		h, names, err := parseCustomHeaders(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("parseCustomHeaders(%q) = %v, want error %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(names, ",") != strings.Join(c.want, ",") {
			t.Errorf("parseCustomHeaders(%q) = %v, %v, want %v", c.in, names, err, c.want)
		}
		if c.in != "" && h.Get("X-A") == "" {
			t.Errorf("parseCustomHeaders(%q) lost X-A: %v", c.in, h)
		}
	}
}

// TestDoctorJSON: --json reports every check, those after a failure as not
// checked, and where the failure lies, for a script or a CI step.
func TestDoctorJSON(t *testing.T) {
	g := startGateway(t)
	t.Setenv("CLAUDE_CODE_USE_BEDROCK", "")
	t.Setenv("ANTHROPIC_MODEL", "")
	t.Setenv("ANTHROPIC_DEFAULT_HAIKU_MODEL", "")
	t.Setenv("ANTHROPIC_CUSTOM_HEADERS", "")
	t.Setenv("ANTHROPIC_AUTH_TOKEN", "")
	t.Setenv("ANTHROPIC_API_KEY", testStaticKey)

	t.Setenv("ANTHROPIC_BASE_URL", g.URL)
	out, _, err := cli(t, "doctor", "--json")
	var r doctorReport
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil || err != nil || !r.OK || len(r.Checks) != 5 || r.Checks[4].Status != "passed" {
		t.Errorf("doctor --json against a working gateway = %v, %v:\n%s", err, jerr, out)
	}

	t.Setenv("ANTHROPIC_BASE_URL", "")
	out, _, err = cli(t, "doctor", "--json")
	r = doctorReport{}
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil || err == nil || r.OK || r.FailedHop != string(hopClient) || r.Fix == "" ||
		len(r.Checks) != 5 || r.Checks[0].Status != "failed" || r.Checks[1].Status != "not checked" {
		t.Errorf("doctor --json without ANTHROPIC_BASE_URL = %v, %v:\n%s", err, jerr, out)
	}
}
