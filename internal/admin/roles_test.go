package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

// cheapHash keeps account tests fast; the parameters travel in each hash.
var cheapHash = &authz.Argon2idParams{MemoryKiB: 64, Time: 1, Threads: 1}

// roleEnv is an admin API with two teams, ml (the team admin's) and web,
// each with a key, a budget and a limit, a user, a spare account and a
// spare token, and one admin token per role.
type roleEnv struct {
	t      *testing.T
	st     *store.Store
	api    *admin.API
	srv    *httptest.Server
	tokens map[authz.Role]string // role → tgt- secret
	ids    map[string]string     // fixture name → id
}

func newRoleEnv(t *testing.T, open storetest.Opener) *roleEnv {
	t.Helper()
	ctx := context.Background()
	e := &roleEnv{t: t, st: open(t), tokens: map[authz.Role]string{}, ids: map[string]string{}}
	if _, err := admin.Bootstrap(ctx, e.st, adminKey); err != nil {
		t.Fatal(err)
	}
	e.api = admin.New(e.st, admin.Options{Now: func() time.Time { return now }, PasswordParams: cheapHash})
	mux := http.NewServeMux()
	mux.Handle("/admin/", e.api)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u, err := e.st.CreateUser(ctx, store.User{Name: "alice"})
	must(err)
	e.ids["alice"] = u.ID
	for _, team := range []string{"ml", "web"} {
		tm, err := e.st.CreateTeam(ctx, store.Team{Name: team})
		must(err)
		e.ids[team] = tm.ID
		must(e.st.AddMember(ctx, tm.ID, u.ID))
		k, _, err := e.st.CreateKey(ctx, store.Key{Alias: "k-" + team, TeamID: tm.ID})
		must(err)
		e.ids["k-"+team] = k.ID
		usd := int64(5_000_000)
		b, err := e.st.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeTeam, ScopeID: tm.ID, LimitUSDMicros: &usd, Period: store.PeriodMonth})
		must(err)
		e.ids["b-"+team] = b.ID
		kb, err := e.st.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeKey, ScopeID: k.ID, LimitUSDMicros: &usd, Period: store.PeriodDay})
		must(err)
		e.ids["kb-"+team] = kb.ID
		l, err := e.st.CreateLimit(ctx, store.Limit{ScopeKind: store.ScopeTeam, ScopeID: tm.ID, RPM: 10})
		must(err)
		e.ids["l-"+team] = l.ID
	}
	ub, err := e.st.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeUser, ScopeID: u.ID, LimitUSDMicros: ptr(int64(1_000_000)), Period: store.PeriodMonth})
	must(err)
	e.ids["b-alice"] = ub.ID
	acct, err := e.st.CreateAdminAccount(ctx, store.AdminAccount{Name: "spare", Role: "viewer", PasswordHash: authz.HashPassword("spare-password-1", *cheapHash)})
	must(err)
	e.ids["spare-account"] = acct.ID
	tok, _, err := e.st.CreateAdminToken(ctx, store.AdminToken{Name: "spare", Role: "viewer", CreatedBy: "test"})
	must(err)
	e.ids["spare-token"] = tok.ID
	for _, role := range authz.Roles {
		var teams []string
		if role == authz.TeamAdmin {
			teams = []string{"ml"}
		}
		_, secret, err := e.st.CreateAdminToken(ctx, store.AdminToken{Name: "as-" + string(role), Role: string(role), TeamIDs: teams, CreatedBy: "test"})
		must(err)
		e.tokens[role] = secret
	}
	return e
}

func ptr[T any](v T) *T { return &v }

// as sends a request with role's token; headers are name, value pairs.
func (e *roleEnv) as(role authz.Role, method, path, body string, headers ...string) response {
	e.t.Helper()
	return e.send(method, path, body, append([]string{"Authorization", "Bearer " + e.tokens[role]}, headers...)...)
}

