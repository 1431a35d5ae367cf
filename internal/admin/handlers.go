package admin

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/store"
)

// Optional is a PATCH field: Set when present in the body, Null when it
// was null (clear the value), else V holds it. A pointer cannot tell
// "leave alone" from "clear", which PATCH needs for optional values such as
// a key's team or a budget's token limit. It is exported for the typed
// client, which sends it with `omitzero`: an unset field is left out.
type Optional[T any] struct {
	Set  bool
	Null bool
	V    T
}

// Some is an Optional set to v.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, V: v} }

// Null is an Optional set to null: PATCH clears the value.
func Null[T any]() Optional[T] { return Optional[T]{Set: true, Null: true} }

// IsZero reports an unset field, which `omitzero` leaves out.
func (o Optional[T]) IsZero() bool { return !o.Set }

// MarshalJSON writes null or the value; an unset field is left out by
// `omitzero` before it gets here.
func (o Optional[T]) MarshalJSON() ([]byte, error) {
	if o.Null || !o.Set {
		return []byte("null"), nil
	}
	return json.Marshal(o.V)
}

// UnmarshalJSON records that the field was present, and whether as null.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// ---- users ----

// UserRequest is the body of POST and PATCH /admin/users; absent fields
// are left alone by PATCH.
type UserRequest struct {
	Name     *string `json:"name,omitempty"`
	Email    *string `json:"email,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var req UserRequest
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
	return writeJSON(w, status, UserResponse{d.user(u)})
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
	out := make([]User, 0, len(users))
	for _, u := range users {
		out = append(out, d.user(u))
	}
	return writeJSON(w, http.StatusOK, UsersResponse{out})
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.st.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeUser(w, r, http.StatusOK, u)
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request) error {
	var req UserRequest
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

// TeamRequest is the body of POST and PATCH /admin/teams.
type TeamRequest struct {
	Name *string `json:"name,omitempty"`
}

// MemberRequest is the body of POST /admin/teams/{id}/members.
type MemberRequest struct {
	User string `json:"user"` // id or name
}

func (a *API) createTeam(w http.ResponseWriter, r *http.Request) error {
	var req TeamRequest
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
	return writeJSON(w, status, TeamResponse{d.team(t)})
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
	sc, err := a.scopeOf(r.Context())
	if err != nil {
		return err
	}
	out := make([]Team, 0, len(teams))
	for _, t := range teams {
		if !sc.team(t.ID) {
			continue
		}
		out = append(out, d.team(t))
	}
	return writeJSON(w, http.StatusOK, TeamsResponse{out})
}

func (a *API) getTeam(w http.ResponseWriter, r *http.Request) error {
	return a.writeTeam(w, r, http.StatusOK, r.PathValue("id"))
}

func (a *API) patchTeam(w http.ResponseWriter, r *http.Request) error {
	var req TeamRequest
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
	var req MemberRequest
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

// CreateKeyRequest is the body of POST /admin/keys: the key, and
// optionally a budget and a rate limit on it, created together in one
// transaction.
type CreateKeyRequest struct {
	Alias     string            `json:"alias,omitempty"`
	User      string            `json:"user,omitempty"`       // id or name
	Team      string            `json:"team,omitempty"`       // id or name
	ExpiresAt string            `json:"expires_at,omitempty"` // RFC 3339
	ExpiresIn string            `json:"expires_in,omitempty"` // "30d", "12h"
	Models    []string          `json:"models,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
	Disabled  bool              `json:"disabled,omitempty"`

	// Budget, when set, is a budget on the new key.
	Budget *KeyBudget `json:"budget,omitempty"`
	// Limit, when set, is a rate limit on the new key.
	Limit *KeyLimit `json:"limit,omitempty"`

	// The flat budget and limit fields came before the Budget and Limit
	// objects and are still accepted (not together with the objects); 0 or
	// absent means none. New clients send the objects.
	BudgetUSD    json.Number `json:"budget_usd,omitempty"`
	BudgetTokens int64       `json:"budget_tokens,omitempty"`
	Period       string      `json:"period,omitempty"`
	Timezone     string      `json:"timezone,omitempty"`
	Thresholds   []int       `json:"thresholds,omitempty"`
	RPM          int64       `json:"rpm,omitempty"`
	TPM          int64       `json:"tpm,omitempty"`
	Concurrent   int64       `json:"concurrent,omitempty"`
}

