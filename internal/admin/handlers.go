package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/store"
)

// optional is a PATCH field: Set when present in the body, Null when it
// was null (clear the value), else V holds it.
type optional[T any] struct {
	Set  bool
	Null bool
	V    T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// ---- users ----

type userRequest struct {
	Name     *string `json:"name"`
	Email    *string `json:"email"`
	Disabled *bool   `json:"disabled"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var req userRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return badRequest("field \"name\" is required")
	}
	u := store.User{Name: *req.Name, CreatedAt: a.opts.Now()}
	if req.Email != nil {
		u.Email = *req.Email
	}
	if req.Disabled != nil {
		u.Disabled = *req.Disabled
	}
	u, err := a.st.CreateUser(r.Context(), u)
	if err != nil {
		return err
	}
	a.changed()
	return a.writeUser(w, r, http.StatusCreated, u)
}

func (a *API) writeUser(w http.ResponseWriter, r *http.Request, status int, u store.User) error {
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, status, map[string]any{"user": d.user(u)})
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	users, err := a.st.ListUsers(r.Context())
	if err != nil {
		return err
	}
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		out = append(out, d.user(u))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.st.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeUser(w, r, http.StatusOK, u)
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request) error {
	var req userRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := a.st.UpdateUser(r.Context(), r.PathValue("id"), func(u *store.User) error {
		if req.Name != nil {
			u.Name = *req.Name
		}
		if req.Email != nil {
			u.Email = *req.Email
		}
		if req.Disabled != nil {
			u.Disabled = *req.Disabled
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.changed()
	return a.writeUser(w, r, http.StatusOK, u)
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := a.st.DeleteUser(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	a.changed()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- teams ----

type teamRequest struct {
	Name *string `json:"name"`
}

func (a *API) createTeam(w http.ResponseWriter, r *http.Request) error {
	var req teamRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return badRequest("field \"name\" is required")
	}
	t, err := a.st.CreateTeam(r.Context(), store.Team{Name: *req.Name, CreatedAt: a.opts.Now()})
	if err != nil {
		return err
	}
	a.changed()
	return a.writeTeam(w, r, http.StatusCreated, t.ID)
}

// writeTeam re-reads the team, so the members are current.
func (a *API) writeTeam(w http.ResponseWriter, r *http.Request, status int, ref string) error {
	t, err := a.st.GetTeam(r.Context(), ref)
	if err != nil {
		return err
	}
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, status, map[string]any{"team": d.team(t)})
}

func (a *API) listTeams(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	teams, err := a.st.ListTeams(r.Context())
	if err != nil {
		return err
	}
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	out := make([]teamView, 0, len(teams))
	for _, t := range teams {
		out = append(out, d.team(t))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"teams": out})
}

func (a *API) getTeam(w http.ResponseWriter, r *http.Request) error {
	return a.writeTeam(w, r, http.StatusOK, r.PathValue("id"))
}

func (a *API) patchTeam(w http.ResponseWriter, r *http.Request) error {
	var req teamRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := a.st.UpdateTeam(r.Context(), r.PathValue("id"), func(t *store.Team) error {
		if req.Name != nil {
			t.Name = *req.Name
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.changed()
	return a.writeTeam(w, r, http.StatusOK, t.ID)
}

func (a *API) deleteTeam(w http.ResponseWriter, r *http.Request) error {
	if err := a.st.DeleteTeam(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	a.changed()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		User string `json:"user"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.User == "" {
		return badRequest("field \"user\" is required")
	}
	if err := a.st.AddMember(r.Context(), r.PathValue("id"), req.User); err != nil {
		return err
	}
	a.changed()
	return a.writeTeam(w, r, http.StatusOK, r.PathValue("id"))
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request) error {
	if err := a.st.RemoveMember(r.Context(), r.PathValue("id"), r.PathValue("user")); err != nil {
		return err
	}
	a.changed()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- keys ----

type createKeyRequest struct {
	Alias     string            `json:"alias"`
	User      string            `json:"user"`
	Team      string            `json:"team"`
	ExpiresAt string            `json:"expires_at"` // RFC 3339
	ExpiresIn string            `json:"expires_in"` // "30d", "12h"
	Models    []string          `json:"models"`
	Tags      map[string]string `json:"tags"`
	Disabled  bool              `json:"disabled"`

	// A budget on the key, created with it. 0 or absent means none.
	BudgetUSD    json.Number `json:"budget_usd"`
	BudgetTokens int64       `json:"budget_tokens"`
	Period       string      `json:"period"`   // default month
	Timezone     string      `json:"timezone"` // default UTC
	Thresholds   []int       `json:"thresholds"`

	// Rate limits on the key, created with it. 0 or absent means none.
	RPM        int64 `json:"rpm"`
	TPM        int64 `json:"tpm"`
	Concurrent int64 `json:"concurrent"`
}

// expiry resolves expires_at / expires_in.
func (a *API) expiry(at, in string) (time.Time, error) {
	switch {
	case at != "" && in != "":
		return time.Time{}, badRequest("give expires_at or expires_in, not both")
	case at != "":
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return time.Time{}, badRequest("field \"expires_at\": %q is not an RFC 3339 time", at)
		}
		return t, nil
	case in != "":
		d, err := parseDuration(in)
		if err != nil || d <= 0 {
			return time.Time{}, badRequest("field \"expires_in\": %q is not a positive duration such as 30d or 12h", in)
		}
		return a.opts.Now().Add(d), nil
	}
	return time.Time{}, nil
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) error {
	var req createKeyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	expires, err := a.expiry(req.ExpiresAt, req.ExpiresIn)
	if err != nil {
		return err
	}
	now := a.opts.Now()
	if !expires.IsZero() && !expires.After(now) {
		return badRequest("the key would expire in the past (%s)", expires.UTC().Format(time.RFC3339))
	}

	// Validate the budget before creating anything, so a typo in the period
	// does not leave a key without the budget that was asked for.
	var budget *store.Budget
	if req.BudgetUSD != "" || req.BudgetTokens != 0 || req.Period != "" || req.Timezone != "" || req.Thresholds != nil {
		b := store.Budget{ScopeKind: store.ScopeKey, Period: cmpOr(req.Period, store.PeriodMonth),
			Timezone: req.Timezone, Thresholds: req.Thresholds, CreatedAt: now}
		if req.BudgetUSD != "" {
			usd, err := parseUSD("budget_usd", req.BudgetUSD)
			if err != nil {
				return err
			}
			if usd > 0 {
				b.LimitUSDMicros = &usd
			}
		}
		if req.BudgetTokens < 0 {
			return badRequest("field \"budget_tokens\" must not be negative")
		}
		if req.BudgetTokens > 0 {
			b.LimitTokens = &req.BudgetTokens
		}
		if b.LimitUSDMicros == nil && b.LimitTokens == nil {
			return badRequest("period, timezone and thresholds need budget_usd or budget_tokens")
		}
		if err := checkPeriodZone(b.Period, b.Timezone); err != nil {
			return err
		}
		budget = &b
	}
	var limit *store.Limit
	if req.RPM < 0 || req.TPM < 0 || req.Concurrent < 0 {
		return badRequest("rpm, tpm and concurrent must not be negative")
	}
	if req.RPM != 0 || req.TPM != 0 || req.Concurrent != 0 {
		limit = &store.Limit{ScopeKind: store.ScopeKey, RPM: req.RPM, TPM: req.TPM, Concurrent: req.Concurrent, CreatedAt: now}
	}

	ctx := r.Context()
	k, secret, err := a.st.CreateKey(ctx, store.Key{Alias: req.Alias, UserID: req.User, TeamID: req.Team,
		ExpiresAt: expires, Models: req.Models, Tags: req.Tags, Disabled: req.Disabled, CreatedAt: now})
	if err != nil {
		return err
	}
	// The secret is in this response only; it is never stored or logged.
	var resp struct {
		Key    keyView     `json:"key"`
		Secret string      `json:"secret"`
		Budget *budgetView `json:"budget,omitempty"`
		Limit  *limitView  `json:"limit,omitempty"`
	}
	if budget != nil {
		budget.ScopeID = k.ID
		b, err := a.st.CreateBudget(ctx, *budget)
		if err != nil {
			a.undoKey(r, k.ID)
			return err
		}
		budget = &b
	}
	if limit != nil {
		limit.ScopeID = k.ID
		l, err := a.st.CreateLimit(ctx, *limit)
		if err != nil {
			a.undoKey(r, k.ID)
			return err
		}
		limit = &l
	}
	a.changed()
	d, err := a.directory(ctx)
	if err != nil {
		return err
	}
	resp.Key, resp.Secret = d.key(k, now), secret
	if budget != nil {
		v := d.budget(*budget)
		resp.Budget = &v
	}
	if limit != nil {
		v := d.limit(*limit)
		resp.Limit = &v
	}
	return writeJSON(w, http.StatusCreated, resp)
}

// undoKey deletes a key whose budget or limit could not be created, so a
// failed request leaves nothing behind.
func (a *API) undoKey(r *http.Request, id string) {
	if err := a.st.DeleteKey(context.WithoutCancel(r.Context()), id); err != nil {
		a.log.Error("admin: undo key creation", "key", id, "err", err)
	}
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// checkPeriodZone validates a budget period and time zone with messages
// that name the field.
func checkPeriodZone(period, zone string) error {
	if !store.ValidPeriod(period) {
		return badRequest("field \"period\": %q is not one of day, week, month, total", period)
	}
	if _, err := store.LoadLocation(zone); err != nil {
		return badRequest("field \"timezone\": %v", err)
	}
	return nil
}

func (a *API) writeKey(w http.ResponseWriter, r *http.Request, status int, k store.Key) error {
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, status, map[string]any{"key": d.key(k, a.opts.Now())})
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "user", "team")
	if err != nil {
		return err
	}
	keys, err := a.st.ListKeys(r.Context(), store.KeyFilter{UserID: q["user"], TeamID: q["team"]})
	if err != nil {
		return err
	}
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	now := a.opts.Now()
	out := make([]keyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, d.key(k, now))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := a.st.GetKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeKey(w, r, http.StatusOK, k)
}

