package ui

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/authz"
)

// This file holds the pages of the admin API's newer resources: runtime
// models, the audit log, and admin accounts and tokens.

// ---- Models ----

type modelsData struct {
	Models     []admin.Model
	Strategies []string
	Test       *admin.ModelTestResult
	Edit       *admin.Model
	// TargetsText and PriceText fill the edit form.
	TargetsText string
}

var strategies = []string{"ordered", "weighted", "least-busy"}

func (c *Console) modelsView(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error {
	return c.modelsPage(w, r, s, status, msg, nil)
}

func (c *Console) modelsPage(w http.ResponseWriter, r *http.Request, s *session, status int, msg string, test *admin.ModelTestResult) error {
	var ms admin.ModelsResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/models", nil, nil, &ms); err != nil {
		return err
	}
	d := &modelsData{Models: ms.Models, Strategies: strategies, Test: test}
	return c.render(w, r, s, status, "models", "models", d, msg)
}

func (c *Console) models(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.modelsView(w, r, s, http.StatusOK, "")
}

// targetsText writes targets one a line as the form reads them back:
// "provider upstream-id [weight]".
func targetsText(ts []admin.ModelTarget) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.Provider + " " + t.Model)
		if t.Weight != nil {
			b.WriteString(" " + strconv.Itoa(*t.Weight))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// parseTargets reads the targets field: one target a line, the provider,
// the upstream model id and an optional weight separated by spaces.
func parseTargets(s string) ([]admin.ModelTarget, error) {
	var out []admin.ModelTarget
	for i, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 || len(f) > 3 {
			return nil, &apiError{Status: http.StatusBadRequest,
				Message: "targets, line " + strconv.Itoa(i+1) + ": " + strconv.Quote(strings.TrimSpace(line)) + " is not \"provider upstream-id [weight]\""}
		}
		t := admin.ModelTarget{Provider: f[0], Model: f[1]}
		if len(f) == 3 {
			n, err := strconv.Atoi(f[2])
			if err != nil || n < 0 {
				return nil, &apiError{Status: http.StatusBadRequest,
					Message: "targets, line " + strconv.Itoa(i+1) + ": weight " + strconv.Quote(f[2]) + " is not a whole number"}
			}
			t.Weight = &n
		}
		out = append(out, t)
	}
	return out, nil
}

