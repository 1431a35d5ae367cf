package server

import (
	"errors"
	"net/http"

	"github.com/tollgate-gw/tollgate/internal/access"
	"github.com/tollgate-gw/tollgate/internal/provider"
	"github.com/tollgate-gw/tollgate/internal/router"
)

// Routing is the part of a Server's setup that changes at run time — a
// model added through the admin API, a config file reloaded on SIGHUP —
// swapped whole, atomically. A call takes the Routing in force when it
// starts and keeps it to its end: a stream in flight keeps its route, its
// provider and the price it reserved at, whatever is swapped in meanwhile,
// while the next call sees the new one at once. Target health (cooldowns,
// in-flight counts) is not part of it: it lives in the Server's
// router.Health, keyed by provider and upstream id, so a target that
// survives a swap keeps its cooldown and its count.
//
// A Routing is immutable once given to SetRouting; build a new one to
// change anything.
type Routing struct {
	Router    *router.Router
	Providers map[string]provider.Provider
	// Prices is the price table; nil prices nothing (every call unpriced).
	Prices Pricer
	// MaxRetries per provider, by provider name; missing means none.
	MaxRetries map[string]int
	// Region is reported in Bedrock control-plane answers.
	Region string
	// ProviderTypes and ProviderRegions describe providers by name, for
	// pricing and usage rows.
	ProviderTypes, ProviderRegions map[string]string
}

// routingFrom is the Routing that Options describe.
func routingFrom(o Options) *Routing {
	return &Routing{Router: o.Router, Providers: o.Providers, Prices: o.Prices, MaxRetries: o.MaxRetries,
		Region: o.Region, ProviderTypes: o.ProviderTypes, ProviderRegions: o.ProviderRegions}
}

// SetRouting makes rt the routing of every call that starts from now on.
// Calls already running finish on the routing they started with.
func (s *Server) SetRouting(rt *Routing) error {
	if rt == nil || rt.Router == nil {
		return errors.New("server: routing without a router")
	}
	s.routing.Store(rt)
	return nil
}

// Routing returns the routing in force.
func (s *Server) Routing() *Routing { return s.routing.Load() }

// SetAccess makes rules the access rules of every request that arrives from
// now on; nil allows all.
func (s *Server) SetAccess(rules *access.Rules) {
	h := rules.Middleware(s.inner, s.denyAccess)
	s.access.Store(&h)
}

// checkAccess runs the access rules in force.
func (s *Server) checkAccess(w http.ResponseWriter, r *http.Request) {
	(*s.access.Load()).ServeHTTP(w, r)
}

func (rt *Routing) providerType(name string) string   { return rt.ProviderTypes[name] }
func (rt *Routing) providerRegion(name string) string { return rt.ProviderRegions[name] }
