package access

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address the request is checked as coming from, by
// the rules in the package documentation; the invalid Addr when the peer
// address cannot be parsed (which only a custom listener would produce).
// It is exported for the access log, which should report this address
// rather than the load balancer's.
func (rs *Rules) ClientIP(r *http.Request) netip.Addr {
	if rs == nil {
		return peerAddr(r.RemoteAddr)
	}
	ip, _ := rs.clientIP(r.RemoteAddr, r.Header[rs.ipHeader])
	return ip
}

// clientIP resolves the client address from the peer and the values of the
// client IP header. malformed is set when a trusted proxy's header could not
// be used as it stands, for the decision's reason.
func (rs *Rules) clientIP(remoteAddr string, values []string) (ip netip.Addr, malformed bool) {
	peer := peerAddr(remoteAddr)
	if len(values) == 0 || !rs.trusted.contains(peer) {
		return peer, false
	}
	if !rs.xff {
		if len(values) != 1 {
			return peer, true
		}
		a, ok := parseEntry(values[0])
		if !ok {
			return peer, true
		}
		return a, false
	}
	// Walk right to left: the rightmost entry was written by the peer, each
	// one before it by the hop it names. Stop at the first hop we do not
	// trust to have told the truth about its own client.
	client := peer
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			entry := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			entry = strings.Trim(entry, " \t")
			if entry == "" {
				continue // empty list elements are allowed (RFC 9110 §5.6.1)
			}
			a, ok := parseEntry(entry)
			if !ok {
				return client, true
			}
			client = a
			if !rs.trusted.contains(a) {
				return client, false
			}
		}
	}
	return client, false
}

// peerAddr parses http.Request.RemoteAddr: "ip:port" from net/http, or a
// bare address from tests and some listeners.
func peerAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr())
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a)
	}
	return netip.Addr{}
}

// parseEntry parses one forwarded address: "203.0.113.7", "2001:db8::1",
// with or without a port ("203.0.113.7:5678", "[2001:db8::1]:443"), or in
// brackets without one. Whitespace around the value is allowed.
func parseEntry(s string) (netip.Addr, bool) {
	s = strings.Trim(s, " \t")
	// Choose the parser by shape rather than by trial, so that a well-formed
	// entry never pays for a failed parse's error.
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return normalize(a), true
	case strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1:
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		return normalize(ap.Addr()), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return normalize(a), true
}
