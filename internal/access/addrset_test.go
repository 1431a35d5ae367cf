package access

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestAddrSet(t *testing.T) {
	s := newAddrSet([]netip.Prefix{
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("203.0.112.0/24"), // adjacent: merged
		netip.MustParsePrefix("203.0.113.128/25"),
		netip.MustParsePrefix("255.255.255.255/32"),
		netip.MustParsePrefix("0.0.0.0/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"),
		netip.MustParsePrefix("2001:db8:1::/48"), // inside the /32
	})
	if len(s.v4) != 3 || len(s.v6) != 2 {
		t.Errorf("newAddrSet() = %d IPv4 and %d IPv6 spans, want 3 and 2 after merging", len(s.v4), len(s.v6))
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"203.0.112.0", true}, {"203.0.113.255", true}, {"203.0.111.255", false}, {"203.0.114.0", false},
		{"255.255.255.255", true}, {"255.255.255.254", false}, {"0.0.0.0", true}, {"0.0.0.1", false},
		{"2001:db8::1", true}, {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true}, {"2001:db9::", false}, {"2001:db7:ffff::", false},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true}, {"::", false},
		{"::ffff:203.0.113.7", false}, // callers normalize; an IPv6 address is not in an IPv4 prefix
	}
	for _, tt := range tests {
		if got := s.contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("contains(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if s.contains(netip.Addr{}) {
		t.Error("contains(invalid Addr) = true, want false")
	}
	if all := newAddrSet([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}); !all.contains(netip.MustParseAddr("1.2.3.4")) || !all.contains(netip.MustParseAddr("::")) {
		t.Error("/0 sets do not contain everything")
	}
}

// The set agrees with a scan of netip.Prefix.Contains on random prefixes,
// clustered so that they overlap and touch.
func TestAddrSetMatchesPrefixContains(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	addr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			b[0], b[1], b[15] = 0x20, 0x01, byte(rng.IntN(256))
			b[14] = byte(rng.IntN(4))
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
	}
	for round := range 200 {
		var prefixes []netip.Prefix
		for range rng.IntN(12) {
			v6 := rng.IntN(2) == 0
			a := addr(v6)
			bits := a.BitLen() - rng.IntN(11)
			p, _ := a.Prefix(bits)
			prefixes = append(prefixes, p)
		}
		s := newAddrSet(append([]netip.Prefix(nil), prefixes...))
		for range 200 {
			a := addr(rng.IntN(2) == 0)
			want := false
			for _, p := range prefixes {
				want = want || p.Contains(a)
			}
			if got := s.contains(a); got != want {
				t.Fatalf("round %d: set of %v contains(%s) = %v, want %v", round, prefixes, a, got, want)
			}
		}
	}
}