func (e *roleEnv) send(method, path, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

// wantAllowed is the role model, written out independently of
// authz.Role.Can: what each role may do to each resource.
func wantAllowed(role authz.Role, res authz.Resource, write bool) bool {
	switch role {
	case authz.Owner:
		return true
	case authz.Admin:
		return !(res == authz.Admins && write)
	case authz.TeamAdmin:
		switch res {
		case authz.Keys, authz.Budgets, authz.Limits:
			return true
		case authz.Usage, authz.Teams, authz.Models, authz.Meta:
			return !write
		}
		return false
	case authz.Viewer:
		return !write
	}
	return false
}

// TestRouteRulesCoverRoutes fails for a route without a permission rule,
// a rule for no route, or a rule whose read/write disagrees with the
// route's method: a new endpoint cannot ship without deciding who may
// call it.
func TestRouteRulesCoverRoutes(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite)
	routes := e.api.Patterns()
	for _, p := range routes {
		perm, action, ok := admin.RouteRule(p)
		if !ok {
			t.Errorf("route %q has no entry in routeRules (internal/admin/access.go)", p)
			continue
		}
		method, _, _ := strings.Cut(p, " ")
		if write := method != http.MethodGet; perm.Write != write {
			t.Errorf("route %q: rule %s, want write=%v for a %s", p, perm, write, method)
		}
		if perm.Write != (action != "") {
			t.Errorf("route %q: write=%v but audit action %q", p, perm.Write, action)
		}
		if action != "" && !strings.HasPrefix(action, string(perm.Resource)+".") && perm.Resource != authz.Admins {
			t.Errorf("route %q: action %q does not start with its resource %q", p, action, perm.Resource)
		}
	}
	for _, p := range admin.RulePatterns() {
		if !slices.Contains(routes, p) {
			t.Errorf("routeRules names %q, which is not a route", p)
		}
	}
}

// concrete turns a route pattern into a request path on the fixture: ids
// of objects of the team admin's team, so that what a role may do is
// decided by the role alone.
func (e *roleEnv) concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	coll := strings.Split(strings.TrimPrefix(path, "/admin/"), "/")[0]
	id := map[string]string{"users": "alice", "teams": "ml", "keys": "k-ml", "budgets": e.ids["b-ml"],
		"limits": e.ids["l-ml"], "accounts": "spare", "tokens": "spare"}[coll]
	path = strings.ReplaceAll(path, "{id}", id)
	path = strings.ReplaceAll(path, "{user}", "alice")
	return method, path
}

// TestRolesAgainstRoutes sends every route as every role: a role the
// model refuses gets 403 permission_error naming the role and the
// permission, a role it allows never does (nor 401). Changes go last, with
// deletes at the very end, so that each request finds its object.
func TestRolesAgainstRoutes(t *testing.T) {
	for _, role := range authz.Roles {
		t.Run(string(role), func(t *testing.T) {
			e := newRoleEnv(t, storetest.OpenSQLite)
			patterns := e.api.Patterns()
			rank := func(p string) int {
				switch {
				case strings.HasPrefix(p, "GET "):
					return 0
				case strings.HasPrefix(p, "DELETE "):
					return 2
				}
				return 1
			}
			sort.SliceStable(patterns, func(i, j int) bool { return rank(patterns[i]) < rank(patterns[j]) })
			for _, p := range patterns {
				if p == "GET /admin/usage/live" {
					continue // a stream; TestLiveScopedToTeams covers it
				}
				perm, _, _ := admin.RouteRule(p)
				method, path := e.concrete(p)
				body := ""
				switch {
				case p == "POST /admin/keys" || p == "POST /admin/budgets" || p == "POST /admin/limits":
					body = `{"team":"ml"}` // where a team admin may place it
				case method == http.MethodPost || method == http.MethodPatch:
					body = "{}"
				}
				r := e.as(role, method, path, body)
				allowed := wantAllowed(role, perm.Resource, perm.Write)
				switch {
				case allowed && (r.status == http.StatusForbidden || r.status == http.StatusUnauthorized):
					t.Errorf("%s as %s = %d %s, want it allowed", p, role, r.status, r.body)
				case !allowed && r.status != http.StatusForbidden:
					t.Errorf("%s as %s = %d %s, want 403", p, role, r.status, r.body)
				case !allowed:
					er := decodeJSON[admin.ErrorBody](t, r.body)
					if er.Error.Type != "permission_error" || !strings.Contains(er.Error.Message, string(role)) ||
						!strings.Contains(er.Error.Message, perm.String()) {
						t.Errorf("%s as %s: error %+v, want permission_error naming %s and %s", p, role, er.Error, role, perm)
					}
				}
			}
		})
	}
}

