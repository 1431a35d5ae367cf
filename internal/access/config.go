package access

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Defaults and limits, as the field comments state them.
const (
	// DefaultClientIPHeader is read from trusted proxies unless
	// Config.ClientIPHeader says otherwise.
	DefaultClientIPHeader = "X-Forwarded-For"
	// DefaultHeaderName is the allow_header name when a rule gives none.
	DefaultHeaderName = "X-Tollgate-Access"
	// MinSecretLen is the shortest secret accepted, in bytes. The header is
	// a password on an endpoint open to the internet, which nothing
	// rate-limits before this check.
	MinSecretLen = 16
)

// Config is the access: block of the configuration file. The zero value, the
// default, has no rules and allows every request.
type Config struct {
	// TrustedProxies are the load balancers and reverse proxies in front of
	// the gateway, as CIDRs ("10.0.0.0/8") or single addresses ("10.0.3.7").
	// Only a request whose TCP peer is in this list has its ClientIPHeader
	// read; from anyone else the header is ignored, since any client can
	// send it. Default none: the client IP is always the TCP peer. A /0 is
	// rejected, as it would let every client choose its own address.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ClientIPHeader is the header trusted proxies put the client address
	// in. Default "X-Forwarded-For", walked from the right past trusted
	// proxies; any other header (X-Real-IP, CF-Connecting-IP) must hold one
	// address. Setting it requires TrustedProxies. "Forwarded" (RFC 7239) is
	// not supported.
	ClientIPHeader string `yaml:"client_ip_header"`
	// Rules are tried in order; a request is checked against the first rule
	// with a pattern matching its path, and allowed if no rule matches.
	// Default none.
	Rules []Rule `yaml:"rules"`
}

// Rule guards one group of paths.
type Rule struct {
	// Name identifies the rule in logs and metrics: letters, digits, '_',
	// '-' and '.', unique. Required.
	Name string `yaml:"name"`
	// Paths are the patterns of the paths the rule guards: '*' matches any
	// run of characters, '/' included, and a trailing "/*" also matches the
	// path without it ("/admin/*" covers "/admin"). At least one; a pattern
	// already listed by an earlier rule is an error, since it would never
	// apply here. See the package documentation for the details.
	Paths []string `yaml:"paths"`
	// AllowCIDRs allow requests whose client IP is in one of them, written
	// as CIDRs ("203.0.113.0/24", "2001:db8::/32") or single addresses.
	// IPv4 prefixes match IPv4 clients, including those a dual-stack
	// listener reports as IPv4-mapped IPv6.
	AllowCIDRs []string `yaml:"allow_cidrs"`
	// AllowHeader allows requests that carry one of its secrets, whatever
	// their address. A rule needs AllowCIDRs, AllowHeader or both.
	AllowHeader *Header `yaml:"allow_header"`
}

// Header is a request header that carries a shared secret.
type Header struct {
	// Name is the header, case-insensitive. Default "X-Tollgate-Access".
	// Headers that proxies consume or rewrite, and the ones that carry the
	// API key, cannot be used.
	Name string `yaml:"name"`
	// Secrets are the accepted values, at least MinSecretLen (16) bytes of
	// printable text each, usually "${TOLLGATE_ACCESS_SECRET}". Several let
	// a secret be rotated without downtime. At least one.
	Secrets []string `yaml:"secrets"`
}

// Problem is one thing wrong with a Config.
type Problem struct {
	// Path is the field from the top of the configuration file, with the
	// block under "access:", e.g. "access.rules[1].allow_cidrs[0]".
	Path string
	// Message says what is wrong; it never contains a secret.
	Message string
}

// Error formats the problem as "path: message".
func (p Problem) Error() string { return p.Path + ": " + p.Message }

// ValidationError is every problem Compile found, so that all of them can be
// fixed in one pass.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Validate returns every problem with c; nil when it can be compiled.
func (c *Config) Validate() []Problem {
	_, problems := c.build()
	return problems
}

// Compile validates c and builds the immutable rule set that checks
// requests. Problems come back as a *ValidationError.
func (c *Config) Compile() (*Rules, error) {
	rs, problems := c.build()
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return rs, nil
}

// ruleNameRE keeps rule names usable as metric labels.
var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// reservedHeaders cannot carry the access secret: proxies consume or rewrite
// them, or they carry the API key, which has its own check.
var reservedHeaders = []string{
	"Authorization", "Proxy-Authorization", "X-Api-Key", "Cookie",
	"Host", "Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Content-Length", "Content-Type",
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
}

type builder struct {
	problems []Problem
}

