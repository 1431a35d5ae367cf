package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testEnv is the environment every test parses with; nothing reads the real
// one.
var testEnv = mapEnv(map[string]string{
	"ALICE_KEY":                "tg-alice-secret-value",
	"CI_KEY":                   "tg-ci-secret-value",
	"EMPTY":                    "",
	"PORT":                     "4100",
	"TOLLGATE_ANTHROPIC_KEY":   "sk-ant-test",
	"AWS_BEARER_TOKEN_BEDROCK": "bedrock-key",
	"TOLLGATE_WEBHOOK_SECRET":  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	"SLACK_WEBHOOK_URL":        "https://hooks.slack.com/services/T0/B0/x",
})

func mapEnv(m map[string]string) LookupEnv {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func parse(t *testing.T, src string) (*Config, error) {
	t.Helper()
	return ParseWith([]byte(src), "t.yaml", testEnv)
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := parse(t, src)
	if err != nil {
		t.Fatalf("ParseWith(%q) failed:\n%v", src, err)
	}
	return c
}

func TestExpandEnv(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     string
		problems []string
	}{
		{name: "no references", in: "listen: :4000\n", want: "listen: :4000\n"},
		{name: "set", in: "listen: :${PORT}", want: "listen: :4100"},
		{name: "set but empty", in: "a: '${EMPTY}'", want: "a: ''"},
		{name: "default when unset", in: "a: ${NOPE:-x y}", want: "a: x y"},
		{name: "default when empty", in: "a: ${EMPTY:-fallback}", want: "a: fallback"},
		{name: "default not used when set", in: "a: ${PORT:-1}", want: "a: 4100"},
		{name: "empty default", in: "a: '${NOPE:-}'", want: "a: ''"},
		{name: "dollar dollar", in: "a: $$HOME $${PORT}", want: "a: $HOME ${PORT}"},
		{name: "lone dollar kept", in: "a: 5$ and $PORT", want: "a: 5$ and $PORT"},
		{name: "comment untouched", in: "a: 1 # ${NOPE} $$\n# ${NOPE}\n", want: "a: 1 # ${NOPE} $$\n# ${NOPE}\n"},
		{name: "hash inside quotes is not a comment", in: `a: "x #${PORT}" # ${NOPE}`, want: `a: "x #4100" # ${NOPE}`},
		{name: "hash inside single quotes", in: `a: 'it''s #${PORT}'`, want: `a: 'it''s #4100'`},
		{name: "apostrophe in plain scalar", in: "a: don't ${PORT} # ${NOPE}", want: "a: don't 4100 # ${NOPE}"},
		{name: "hash without space is text", in: "a: x#${PORT}", want: "a: x#4100"},
		{name: "crlf kept", in: "a: ${PORT}\r\nb: 2\r\n", want: "a: 4100\r\nb: 2\r\n"},
		{
			name: "unset names variable and line",
			in:   "a: 1\nb: ${NOPE}\n",
			want: "a: 1\nb: \n",
			problems: []string{
				"t.yaml:2:4: environment variable NOPE is not set (write ${NOPE:-default} to make it optional)",
			},
		},
		{
			name: "every problem at once",
			in:   "a: ${ONE}\nb: ${TWO} ${bad name}\nc: ${OPEN\n",
			want: "a: \nb:  \nc: ${OPEN\n",
			problems: []string{
				"t.yaml:1:4: environment variable ONE is not set (write ${ONE:-default} to make it optional)",
				"t.yaml:2:4: environment variable TWO is not set (write ${TWO:-default} to make it optional)",
				`t.yaml:2:11: ${bad name}: "bad name" is not a variable name (letters, digits and _, not starting with a digit; only ${VAR} and ${VAR:-default} are supported)`,
				"t.yaml:3:4: unterminated ${ (write $$ for a literal $)",
			},
		},
		{
			name: "line break in value",
			in:   "a: ${NL}",
			want: "a: ",
			problems: []string{
				"t.yaml:1:4: environment variable NL contains a line break, which cannot be expanded into YAML",
			},
		},
		{
			name:     "other operators unsupported",
			in:       "a: ${X:?required}",
			want:     "a: ",
			problems: []string{`t.yaml:1:4: ${X:?required}: "X:?required" is not a variable name (letters, digits and _, not starting with a digit; only ${VAR} and ${VAR:-default} are supported)`},
		},
	}
	env := func(name string) (string, bool) {
		if name == "NL" {
			return "a\nb", true
		}
		return testEnv(name)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := expandEnv([]byte(tt.in), env, "t.yaml")
			if got := string(e.text); got != tt.want {
				t.Errorf("expandEnv(%q) = %q, want %q", tt.in, got, tt.want)
			}
			var got []string
			for _, p := range e.problems {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tt.problems, got); diff != "" {
				t.Errorf("expandEnv(%q) problems (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// Positions reported after an expansion on the same line refer to the file,
// not to the expanded text.
func TestExpandColumns(t *testing.T) {
	src := "log: {format: ${EMPTY:-json}, level: loud}\n"
	_, err := parse(t, src)
	want := `t.yaml:1:38: log.level: "loud" is not one of debug, info, warn, error`
	if err == nil || err.Error() != want {
		t.Errorf("ParseWith(%q) = %v, want %s", src, err, want)
	}
}

func TestDefaults(t *testing.T) {
	env := mapEnv(map[string]string{"AWS_DEFAULT_REGION": "eu-central-1"})
	c, err := ParseWith(nil, "empty", env)
	if err != nil {
		t.Fatal(err)
	}
	two := 2
	want := &Config{
		Listen:   "127.0.0.1:4000",
		DataDir:  "./tollgate-data",
		Database: "sqlite://tollgate-data/tollgate.db",
		Log:      Log{Level: "info", Format: "json"},
		Usage: Usage{FlushInterval: time.Second, BatchSize: 500, QueueSize: 100000, Retention: 90 * 24 * time.Hour,
			SpillPath: "tollgate-data/usage-spill.jsonl", SpillMaxBytes: 64 << 20,
			QuarantinePath: "tollgate-data/usage-quarantine.jsonl"},
		Alerts: Alerts{QueueSize: 1000, MaxAttempts: 6, RetryBackoff: 2 * time.Second},
		Replicas: Replicas{LeaseSharePercent: 10, LeaseTTL: 30 * time.Second, FlushInterval: 200 * time.Millisecond,
			DatabaseTimeout: 500 * time.Millisecond},
		Server: Server{
			MaxBodyBytes:      32 << 20,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       10 * time.Minute,
			ShutdownGrace:     30 * time.Second,
			PingInterval:      15 * time.Second,
			BodyReadTimeout:   60 * time.Second,
		},
		Providers: map[string]Provider{
			"bedrock": {
				Type:                "bedrock",
				Region:              "eu-central-1",
				ConnectTimeout:      10 * time.Second,
				FirstByteTimeout:    120 * time.Second,
				NonStreamTimeout:    15 * time.Minute,
				ReadIdleTimeout:     5 * time.Minute,
				MaxIdleConnsPerHost: 256,
				MaxRetries:          &two,
				Cooldown:            DefaultCooldown,
			},
		},
		Routing: Routing{
			Catalog:         "default",
			DefaultProvider: "bedrock",
			BedrockPrefix:   "global",
			Patterns: []Pattern{
				{Match: "claude-*-20*", Provider: "bedrock", Model: "{prefix}.anthropic.{name}-v1:0"},
				{Match: "claude-*", Provider: "bedrock", Model: "{prefix}.anthropic.{name}"},
			},
		},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("ParseWith(empty) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, DefaultWith(env)); diff != "" {
		t.Errorf("DefaultWith() (-want +got):\n%s", diff)
	}
	if err := DefaultWith(env).Validate(); err != nil {
		t.Errorf("DefaultWith().Validate() = %v, want nil", err)
	}
}

func TestDefaultRegion(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "AWS_REGION first", env: map[string]string{"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-west-2"}, want: "eu-west-3"},
		{name: "AWS_DEFAULT_REGION next", env: map[string]string{"AWS_DEFAULT_REGION": "us-west-2"}, want: "us-west-2"},
		{name: "empty AWS_REGION skipped", env: map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": "ap-south-1"}, want: "ap-south-1"},
		{name: "us-east-1 last", env: nil, want: "us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultWith(mapEnv(tt.env)).Providers["bedrock"].Region; got != tt.want {
				t.Errorf("DefaultWith(%v) region = %q, want %q", tt.env, got, tt.want)
			}
		})
	}
}

func TestFieldDefaults(t *testing.T) {
	c := mustParse(t, `
providers:
  anthropic: {}
  aws:
    type: bedrock
    region: us-west-2
models:
  - name: m
    targets:
      - model: claude-sonnet-4-5-20250929
routing:
  default_provider: anthropic
  patterns:
    - match: "x-*"
      model: "{name}"
`)
	a := c.Providers["anthropic"]
	if a.Type != ProviderAnthropic || a.BaseURL != DefaultAnthropicBaseURL || a.APIKeyEnv != "ANTHROPIC_API_KEY" || *a.MaxRetries != 2 {
		t.Errorf("anthropic provider defaults = %+v", a)
	}
	if got := c.Models[0].DisplayName; got != "m" {
		t.Errorf("DisplayName = %q, want the name %q", got, "m")
	}
	if got := c.Models[0].Targets[0].Provider; got != "anthropic" {
		t.Errorf("target provider = %q, want the default provider %q", got, "anthropic")
	}
	if got := c.Routing.Patterns[0].Provider; got != "anthropic" {
		t.Errorf("pattern provider = %q, want the default provider %q", got, "anthropic")
	}

	// An explicit empty list turns patterns off; it is not replaced by the
	// default rules.
	c = mustParse(t, "routing:\n  patterns: []\n")
	if len(c.Routing.Patterns) != 0 {
		t.Errorf("patterns: [] gave %v, want none", c.Routing.Patterns)
	}
	// The default patterns follow the default provider's type.
	c = mustParse(t, "providers:\n  anthropic: {}\n")
	want := []Pattern{{Match: "claude-*", Provider: "anthropic", Model: "{name}"}}
	if diff := cmp.Diff(want, c.Routing.Patterns); diff != "" {
		t.Errorf("anthropic default patterns (-want +got):\n%s", diff)
	}
}

// TestGolden parses every testdata/*.yaml: good-* must load, bad-* must fail
// with exactly the problems in the matching .golden file.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseWith(data, filepath.Base(file), testEnv)
			if strings.HasPrefix(name, "good-") {
				if err != nil {
					t.Fatalf("ParseWith(%s) failed:\n%v", file, err)
				}
				if err := c.Validate(); err != nil {
					t.Errorf("Validate() after ParseWith(%s) = %v", file, err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ParseWith(%s) = %v, want a *ValidationError", file, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("ParseWith(%s) problems (-want +got):\n%s", file, diff)
			}
		})
	}
}

