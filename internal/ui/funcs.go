package ui

import (
	"fmt"
	"github.com/tollgate-gw/tollgate/internal/admin"
	"html/template"
	"net/url"
	"strings"
	"time"
)

// funcs are the templates' helpers; formatting that depends on the
// language is a method of lang (.L.Money, .L.Num, .L.Time) instead.
var funcs = template.FuncMap{
	"join": strings.Join,
	"f2":   func(v float64) string { return fmt.Sprintf("%.2f", v) },
	// bar is the filled share of a budget bar, 0-100.
	"bar": func(pct float64) string { return fmt.Sprintf("%.2f", min(max(pct, 0), 100)) },
	// mark is a threshold's place on a budget bar, 0-100.
	"mark": func(t int) int { return min(max(t, 0), 100) },
	"str": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"i64": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"ms":     func(t time.Time) int64 { return t.UnixMilli() },
	"ints":   func(v []int) string { return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(v)), ", "), "[]") },
	"isErr":  func(status int, origin string) bool { return status >= 400 || origin != "" },
	"hasPfx": strings.HasPrefix,
	"string": func(v any) string { return fmt.Sprint(v) },
	"list2":  func(a, b any) []any { return []any{a, b} },
	"usd": func(p *int64) string {
		if p == nil {
			return ""
		}
		return admin.FormatUSD(*p)
	},
	"list4": func(a, b, c, d string) []string { return []string{a, b, c, d} },
	// navItems is the console's navigation, in order: the name of each
	// section (its message key nav.<name>) and its address. Sections added
	// later (models, audit) go here.
	"navItems": func() [][2]string { return nav },
	// path escapes a name for one segment of a console address (a model
	// name may hold a slash).
	"path": url.PathEscape,
	"i2": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
}

var nav = [][2]string{
	{"overview", "/ui/"}, {"requests", "/ui/requests"}, {"keys", "/ui/keys"}, {"users", "/ui/users"},
	{"teams", "/ui/teams"}, {"budgets", "/ui/budgets"}, {"limits", "/ui/limits"}, {"usage", "/ui/usage"},
	{"models", "/ui/models"}, {"audit", "/ui/audit"}, {"admins", "/ui/admins"},
}

// navResource is the resource a section needs to be shown in the
// navigation: the admins section is for those who may change admins (the
// owner), and a section the role cannot read (users, for a team admin) is
// left out.
var navResource = map[string]struct {
	res   string
	write bool
}{"users": {"users", false}, "models": {"models", false}, "audit": {"audit", false}, "admins": {"admins", true}}
