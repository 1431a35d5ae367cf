package access

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkCheck measures the per-request cost in front of every call.
// Allowed requests should not allocate; a denial builds its reason.
func BenchmarkCheck(b *testing.B) {
	rs := mustCompile(b, gateway())

	// A published list of thousands of ranges, as some teams allow instead
	// of a secret.
	big := gateway()
	for i := range 5000 {
		big.Rules[0].AllowCIDRs = append(big.Rules[0].AllowCIDRs, fmt.Sprintf("%d.%d.%d.0/24", 20+i/65536%200, i/256%256, i%256))
	}
	bigRS := mustCompile(b, big)

	cases := []struct {
		name string
		rs   *Rules
		r    *http.Request
	}{
		{"no rule", rs, request("GET", "/healthz", "198.51.100.7:1")},
		{"allowed by ip", rs, request("POST", "/v1/messages", "203.0.113.7:1")},
		{"allowed by ipv6", rs, request("POST", "/model/x/invoke-with-response-stream", "[2001:db8::7]:1")},
		{"allowed by header behind proxies", rs, request("POST", "/v1/messages", "10.0.0.5:1",
			"X-Forwarded-For", "1.1.1.1, 198.51.100.7, 10.1.1.1", "X-Tollgate-Access", apiSecret)},
		{"denied", rs, request("POST", "/v1/messages", "198.51.100.7:1", "X-Tollgate-Access", "wrong-0123456789abcdef")},
		{"allowed by ip among 5000 cidrs", bigRS, request("POST", "/v1/messages", "203.0.113.7:1")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.rs.Check(c.r)
			}
		})
	}
}
