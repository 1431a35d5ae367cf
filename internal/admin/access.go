package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// rule is what one route needs and how the audit log names a change made
// through it.
type rule struct {
	perm authz.Permission
	// action names a change in the audit log, "<resource>.<verb>"; empty
	// for reads, which are not recorded.
	action string
	// target is the audit log's target type ("key"); the target's id is
	// the route's {id}, or the created object's id.
	target string
}

func read(res authz.Resource) rule { return rule{perm: authz.Read(res)} }

func write(res authz.Resource, action, target string) rule {
	return rule{perm: authz.Write(res), action: action, target: target}
}

// routeRules maps every pattern of routes() to the permission it needs.
// TestRouteRulesCoverRoutes fails for a route without a rule, and dispatch
// refuses one to everybody (fail closed), so a new endpoint cannot ship
// unguarded.
//
// Convention for a new route: the key is the route's pattern exactly as in
// routes(); reads are read(<resource>), changes are
// write(<resource>, "<resource>.<verb>", "<target type>"). For the models
// routes: read(authz.Models) for GETs and
// write(authz.Models, "models.create|update|delete", "model") for changes.
var routeRules = map[string]rule{
	"POST /admin/users":                       write(authz.Users, "users.create", "user"),
	"GET /admin/users":                        read(authz.Users),
	"GET /admin/users/{id}":                   read(authz.Users),
	"PATCH /admin/users/{id}":                 write(authz.Users, "users.update", "user"),
	"DELETE /admin/users/{id}":                write(authz.Users, "users.delete", "user"),
	"POST /admin/teams":                       write(authz.Teams, "teams.create", "team"),
	"GET /admin/teams":                        read(authz.Teams),
	"GET /admin/teams/{id}":                   read(authz.Teams),
	"PATCH /admin/teams/{id}":                 write(authz.Teams, "teams.update", "team"),
	"DELETE /admin/teams/{id}":                write(authz.Teams, "teams.delete", "team"),
	"POST /admin/teams/{id}/members":          write(authz.Teams, "teams.add_member", "team"),
	"DELETE /admin/teams/{id}/members/{user}": write(authz.Teams, "teams.remove_member", "team"),

	"POST /admin/keys":               write(authz.Keys, "keys.create", "key"),
	"GET /admin/keys":                read(authz.Keys),
	"GET /admin/keys/{id}":           read(authz.Keys),
	"PATCH /admin/keys/{id}":         write(authz.Keys, "keys.update", "key"),
	"DELETE /admin/keys/{id}":        write(authz.Keys, "keys.delete", "key"),
	"POST /admin/keys/{id}/revoke":   write(authz.Keys, "keys.revoke", "key"),
	"POST /admin/keys/{id}/rotate":   write(authz.Keys, "keys.rotate", "key"),
	"POST /admin/budgets":            write(authz.Budgets, "budgets.create", "budget"),
	"GET /admin/budgets":             read(authz.Budgets),
	"GET /admin/budgets/{id}":        read(authz.Budgets),
	"PATCH /admin/budgets/{id}":      write(authz.Budgets, "budgets.update", "budget"),
	"DELETE /admin/budgets/{id}":     write(authz.Budgets, "budgets.delete", "budget"),
	"POST /admin/limits":             write(authz.Limits, "limits.create", "limit"),
	"GET /admin/limits":              read(authz.Limits),
	"GET /admin/limits/{id}":         read(authz.Limits),
	"PATCH /admin/limits/{id}":       write(authz.Limits, "limits.update", "limit"),
	"DELETE /admin/limits/{id}":      write(authz.Limits, "limits.delete", "limit"),
	"GET /admin/usage":               read(authz.Usage),
	"GET /admin/usage.csv":           read(authz.Usage),
	"GET /admin/spend":               read(authz.Usage),
	"GET /admin/usage/live":          read(authz.Usage),
	"GET /admin/openapi.json":        read(authz.Meta),
	"GET /admin/whoami":              read(authz.Meta),
	"POST /admin/accounts":           write(authz.Admins, "accounts.create", "account"),
	"GET /admin/accounts":            read(authz.Admins),
	"GET /admin/accounts/{id}":       read(authz.Admins),
	"PATCH /admin/accounts/{id}":     write(authz.Admins, "accounts.update", "account"),
	"DELETE /admin/accounts/{id}":    write(authz.Admins, "accounts.delete", "account"),
	"POST /admin/tokens":             write(authz.Admins, "tokens.create", "token"),
	"GET /admin/tokens":              read(authz.Admins),
	"GET /admin/tokens/{id}":         read(authz.Admins),
	"POST /admin/tokens/{id}/revoke": write(authz.Admins, "tokens.revoke", "token"),
	"GET /admin/audit":               read(authz.Audit),
	"POST /admin/models":             write(authz.Models, "models.create", "model"),
	"GET /admin/models":              read(authz.Models),
	"GET /admin/models/{name}":       read(authz.Models),
	"PATCH /admin/models/{name}":     write(authz.Models, "models.update", "model"),
	"DELETE /admin/models/{name}":    write(authz.Models, "models.delete", "model"),
	// A test changes nothing but spends a one-token call, so it needs
	// write and is recorded.
	"POST /admin/models/{name}/test": write(authz.Models, "models.test", "model"),
}

