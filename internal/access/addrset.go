package access

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
)

// addrSet is an immutable set of addresses built from prefixes: sorted,
// merged, disjoint ranges searched by bisection. A published list of
// thousands of CIDRs (a cloud provider's ranges) costs a dozen comparisons
// and no allocation per lookup, where a netip.Prefix slice would cost a scan.
//
// IPv4 and IPv6 are kept apart, as netip.Prefix.Contains does: "::/0" does
// not contain 192.0.2.1. Lookups expect addresses already unmapped and
// without a zone (see normalize); prefixes are validated to be neither.
type addrSet struct {
	v4 []span[uint32]
	v6 []span[u128]
}

// span is an inclusive range of addresses.
type span[T any] struct{ lo, hi T }

// u128 is an IPv6 address as a number.
type u128 struct{ hi, lo uint64 }

func (a u128) cmp(b u128) int { return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo)) }

func (a u128) next() (u128, bool) {
	if a.lo != ^uint64(0) {
		return u128{a.hi, a.lo + 1}, true
	}
	if a.hi != ^uint64(0) {
		return u128{a.hi + 1, 0}, true
	}
	return a, false
}

func v4num(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func v6num(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func newAddrSet(prefixes []netip.Prefix) addrSet {
	var s addrSet
	for _, p := range prefixes {
		p = p.Masked()
		bits := p.Bits()
		if p.Addr().Is4() {
			lo := v4num(p.Addr())
			s.v4 = append(s.v4, span[uint32]{lo, lo | ^uint32(0)>>bits})
			continue
		}
		lo := v6num(p.Addr())
		hi := lo
		if bits <= 64 {
			hi.hi |= ^uint64(0) >> bits
			hi.lo = ^uint64(0)
		} else {
			hi.lo |= ^uint64(0) >> (bits - 64)
		}
		s.v6 = append(s.v6, span[u128]{lo, hi})
	}
	s.v4 = merge(s.v4, cmp.Compare[uint32], func(x uint32) (uint32, bool) { return x + 1, x != ^uint32(0) })
	s.v6 = merge(s.v6, u128.cmp, u128.next)
	return s
}

// merge sorts spans and joins those that overlap or touch.
func merge[T any](spans []span[T], compare func(a, b T) int, next func(T) (T, bool)) []span[T] {
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b span[T]) int { return compare(a.lo, b.lo) })
	out := spans[:1]
	for _, sp := range spans[1:] {
		cur := &out[len(out)-1]
		if after, ok := next(cur.hi); !ok || compare(sp.lo, after) <= 0 {
			if compare(sp.hi, cur.hi) > 0 {
				cur.hi = sp.hi
			}
			continue
		}
		out = append(out, sp)
	}
	return slices.Clip(out)
}

// contains reports whether a, unmapped and without a zone, is in the set. The
// invalid Addr is in no set.
func (s *addrSet) contains(a netip.Addr) bool {
	switch {
	case a.Is4():
		return search(s.v4, v4num(a), cmp.Compare[uint32])
	case a.Is6():
		return search(s.v6, v6num(a), u128.cmp)
	}
	return false
}

// search reports whether x is in one of the sorted, disjoint spans.
func search[T any](spans []span[T], x T, compare func(a, b T) int) bool {
	// Find the first span that starts after x; x can only be in the one
	// before it.
	i, j := 0, len(spans)
	for i < j {
		h := int(uint(i+j) >> 1)
		if compare(spans[h].lo, x) <= 0 {
			i = h + 1
		} else {
			j = h
		}
	}
	return i > 0 && compare(x, spans[i-1].hi) <= 0
}

// normalize makes an address comparable with configured prefixes:
// IPv4-mapped IPv6 becomes IPv4 (a dual-stack listener reports IPv4 peers as
// ::ffff:a.b.c.d), and a zone is dropped (prefixes never have one).
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}
