package authz

// Resource is what an admin route reads or changes. The admin API maps
// every route to one Resource and read or write (admin.routeRules); the
// console may use the same Permission values to hide what a role cannot do.
type Resource string

// The resources of the admin API.
const (
	Users   Resource = "users"
	Teams   Resource = "teams"
	Keys    Resource = "keys"
	Budgets Resource = "budgets"
	Limits  Resource = "limits"
	Usage   Resource = "usage"
	Models  Resource = "models"
	// Admins are admin accounts and scoped API tokens.
	Admins Resource = "admins"
	Audit  Resource = "audit"
	// Meta is what every signed-in principal may read (the OpenAPI
	// document).
	Meta Resource = "meta"
)

// Permission is a Resource and whether it is changed (Write) or only read.
type Permission struct {
	Resource Resource
	Write    bool
}

// Read and Write build Permissions.
func Read(r Resource) Permission  { return Permission{Resource: r} }
func Write(r Resource) Permission { return Permission{Resource: r, Write: true} }

// String is "keys:read" or "keys:write", as 403 messages name it.
func (p Permission) String() string {
	if p.Write {
		return string(p.Resource) + ":write"
	}
	return string(p.Resource) + ":read"
}

// teamAdminResources are what a TeamAdmin may touch at all; which objects
// of them is narrowed to the principal's Teams by the admin API.
var teamAdminResources = map[Resource]Permission{
	Keys:    Write(Keys),
	Budgets: Write(Budgets),
	Limits:  Write(Limits),
	Usage:   Read(Usage),
	Teams:   Read(Teams),
	Models:  Read(Models),
	Meta:    Read(Meta),
}

// Can reports whether role r grants p:
//
//   - Owner: everything.
//   - Admin: everything but changing admin accounts and tokens (it may
//     list them: accounts and tokens are shown without any secret).
//   - TeamAdmin: keys, budgets and limits (read and write), usage, teams
//     and models (read), each narrowed to the principal's teams.
//   - Viewer: every read, no write.
//
// An unknown role can do nothing.
func (r Role) Can(p Permission) bool {
	switch r {
	case Owner:
		return true
	case Admin:
		return !(p.Resource == Admins && p.Write)
	case TeamAdmin:
		g, ok := teamAdminResources[p.Resource]
		return ok && (g.Write || !p.Write)
	case Viewer:
		return !p.Write
	}
	return false
}

// Scoped reports whether r sees only its principal's teams.
func (r Role) Scoped() bool { return r == TeamAdmin }