func TestTeamAdminScope(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		e := newRoleEnv(t, open)
		ta := authz.TeamAdmin
		for _, tc := range []struct {
			name         string
			method, path string
			body         string
			want         int
		}{
			{"own key", "GET", "/admin/keys/k-ml", "", 200},
			{"other team's key", "GET", "/admin/keys/k-web", "", 403},
			{"patch other team's key", "PATCH", "/admin/keys/k-web", `{"disabled":true}`, 403},
			{"revoke other team's key", "POST", "/admin/keys/k-web/revoke", "", 403},
			{"move own key to another team", "PATCH", "/admin/keys/k-ml", `{"team":"web"}`, 403},
			{"take own key out of every team", "PATCH", "/admin/keys/k-ml", `{"team":null}`, 403},
			{"create key in another team", "POST", "/admin/keys", `{"alias":"x","team":"web"}`, 403},
			{"create key in no team", "POST", "/admin/keys", `{"alias":"x"}`, 403},
			{"create key in own team", "POST", "/admin/keys", `{"alias":"x","team":"ml"}`, 201},
			{"other team's budget", "GET", "/admin/budgets/" + e.ids["b-web"], "", 403},
			{"other team's key's budget", "GET", "/admin/budgets/" + e.ids["kb-web"], "", 403},
			{"own key's budget", "GET", "/admin/budgets/" + e.ids["kb-ml"], "", 200},
			{"a user's budget", "GET", "/admin/budgets/" + e.ids["b-alice"], "", 403},
			{"budget on another team", "POST", "/admin/budgets", `{"team":"web","period":"day","limit_usd":1}`, 403},
			{"budget on another team's key", "POST", "/admin/budgets", `{"key":"k-web","period":"day","limit_usd":1}`, 403},
			{"budget on a user", "POST", "/admin/budgets", `{"user":"alice","period":"day","limit_usd":1}`, 403},
			{"budget on own key", "POST", "/admin/budgets", `{"key":"k-ml","period":"week","limit_usd":1}`, 201},
			{"other team's limit", "DELETE", "/admin/limits/" + e.ids["l-web"], "", 403},
			{"limit on another team", "POST", "/admin/limits", `{"team":"web","rpm":1}`, 403},
			{"other team", "GET", "/admin/teams/web", "", 403},
			{"own team", "GET", "/admin/teams/ml", "", 200},
			{"usage of own team", "GET", "/admin/usage?by=key", "", 200},
			{"usage of another team", "GET", "/admin/usage?team=web", "", 403},
			{"usage csv of another team", "GET", "/admin/usage.csv?team=web", "", 403},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if r := e.as(ta, tc.method, tc.path, tc.body); r.status != tc.want {
					t.Errorf("%s %s %s as team_admin = %d %s, want %d", tc.method, tc.path, tc.body, r.status, r.body, tc.want)
				}
			})
		}

		// Lists show the team's objects only; an admin sees everything.
		names := func(role authz.Role, path, list, field string) []string {
			r := e.as(role, "GET", path, "")
			var m map[string]json.RawMessage
			var items []map[string]any
			if err := json.Unmarshal(r.body, &m); err != nil {
				t.Fatalf("GET %s: %v %s", path, err, r.body)
			}
			if err := json.Unmarshal(m[list], &items); err != nil {
				t.Fatalf("GET %s: %v %s", path, err, r.body)
			}
			var out []string
			for _, x := range items {
				out = append(out, x[field].(string))
			}
			sort.Strings(out)
			return out
		}
		for _, tc := range []struct {
			path, list, field string
			want, wantAll     []string
		}{
			{"/admin/keys", "keys", "alias", []string{"k-ml", "x"}, []string{"k-ml", "k-web", "x"}},
			{"/admin/teams", "teams", "name", []string{"ml"}, []string{"ml", "web"}},
			{"/admin/budgets", "budgets", "scope", []string{"k-ml", "k-ml", "ml"}, []string{"alice", "k-ml", "k-ml", "k-web", "ml", "web"}},
			{"/admin/limits", "limits", "scope", []string{"ml"}, []string{"ml", "web"}},
			{"/admin/spend", "budgets", "scope", []string{"k-ml", "k-ml", "ml"}, []string{"alice", "k-ml", "k-ml", "k-web", "ml", "web"}},
		} {
			if diff := cmp.Diff(tc.want, names(ta, tc.path, tc.list, tc.field)); diff != "" {
				t.Errorf("GET %s as team_admin (-want +got):\n%s", tc.path, diff)
			}
			if diff := cmp.Diff(tc.wantAll, names(authz.Admin, tc.path, tc.list, tc.field)); diff != "" {
				t.Errorf("GET %s as admin (-want +got):\n%s", tc.path, diff)
			}
		}
	})
}