// guard wraps the handler of one route with its role check, the team
// scope of team admins and, for changes, the audit record. It runs inside
// the mux, so the route's path values are known, and for every way in:
// ServeHTTP (API and CLI) and ServeAs (console).
func (a *API) guard(pattern string, h http.Handler) http.Handler {
	rl, ok := routeRules[pattern]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, signedIn := authz.FromContext(r.Context())
		switch {
		case !signedIn:
			a.writeError(w, r, unauthorized("not signed in"))
			return
		case !ok:
			a.writeError(w, r, apierror.Gateway(nil, "admin route %s has no permission rule", pattern))
			return
		case !p.Role.Can(rl.perm):
			a.deny(w, r, p, rl, forbidden("role %s may not do this: %s %s needs %s", roleName(p.Role), r.Method, r.URL.Path, rl.perm))
			return
		}
		if p.Role.Scoped() {
			if err := a.checkScope(r, p, pattern); err != nil {
				a.deny(w, r, p, rl, err)
				return
			}
		}
		if rl.action == "" {
			h.ServeHTTP(w, r)
			return
		}
		a.serveAudited(w, r, p, rl, h)
	})
}

func roleName(r authz.Role) string {
	if r == "" {
		return "(none)"
	}
	return string(r)
}

func forbidden(format string, args ...any) *apierror.Error {
	return apierror.Client(http.StatusForbidden, apierror.TypePermission, format, args...)
}

// deny answers 403 and, for an attempted change, records it as denied.
func (a *API) deny(w http.ResponseWriter, r *http.Request, p authz.Principal, rl rule, err error) {
	if rl.action != "" {
		ev := a.event(r, w, p, rl)
		ev.Outcome = store.AuditDenied
		ev.TargetID = r.PathValue("id")
		a.appendAudit(r.Context(), ev)
	}
	a.writeError(w, r, err)
}

// ---- team scope ----

// teamScope is what a team admin may see: objects of its teams. A nil
// *teamScope sees everything.
type teamScope struct {
	teams   map[string]bool
	keyTeam map[string]string // key id → team id, for key-scoped budgets and limits
}

// scopeOf returns the team scope of r's principal, nil when it is not
// scoped.
func (a *API) scopeOf(ctx context.Context) (*teamScope, error) {
	p, _ := authz.FromContext(ctx)
	if !p.Role.Scoped() {
		return nil, nil
	}
	s := &teamScope{teams: map[string]bool{}, keyTeam: map[string]string{}}
	for _, t := range p.Teams {
		s.teams[t] = true
	}
	keys, err := a.st.ListKeys(ctx, store.KeyFilter{})
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		s.keyTeam[k.ID] = k.TeamID
	}
	return s, nil
}

func (s *teamScope) team(id string) bool { return s == nil || (id != "" && s.teams[id]) }

func (s *teamScope) key(k store.Key) bool { return s.team(k.TeamID) }

// scope reports whether a budget's or limit's scope is visible: a team of
// the scope, or a key of one. User-scoped ones are not: a user may belong
// to teams the team admin does not administer.
func (s *teamScope) scope(kind, id string) bool {
	if s == nil {
		return true
	}
	switch kind {
	case store.ScopeTeam:
		return s.team(id)
	case store.ScopeKey:
		return s.team(s.keyTeam[id])
	}
	return false
}