// Every problem carries file:line:col when the field is in the file.
func TestProblemsHavePositions(t *testing.T) {
	data, err := os.ReadFile("testdata/bad-validation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseWith(data, "bad-validation.yaml", testEnv)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("ParseWith = %v, want a *ValidationError", err)
	}
	if len(ve.Problems) < 40 {
		t.Errorf("got %d problems, want every one in the file (at least 40)", len(ve.Problems))
	}
	for _, p := range ve.Problems {
		if p.Line == 0 || p.Column == 0 || p.Path == "" {
			t.Errorf("problem without position or path: %s", p)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "brief example",
			src:  "models:\n  - name: a\n    targets:\n      - provider: bedrok\n        model: x\n",
			want: `t.yaml:4:19: models[0].targets[0].provider: unknown provider "bedrok" (known: bedrock) (did you mean "bedrock"?)`,
		},
		{
			name: "unknown field suggests",
			src:  "lisen: :4000\n",
			want: `t.yaml:1:1: lisen: unknown field "lisen" (did you mean "listen"?)`,
		},
		{
			name: "unknown field in inline rules",
			src:  "models:\n  - name: a\n    drop_beta: [x]\n    targets: [{model: global.anthropic.claude-x}]\n",
			want: `t.yaml:3:5: models[0].drop_beta: unknown field "drop_beta" (did you mean "drop_betas"?)`,
		},
		{
			name: "duration without unit",
			src:  "server:\n  idle_timeout: 600\n",
			want: `t.yaml:2:17: server.idle_timeout: 600 is not a duration: write a number with a unit, like "10s" or "2m"`,
		},
		{
			name: "missing field reported at its parent",
			src:  "models:\n  - name: a\n",
			want: "t.yaml:2:5: models[0].targets: at least one target is required",
		},
		{
			name: "region from environment",
			src:  "",
			want: `t.yaml: providers.bedrock.region: "moon-1" is not an AWS region name such as us-east-1 (taken from AWS_REGION or AWS_DEFAULT_REGION; set region here or fix the variable)`,
		},
		{
			name: "several providers need a default",
			src:  "providers:\n  a: {type: bedrock}\n  b: {type: anthropic}\n",
			want: `t.yaml: routing.default_provider: required when there are several providers and none is named "bedrock" (providers: a, b)`,
		},
		{
			name: "tls key without certificate",
			src:  "listen: 0.0.0.0:4443\ntls:\n  key_file: /etc/tollgate/key.pem\n",
			want: "t.yaml:2:1: tls.cert_file: required with tls.key_file: the PEM certificate (and its chain) to serve",
		},
		{
			name: "tls certificate without key",
			src:  "tls:\n  cert_file: /etc/tollgate/cert.pem\n",
			want: "t.yaml:1:1: tls.key_file: required with tls.cert_file: the PEM private key of the certificate",
		},
		{
			name: "tls field typo",
			src:  "tls:\n  cert_fil: a.pem\n  key_file: b.pem\n",
			want: "t.yaml:1:1: tls.cert_file: required with tls.key_file: the PEM certificate (and its chain) to serve\nt.yaml:2:3: tls.cert_fil: unknown field \"cert_fil\" (did you mean \"cert_file\"?)",
		},
		{
			name: "not a mapping",
			src:  "- a\n- b\n",
			want: "t.yaml:1:1: expected a mapping, found a list",
		},
		{
			name: "secret never printed",
			src:  "keys:\n  - {name: a, secret: hunter22}\n  - {name: b, secret: hunter22}\n",
			want: `t.yaml:3:23: keys[1].secret: same secret as keys[0] ("a"); every key needs its own secret`,
		},
		{
			name: "URL password masked",
			src:  "providers:\n  anthropic:\n    base_url: https://u:hunter22@example.com?x=1\n",
			want: `t.yaml:3:15: providers.anthropic.base_url: "https://u:xxxxx@example.com?x=1" is not an absolute http or https URL without query, such as https://host[:port][/base/path]`,
		},
		{
			name: "debug listener beyond loopback",
			src:  "server:\n  debug_listen: 0.0.0.0:6060\n",
			want: `t.yaml:2:17: server.debug_listen: must be a loopback address (127.0.0.1, ::1, localhost; got "0.0.0.0"): profiles reveal the process's internals`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv
			if tt.name == "region from environment" {
				env = mapEnv(map[string]string{"AWS_REGION": "moon-1"})
			}
			_, err := ParseWith([]byte(tt.src), "t.yaml", env)
			if err == nil {
				t.Fatalf("ParseWith(%q) = nil, want %s", tt.src, tt.want)
			}
			got := err.Error()
			if got != tt.want {
				t.Errorf("ParseWith(%q) =\n%s\nwant\n%s", tt.src, got, tt.want)
			}
			if strings.Contains(got, "hunter22") {
				t.Errorf("ParseWith(%q) error leaks a secret: %s", tt.src, got)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.yaml"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want an error wrapping os.ErrNotExist", err)
	}
	t.Setenv("ALICE_KEY", "a")
	t.Setenv("CI_KEY", "b")
	c, err := Load("testdata/good-full.yaml")
	if err != nil {
		t.Fatalf("Load(good-full.yaml) = %v", err)
	}
	if got := c.Keys[0].Secret; got != "a" {
		t.Errorf("Load expanded ALICE_KEY to %q, want %q", got, "a")
	}
}

// The example configuration in examples/ is documentation; it must load.
func TestExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/tollgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseWith(data, "tollgate.yaml", testEnv)
	if err != nil {
		t.Fatalf("examples/tollgate.yaml:\n%v", err)
	}
	// It documents every field, so every field should be set somewhere.
	if len(c.Keys) == 0 || len(c.Models) == 0 || len(c.Routing.Patterns) == 0 || len(c.Providers) < 2 || len(c.Alerts.Sinks) < 2 {
		t.Errorf("examples/tollgate.yaml leaves sections empty: %+v", c)
	}
}

