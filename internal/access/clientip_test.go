package access

import (
	"bufio"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	xff := mustCompile(t, Config{TrustedProxies: []string{"10.0.0.0/8", "fd00::/8"}})
	realIP := mustCompile(t, Config{TrustedProxies: []string{"10.0.0.0/8"}, ClientIPHeader: "x-real-ip"})
	none := mustCompile(t, Config{})
	tests := []struct {
		name   string
		rs     *Rules
		remote string
		header []string
		want   string // "" for the invalid Addr
	}{
		{"ipv4 peer", xff, "198.51.100.7:1", nil, "198.51.100.7"},
		{"ipv6 peer", xff, "[2001:db8::7]:1", nil, "2001:db8::7"},
		{"ipv4-mapped peer", xff, "[::ffff:198.51.100.7]:1", nil, "198.51.100.7"},
		{"zoned peer", xff, "[fe80::1%eth0]:1", nil, "fe80::1"},
		{"peer without port", xff, "198.51.100.7", nil, "198.51.100.7"},
		{"unparseable peer", xff, "@", nil, ""},
		{"no trusted proxies", none, "10.0.0.5:1", []string{"X-Forwarded-For", "203.0.113.7"}, "10.0.0.5"},
		{"untrusted peer", xff, "198.51.100.7:1", []string{"X-Forwarded-For", "203.0.113.7"}, "198.51.100.7"},
		{"trusted peer", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "203.0.113.7"}, "203.0.113.7"},
		{"trusted ipv4-mapped peer", xff, "[::ffff:10.0.0.5]:1", []string{"X-Forwarded-For", "203.0.113.7"}, "203.0.113.7"},
		{"rightmost untrusted wins", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "1.1.1.1, 203.0.113.7, 10.1.1.1, 10.2.2.2"}, "203.0.113.7"},
		{"two header lines", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "1.1.1.1, 203.0.113.7", "X-Forwarded-For", "10.1.1.1"}, "203.0.113.7"},
		{"all trusted takes leftmost", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "10.9.9.9, 10.1.1.1"}, "10.9.9.9"},
		{"empty elements", xff, "10.0.0.5:1", []string{"X-Forwarded-For", " , 203.0.113.7 ,, "}, "203.0.113.7"},
		{"empty header", xff, "10.0.0.5:1", []string{"X-Forwarded-For", ""}, "10.0.0.5"},
		{"entry with port", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "203.0.113.7:443"}, "203.0.113.7"},
		{"ipv6 entry with port", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "[2001:db8::7]:443"}, "2001:db8::7"},
		{"ipv6 entry in brackets", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "[2001:db8::7]"}, "2001:db8::7"},
		{"ipv4-mapped entry", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "::ffff:203.0.113.7"}, "203.0.113.7"},
		{"malformed rightmost", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "203.0.113.7, unknown"}, "10.0.0.5"},
		{"malformed after trusted hop", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "203.0.113.7, garbage, 10.1.1.1"}, "10.1.1.1"},
		{"malformed left of client", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "garbage, 203.0.113.7"}, "203.0.113.7"},
		{"bracketed ipv4", xff, "10.0.0.5:1", []string{"X-Forwarded-For", "[203.0.113.7]"}, "10.0.0.5"},
		{"real ip ignores xff", realIP, "10.0.0.5:1", []string{"X-Forwarded-For", "203.0.113.7"}, "10.0.0.5"},
		{"real ip", realIP, "10.0.0.5:1", []string{"X-Real-IP", "203.0.113.7"}, "203.0.113.7"},
		{"real ip trusted value", realIP, "10.0.0.5:1", []string{"X-Real-IP", "10.7.7.7"}, "10.7.7.7"},
		{"real ip untrusted peer", realIP, "198.51.100.7:1", []string{"X-Real-IP", "203.0.113.7"}, "198.51.100.7"},
		{"real ip list", realIP, "10.0.0.5:1", []string{"X-Real-IP", "203.0.113.7, 198.51.100.7"}, "10.0.0.5"},
		{"real ip repeated", realIP, "10.0.0.5:1", []string{"X-Real-IP", "203.0.113.7", "X-Real-IP", "198.51.100.7"}, "10.0.0.5"},
		{"real ip malformed", realIP, "10.0.0.5:1", []string{"X-Real-IP", "unknown"}, "10.0.0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("GET", "/", tt.remote, tt.header...)
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got := tt.rs.ClientIP(r); got != want {
				t.Errorf("ClientIP(%s, %q) = %v, want %v", tt.remote, tt.header, got, want)
			}
		})
	}
}

// refClientIP is the documented algorithm written plainly: split every
// entry, then walk from the right.
func refClientIP(trusted []netip.Prefix, remote string, values []string) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	peer := peerAddr(remote)
	if len(values) == 0 || !isTrusted(peer) {
		return peer
	}
	var entries []string
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.Trim(e, " \t"); e != "" {
				entries = append(entries, e)
			}
		}
	}
	client := peer
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := refEntry(entries[i])
		if !ok {
			return client
		}
		client = a
		if !isTrusted(a) {
			return a
		}
	}
	return client
}

// refEntry parses by trial rather than by shape, as parseEntry does.
func refEntry(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

// FuzzClientIP checks, for any peer address and X-Forwarded-For lines,
// that resolution never panics, returns the peer or an address written in
// the header, ignores the header from untrusted peers, and agrees with the
// plain algorithm. Seeds are in testdata/clientip.txt.
func FuzzClientIP(f *testing.F) {
	file, err := os.Open("testdata/clientip.txt")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			fields := append(strings.Split(line, "\t"), "", "")
			f.Add(fields[0], fields[1], fields[2])
		}
	}
	file.Close()

	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	}
	var c Config
	for _, p := range trusted {
		c.TrustedProxies = append(c.TrustedProxies, p.String())
	}
	rs := mustCompile(f, c)

	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		var values []string
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				values = append(values, v)
			}
		}
		got, _ := rs.clientIP(remote, values)
		peer := peerAddr(remote)

		if got != peer {
			if !rs.trusted.contains(peer) {
				t.Fatalf("clientIP(%q, %q) = %v from untrusted peer %v, want the peer", remote, values, got, peer)
			}
			present := false
			for _, v := range values {
				for e := range strings.SplitSeq(v, ",") {
					if a, ok := refEntry(strings.Trim(e, " \t")); ok && a == got {
						present = true
					}
				}
			}
			if !present {
				t.Fatalf("clientIP(%q, %q) = %v, neither the peer %v nor in the header", remote, values, got, peer)
			}
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("clientIP(%q, %q) = %v, not normalized", remote, values, got)
		}
		if want := refClientIP(trusted, remote, values); got != want {
			t.Fatalf("clientIP(%q, %q) = %v, want %v", remote, values, got, want)
		}
	})
}
