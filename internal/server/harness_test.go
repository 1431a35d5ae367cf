package server_test

import (
	"testing"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

const testKey = "tg-test-key-0123456789"

// newHarness starts a gateway in front of a Bedrock simulator that accepts
// testKey (the default x-api-key of Do and Post) and sends no SSE pings
// unless opts ask for them.
func newHarness(t testing.TB, opts ...testutil.Option) *testutil.Harness {
	t.Helper()
	base := []testutil.Option{
		testutil.WithStaticKey("tester", testKey),
		testutil.WithConfig(func(c *config.Config) { c.Server.PingInterval = -1 }),
	}
	return testutil.Start(t, append(base, opts...)...)
}