type patchKeyRequest struct {
	Alias     *string                     `json:"alias"`
	User      optional[string]            `json:"user"`
	Team      optional[string]            `json:"team"`
	ExpiresAt optional[string]            `json:"expires_at"`
	ExpiresIn string                      `json:"expires_in"`
	Models    optional[[]string]          `json:"models"`
	Tags      optional[map[string]string] `json:"tags"`
	Disabled  *bool                       `json:"disabled"`
}

func (a *API) patchKey(w http.ResponseWriter, r *http.Request) error {
	var req patchKeyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	var expires time.Time
	if (req.ExpiresAt.Set && !req.ExpiresAt.Null) || req.ExpiresIn != "" {
		var err error
		if expires, err = a.expiry(req.ExpiresAt.V, req.ExpiresIn); err != nil {
			return err
		}
	}
	k, err := a.st.UpdateKey(r.Context(), r.PathValue("id"), func(k *store.Key) error {
		if req.Alias != nil {
			k.Alias = *req.Alias
		}
		if req.User.Set {
			k.UserID = req.User.V
		}
		if req.Team.Set {
			k.TeamID = req.Team.V
		}
		if req.ExpiresAt.Set || req.ExpiresIn != "" {
			k.ExpiresAt = expires
		}
		if req.Models.Set {
			k.Models = req.Models.V
		}
		if req.Tags.Set {
			k.Tags = req.Tags.V
		}
		if req.Disabled != nil {
			k.Disabled = *req.Disabled
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.changed()
	return a.writeKey(w, r, http.StatusOK, k)
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) error {
	k, err := a.st.RevokeKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a.changed()
	return a.writeKey(w, r, http.StatusOK, k)
}

func (a *API) deleteKey(w http.ResponseWriter, r *http.Request) error {
	if err := a.st.DeleteKey(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	a.changed()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- budgets ----

// scopeRef is the "exactly one of key, user, team" of budget and limit
// requests.
type scopeRef struct {
	Key  string `json:"key"`
	User string `json:"user"`
	Team string `json:"team"`
}

func (s scopeRef) resolve() (kind, ref string, err error) {
	n := 0
	for _, c := range []struct{ kind, ref string }{{store.ScopeKey, s.Key}, {store.ScopeUser, s.User}, {store.ScopeTeam, s.Team}} {
		if c.ref != "" {
			kind, ref = c.kind, c.ref
			n++
		}
	}
	if n != 1 {
		return "", "", badRequest("name exactly one of \"key\", \"user\" or \"team\"")
	}
	return kind, ref, nil
}

type createBudgetRequest struct {
	scopeRef
	LimitUSD    *json.Number `json:"limit_usd"`
	LimitTokens *int64       `json:"limit_tokens"`
	Period      string       `json:"period"`
	Timezone    string       `json:"timezone"`
	Thresholds  []int        `json:"thresholds"`
}

func (a *API) createBudget(w http.ResponseWriter, r *http.Request) error {
	var req createBudgetRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	kind, ref, err := req.resolve()
	if err != nil {
		return err
	}
	if req.Period == "" {
		return badRequest("field \"period\" is required: day, week, month or total")
	}
	if err := checkPeriodZone(req.Period, req.Timezone); err != nil {
		return err
	}
	b := store.Budget{ScopeKind: kind, ScopeID: ref, LimitTokens: req.LimitTokens, Period: req.Period,
		Timezone: req.Timezone, Thresholds: req.Thresholds, CreatedAt: a.opts.Now()}
	if req.LimitUSD != nil {
		usd, err := parseUSD("limit_usd", *req.LimitUSD)
		if err != nil {
			return err
		}
		b.LimitUSDMicros = &usd
	}
	b, err = a.st.CreateBudget(r.Context(), b)
	if err != nil {
		return err
	}
	a.changed()
	return a.writeBudget(w, r, http.StatusCreated, b)
}

func (a *API) writeBudget(w http.ResponseWriter, r *http.Request, status int, b store.Budget) error {
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, status, map[string]any{"budget": d.budget(b)})
}

// scopeFilter reads ?key=, ?user= or ?team= (at most one).
func scopeFilter(r *http.Request) (store.ScopeFilter, error) {
	q, err := query(r, "key", "user", "team")
	if err != nil {
		return store.ScopeFilter{}, err
	}
	if len(q) == 0 {
		return store.ScopeFilter{}, nil
	}
	kind, ref, err := scopeRef{Key: q["key"], User: q["user"], Team: q["team"]}.resolve()
	return store.ScopeFilter{ScopeKind: kind, ScopeID: ref}, err
}

func (a *API) listBudgets(w http.ResponseWriter, r *http.Request) error {
	f, err := scopeFilter(r)
	if err != nil {
		return err
	}
	budgets, err := a.st.ListBudgets(r.Context(), f)
	if err != nil {
		return err
	}
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	out := make([]budgetView, 0, len(budgets))
	for _, b := range budgets {
		out = append(out, d.budget(b))
	}
	slices.SortStableFunc(out, func(x, y budgetView) int {
		return byScope(x.ScopeKind, x.Scope, x.Period, y.ScopeKind, y.Scope, y.Period)
	})
	return writeJSON(w, http.StatusOK, map[string]any{"budgets": out})
}

func (a *API) getBudget(w http.ResponseWriter, r *http.Request) error {
	b, err := a.st.GetBudget(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeBudget(w, r, http.StatusOK, b)
}

type patchBudgetRequest struct {
	LimitUSD    optional[json.Number] `json:"limit_usd"`
	LimitTokens optional[int64]       `json:"limit_tokens"`
	Period      *string               `json:"period"`
	Timezone    *string               `json:"timezone"`
	Thresholds  optional[[]int]       `json:"thresholds"`
}

func (a *API) patchBudget(w http.ResponseWriter, r *http.Request) error {
	var req patchBudgetRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	var usd int64
	if req.LimitUSD.Set && !req.LimitUSD.Null {
		var err error
		if usd, err = parseUSD("limit_usd", req.LimitUSD.V); err != nil {
			return err
		}
	}
	b, err := a.st.UpdateBudget(r.Context(), r.PathValue("id"), func(b *store.Budget) error {
		if req.LimitUSD.Set {
			b.LimitUSDMicros = nil
			if !req.LimitUSD.Null {
				b.LimitUSDMicros = &usd
			}
		}
		if req.LimitTokens.Set {
			b.LimitTokens = nil
			if !req.LimitTokens.Null {
				b.LimitTokens = &req.LimitTokens.V
			}
		}
		if req.Period != nil {
			b.Period = *req.Period
		}
		if req.Timezone != nil {
			b.Timezone = *req.Timezone
		}
		if req.Thresholds.Set {
			b.Thresholds = req.Thresholds.V // null: back to the defaults
		}
		return checkPeriodZone(b.Period, b.Timezone)
	})
	if err != nil {
		return err
	}
	a.changed()
	return a.writeBudget(w, r, http.StatusOK, b)
}

func (a *API) deleteBudget(w http.ResponseWriter, r *http.Request) error {
	if err := a.st.DeleteBudget(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	a.changed()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- limits ----

type limitRequest struct {
	scopeRef
	RPM        *int64 `json:"rpm"`
	TPM        *int64 `json:"tpm"`
	Concurrent *int64 `json:"concurrent"`
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func (a *API) createLimit(w http.ResponseWriter, r *http.Request) error {
	var req limitRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	kind, ref, err := req.resolve()
	if err != nil {
		return err
	}
	l, err := a.st.CreateLimit(r.Context(), store.Limit{ScopeKind: kind, ScopeID: ref, RPM: deref(req.RPM),
		TPM: deref(req.TPM), Concurrent: deref(req.Concurrent), CreatedAt: a.opts.Now()})
	if err != nil {
		return err
	}
	a.changed()
	return a.writeLimit(w, r, http.StatusCreated, l)
}

func (a *API) writeLimit(w http.ResponseWriter, r *http.Request, status int, l store.Limit) error {
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, status, map[string]any{"limit": d.limit(l)})
}

func (a *API) listLimits(w http.ResponseWriter, r *http.Request) error {
	f, err := scopeFilter(r)
	if err != nil {
		return err
	}
	limits, err := a.st.ListLimits(r.Context(), f)
	if err != nil {
		return err
	}
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	out := make([]limitView, 0, len(limits))
	for _, l := range limits {
		out = append(out, d.limit(l))
	}
	slices.SortStableFunc(out, func(x, y limitView) int {
		return byScope(x.ScopeKind, x.Scope, "", y.ScopeKind, y.Scope, "")
	})
	return writeJSON(w, http.StatusOK, map[string]any{"limits": out})
}

func (a *API) getLimit(w http.ResponseWriter, r *http.Request) error {
	l, err := a.st.GetLimit(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeLimit(w, r, http.StatusOK, l)
}

func (a *API) patchLimit(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RPM        *int64 `json:"rpm"`
		TPM        *int64 `json:"tpm"`
		Concurrent *int64 `json:"concurrent"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	l, err := a.st.UpdateLimit(r.Context(), r.PathValue("id"), func(l *store.Limit) error {
		if req.RPM != nil {
			l.RPM = *req.RPM
		}
		if req.TPM != nil {
			l.TPM = *req.TPM
		}
		if req.Concurrent != nil {
			l.Concurrent = *req.Concurrent
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.changed()
	return a.writeLimit(w, r, http.StatusOK, l)
}

func (a *API) deleteLimit(w http.ResponseWriter, r *http.Request) error {
	if err := a.st.DeleteLimit(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	a.changed()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- query strings ----

// query returns the query parameters of r, refusing names not in allowed
// and repeated parameters, so a typo such as ?usr=alice is a 400 instead of
// an unfiltered answer.
func query(r *http.Request, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for name, vs := range r.URL.Query() {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return nil, badRequest("unknown query parameter %q: this endpoint takes none", name)
			}
			return nil, badRequest("unknown query parameter %q (known: %s)", name, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, badRequest("query parameter %q given %d times", name, len(vs))
		}
		if vs[0] != "" {
			out[name] = vs[0]
		}
	}
	return out, nil
}

func noQuery(r *http.Request) error {
	_, err := query(r)
	return err
}