func TestDescribe(t *testing.T) {
	c := mustParse(t, `
keys:
  - name: alice
    secret: ${ALICE_KEY}
providers:
  bedrock:
    region: eu-west-1
    endpoint: http://user:hunter22@127.0.0.1:4010
    api_key_env: AWS_BEARER_TOKEN_BEDROCK
  claude:
    type: anthropic
    api_key_env: TOLLGATE_ANTHROPIC_KEY
models:
  - name: m
    targets: [{model: eu.anthropic.claude-sonnet-4-5-20250929-v1:0}]
`)
	want := `listen 127.0.0.1:4000, data dir ./tollgate-data, log info/json
database sqlite://tollgate-data/tollgate.db
provider bedrock: bedrock in eu-west-1 via http://user:xxxxx@127.0.0.1:4010, Bedrock API key from $AWS_BEARER_TOKEN_BEDROCK
provider claude: anthropic at https://api.anthropic.com, API key from $TOLLGATE_ANTHROPIC_KEY
models: 1 listed, 17 in total with the catalog (on bedrock, prefix global); 2 pattern rules
keys: 1 static keys, plus the virtual keys in the database`
	got := c.Describe()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Describe() (-want +got):\n%s", diff)
	}
	for _, secret := range []string{"tg-alice-secret-value", "hunter22", "bedrock-key", "sk-ant-test"} {
		if strings.Contains(got, secret) {
			t.Errorf("Describe() leaks %q", secret)
		}
	}
	tc := mustParse(t, "tls:\n  cert_file: /etc/tls/cert.pem\n  key_file: /etc/tls/key.pem\n")
	if got, want := tc.Describe(), "tls: HTTPS with /etc/tls/cert.pem and /etc/tls/key.pem, reloaded when they change\n"; !strings.Contains(got, want) {
		t.Errorf("Describe() with tls = %q, want it to contain %q", got, want)
	}
	if got := DefaultWith(mapEnv(nil)).Describe(); !strings.Contains(got, "keys: NONE CONFIGURED") ||
		!strings.Contains(got, "SigV4 with the default AWS credential chain") {
		t.Errorf("Describe() of the default config = %q, want the open-gateway warning and the credential chain", got)
	}
	// Closed by default beyond loopback: the summary must not say otherwise.
	wide := DefaultWith(mapEnv(nil))
	wide.Listen = "0.0.0.0:4000"
	if got := wide.Describe(); !strings.Contains(got, "model calls are refused") || strings.Contains(got, "any client key is accepted") {
		t.Errorf("Describe() with a non-loopback listener and no keys = %q, want it to say model calls are refused", got)
	}
	wide.Server.OpenWithoutKeys = true
	if got := wide.Describe(); !strings.Contains(got, "any client key is accepted (server.open_without_keys is true)") {
		t.Errorf("Describe() with open_without_keys = %q, want the open-gateway warning", got)
	}
}