// KeyBudget is the budget of a CreateKeyRequest: a POST /admin/budgets body
// without the scope, which is the new key. Period defaults to month.
type KeyBudget struct {
	LimitUSD    *json.Number `json:"limit_usd,omitempty"`
	LimitTokens *int64       `json:"limit_tokens,omitempty"`
	Period      string       `json:"period,omitempty"`
	Timezone    string       `json:"timezone,omitempty"`
	Thresholds  []int        `json:"thresholds,omitempty"`
}

// KeyLimit is the rate limit of a CreateKeyRequest: a POST /admin/limits
// body without the scope.
type KeyLimit struct {
	RPM        int64 `json:"rpm,omitempty"`
	TPM        int64 `json:"tpm,omitempty"`
	Concurrent int64 `json:"concurrent,omitempty"`
}

// flatBudget returns the deprecated flat budget fields as a KeyBudget, or
// nil when none is set.
func (req *CreateKeyRequest) flatBudget() (*KeyBudget, error) {
	if req.BudgetUSD == "" && req.BudgetTokens == 0 && req.Period == "" && req.Timezone == "" && req.Thresholds == nil {
		return nil, nil
	}
	b := &KeyBudget{Period: req.Period, Timezone: req.Timezone, Thresholds: req.Thresholds}
	if req.BudgetUSD != "" {
		usd, err := parseUSD("budget_usd", req.BudgetUSD)
		if err != nil {
			return nil, err
		}
		if usd > 0 {
			b.LimitUSD = &req.BudgetUSD
		}
	}
	if req.BudgetTokens < 0 {
		return nil, badRequest("field \"budget_tokens\" must not be negative")
	}
	if req.BudgetTokens > 0 {
		b.LimitTokens = &req.BudgetTokens
	}
	if b.LimitUSD == nil && b.LimitTokens == nil {
		return nil, badRequest("period, timezone and thresholds need budget_usd or budget_tokens")
	}
	return b, nil
}

// flatLimit returns the deprecated flat limit fields as a KeyLimit, or nil.
func (req *CreateKeyRequest) flatLimit() *KeyLimit {
	if req.RPM == 0 && req.TPM == 0 && req.Concurrent == 0 {
		return nil
	}
	return &KeyLimit{RPM: req.RPM, TPM: req.TPM, Concurrent: req.Concurrent}
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
	var req CreateKeyRequest
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
	kb, err := req.flatBudget()
	if err != nil {
		return err
	}
	if kb != nil && req.Budget != nil {
		return badRequest("give the budget as the \"budget\" object or as budget_usd, budget_tokens, period, timezone and thresholds, not both")
	}
	kl := req.flatLimit()
	if kl != nil && req.Limit != nil {
		return badRequest("give the rate limit as the \"limit\" object or as rpm, tpm and concurrent, not both")
	}
	kb, kl = cmp.Or(req.Budget, kb), cmp.Or(req.Limit, kl)

	var budget *store.Budget
	if kb != nil {
		b := store.Budget{Period: cmpOr(kb.Period, store.PeriodMonth), Timezone: kb.Timezone,
			LimitTokens: kb.LimitTokens, Thresholds: kb.Thresholds, CreatedAt: now}
		if kb.LimitUSD != nil {
			usd, err := parseUSD("limit_usd", *kb.LimitUSD)
			if err != nil {
				return err
			}
			b.LimitUSDMicros = &usd
		}
		if err := checkPeriodZone(b.Period, b.Timezone); err != nil {
			return err
		}
		budget = &b
	}
	var limit *store.Limit
	if kl != nil {
		if kl.RPM < 0 || kl.TPM < 0 || kl.Concurrent < 0 {
			return badRequest("rpm, tpm and concurrent must not be negative")
		}
		limit = &store.Limit{RPM: kl.RPM, TPM: kl.TPM, Concurrent: kl.Concurrent, CreatedAt: now}
	}

	ctx := r.Context()
	nk, err := a.st.CreateKeyWith(ctx, store.Key{Alias: req.Alias, UserID: req.User, TeamID: req.Team,
		ExpiresAt: expires, Models: req.Models, Tags: req.Tags, Disabled: req.Disabled, CreatedAt: now}, budget, limit)
	if err != nil {
		return err
	}
	a.changed()
	d, err := a.directory(ctx)
	if err != nil {
		return err
	}
	resp := CreateKeyResponse{Key: d.key(nk.Key, now), Secret: nk.Secret}
	if nk.Budget != nil {
		v := d.budget(*nk.Budget)
		resp.Budget = &v
	}
	if nk.Limit != nil {
		v := d.limit(*nk.Limit)
		resp.Limit = &v
	}
	return writeJSON(w, http.StatusCreated, resp)
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
	return writeJSON(w, status, KeyResponse{d.key(k, a.opts.Now())})
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
	sc, err := a.scopeOf(r.Context())
	if err != nil {
		return err
	}
	now := a.opts.Now()
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		if !sc.key(k) {
			continue
		}
		out = append(out, d.key(k, now))
	}
	return writeJSON(w, http.StatusOK, KeysResponse{out})
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := a.st.GetKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeKey(w, r, http.StatusOK, k)
}

