// Package authz names who is acting on the admin API, the CLI or the
// console, and with which role. It is the one contract between the parts
// that authenticate a person or a token (the admin API's credential check,
// the console's session) and the parts that decide what that person may do
// (role checks on every admin route) or record it (the audit log).
//
// A Principal travels in the request's context. Only code that has checked
// a credential itself puts one there; nothing read from the network is ever
// trusted as a principal.
package authz

import "context"

// Role is what an admin principal may do.
type Role string

// The roles, from most to least powerful.
const (
	// Owner may do everything, including managing other admins.
	Owner Role = "owner"
	// Admin may do everything but manage admins.
	Admin Role = "admin"
	// TeamAdmin manages keys, budgets and usage of their teams only.
	TeamAdmin Role = "team_admin"
	// Viewer reads everything it is shown and changes nothing.
	Viewer Role = "viewer"
)

// Roles lists every role, most powerful first.
var Roles = []Role{Owner, Admin, TeamAdmin, Viewer}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Kinds of principal: how the credential was presented.
const (
	KindBootstrap = "bootstrap" // the gateway's admin key (TOLLGATE_ADMIN_KEY or generated)
	KindAccount   = "account"   // a named admin account (password or SSO)
	KindToken     = "token"     // a scoped API token for automation
)

// Channels a change can come through, recorded in the audit log.
const (
	ViaAPI     = "api"
	ViaCLI     = "cli"
	ViaConsole = "console"
)

// Principal is an authenticated admin actor.
type Principal struct {
	Kind string // KindBootstrap, KindAccount or KindToken
	ID   string // account or token id; empty for the bootstrap key
	Name string // what the audit log and the console show
	Role Role
	// Teams are the team ids a TeamAdmin administers; empty for other roles.
	Teams []string
	// Via is the channel (ViaAPI, ViaCLI, ViaConsole).
	Via string
	// RemoteAddr is where the request came from (the client IP the access
	// rules resolved), for the audit log.
	RemoteAddr string
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal ctx carries, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