// TestTeamAdminUsageNeedsATeam: a team admin of several teams names one.
func TestTeamAdminUsageNeedsATeam(t *testing.T) {
	e := newRoleEnv(t, storetest.OpenSQLite)
	_, secret, err := e.st.CreateAdminToken(context.Background(), store.AdminToken{Name: "two", Role: "team_admin", TeamIDs: []string{"ml", "web"}, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	auth := []string{"Authorization", "Bearer " + secret}
	if r := e.send("GET", "/admin/usage", "", auth...); r.status != 403 || !strings.Contains(string(r.body), "?team=") {
		t.Errorf("usage without ?team= = %d %s, want 403 asking for a team", r.status, r.body)
	}
	for _, team := range []string{"ml", "web"} {
		if r := e.send("GET", "/admin/usage?team="+team, "", auth...); r.status != 200 {
			t.Errorf("usage ?team=%s = %d %s, want 200", team, r.status, r.body)
		}
	}
}

type auditPage struct {
	Events     []admin.AuditEvent `json:"events"`
	NextCursor string             `json:"next_cursor"`
}

func TestAuditRecordsChanges(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		e := newRoleEnv(t, open)
		cli := []string{admin.ClientHeader, "cli"}
		created := e.as(authz.Admin, "POST", "/admin/keys", `{"alias":"ci","team":"ml"}`, cli...)
		if created.status != 201 {
			t.Fatalf("create key = %d %s", created.status, created.body)
		}
		secret := decodeJSON[struct{ Secret string }](t, created.body).Secret
		rotated := e.as(authz.Admin, "POST", "/admin/keys/ci/rotate", "")
		newSecret := decodeJSON[struct{ Secret string }](t, rotated.body).Secret
		e.as(authz.Admin, "PATCH", "/admin/keys/ci", `{"tags":{"env":"prod"}}`)
		tok := e.as(authz.Owner, "POST", "/admin/tokens", `{"name":"deploy","role":"admin"}`)
		tokSecret := decodeJSON[struct{ Secret string }](t, tok.body).Secret
		e.as(authz.Owner, "POST", "/admin/accounts", `{"name":"bob","password":"correct horse battery","role":"viewer"}`)
		e.as(authz.Owner, "PATCH", "/admin/accounts/bob", `{"password":"another long password"}`)
		e.as(authz.Admin, "DELETE", "/admin/keys/ci", "")
		if r := e.as(authz.Viewer, "DELETE", "/admin/keys/k-ml", ""); r.status != 403 {
			t.Fatalf("viewer delete = %d", r.status)
		}
		e.as(authz.Viewer, "GET", "/admin/keys", "") // reads are not recorded

		r := e.as(authz.Viewer, "GET", "/admin/audit?limit=100", "")
		if r.status != 200 {
			t.Fatalf("GET /admin/audit = %d %s", r.status, r.body)
		}
		for _, s := range []string{secret, newSecret, tokSecret, "correct horse", "another long password", "argon2id", store.HashSecret(secret)} {
			if strings.Contains(string(r.body), s) {
				t.Errorf("the audit log contains a secret: %q", s)
			}
		}
		page := decodeJSON[auditPage](t, r.body)
		var got []string
		for _, ev := range page.Events {
			got = append(got, ev.Action+" "+ev.Outcome+" "+ev.Actor.Name+" "+ev.Via+" "+ev.Target.Type+":"+ev.Target.Name)
		}
		want := []string{
			"keys.delete denied as-viewer api key:",
			"keys.delete ok as-admin api key:ci",
			"accounts.update ok as-owner api account:bob",
			"accounts.create ok as-owner api account:bob",
			"tokens.create ok as-owner api token:deploy",
			"keys.update ok as-admin api key:ci",
			"keys.rotate ok as-admin api key:ci",
			"keys.create ok as-admin cli key:ci",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("audit log (-want +got):\n%s", diff)
		}
		byAction := map[string]admin.AuditEvent{}
		for _, ev := range page.Events {
			byAction[ev.Action+" "+ev.Outcome] = ev
		}
		if ev := byAction["keys.create ok"]; compact(ev.Before) != "" || !strings.Contains(compact(ev.After), `"alias":"ci"`) || ev.RemoteAddr != "127.0.0.1" || ev.Actor.Kind != "token" {
			t.Errorf("keys.create event = %+v; want no before, the key after, from 127.0.0.1 by a token", ev)
		}
		if ev := byAction["keys.update ok"]; strings.Contains(compact(ev.Before), "prod") || !strings.Contains(compact(ev.After), `"env":"prod"`) {
			t.Errorf("keys.update event before %s after %s; want the tag only after", ev.Before, ev.After)
		}
		if ev := byAction["keys.delete ok"]; compact(ev.Before) == "" || compact(ev.After) != "" {
			t.Errorf("keys.delete event before %s after %s; want the key before and nothing after", ev.Before, ev.After)
		}

		// Filters and pages.
		for _, tc := range []struct {
			query string
			want  int
		}{
			{"actor=as-owner", 3}, {"target=ci", 4}, {"action=keys.", 5}, {"action=keys.create", 1},
			{"since=2025-06-03T11:00:00Z&until=2025-06-03T13:00:00Z", 8}, {"until=2025-06-01", 0},
		} {
			r := e.as(authz.Admin, "GET", "/admin/audit?"+tc.query, "")
			if n := len(decodeJSON[auditPage](t, r.body).Events); r.status != 200 || n != tc.want {
				t.Errorf("GET /admin/audit?%s = %d with %d events, want %d", tc.query, r.status, n, tc.want)
			}
		}
		var all []string
		cursor := ""
		for range 10 {
			q := "/admin/audit?limit=3"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			p := decodeJSON[auditPage](t, e.as(authz.Admin, "GET", q, "").body)
			for _, ev := range p.Events {
				all = append(all, ev.Action+" "+ev.Outcome)
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if len(all) != 8 {
			t.Errorf("paging by 3 read %d events %v, want 8", len(all), all)
		}
		if r := e.as(authz.TeamAdmin, "GET", "/admin/audit", ""); r.status != 403 {
			t.Errorf("team_admin reading the audit log = %d, want 403", r.status)
		}
	})
}

// TestServeAsChecksRoles: the console's way in goes through the same role
// checks and audit log as the API.
func TestServeAsChecksRoles(t *testing.T) {
	e := newRoleEnv(t, storetest.OpenSQLite)
	serve := func(p authz.Principal, method, path, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		e.api.ServeAs(w, httptest.NewRequest(method, path, strings.NewReader(body)), p)
		return w
	}
	viewer := authz.Principal{Kind: authz.KindAccount, ID: "adm_x", Name: "vera", Role: authz.Viewer}
	if w := serve(viewer, "POST", "/admin/users", `{"name":"eve"}`); w.Code != 403 {
		t.Errorf("viewer via console POST /admin/users = %d, want 403", w.Code)
	}
	if w := serve(viewer, "GET", "/admin/users", ""); w.Code != 200 {
		t.Errorf("viewer via console GET /admin/users = %d, want 200", w.Code)
	}
	owner := authz.Principal{Kind: authz.KindAccount, ID: "adm_y", Name: "olga", Role: authz.Owner}
	if w := serve(owner, "POST", "/admin/users", `{"name":"eve"}`); w.Code != 201 {
		t.Fatalf("owner via console POST /admin/users = %d %s", w.Code, w.Body)
	}
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("audit = %+v, %v; want the denied and the made change", evs, err)
	}
	if ev := evs[0]; ev.Via != authz.ViaConsole || ev.ActorName != "olga" || ev.Action != "users.create" || ev.TargetName != "eve" {
		t.Errorf("console change recorded as %+v", ev)
	}
	if ev := evs[1]; ev.Outcome != store.AuditDenied || ev.ActorName != "vera" {
		t.Errorf("denied console change recorded as %+v", ev)
	}
}

func TestAccountSignIn(t *testing.T) {
	e := newRoleEnv(t, storetest.OpenSQLite)
	ctx := context.Background()
	if r := e.send("POST", "/admin/accounts", `{"name":"tess","password":"team admin password","role":"team_admin","teams":["ml"]}`,
		"Authorization", "Bearer "+adminKey); r.status != 201 {
		t.Fatalf("create account = %d %s", r.status, r.body)
	}
	basic := func(name, pw string) []string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(name, pw)
		return []string{"Authorization", req.Header.Get("Authorization")}
	}
	r := e.send("GET", "/admin/whoami", "", append(basic("tess", "team admin password"), admin.ClientHeader, "cli")...)
	who := decodeJSON[admin.WhoamiResponse](t, r.body)
	if r.status != 200 || who.Role != "team_admin" || who.Kind != "account" || who.Via != "cli" || len(who.Teams) != 1 {
		t.Errorf("whoami as tess = %d %+v", r.status, who)
	}
	if r := e.send("GET", "/admin/keys/k-web", "", basic("tess", "team admin password")...); r.status != 403 {
		t.Errorf("tess reading another team's key = %d, want 403", r.status)
	}
	p, err := e.api.Authenticate(ctx, "tess", "team admin password")
	if err != nil || p.Name != "tess" || p.Role != authz.TeamAdmin {
		t.Errorf("Authenticate(tess) = %+v, %v", p, err)
	}
	var msgs []string
	for _, c := range [][2]string{{"tess", "wrong password!!"}, {"nobody", "team admin password"}, {"tess", ""}} {
		r := e.send("GET", "/admin/whoami", "", basic(c[0], c[1])...)
		if r.status != 401 {
			t.Errorf("sign-in %q/%q = %d, want 401", c[0], c[1], r.status)
		}
		msgs = append(msgs, decodeJSON[admin.ErrorBody](t, r.body).Error.Message)
	}
	if msgs[0] != msgs[1] || msgs[1] != msgs[2] {
		t.Errorf("failed sign-ins answer differently, telling names apart: %q", msgs)
	}
	// A disabled account cannot sign in.
	e.send("PATCH", "/admin/accounts/tess", `{"disabled":true}`, "Authorization", "Bearer "+adminKey)
	if _, err := e.api.Authenticate(ctx, "tess", "team admin password"); err == nil {
		t.Error("a disabled account signed in")
	}
	e.send("PATCH", "/admin/accounts/tess", `{"disabled":false}`, "Authorization", "Bearer "+adminKey)
	// Repeated failures lock the name out for a while, right password or not.
	for range 10 {
		e.api.Authenticate(ctx, "tess", "guess guess guess")
	}
	if _, err := e.api.Authenticate(ctx, "tess", "team admin password"); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Errorf("after 10 failures Authenticate = %v, want too many failed sign-ins", err)
	}
	// Short passwords and roles without teams are refused.
	for _, body := range []string{
		`{"name":"x","password":"short","role":"viewer"}`,
		`{"name":"x","password":"long enough password","role":"team_admin"}`,
		`{"name":"x","password":"long enough password","role":"viewer","teams":["ml"]}`,
		`{"name":"x","password":"long enough password","role":"root"}`,
	} {
		if r := e.send("POST", "/admin/accounts", body, "Authorization", "Bearer "+adminKey); r.status != 400 {
			t.Errorf("POST /admin/accounts %s = %d, want 400", body, r.status)
		}
	}
}