// checkScope narrows a team admin's request to its teams: objects named
// in the path or the body must belong to one of them, and usage queries
// are filtered to one. Lists are filtered by their handlers (scopeOf).
func (a *API) checkScope(r *http.Request, p authz.Principal, pattern string) error {
	ctx := r.Context()
	sc, err := a.scopeOf(ctx)
	if err != nil {
		return err
	}
	teams := strings.Join(p.Teams, ", ")
	if teams == "" {
		teams = "none"
	}
	outside := func(what string) error {
		return forbidden("role team_admin may only act on its teams (%s): %s is not one of them", teams, what)
	}
	id := r.PathValue("id")
	switch {
	case strings.HasPrefix(pattern, "GET /admin/teams/{id}"):
		tid, err := a.st.Resolve(ctx, store.ScopeTeam, id)
		if err == nil && !sc.team(tid) {
			return outside("team " + id)
		}
	case strings.Contains(pattern, " /admin/keys/{id}"):
		k, err := a.st.GetKey(ctx, id)
		if err == nil && !sc.key(k) {
			return outside("key " + id)
		}
	case strings.Contains(pattern, " /admin/budgets/{id}"):
		b, err := a.st.GetBudget(ctx, id)
		if err == nil && !sc.scope(b.ScopeKind, b.ScopeID) {
			return outside("budget " + id)
		}
	case strings.Contains(pattern, " /admin/limits/{id}"):
		l, err := a.st.GetLimit(ctx, id)
		if err == nil && !sc.scope(l.ScopeKind, l.ScopeID) {
			return outside("limit " + id)
		}
	case pattern == "GET /admin/usage" || pattern == "GET /admin/usage.csv":
		return a.scopeUsage(r, p, sc, outside)
	}
	if pattern == "POST /admin/keys" || pattern == "PATCH /admin/keys/{id}" ||
		pattern == "POST /admin/budgets" || pattern == "POST /admin/limits" {
		return a.checkBody(r, pattern, sc, outside)
	}
	return nil
}

// scopeUsage filters a usage query to a team of the principal: the one it
// names, or its only team.
func (a *API) scopeUsage(r *http.Request, p authz.Principal, sc *teamScope, outside func(string) error) error {
	q := r.URL.Query()
	ref := q.Get("team")
	if ref == "" {
		if len(p.Teams) != 1 {
			return forbidden("role team_admin sees the usage of its teams only: name one with ?team=")
		}
		q.Set("team", p.Teams[0])
		r.URL.RawQuery = q.Encode()
		return nil
	}
	id, err := a.st.Resolve(r.Context(), store.ScopeTeam, ref)
	if err != nil || !sc.team(id) {
		return outside("team " + ref)
	}
	return nil
}

// scopeBody is the part of a create or patch body that places an object.
type scopeBody struct {
	Team json.RawMessage `json:"team"`
	Key  string          `json:"key"`
	User string          `json:"user"`
}

// checkBody reads the body (leaving it for the handler) and refuses to
// place a key, budget or limit outside the principal's teams.
func (a *API) checkBody(r *http.Request, pattern string, sc *teamScope, outside func(string) error) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	var sb scopeBody
	if json.Unmarshal(b, &sb) != nil {
		return nil // not JSON: the handler answers with its own 400
	}
	var team string
	teamSet := len(sb.Team) > 0
	if teamSet && string(sb.Team) != "null" {
		if json.Unmarshal(sb.Team, &team) != nil {
			return nil
		}
	}
	ctx := r.Context()
	inTeam := func(ref string) error {
		if ref == "" {
			return outside("no team")
		}
		id, err := a.st.Resolve(ctx, store.ScopeTeam, ref)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !sc.team(id)) {
			return outside("team " + ref)
		}
		return err
	}
	switch pattern {
	case "POST /admin/keys":
		return inTeam(team)
	case "PATCH /admin/keys/{id}":
		if teamSet {
			return inTeam(team)
		}
	default: // budgets and limits
		switch {
		case team != "":
			return inTeam(team)
		case sb.Key != "":
			k, err := a.st.GetKey(ctx, sb.Key)
			if errors.Is(err, store.ErrNotFound) || (err == nil && !sc.key(k)) {
				return outside("key " + sb.Key)
			}
			return err
		case sb.User != "":
			return outside("user " + sb.User)
		}
	}
	return nil
}

// ---- audit ----

// event returns the audit event of r by p, without outcome and target.
func (a *API) event(r *http.Request, w http.ResponseWriter, p authz.Principal, rl rule) store.AuditEvent {
	return store.AuditEvent{
		At: a.opts.Now(), ActorKind: p.Kind, ActorID: p.ID, ActorName: p.Name, ActorRole: string(p.Role),
		Via: p.Via, RemoteAddr: p.RemoteAddr, Action: rl.action, TargetType: rl.target,
		RequestID: w.Header().Get("x-request-id"),
	}
}

