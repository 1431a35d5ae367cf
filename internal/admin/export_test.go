package admin

import "github.com/tollgate-gw/tollgate/internal/authz"

// Patterns returns the ServeMux patterns the API registers, in order, so
// that the OpenAPI tests read the route table instead of a copy of it.
func (a *API) Patterns() []string {
	var out []string
	for _, r := range a.routes() {
		out = append(out, r.pattern)
	}
	return out
}

// RouteRule exposes routeRules to the role tests: the permission a route
// needs, its audit action, and whether it has a rule at all.
func RouteRule(pattern string) (perm authz.Permission, action string, ok bool) {
	r, ok := routeRules[pattern]
	return r.perm, r.action, ok
}

// RulePatterns returns every pattern routeRules names.
func RulePatterns() []string {
	var out []string
	for p := range routeRules {
		out = append(out, p)
	}
	return out
}