func TestAdminTokens(t *testing.T) {
	e := newRoleEnv(t, storetest.OpenSQLite)
	owner := []string{"Authorization", "Bearer " + adminKey}
	r := e.send("POST", "/admin/tokens", `{"name":"ci","role":"viewer","expires_in":"1h"}`, owner...)
	if r.status != 201 {
		t.Fatalf("create token = %d %s", r.status, r.body)
	}
	secret := decodeJSON[admin.CreateTokenResponse](t, r.body).Secret
	if !strings.HasPrefix(secret, "tgt-") {
		t.Fatalf("token secret %q", secret)
	}
	if r := e.send("GET", "/admin/tokens", "", owner...); strings.Contains(string(r.body), secret) || strings.Contains(string(r.body), store.HashSecret(secret)) {
		t.Error("GET /admin/tokens shows a secret or its hash")
	}
	bearer := []string{"Authorization", "Bearer " + secret}
	if r := e.send("GET", "/admin/keys", "", bearer...); r.status != 200 {
		t.Errorf("viewer token GET /admin/keys = %d", r.status)
	}
	if r := e.send("POST", "/admin/users", `{"name":"z"}`, bearer...); r.status != 403 {
		t.Errorf("viewer token POST /admin/users = %d, want 403", r.status)
	}
	if r := e.send("GET", "/admin/keys", "", "x-api-key", secret); r.status != 200 {
		t.Errorf("token as x-api-key = %d", r.status)
	}
	e.send("POST", "/admin/tokens/ci/revoke", "", owner...)
	if r := e.send("GET", "/admin/keys", "", bearer...); r.status != 401 {
		t.Errorf("revoked token = %d, want 401", r.status)
	}
	if r := e.send("GET", "/admin/keys", "", "Authorization", "Bearer tgt-not-a-token"); r.status != 401 {
		t.Errorf("unknown token = %d, want 401", r.status)
	}
	// An admin may list tokens but not create them.
	if r := e.as(authz.Admin, "POST", "/admin/tokens", `{"name":"x","role":"owner"}`); r.status != 403 {
		t.Errorf("admin creating a token = %d, want 403", r.status)
	}
}