func (a *API) appendAudit(ctx context.Context, ev store.AuditEvent) {
	if _, err := a.st.AppendAudit(context.WithoutCancel(ctx), ev); err != nil {
		// The change is made; losing its record must at least be loud.
		a.log.Error("admin: audit record lost", "action", ev.Action, "actor", ev.ActorName, "target", ev.TargetID, "err", err)
	}
}

// serveAudited runs a change and records it when it succeeds: the target
// as GET showed it before, and as the answer (or a fresh GET) shows it
// after, with secrets removed.
func (a *API) serveAudited(w http.ResponseWriter, r *http.Request, p authz.Principal, rl rule, h http.Handler) {
	objPath := objectPath(r.URL.Path)
	var before json.RawMessage
	if objPath != "" {
		before = a.snapshot(r, objPath)
	}
	tw := &teeWriter{ResponseWriter: w, status: http.StatusOK}
	h.ServeHTTP(tw, r)
	if tw.status/100 != 2 {
		return
	}
	var after json.RawMessage
	switch {
	case r.Method == http.MethodDelete && objPath == r.URL.Path:
		// gone
	case json.Valid(tw.body.Bytes()):
		after = json.RawMessage(bytes.Clone(tw.body.Bytes()))
	case objPath != "":
		after = a.snapshot(r, objPath)
	}
	ev := a.event(r, w, p, rl)
	ev.Before, ev.After = redact(before), redact(after)
	ev.TargetID, ev.TargetName = targetOf(rl.target, ev.After, ev.Before)
	if ev.TargetID == "" {
		ev.TargetID = cmpOr(r.PathValue("id"), r.PathValue("name"))
	}
	a.appendAudit(r.Context(), ev)
}

// objectPath returns "/admin/<collection>/<id>" for a path below an
// object, "" for a collection.
func objectPath(path string) string {
	parts := strings.SplitN(strings.TrimPrefix(path, "/admin/"), "/", 3)
	if len(parts) < 2 || parts[1] == "" {
		return ""
	}
	return "/admin/" + parts[0] + "/" + parts[1]
}

// snapshot GETs path as the same principal and returns the JSON answer,
// nil when there is none (not found, no GET route).
func (a *API) snapshot(r *http.Request, path string) json.RawMessage {
	r2, err := http.NewRequestWithContext(r.Context(), http.MethodGet, (&url.URL{Path: path}).String(), nil)
	if err != nil {
		return nil
	}
	if _, pattern := a.mux.Handler(r2); pattern == "" {
		return nil
	}
	rec := &teeWriter{ResponseWriter: discardWriter{h: http.Header{}}, status: http.StatusOK}
	a.mux.ServeHTTP(rec, r2)
	if rec.status != http.StatusOK || !json.Valid(rec.body.Bytes()) {
		return nil
	}
	return json.RawMessage(bytes.Clone(rec.body.Bytes()))
}

// secretFields are never recorded: secrets shown once, their hashes, and
// passwords.
var secretFields = []string{"secret", "secret_hash", "password", "password_hash"}

// redact removes secretFields at any depth and compacts the JSON.
func redact(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	var strip func(any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if slices.Contains(secretFields, k) {
					delete(x, k)
					continue
				}
				strip(e)
			}
		case []any:
			for _, e := range x {
				strip(e)
			}
		}
	}
	strip(v)
	out, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return out
}

// targetOf finds the id and name of the object of type typ in an answer:
// the answer itself or its member named typ ({"key": {…}, "secret": …}).
func targetOf(typ string, docs ...json.RawMessage) (id, name string) {
	for _, doc := range docs {
		var m map[string]json.RawMessage
		if json.Unmarshal(doc, &m) != nil {
			continue
		}
		if inner, ok := m[typ]; ok {
			var im map[string]json.RawMessage
			if json.Unmarshal(inner, &im) == nil {
				m = im
			}
		}
		var obj struct{ ID, Name, Alias string }
		raw, _ := json.Marshal(m)
		json.Unmarshal(raw, &obj)
		if obj.ID != "" {
			return obj.ID, cmpOr(obj.Name, obj.Alias)
		}
		if obj.Name != "" { // models are known by their name alone
			return obj.Name, obj.Name
		}
	}
	return "", ""
}

// teeWriter passes a response through and keeps a copy of its body, for
// the audit log (changes answer small JSON bodies).
type teeWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   bytes.Buffer
}

func (t *teeWriter) WriteHeader(code int) {
	if !t.wrote {
		t.status, t.wrote = code, true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	t.wrote = true
	if t.body.Len() < maxBody {
		t.body.Write(b)
	}
	return t.ResponseWriter.Write(b)
}

func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// discardWriter is the ResponseWriter of internal snapshots.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}