// PatchKeyRequest is the body of PATCH /admin/keys/{id}; absent fields are
// left alone, null clears an optional one.
type PatchKeyRequest struct {
	Alias     *string                     `json:"alias,omitempty"`
	User      Optional[string]            `json:"user,omitzero"` // id or name
	Team      Optional[string]            `json:"team,omitzero"` // id or name
	ExpiresAt Optional[string]            `json:"expires_at,omitzero"`
	ExpiresIn string                      `json:"expires_in,omitempty"`
	Models    Optional[[]string]          `json:"models,omitzero"`
	Tags      Optional[map[string]string] `json:"tags,omitzero"`
	Disabled  *bool                       `json:"disabled,omitempty"`
}

func (a *API) patchKey(w http.ResponseWriter, r *http.Request) error {
	var req PatchKeyRequest
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

// RotateKeyRequest is the body of POST /admin/keys/{id}/rotate, which may
// also be empty.
type RotateKeyRequest struct {
	// Overlap is how long the replaced secret keeps working, so that the
	// clients holding it can be moved over: "1h", "7d". Empty or "0": it
	// stops at once.
	Overlap string `json:"overlap,omitempty"`
}

// RotateKeyResponse answers POST /admin/keys/{id}/rotate. The new secret is
// in this answer only; it is never stored or logged.
type RotateKeyResponse struct {
	Key    Key    `json:"key"`
	Secret string `json:"secret"`
	// PreviousExpiresAt is when the replaced secret stops working; null
	// when it already has.
	PreviousExpiresAt *time.Time `json:"previous_expires_at"`
}

func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) error {
	var req RotateKeyRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	now := a.opts.Now()
	var until time.Time
	if req.Overlap != "" {
		d, err := parseDuration(req.Overlap)
		if err != nil {
			return badRequest("field \"overlap\": %q is not a duration such as 1h or 7d", req.Overlap)
		}
		if d > 0 {
			until = now.Add(d)
		}
	}
	k, secret, err := a.st.RotateKey(r.Context(), r.PathValue("id"), until)
	if err != nil {
		return err
	}
	a.changed()
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, RotateKeyResponse{Key: d.key(k, now), Secret: secret, PreviousExpiresAt: timeJSON(k.PrevExpiresAt)})
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

// ScopeRef is the "exactly one of key, user, team" (id or name) of budget
// and limit requests.
type ScopeRef struct {
	Key  string `json:"key,omitempty"`
	User string `json:"user,omitempty"`
	Team string `json:"team,omitempty"`
}