// compact returns raw JSON without spaces, "" for null or nothing.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if len(raw) == 0 || string(raw) == "null" || json.Compact(&b, raw) != nil {
		return ""
	}
	return b.String()
}

// TestGoldenAdmins records the answers of the accounts, tokens, whoami and
// audit endpoints, which TestOpenAPIGoldens holds to openapi.yaml.
func TestGoldenAdmins(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		e := newEnv(t, open)
		e.must(201, "POST", "/admin/teams", `{"name":"ml"}`)
		e.golden("accounts_create", 201, "POST", "/admin/accounts", `{"name":"tess","password":"a long enough password","role":"team_admin","teams":["ml"]}`)
		e.golden("accounts_patch", 200, "PATCH", "/admin/accounts/tess", `{"role":"viewer"}`)
		e.golden("accounts_list", 200, "GET", "/admin/accounts", "")
		e.golden("tokens_create", 201, "POST", "/admin/tokens", `{"name":"ci","role":"admin","expires_in":"90d"}`)
		e.golden("tokens_revoke", 200, "POST", "/admin/tokens/ci/revoke", "")
		e.golden("tokens_list", 200, "GET", "/admin/tokens", "")
		e.golden("whoami", 200, "GET", "/admin/whoami", "", "X-Tollgate-Client", "cli")
		e.golden("audit_list", 200, "GET", "/admin/audit?limit=2", "")
		e.golden("error_forbidden", 403, "POST", "/admin/users", `{"name":"x"}`, "Authorization", "Basic "+basicAuth("tess", "a long enough password"))
	})
}