// priceFields reads the price inputs (USD per million tokens). It returns
// nil when all are empty: the model keeps the catalog's price.
func priceFields(r *http.Request) (*admin.ModelPrice, error) {
	var p admin.ModelPrice
	any := false
	for _, f := range []struct {
		name string
		dst  *float64
	}{{"price_input", &p.Input}, {"price_output", &p.Output}, {"price_cache_write_5m", &p.CacheWrite5m},
		{"price_cache_write_1h", &p.CacheWrite1h}, {"price_cache_read", &p.CacheRead}} {
		v := strings.TrimSpace(r.PostFormValue(f.name))
		if v == "" {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 {
			return nil, &apiError{Status: http.StatusBadRequest, Message: strings.TrimPrefix(f.name, "price_") + " price: " + strconv.Quote(v) + " is not a price in USD per million tokens"}
		}
		*f.dst, any = n, true
	}
	if !any {
		return nil, nil
	}
	return &p, nil
}

// modelRequest reads the add and edit forms into an admin API body.
func modelRequest(r *http.Request, create bool) (map[string]any, error) {
	req := map[string]any{}
	if create {
		req["name"] = strings.TrimSpace(r.PostFormValue("name"))
	}
	targets, err := parseTargets(r.PostFormValue("targets"))
	if err != nil {
		return nil, err
	}
	if targets == nil {
		targets = []admin.ModelTarget{}
	}
	req["targets"] = targets
	if v := r.PostFormValue("strategy"); v != "" {
		req["strategy"] = v
	}
	if v := strings.TrimSpace(r.PostFormValue("display_name")); v != "" || !create {
		req["display_name"] = v
	}
	price, err := priceFields(r)
	if err != nil {
		return nil, err
	}
	if price != nil {
		req["price"] = price
	} else if !create {
		req["price"] = nil // back to the file's or the catalog's price
	}
	return req, nil
}

func (c *Console) createModel(w http.ResponseWriter, r *http.Request, s *session) error {
	req, err := modelRequest(r, true)
	if err != nil {
		return c.modelsView(w, r, s, http.StatusBadRequest, err.(*apiError).Message)
	}
	return c.mutate(w, r, s, "POST", "/admin/models", req, "/ui/models", "created", c.modelsView)
}

func (c *Console) modelView(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error {
	var m admin.ModelResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/models/"+url.PathEscape(r.PathValue("name")), nil, nil, &m); err != nil {
		return err
	}
	d := &modelsData{Edit: &m.Model, Strategies: strategies, TargetsText: targetsText(m.Model.Targets)}
	return c.render(w, r, s, status, "model", "models", d, msg)
}

func (c *Console) model(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.modelView(w, r, s, http.StatusOK, "")
}

func (c *Console) editModel(w http.ResponseWriter, r *http.Request, s *session) error {
	req, err := modelRequest(r, false)
	if err != nil {
		return c.modelView(w, r, s, http.StatusBadRequest, err.(*apiError).Message)
	}
	name := url.PathEscape(r.PathValue("name"))
	return c.mutate(w, r, s, "PATCH", "/admin/models/"+name, req, "/ui/models/"+name, "saved", c.modelView)
}

func (c *Console) deleteModel(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.mutate(w, r, s, "DELETE", "/admin/models/"+url.PathEscape(r.PathValue("name")), nil, "/ui/models", "deleted", c.modelsView)
}

// testModel sends the admin API's one-token call through the route and
// shows its result above the models.
func (c *Console) testModel(w http.ResponseWriter, r *http.Request, s *session) error {
	var res admin.ModelTestResult
	if err := c.admin(r.Context(), s, "POST", "/admin/models/"+url.PathEscape(r.PathValue("name"))+"/test", nil, nil, &res); err != nil {
		msg, err := failed(err)
		if err != nil {
			return err
		}
		return c.modelsView(w, r, s, http.StatusBadRequest, msg)
	}
	return c.modelsPage(w, r, s, http.StatusOK, "", &res)
}

// ---- Audit log ----

type auditData struct {
	Events                              []auditRow
	Actor, Action, Target, Since, Until string
	NextURL                             string
}

// auditRow is an event with its change laid out as a diff.
type auditRow struct {
	admin.AuditEvent
	Diff []diffLine
}

// diffLine is one field of a change: its path, and its value before and
// after (empty when absent on that side).
type diffLine struct {
	Field, Before, After string
	Added, Removed       bool
}

// auditDiff compares the before and after documents of a change field by
// field (nested objects flattened as a.b), listing only what differs.
func auditDiff(before, after json.RawMessage) []diffLine {
	b, a := map[string]string{}, map[string]string{}
	flatten("", before, b)
	flatten("", after, a)
	var keys []string
	for k := range b {
		keys = append(keys, k)
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []diffLine
	for _, k := range keys {
		bv, inB := b[k]
		av, inA := a[k]
		if inA && inB && av == bv {
			continue
		}
		out = append(out, diffLine{Field: k, Before: bv, After: av, Added: !inB, Removed: !inA})
	}
	return out
}

// flatten writes the leaves of a JSON document into out, keyed by path;
// arrays stay one value, written compactly.
func flatten(prefix string, raw json.RawMessage, out map[string]string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		if prefix != "" {
			out[prefix] = "null"
		}
		return
	}
	if raw[0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			for k, v := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				flatten(p, v, out)
			}
			return
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		buf.Reset()
		buf.Write(raw)
	}
	out[cmp.Or(prefix, "value")] = buf.String()
}

// auditTime reads a filter's time: a date, a date and time (local to
// UTC), or RFC 3339; the admin API reads the same forms.
func auditTime(v string) string {
	v = strings.TrimSpace(v)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return v
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	d := &auditData{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		Target: strings.TrimSpace(q.Get("target")), Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until"))}
	aq := url.Values{"limit": {strconv.Itoa(pageSize)}}
	fq := url.Values{}
	for k, v := range map[string]string{"actor": d.Actor, "action": d.Action, "target": d.Target, "since": d.Since, "until": d.Until} {
		if v == "" {
			continue
		}
		fq.Set(k, v)
		if k == "since" || k == "until" {
			v = auditTime(v)
		}
		aq.Set(k, v)
	}
	if v := q.Get("cursor"); v != "" {
		aq.Set("cursor", v)
	}
	var ar admin.AuditResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/audit", aq, nil, &ar); err != nil {
		msg, err := failed(err)
		if err != nil {
			return err
		}
		return c.render(w, r, s, http.StatusBadRequest, "audit", "audit", d, msg)
	}
	for _, e := range ar.Events {
		d.Events = append(d.Events, auditRow{AuditEvent: e, Diff: auditDiff(e.Before, e.After)})
	}
	if ar.NextCursor != "" {
		fq.Set("cursor", ar.NextCursor)
		d.NextURL = "/ui/audit?" + fq.Encode()
	}
	return c.render(w, r, s, http.StatusOK, "audit", "audit", d, "")
}