func (b *builder) add(path, format string, args ...any) {
	b.problems = append(b.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// build validates and compiles in one pass, so that what is checked is
// exactly what is built.
func (c *Config) build() (*Rules, []Problem) {
	b := &builder{}
	rs := &Rules{ipHeader: DefaultClientIPHeader, xff: true}

	if h := c.ClientIPHeader; h != "" {
		switch {
		case !validToken(h):
			b.add("access.client_ip_header", "%q is not a header name", h)
		case strings.EqualFold(h, "Forwarded"):
			b.add("access.client_ip_header", "the Forwarded header (RFC 7239) is not supported; use X-Forwarded-For")
		case len(c.TrustedProxies) == 0:
			b.add("access.client_ip_header", "has no effect without trusted_proxies: the header is read only from them")
		default:
			rs.ipHeader = http.CanonicalHeaderKey(h)
			rs.xff = rs.ipHeader == DefaultClientIPHeader
		}
	}

	var trusted []netip.Prefix
	for i, s := range c.TrustedProxies {
		p, ok := b.prefix(index("access.trusted_proxies", i), s)
		if !ok {
			continue
		}
		if p.Bits() == 0 {
			b.add(index("access.trusted_proxies", i), "%q trusts every address, which lets any client choose its IP with %s; list the load balancers' subnets", s, rs.ipHeader)
			continue
		}
		trusted = append(trusted, p)
	}
	rs.trusted = newAddrSet(trusted)

	names := map[string]int{}
	patterns := map[string]int{}
	for i := range c.Rules {
		r := &c.Rules[i]
		path := index("access.rules", i)
		cr := rule{name: r.Name}

		switch j, dup := names[r.Name]; {
		case r.Name == "":
			b.add(path+".name", "name is required: it identifies the rule in logs and metrics")
		case !ruleNameRE.MatchString(r.Name):
			b.add(path+".name", "%q: use letters, digits, '_', '-' and '.', starting with a letter or digit", r.Name)
		case dup:
			b.add(path+".name", "duplicate rule name %q (also rules[%d])", r.Name, j)
		default:
			names[r.Name] = i
		}

		if len(r.Paths) == 0 {
			b.add(path+".paths", "at least one path pattern is required, such as \"/v1/*\"")
		}
		for k, s := range r.Paths {
			pp := index(path+".paths", k)
			if msg := patternProblem(s); msg != "" {
				b.add(pp, "%q: %s", s, msg)
				continue
			}
			if j, dup := patterns[s]; dup {
				if j == i {
					b.add(pp, "duplicate pattern %q", s)
				} else {
					b.add(pp, "%q is also in rules[%d] (%q), which comes first, so it never applies here", s, j, c.Rules[j].Name)
				}
				continue
			}
			patterns[s] = i
			cr.patterns = append(cr.patterns, compilePattern(s))
		}

		var allow []netip.Prefix
		for k, s := range r.AllowCIDRs {
			if p, ok := b.prefix(index(path+".allow_cidrs", k), s); ok {
				allow = append(allow, p)
			}
		}
		cr.allow = newAddrSet(allow)
		cr.hasCIDRs = len(r.AllowCIDRs) > 0

		if h := r.AllowHeader; h != nil {
			cr.header = b.header(path+".allow_header", h, rs.ipHeader)
		}
		if len(r.AllowCIDRs) == 0 && r.AllowHeader == nil {
			b.add(path, "rule allows nothing: set allow_cidrs, allow_header or both (to close these paths to the network, allow only loopback: [127.0.0.1/32, \"::1/128\"])")
		}
		cr.reasonIP = "client IP is in allow_cidrs of rule " + r.Name
		if cr.header != nil {
			cr.reasonHeader = "header " + cr.header.name + " carries a secret of rule " + r.Name
		}
		rs.rules = append(rs.rules, cr)
	}
	if len(b.problems) > 0 {
		return nil, b.problems
	}
	return rs, nil
}

// prefix parses a CIDR or a single address.
func (b *builder) prefix(path, s string) (netip.Prefix, bool) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			b.add(path, "invalid CIDR %q: write an address and a prefix length, such as 203.0.113.0/24 or 2001:db8::/32", s)
			return p, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			b.add(path, "invalid address %q: write a CIDR such as 203.0.113.0/24, or one address such as 203.0.113.7 or 2001:db8::1", s)
			return p, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		hint := ""
		if p.Bits() >= 96 {
			hint = fmt.Sprintf(" as %s", netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked())
		}
		b.add(path, "%q is IPv4-mapped IPv6, which client addresses never are (they are unmapped); write it in IPv4 form%s", s, hint)
		return p, false
	}
	if m := p.Masked(); m != p {
		b.add(path, "%q has bits set past the prefix length; did you mean %s?", s, m)
		return p, false
	}
	return p, true
}

// header checks and compiles an allow_header.
func (b *builder) header(path string, h *Header, ipHeader string) *secretHeader {
	name := h.Name
	if name == "" {
		name = DefaultHeaderName
	}
	ok := true
	switch {
	case !validToken(name):
		b.add(path+".name", "%q is not a header name", name)
		ok = false
	default:
		name = http.CanonicalHeaderKey(name)
		for _, r := range reservedHeaders {
			if strings.EqualFold(name, r) {
				b.add(path+".name", "%s cannot carry the access secret: proxies consume or rewrite it, or it carries the API key", r)
				ok = false
			}
		}
		if ok && name == ipHeader {
			b.add(path+".name", "%s is the client_ip_header", name)
			ok = false
		}
	}
	if len(h.Secrets) == 0 {
		b.add(path+".secrets", "at least one secret is required, usually \"${TOLLGATE_ACCESS_SECRET}\"")
		ok = false
	}
	sh := &secretHeader{name: name}
	seen := map[string]int{}
	for k, s := range h.Secrets {
		sp := index(path+".secrets", k)
		// Never echo a secret, not even in an error.
		if msg := secretProblem(s); msg != "" {
			b.add(sp, "%s", msg)
			ok = false
			continue
		}
		if j, dup := seen[s]; dup {
			b.add(sp, "same secret as secrets[%d]", j)
			ok = false
			continue
		}
		seen[s] = k
		sh.digests = append(sh.digests, sha256.Sum256([]byte(s)))
	}
	if !ok {
		return nil
	}
	return sh
}

func secretProblem(s string) string {
	switch {
	case s == "":
		return "secret is empty (is its environment variable set?)"
	case len(s) < MinSecretLen:
		return fmt.Sprintf("secret is shorter than %d bytes; generate one with: openssl rand -hex 32", MinSecretLen)
	case strings.TrimSpace(s) != s:
		return "secret starts or ends with white space, which never arrives in a header value"
	}
	for _, c := range []byte(s) {
		if c < ' ' || c == 0x7f {
			return "secret contains a control character, which a header value cannot carry"
		}
	}
	return ""
}

// validToken reports whether s is an HTTP field name (RFC 9110 token).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