func basicAuth(name, pw string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(name, pw)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// TestSignInFailuresPerAddress: failures from one address lock that
// address out across names, and the lock lifts when the window passes.
func TestSignInFailuresPerAddress(t *testing.T) {
	st := storetest.OpenSQLite(t)
	clock := now
	api := admin.New(st, admin.Options{Now: func() time.Time { return clock }, PasswordParams: cheapHash})
	if _, err := st.CreateAdminAccount(context.Background(), store.AdminAccount{Name: "olga", Role: "owner",
		PasswordHash: authz.HashPassword("the right password", *cheapHash)}); err != nil {
		t.Fatal(err)
	}
	do := func(name, pw string) int {
		req := httptest.NewRequest("GET", "/admin/whoami", nil)
		req.RemoteAddr = "192.0.2.7:4321"
		req.SetBasicAuth(name, pw)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		return w.Code
	}
	for i := range 10 {
		if code := do("guess"+strings.Repeat("x", i), "nope nope nope"); code != 401 {
			t.Fatalf("failure %d = %d, want 401", i, code)
		}
	}
	if code := do("olga", "the right password"); code != 429 {
		t.Errorf("right password from a locked-out address = %d, want 429", code)
	}
	clock = clock.Add(16 * time.Minute)
	if code := do("olga", "the right password"); code != 200 {
		t.Errorf("right password after the window = %d, want 200", code)
	}
}