func (s ScopeRef) resolve() (kind, ref string, err error) {
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

// BudgetRequest is the body of POST /admin/budgets.
type BudgetRequest struct {
	ScopeRef
	LimitUSD    *json.Number `json:"limit_usd,omitempty"` // exact decimal dollars
	LimitTokens *int64       `json:"limit_tokens,omitempty"`
	Period      string       `json:"period"`
	Timezone    string       `json:"timezone,omitempty"`
	Thresholds  []int        `json:"thresholds,omitempty"`
	// Mode is "estimate" (default) or "strict"; Overdraft "5%", "0.50"
	// (USD) or "20000 tokens", default 5 % (package limits).
	Mode      string `json:"mode,omitempty"`
	Overdraft string `json:"overdraft,omitempty"`
}

func (a *API) createBudget(w http.ResponseWriter, r *http.Request) error {
	var req BudgetRequest
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
		Timezone: req.Timezone, Thresholds: req.Thresholds, Mode: req.Mode, Overdraft: req.Overdraft, CreatedAt: a.opts.Now()}
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
	return writeJSON(w, status, BudgetResponse{d.budget(b)})
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
	kind, ref, err := ScopeRef{Key: q["key"], User: q["user"], Team: q["team"]}.resolve()
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
	sc, err := a.scopeOf(r.Context())
	if err != nil {
		return err
	}
	out := make([]Budget, 0, len(budgets))
	for _, b := range budgets {
		if !sc.scope(b.ScopeKind, b.ScopeID) {
			continue
		}
		out = append(out, d.budget(b))
	}
	slices.SortStableFunc(out, func(x, y Budget) int {
		return byScope(x.ScopeKind, x.Scope, x.Period, y.ScopeKind, y.Scope, y.Period)
	})
	return writeJSON(w, http.StatusOK, BudgetsResponse{out})
}

func (a *API) getBudget(w http.ResponseWriter, r *http.Request) error {
	b, err := a.st.GetBudget(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeBudget(w, r, http.StatusOK, b)
}

// PatchBudgetRequest is the body of PATCH /admin/budgets/{id}; absent
// fields are left alone, null clears a limit (or restores the default
// thresholds).
type PatchBudgetRequest struct {
	LimitUSD    Optional[json.Number] `json:"limit_usd,omitzero"` // exact decimal dollars
	LimitTokens Optional[int64]       `json:"limit_tokens,omitzero"`
	Period      *string               `json:"period,omitempty"`
	Timezone    *string               `json:"timezone,omitempty"`
	Thresholds  Optional[[]int]       `json:"thresholds,omitzero"`
	Mode        *string               `json:"mode,omitempty"`
	Overdraft   *string               `json:"overdraft,omitempty"` // "": back to the default
}

func (a *API) patchBudget(w http.ResponseWriter, r *http.Request) error {
	var req PatchBudgetRequest
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
		if req.Mode != nil {
			b.Mode = *req.Mode
		}
		if req.Overdraft != nil {
			b.Overdraft = *req.Overdraft
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

// LimitRequest is the body of POST /admin/limits.
type LimitRequest struct {
	ScopeRef
	RPM        *int64 `json:"rpm,omitempty"`
	TPM        *int64 `json:"tpm,omitempty"`
	Concurrent *int64 `json:"concurrent,omitempty"`
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func (a *API) createLimit(w http.ResponseWriter, r *http.Request) error {
	var req LimitRequest
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
	return writeJSON(w, status, LimitResponse{d.limit(l)})
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
	sc, err := a.scopeOf(r.Context())
	if err != nil {
		return err
	}
	out := make([]Limit, 0, len(limits))
	for _, l := range limits {
		if !sc.scope(l.ScopeKind, l.ScopeID) {
			continue
		}
		out = append(out, d.limit(l))
	}
	slices.SortStableFunc(out, func(x, y Limit) int {
		return byScope(x.ScopeKind, x.Scope, "", y.ScopeKind, y.Scope, "")
	})
	return writeJSON(w, http.StatusOK, LimitsResponse{out})
}

func (a *API) getLimit(w http.ResponseWriter, r *http.Request) error {
	l, err := a.st.GetLimit(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeLimit(w, r, http.StatusOK, l)
}

// PatchLimitRequest is the body of PATCH /admin/limits/{id}; absent fields
// are left alone, 0 removes that limit.
type PatchLimitRequest struct {
	RPM        *int64 `json:"rpm,omitempty"`
	TPM        *int64 `json:"tpm,omitempty"`
	Concurrent *int64 `json:"concurrent,omitempty"`
}

func (a *API) patchLimit(w http.ResponseWriter, r *http.Request) error {
	var req PatchLimitRequest
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
