package keys

import "github.com/tollgate-gw/tollgate/internal/limits"

// Scopes lists the budget and rate-limit scopes a principal's calls count
// against: its key, its user and its team, those it has. A static key from
// the config file has none, so its calls are limited by nothing.
func (p Principal) Scopes() []limits.Scope {
	s := make([]limits.Scope, 0, 3)
	if p.KeyID != "" {
		s = append(s, limits.Scope{Kind: limits.KindKey, ID: p.KeyID})
	}
	if p.UserID != "" {
		s = append(s, limits.Scope{Kind: limits.KindUser, ID: p.UserID})
	}
	if p.TeamID != "" {
		s = append(s, limits.Scope{Kind: limits.KindTeam, ID: p.TeamID})
	}
	return s
}