// ---- Admins: accounts and tokens ----

type adminsData struct {
	Accounts []admin.Account
	Tokens   []admin.Token
	Roles    []string
	Teams    []admin.Team
	// Created is an account or token just created, with its password or
	// secret: shown on this answer only.
	CreatedName, CreatedSecret, CreatedKind string
}

var roles = []string{string(authz.Owner), string(authz.Admin), string(authz.TeamAdmin), string(authz.Viewer)}

func (c *Console) adminsView(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error {
	return c.adminsPage(w, r, s, status, msg, &adminsData{})
}

func (c *Console) adminsPage(w http.ResponseWriter, r *http.Request, s *session, status int, msg string, d *adminsData) error {
	var as admin.AccountsResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/accounts", nil, nil, &as); err != nil {
		return err
	}
	var ts admin.TokensResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/tokens", nil, nil, &ts); err != nil {
		return err
	}
	var teams admin.TeamsResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/teams", nil, nil, &teams); err != nil && !forbidden(err) {
		return err
	}
	d.Accounts, d.Tokens, d.Roles, d.Teams = as.Accounts, ts.Tokens, roles, teams.Teams
	return c.render(w, r, s, status, "admins", "admins", d, msg)
}

func (c *Console) admins(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.adminsView(w, r, s, http.StatusOK, "")
}

// generatePassword is a password the console offers when none is typed:
// 128 random bits, URL-safe.
func generatePassword() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (c *Console) createAccount(w http.ResponseWriter, r *http.Request, s *session) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	password := r.PostFormValue("password")
	if password == "" {
		password = generatePassword()
	}
	req := map[string]any{"name": name, "password": password, "role": r.PostFormValue("role")}
	if teams := r.PostForm["teams"]; len(teams) > 0 {
		req["teams"] = teams
	}
	var out admin.AccountResponse
	if err := c.admin(r.Context(), s, "POST", "/admin/accounts", nil, req, &out); err != nil {
		msg, err := failed(err)
		if err != nil {
			return err
		}
		return c.adminsView(w, r, s, http.StatusBadRequest, msg)
	}
	return c.adminsPage(w, r, s, http.StatusCreated, "", &adminsData{CreatedKind: "account", CreatedName: out.Account.Name, CreatedSecret: password})
}

func (c *Console) editAccount(w http.ResponseWriter, r *http.Request, s *session) error {
	req := map[string]any{}
	switch r.PostFormValue("action") {
	case "disable":
		req["disabled"] = true
	case "enable":
		req["disabled"] = false
	default:
		req["role"] = r.PostFormValue("role")
		// The row's form changes the role only; a team admin's teams are
		// kept unless the form sends them.
		if teams, ok := r.PostForm["teams"]; ok {
			req["teams"] = teams
		}
	}
	return c.mutate(w, r, s, "PATCH", "/admin/accounts/"+url.PathEscape(r.PathValue("id")), req, "/ui/admins", "saved", c.adminsView)
}

func (c *Console) deleteAccount(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.mutate(w, r, s, "DELETE", "/admin/accounts/"+url.PathEscape(r.PathValue("id")), nil, "/ui/admins", "deleted", c.adminsView)
}

func (c *Console) createToken(w http.ResponseWriter, r *http.Request, s *session) error {
	req := map[string]any{"name": strings.TrimSpace(r.PostFormValue("name")), "role": r.PostFormValue("role")}
	if teams := r.PostForm["teams"]; len(teams) > 0 {
		req["teams"] = teams
	}
	if v := strings.TrimSpace(r.PostFormValue("expires_in")); v != "" {
		req["expires_in"] = v
	}
	var out admin.CreateTokenResponse
	if err := c.admin(r.Context(), s, "POST", "/admin/tokens", nil, req, &out); err != nil {
		msg, err := failed(err)
		if err != nil {
			return err
		}
		return c.adminsView(w, r, s, http.StatusBadRequest, msg)
	}
	return c.adminsPage(w, r, s, http.StatusCreated, "", &adminsData{CreatedKind: "token", CreatedName: out.Token.Name, CreatedSecret: out.Secret})
}

func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.mutate(w, r, s, "POST", "/admin/tokens/"+url.PathEscape(r.PathValue("id"))+"/revoke", nil, "/ui/admins", "saved", c.adminsView)
}
