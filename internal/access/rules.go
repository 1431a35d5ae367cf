package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strconv"
)

// Rules is a compiled, immutable access configuration, safe for concurrent
// use. Build it with Config.Compile; swap configurations by swapping the
// pointer. A nil *Rules allows every request.
type Rules struct {
	trusted  addrSet
	ipHeader string // canonical
	xff      bool   // ipHeader is X-Forwarded-For, a list walked from the right
	rules    []rule
}

type rule struct {
	name     string
	patterns []pattern
	allow    addrSet
	hasCIDRs bool
	header   *secretHeader // nil when the rule has no allow_header
	// Reasons for allowed requests, built once so that allowing does not
	// allocate.
	reasonIP, reasonHeader string
}

// secretHeader is an allow_header with its secrets' digests.
type secretHeader struct {
	name    string // canonical
	digests [][sha256.Size]byte
}

// Decision is the outcome of checking one request.
type Decision struct {
	// Allowed is whether the request may proceed.
	Allowed bool
	// Rule names the rule that decided; empty when no rule matched the path.
	// It is a configured name, so it is safe as a metric label.
	Rule string
	// ClientIP is the address the request was checked as coming from; the
	// invalid Addr when the peer address could not be parsed.
	ClientIP netip.Addr
	// Reason says, for the log, why: which condition allowed the request, or
	// every condition that failed. It never contains a header's value.
	Reason string
}

// Reasons for requests that no rule decides.
const (
	reasonNoRule = "no access rule matches the path"
	reasonProbe  = "health probe, which no rule lists literally"
)

// Check decides whether r may proceed. It reads r and never changes it.
func (rs *Rules) Check(r *http.Request) Decision {
	if rs == nil || len(rs.rules) == 0 {
		return Decision{Allowed: true, ClientIP: rs.ClientIP(r), Reason: reasonNoRule}
	}
	ip, malformed := rs.clientIP(r.RemoteAddr, r.Header[rs.ipHeader])
	raw := ""
	if r.URL != nil {
		raw = r.URL.Path
	}
	d := rs.decide(r, raw, ip, malformed)
	// A path that ServeMux would clean is checked as sent and as cleaned,
	// so that dot segments cannot move it from one path group to another.
	if clean := CleanPath(raw); d.Allowed && clean != raw {
		if d2 := rs.decide(r, clean, ip, malformed); !d2.Allowed {
			d2.Reason = "path cleaned to " + strconv.Quote(clean) + ": " + d2.Reason
			return d2
		}
	}
	return d
}

// decide checks r as if its path were p.
func (rs *Rules) decide(r *http.Request, p string, ip netip.Addr, malformed bool) Decision {
	// A probe with a query (GET /readyz?verbose=1, the operators' details)
	// is no longer a load balancer's probe: wildcard rules guard it as they
	// guard /metrics and /admin/.
	probe := isProbe(p) && r.URL.RawQuery == ""
	ru := rs.match(p, probe)
	if ru == nil {
		reason := reasonNoRule
		if probe {
			reason = reasonProbe
		}
		return Decision{Allowed: true, ClientIP: ip, Reason: reason}
	}
	d := Decision{Rule: ru.name, ClientIP: ip}
	if ru.allow.contains(ip) {
		d.Allowed, d.Reason = true, ru.reasonIP
		return d
	}
	var hs headerState
	if ru.header != nil {
		if hs = ru.header.check(r.Header[ru.header.name]); hs == headerOK {
			d.Allowed, d.Reason = true, ru.reasonHeader
			return d
		}
	}
	d.Reason = ru.denyReason(ip, malformed, hs, rs.ipHeader)
	return d
}

// match returns the first rule with a pattern matching p, or nil.
// Wildcard patterns pass over probe paths.
func (rs *Rules) match(p string, probe bool) *rule {
	for i := range rs.rules {
		ru := &rs.rules[i]
		for j := range ru.patterns {
			pat := &ru.patterns[j]
			if probe && pat.wild() {
				continue
			}
			if pat.match(p) {
				return ru
			}
		}
	}
	return nil
}

// headerState is what a request's allow_header held.
type headerState int

const (
	headerMissing headerState = iota
	headerEmpty
	headerRepeated
	headerWrong
	headerOK
)

// check compares the header's values with the secrets. Each comparison is
// between SHA-256 digests, which have the same length whatever the secret,
// and every secret is compared, so the time taken says nothing about the
// secrets.
func (h *secretHeader) check(values []string) headerState {
	switch {
	case len(values) == 0:
		return headerMissing
	case len(values) > 1:
		return headerRepeated
	case values[0] == "":
		return headerEmpty
	}
	sum := sha256.Sum256([]byte(values[0]))
	match := 0
	for i := range h.digests {
		match |= subtle.ConstantTimeCompare(sum[:], h.digests[i][:])
	}
	if match == 1 {
		return headerOK
	}
	return headerWrong
}

// denyReason lists every condition that failed.
func (ru *rule) denyReason(ip netip.Addr, malformed bool, hs headerState, ipHeader string) string {
	var b []byte
	switch {
	case !ru.hasCIDRs:
		b = append(b, "rule has no allow_cidrs"...)
	case !ip.IsValid():
		b = append(b, "client IP unknown (unparseable peer address)"...)
	default:
		b = append(b, "client IP "...)
		b = ip.AppendTo(b)
		b = append(b, " is not in allow_cidrs"...)
	}
	if malformed {
		b = append(b, " ("...)
		b = append(b, ipHeader...)
		b = append(b, " from a trusted proxy was malformed; the client IP is the last trusted hop)"...)
	}
	b = append(b, "; "...)
	if ru.header == nil {
		b = append(b, "rule has no allow_header"...)
		return string(b)
	}
	b = append(b, "header "...)
	b = append(b, ru.header.name...)
	switch hs {
	case headerMissing:
		b = append(b, " is missing"...)
	case headerEmpty:
		b = append(b, " is empty"...)
	case headerRepeated:
		b = append(b, " is repeated"...)
	default:
		b = append(b, " does not carry a secret of this rule"...)
	}
	return string(b)
}

// Middleware runs Check before next and calls deny instead of next when the
// request is denied. deny writes the response (a 403 in the client's
// format), and logs and counts the denial; when it is nil, a plain-text 403
// is written. With no rules, Middleware returns next itself.
func (rs *Rules) Middleware(next http.Handler, deny func(w http.ResponseWriter, r *http.Request, d Decision)) http.Handler {
	if rs == nil || len(rs.rules) == 0 {
		return next
	}
	if deny == nil {
		deny = plainDeny
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := rs.Check(r); !d.Allowed {
			deny(w, r, d)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func plainDeny(w http.ResponseWriter, _ *http.Request, _ Decision) {
	http.Error(w, "403 forbidden by access rules", http.StatusForbidden)
}