// A quick check that the text round trip keeps user strings intact.
func TestParseKeepsValues(t *testing.T) {
	c := mustParse(t, "keys:\n  - name: a\n    secret: \"${ALICE_KEY}\"\n  - name: b\n    secret: 'x#y $$z'\n")
	got := []string{c.Keys[0].Secret, c.Keys[1].Secret}
	want := []string{"tg-alice-secret-value", "x#y $z"}
	if !slices.Equal(got, want) {
		t.Errorf("secrets = %q, want %q", got, want)
	}
}

func TestAccessRulesValidatedWithPositions(t *testing.T) {
	_, err := ParseWith([]byte(`access:
  trusted_proxies: [10.0.0.0/8]
  rules:
    - name: api
      paths: ["/v1/*"]
      allow_cidrs: [203.0.113.0/24, 10.0.0.0/33]
      allow_header: {name: X-Tollgate-Access, secrets: ["0123456789abcdef0123"]}
`), "t.yaml", mapEnv(nil))
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), `t.yaml:6:`) || !strings.Contains(err.Error(), "access.rules[0].allow_cidrs[1]") {
		t.Fatalf("error = %v, want a located problem for the bad CIDR", err)
	}
	c, err := ParseWith([]byte("access:\n  rules:\n    - name: api\n      paths: [\"/v1/*\"]\n      allow_cidrs: [127.0.0.1/32]\n"), "ok.yaml", mapEnv(nil))
	if err != nil || len(c.Access.Rules) != 1 {
		t.Fatalf("valid access block: %v, %+v", err, c)
	}
}

func TestDebugAddr(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{":6060", "127.0.0.1:6060", true},
		{"127.0.0.1:6060", "127.0.0.1:6060", true},
		{"[::1]:6060", "[::1]:6060", true},
		{"localhost:6060", "localhost:6060", true},
		{"0.0.0.0:6060", "", false},
		{"10.1.2.3:6060", "", false},
		{"example.com:6060", "", false},
		{"6060", "", false},
	}
	for _, tt := range tests {
		got, err := DebugAddr(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("DebugAddr(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
