package access

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
)

const (
	apiSecret     = "api-secret-0123456789abcdef"
	apiSecretNext = "api-secret-rotated-fedcba9876543210"
	opsSecret     = "ops-secret-0123456789abcdef"
)

func mustCompile(t testing.TB, c Config) *Rules {
	t.Helper()
	rs, err := c.Compile()
	if err != nil {
		t.Fatalf("Compile() = %v", err)
	}
	return rs
}

// The documented example decodes strictly into Config and compiles.
func TestExampleYAML(t *testing.T) {
	data, err := os.ReadFile("testdata/access.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(os.Expand(string(data), func(string) string { return apiSecret }))
	var file struct {
		Access Config `yaml:"access"`
	}
	if err := yaml.UnmarshalWithOptions(data, &file, yaml.Strict()); err != nil {
		t.Fatalf("decode testdata/access.yaml: %v", err)
	}
	want := Config{
		TrustedProxies: []string{"10.0.0.0/8"},
		ClientIPHeader: "X-Forwarded-For",
		Rules: []Rule{
			{
				Name:        "api",
				Paths:       []string{"/v1/*", "/model/*", "/inference-profiles*"},
				AllowCIDRs:  []string{"203.0.113.0/24", "2001:db8::/32"},
				AllowHeader: &Header{Name: "X-Tollgate-Access", Secrets: []string{apiSecret}},
			},
			{
				Name:       "admin",
				Paths:      []string{"/admin/*", "/ui/*", "/metrics"},
				AllowCIDRs: []string{"127.0.0.1/32", "::1/128"},
			},
		},
	}
	if diff := cmp.Diff(want, file.Access); diff != "" {
		t.Errorf("decoded config (-want +got):\n%s", diff)
	}
	mustCompile(t, file.Access)
}

func TestZeroConfigAllows(t *testing.T) {
	var c Config
	if p := c.Validate(); p != nil {
		t.Fatalf("Validate() = %v, want nil", p)
	}
	rs := mustCompile(t, c)
	for _, remote := range []string{"198.51.100.7:1", "[2001:db9::1]:1"} {
		r := request("POST", "/admin/keys", remote)
		if d := rs.Check(r); !d.Allowed {
			t.Errorf("Check(%s from %s) = %+v, want allowed", r.URL.Path, remote, d)
		}
	}
}

func TestValidate(t *testing.T) {
	okRule := Rule{Name: "api", Paths: []string{"/v1/*"}, AllowCIDRs: []string{"203.0.113.0/24"}}
	tests := []struct {
		name string
		c    Config
		want []string
	}{
		{
			name: "valid",
			c: Config{
				TrustedProxies: []string{"10.0.0.0/8", "10.0.3.7", "fd00::/8", "2001:db8::1"},
				ClientIPHeader: "x-real-ip",
				Rules: []Rule{
					okRule,
					{Name: "ci.runners", Paths: []string{"*"}, AllowHeader: &Header{Secrets: []string{apiSecret, apiSecretNext}}},
				},
			},
		},
		{
			name: "bad trusted proxies",
			c: Config{TrustedProxies: []string{
				"10.0.0.0/33", "0.0.0.0/0", "::/0", "10.1.2.3/8", "::ffff:10.0.0.0/104", "::ffff:10.0.0.1",
				"fe80::1%eth0", "bogus", " 10.0.0.0/8", "10.0.0.0/8 ",
			}},
			want: []string{
				`access.trusted_proxies[0]: invalid CIDR "10.0.0.0/33": write an address and a prefix length, such as 203.0.113.0/24 or 2001:db8::/32`,
				`access.trusted_proxies[1]: "0.0.0.0/0" trusts every address, which lets any client choose its IP with X-Forwarded-For; list the load balancers' subnets`,
				`access.trusted_proxies[2]: "::/0" trusts every address, which lets any client choose its IP with X-Forwarded-For; list the load balancers' subnets`,
				`access.trusted_proxies[3]: "10.1.2.3/8" has bits set past the prefix length; did you mean 10.0.0.0/8?`,
				`access.trusted_proxies[4]: "::ffff:10.0.0.0/104" is IPv4-mapped IPv6, which client addresses never are (they are unmapped); write it in IPv4 form as 10.0.0.0/8`,
				`access.trusted_proxies[5]: "::ffff:10.0.0.1" is IPv4-mapped IPv6, which client addresses never are (they are unmapped); write it in IPv4 form as 10.0.0.1/32`,
				`access.trusted_proxies[6]: invalid address "fe80::1%eth0": write a CIDR such as 203.0.113.0/24, or one address such as 203.0.113.7 or 2001:db8::1`,
				`access.trusted_proxies[7]: invalid address "bogus": write a CIDR such as 203.0.113.0/24, or one address such as 203.0.113.7 or 2001:db8::1`,
				`access.trusted_proxies[8]: invalid CIDR " 10.0.0.0/8": write an address and a prefix length, such as 203.0.113.0/24 or 2001:db8::/32`,
				`access.trusted_proxies[9]: invalid CIDR "10.0.0.0/8 ": write an address and a prefix length, such as 203.0.113.0/24 or 2001:db8::/32`,
			},
		},
		{
			name: "client ip header without proxies",
			c:    Config{ClientIPHeader: "X-Real-IP"},
			want: []string{"access.client_ip_header: has no effect without trusted_proxies: the header is read only from them"},
		},
		{
			name: "client ip header forwarded",
			c:    Config{TrustedProxies: []string{"10.0.0.0/8"}, ClientIPHeader: "forwarded"},
			want: []string{"access.client_ip_header: the Forwarded header (RFC 7239) is not supported; use X-Forwarded-For"},
		},
		{
			name: "client ip header not a token",
			c:    Config{TrustedProxies: []string{"10.0.0.0/8"}, ClientIPHeader: "X Real IP"},
			want: []string{`access.client_ip_header: "X Real IP" is not a header name`},
		},
		{
			name: "rule names",
			c: Config{Rules: []Rule{
				{Paths: []string{"/a"}, AllowCIDRs: []string{"::1"}},
				{Name: "a b", Paths: []string{"/b"}, AllowCIDRs: []string{"::1"}},
				{Name: "x", Paths: []string{"/c"}, AllowCIDRs: []string{"::1"}},
				{Name: "x", Paths: []string{"/d"}, AllowCIDRs: []string{"::1"}},
			}},
			want: []string{
				"access.rules[0].name: name is required: it identifies the rule in logs and metrics",
				`access.rules[1].name: "a b": use letters, digits, '_', '-' and '.', starting with a letter or digit`,
				`access.rules[3].name: duplicate rule name "x" (also rules[2])`,
			},
		},
		{
			name: "paths",
			c: Config{Rules: []Rule{
				{Name: "none", AllowCIDRs: []string{"::1"}},
				{Name: "bad", AllowCIDRs: []string{"::1"}, Paths: []string{"", "v1/*", "/v1/**", "/v1?x=1", "/a b", "/x", "/x"}},
				{Name: "later", AllowCIDRs: []string{"::1"}, Paths: []string{"/x", "/y"}},
			}},
			want: []string{
				`access.rules[0].paths: at least one path pattern is required, such as "/v1/*"`,
				`access.rules[1].paths[0]: "": pattern is empty`,
				`access.rules[1].paths[1]: "v1/*": pattern must start with / or * (it is matched against the whole path, such as /v1/messages)`,
				`access.rules[1].paths[2]: "/v1/**": '**' is not needed: '*' already matches any run of characters, '/' included`,
				`access.rules[1].paths[3]: "/v1?x=1": patterns match the path only, without ? query or # fragment`,
				`access.rules[1].paths[4]: "/a b": pattern must not contain spaces or control characters`,
				`access.rules[1].paths[6]: duplicate pattern "/x"`,
				`access.rules[2].paths[0]: "/x" is also in rules[1] ("bad"), which comes first, so it never applies here`,
			},
		},
		{
			name: "rule allows nothing",
			c:    Config{Rules: []Rule{{Name: "closed", Paths: []string{"/admin/*"}}}},
			want: []string{
				`access.rules[0]: rule allows nothing: set allow_cidrs, allow_header or both (to close these paths to the network, allow only loopback: [127.0.0.1/32, "::1/128"])`,
			},
		},
		{
			name: "allow cidrs",
			c: Config{Rules: []Rule{{Name: "api", Paths: []string{"/v1/*"}, AllowCIDRs: []string{
				"203.0.113.0/24", "203.0.113.0/24", "0.0.0.0/0", "203.0.113.1/24", "2001:db8::/129",
			}}}},
			want: []string{
				`access.rules[0].allow_cidrs[3]: "203.0.113.1/24" has bits set past the prefix length; did you mean 203.0.113.0/24?`,
				`access.rules[0].allow_cidrs[4]: invalid CIDR "2001:db8::/129": write an address and a prefix length, such as 203.0.113.0/24 or 2001:db8::/32`,
			},
		},
		{
			name: "allow header",
			c: Config{
				TrustedProxies: []string{"10.0.0.0/8"},
				ClientIPHeader: "CF-Connecting-IP",
				Rules: []Rule{
					{Name: "empty", Paths: []string{"/a"}, AllowHeader: &Header{}},
					{Name: "bad-name", Paths: []string{"/b"}, AllowHeader: &Header{Name: "X Access", Secrets: []string{apiSecret}}},
					{Name: "reserved", Paths: []string{"/c"}, AllowHeader: &Header{Name: "x-api-key", Secrets: []string{apiSecret}}},
					{Name: "ip-header", Paths: []string{"/d"}, AllowHeader: &Header{Name: "cf-connecting-ip", Secrets: []string{apiSecret}}},
					{Name: "secrets", Paths: []string{"/e"}, AllowHeader: &Header{Secrets: []string{
						"", "short-secret", " " + apiSecret, apiSecret + "\n", "api-secret-\x01123456789", apiSecret, apiSecret,
					}}},
				},
			},
			want: []string{
				`access.rules[0].allow_header.secrets: at least one secret is required, usually "${TOLLGATE_ACCESS_SECRET}"`,
				`access.rules[1].allow_header.name: "X Access" is not a header name`,
				`access.rules[2].allow_header.name: X-Api-Key cannot carry the access secret: proxies consume or rewrite it, or it carries the API key`,
				`access.rules[3].allow_header.name: Cf-Connecting-Ip is the client_ip_header`,
				`access.rules[4].allow_header.secrets[0]: secret is empty (is its environment variable set?)`,
				`access.rules[4].allow_header.secrets[1]: secret is shorter than 16 bytes; generate one with: openssl rand -hex 32`,
				`access.rules[4].allow_header.secrets[2]: secret starts or ends with white space, which never arrives in a header value`,
				`access.rules[4].allow_header.secrets[3]: secret starts or ends with white space, which never arrives in a header value`,
				`access.rules[4].allow_header.secrets[4]: secret contains a control character, which a header value cannot carry`,
				`access.rules[4].allow_header.secrets[6]: same secret as secrets[5]`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range tt.c.Validate() {
				got = append(got, p.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() (-want +got):\n%s", diff)
			}
			rs, err := tt.c.Compile()
			var ve *ValidationError
			switch {
			case len(tt.want) == 0 && (err != nil || rs == nil):
				t.Errorf("Compile() = %v, %v; want rules, nil", rs, err)
			case len(tt.want) > 0 && (!errors.As(err, &ve) || rs != nil || len(ve.Problems) != len(tt.want)):
				t.Errorf("Compile() = %v, %v; want nil, *ValidationError with %d problems", rs, err, len(tt.want))
			}
			for _, s := range []string{apiSecret, "short-secret"} {
				if err != nil && strings.Contains(err.Error(), s) {
					t.Errorf("Compile() error echoes a secret: %v", err)
				}
			}
		})
	}
}
