package admin

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/keys"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// ClientHeader is the header the CLI sets ("cli") so that the audit log
// can say a change came through it. It is a label only: it grants nothing.
const ClientHeader = "X-Tollgate-Client"

// Password rules for admin accounts.
const (
	minPassword = 12
	maxPassword = 1024
)

// authenticate checks the credential of r and returns its principal:
//
//   - Authorization: Basic name:password — an admin account (the CLI with
//     TOLLGATE_ADMIN_USER and TOLLGATE_ADMIN_PASSWORD);
//   - Authorization: Bearer tgt-… (or x-api-key) — a scoped admin token;
//   - Authorization: Bearer <admin key> — the bootstrap admin key (owner).
//
// Basic is chosen over a session token for accounts because the CLI makes
// a handful of requests per run and the console has its own sessions: a
// second, API-side session store would be one more secret to keep.
func (a *API) authenticate(r *http.Request) (authz.Principal, error) {
	if name, password, ok := r.BasicAuth(); ok {
		return a.authenticateAccount(r.Context(), name, password, a.clientAddr(r))
	}
	secret, _ := keys.FromHeader(r.Header) // a SigV4 signature is no admin key
	if secret == "" {
		return authz.Principal{}, unauthorized("missing admin key: send Authorization: Bearer <admin key>")
	}
	if strings.HasPrefix(secret, store.AdminTokenPrefix) {
		return a.checkToken(r.Context(), secret)
	}
	return a.CheckAdminKey(r.Context(), secret)
}

// via labels the channel of a request for the audit log.
func via(r *http.Request) string {
	if strings.EqualFold(r.Header.Get(ClientHeader), "cli") {
		return authz.ViaCLI
	}
	return authz.ViaAPI
}

// clientAddr is the address the audit log records.
func (a *API) clientAddr(r *http.Request) string {
	if a.opts.ClientIP != nil {
		return a.opts.ClientIP(r)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// checkToken returns the principal of a scoped admin token.
func (a *API) checkToken(ctx context.Context, secret string) (authz.Principal, error) {
	t, err := a.st.AdminTokenByHash(ctx, store.HashSecret(secret))
	if err != nil {
		if isNotFound(err) {
			return authz.Principal{}, unauthorized("invalid admin token")
		}
		return authz.Principal{}, err
	}
	now := a.opts.Now()
	if !t.Active(now) {
		return authz.Principal{}, unauthorized("admin token " + t.Name + " is revoked or expired")
	}
	if err := a.st.TouchAdminToken(ctx, t.ID, now); err != nil {
		a.log.Warn("admin: record token use", "token", t.ID, "err", err)
	}
	return authz.Principal{Kind: authz.KindToken, ID: t.ID, Name: t.Name, Role: authz.Role(t.Role), Teams: t.TeamIDs}, nil
}

// Authenticate checks an account's name and password, for the console's
// sign-in page, and returns its principal (Via and RemoteAddr left for the
// caller). Every failure is the same generic 401, and an unknown name
// costs as much as a wrong password. Repeated failures for one name are
// refused for a while without checking the password (see failLimiter).
func (a *API) Authenticate(ctx context.Context, name, password string) (authz.Principal, error) {
	return a.authenticateAccount(ctx, name, password, "")
}

var errBadLogin = unauthorized("invalid account name or password")

func (a *API) authenticateAccount(ctx context.Context, name, password, addr string) (authz.Principal, error) {
	keys := []string{"name:" + name}
	if addr != "" {
		keys = append(keys, "addr:"+addr)
	}
	if a.fails.blocked(keys...) {
		return authz.Principal{}, apierror.Client(http.StatusTooManyRequests, apierror.TypeRateLimit,
			"too many failed sign-ins; try again in a few minutes")
	}
	acct, err := a.st.GetAdminAccount(ctx, name)
	if err != nil && !isNotFound(err) {
		return authz.Principal{}, err
	}
	hash := acct.PasswordHash
	if err != nil || acct.Name != name {
		hash = a.dummyHash() // same cost as a real check
	}
	ok := a.checkPassword(hash, password)
	if !ok || err != nil || acct.Name != name || acct.Disabled {
		a.fails.fail(keys...)
		return authz.Principal{}, errBadLogin
	}
	a.fails.reset(keys...)
	now := a.opts.Now()
	if now.Sub(acct.LastLoginAt) > time.Minute {
		if err := a.st.TouchAdminLogin(ctx, acct.ID, now); err != nil {
			a.log.Warn("admin: record sign-in", "account", acct.ID, "err", err)
		}
	}
	return authz.Principal{Kind: authz.KindAccount, ID: acct.ID, Name: acct.Name, Role: authz.Role(acct.Role), Teams: acct.TeamIDs}, nil
}

// checkPassword verifies under a bound on concurrent verifications: each
// costs the hash's memory (19 MiB by default), and a flood of Basic
// requests must not exhaust a small gateway.
func (a *API) checkPassword(hash, password string) bool {
	a.hashSem <- struct{}{}
	defer func() { <-a.hashSem }()
	ok, err := authz.CheckPassword(hash, password)
	if err != nil {
		a.log.Error("admin: unusable password hash", "err", err)
	}
	return ok && err == nil
}

func (a *API) dummyHash() string {
	a.dummyOnce.Do(func() { a.dummy = authz.HashPassword("not a password", a.passwordParams()) })
	return a.dummy
}

func (a *API) passwordParams() authz.Argon2idParams {
	if a.opts.PasswordParams != nil {
		return *a.opts.PasswordParams
	}
	return authz.DefaultArgon2id
}

func isNotFound(err error) bool { return toError(err).Status == http.StatusNotFound }

// failLimiter counts failed sign-ins per account name and per client
// address: after maxFails within failWindow, further attempts are refused
// until the window has passed. It is in memory, per replica, and bounded.
type failLimiter struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*failCount
}

type failCount struct {
	n     int
	first time.Time
}

const (
	maxFails    = 10
	failWindow  = 15 * time.Minute
	maxFailKeys = 10_000
)

func (l *failLimiter) blocked(keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		if c := l.m[k]; c != nil && now.Sub(c.first) < failWindow && c.n >= maxFails {
			return true
		}
	}
	return false
}

func (l *failLimiter) fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		c := l.m[k]
		if c == nil || now.Sub(c.first) >= failWindow {
			if len(l.m) >= maxFailKeys {
				l.prune(now)
			}
			c = &failCount{first: now}
			l.m[k] = c
		}
		c.n++
	}
}

func (l *failLimiter) reset(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.m, k)
	}
}

// prune drops expired entries, and if none expired, an arbitrary half.
func (l *failLimiter) prune(now time.Time) {
	for k, c := range l.m {
		if now.Sub(c.first) >= failWindow {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < maxFailKeys/2 {
			break
		}
		delete(l.m, k)
	}
}

// ---- accounts ----

// Account is an admin account as the API shows it: never its password or
// hash.
type Account struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	Teams       []string   `json:"teams"`
	TeamIDs     []string   `json:"team_ids"`
	Disabled    bool       `json:"disabled"`
	CreatedAt   *time.Time `json:"created_at"`
	UpdatedAt   *time.Time `json:"updated_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

// AccountResponse wraps one account.
type AccountResponse struct {
	Account Account `json:"account"`
}

// AccountsResponse lists accounts.
type AccountsResponse struct {
	Accounts []Account `json:"accounts"`
}

// AccountRequest is the body of POST and PATCH /admin/accounts; absent
// fields are left alone by PATCH. Password sets a new password.
type AccountRequest struct {
	Name     *string            `json:"name,omitempty"`
	Password *string            `json:"password,omitempty"`
	Role     *string            `json:"role,omitempty"`
	Teams    Optional[[]string] `json:"teams,omitzero"` // ids or names
	Disabled *bool              `json:"disabled,omitempty"`
}

func (d *directory) account(x store.AdminAccount) Account {
	names, ids := byName(d.teams, x.TeamIDs)
	return Account{ID: x.ID, Name: x.Name, Role: x.Role, Teams: names, TeamIDs: ids, Disabled: x.Disabled,
		CreatedAt: timeJSON(x.CreatedAt), UpdatedAt: timeJSON(x.UpdatedAt), LastLoginAt: timeJSON(x.LastLoginAt)}
}

// checkRoleTeams validates a role and its teams: a team admin needs at
// least one team, the other roles none.
func checkRoleTeams(role string, teams []string) error {
	r := authz.Role(role)
	if !r.Valid() {
		return badRequest("field \"role\": %q is not one of owner, admin, team_admin, viewer", role)
	}
	if r == authz.TeamAdmin && len(teams) == 0 {
		return badRequest("role team_admin needs \"teams\": the teams it administers")
	}
	if r != authz.TeamAdmin && len(teams) > 0 {
		return badRequest("only role team_admin takes \"teams\"")
	}
	return nil
}

func checkPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < minPassword || len(pw) > maxPassword {
		return badRequest("field \"password\" must be %d to %d characters", minPassword, maxPassword)
	}
	return nil
}

func (a *API) createAccount(w http.ResponseWriter, r *http.Request) error {
	var req AccountRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == nil || req.Password == nil || req.Role == nil {
		return badRequest("fields \"name\", \"password\" and \"role\" are required")
	}
	if err := checkPassword(*req.Password); err != nil {
		return err
	}
	if err := checkRoleTeams(*req.Role, req.Teams.V); err != nil {
		return err
	}
	acct := store.AdminAccount{Name: *req.Name, Role: *req.Role, TeamIDs: req.Teams.V, CreatedAt: a.opts.Now(),
		PasswordHash: authz.HashPassword(*req.Password, a.passwordParams())}
	if req.Disabled != nil {
		acct.Disabled = *req.Disabled
	}
	acct, err := a.st.CreateAdminAccount(r.Context(), acct)
	if err != nil {
		return err
	}
	return a.writeAccount(w, r, http.StatusCreated, acct)
}

func (a *API) writeAccount(w http.ResponseWriter, r *http.Request, status int, x store.AdminAccount) error {
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, status, AccountResponse{d.account(x)})
}

func (a *API) listAccounts(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := a.st.ListAdminAccounts(r.Context())
	if err != nil {
		return err
	}
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	out := make([]Account, 0, len(list))
	for _, x := range list {
		out = append(out, d.account(x))
	}
	return writeJSON(w, http.StatusOK, AccountsResponse{out})
}

func (a *API) getAccount(w http.ResponseWriter, r *http.Request) error {
	x, err := a.st.GetAdminAccount(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeAccount(w, r, http.StatusOK, x)
}

func (a *API) patchAccount(w http.ResponseWriter, r *http.Request) error {
	var req AccountRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	var hash string
	if req.Password != nil {
		if err := checkPassword(*req.Password); err != nil {
			return err
		}
		hash = authz.HashPassword(*req.Password, a.passwordParams())
	}
	x, err := a.st.UpdateAdminAccount(r.Context(), r.PathValue("id"), func(x *store.AdminAccount) error {
		if req.Name != nil {
			x.Name = *req.Name
		}
		if hash != "" {
			x.PasswordHash = hash
		}
		if req.Role != nil {
			x.Role = *req.Role
			if authz.Role(x.Role) != authz.TeamAdmin && !req.Teams.Set {
				x.TeamIDs = nil
			}
		}
		if req.Teams.Set {
			x.TeamIDs = req.Teams.V
		}
		if req.Disabled != nil {
			x.Disabled = *req.Disabled
		}
		x.UpdatedAt = a.opts.Now()
		return checkRoleTeams(x.Role, x.TeamIDs)
	})
	if err != nil {
		return err
	}
	return a.writeAccount(w, r, http.StatusOK, x)
}

func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request) error {
	if err := a.st.DeleteAdminAccount(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- tokens ----

// Token is a scoped admin API token as the API shows it: never its secret
// or hash, only the prefix.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       string     `json:"role"`
	Teams      []string   `json:"teams"`
	TeamIDs    []string   `json:"team_ids"`
	Active     bool       `json:"active"`
	ExpiresAt  *time.Time `json:"expires_at"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  *time.Time `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// TokenResponse wraps one token.
type TokenResponse struct {
	Token Token `json:"token"`
}

// TokensResponse lists tokens.
type TokensResponse struct {
	Tokens []Token `json:"tokens"`
}

// CreateTokenResponse answers POST /admin/tokens: the secret is in this
// answer only.
type CreateTokenResponse struct {
	Token  Token  `json:"token"`
	Secret string `json:"secret"`
}

// TokenRequest is the body of POST /admin/tokens.
type TokenRequest struct {
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Teams     []string `json:"teams,omitempty"`      // ids or names, for team_admin
	ExpiresAt string   `json:"expires_at,omitempty"` // RFC 3339
	ExpiresIn string   `json:"expires_in,omitempty"` // "90d"
}

func (d *directory) token(t store.AdminToken, now time.Time) Token {
	names, ids := byName(d.teams, t.TeamIDs)
	return Token{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Role: t.Role, Teams: names, TeamIDs: ids,
		Active: t.Active(now), ExpiresAt: timeJSON(t.ExpiresAt), CreatedBy: t.CreatedBy,
		CreatedAt: timeJSON(t.CreatedAt), LastUsedAt: timeJSON(t.LastUsedAt), RevokedAt: timeJSON(t.RevokedAt)}
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var req TokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == "" || req.Role == "" {
		return badRequest("fields \"name\" and \"role\" are required")
	}
	if err := checkRoleTeams(req.Role, req.Teams); err != nil {
		return err
	}
	expires, err := a.expiry(req.ExpiresAt, req.ExpiresIn)
	if err != nil {
		return err
	}
	now := a.opts.Now()
	if !expires.IsZero() && !expires.After(now) {
		return badRequest("the token would expire in the past (%s)", expires.UTC().Format(time.RFC3339))
	}
	p, _ := authz.FromContext(r.Context())
	t, secret, err := a.st.CreateAdminToken(r.Context(), store.AdminToken{Name: req.Name, Role: req.Role,
		TeamIDs: req.Teams, ExpiresAt: expires, CreatedBy: p.Name, CreatedAt: now})
	if err != nil {
		return err
	}
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, CreateTokenResponse{Token: d.token(t, now), Secret: secret})
}

func (a *API) writeToken(w http.ResponseWriter, r *http.Request, t store.AdminToken) error {
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, TokenResponse{d.token(t, a.opts.Now())})
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := a.st.ListAdminTokens(r.Context())
	if err != nil {
		return err
	}
	d, err := a.directory(r.Context())
	if err != nil {
		return err
	}
	now := a.opts.Now()
	out := make([]Token, 0, len(list))
	for _, t := range list {
		out = append(out, d.token(t, now))
	}
	return writeJSON(w, http.StatusOK, TokensResponse{out})
}

func (a *API) getToken(w http.ResponseWriter, r *http.Request) error {
	t, err := a.st.GetAdminToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeToken(w, r, t)
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := a.st.RevokeAdminToken(r.Context(), r.PathValue("id"), a.opts.Now())
	if err != nil {
		return err
	}
	return a.writeToken(w, r, t)
}

// ---- whoami ----

// WhoamiResponse answers GET /admin/whoami: the principal the request was
// served as, so the CLI and the console can show who is signed in.
type WhoamiResponse struct {
	Kind  string   `json:"kind"`
	ID    string   `json:"id,omitempty"`
	Name  string   `json:"name"`
	Role  string   `json:"role"`
	Teams []string `json:"team_ids"`
	Via   string   `json:"via"`
}

func (a *API) whoami(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	p, _ := authz.FromContext(r.Context())
	teams := p.Teams
	if teams == nil {
		teams = []string{}
	}
	return writeJSON(w, http.StatusOK, WhoamiResponse{Kind: p.Kind, ID: p.ID, Name: p.Name, Role: string(p.Role), Teams: teams, Via: p.Via})
}

// ---- audit ----

// AuditActor is who made a change.
type AuditActor struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// AuditTarget is what a change was made to.
type AuditTarget struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// AuditEvent is one audit log entry as GET /admin/audit shows it. Before
// and After are the target as the admin API showed it, secrets removed;
// null for a create's before and a delete's after.
type AuditEvent struct {
	ID         int64           `json:"id"`
	At         *time.Time      `json:"at"`
	Actor      AuditActor      `json:"actor"`
	Via        string          `json:"via"`
	RemoteAddr string          `json:"remote_addr"`
	Action     string          `json:"action"`
	Outcome    string          `json:"outcome"`
	Target     AuditTarget     `json:"target"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
	RequestID  string          `json:"request_id,omitempty"`
}

// AuditResponse answers GET /admin/audit, newest first. NextCursor, when
// set, is the ?cursor= of the next (older) page.
type AuditResponse struct {
	Events     []AuditEvent `json:"events"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

const maxAuditPage = 1000

func (a *API) audit(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "actor", "target", "target_type", "action", "since", "until", "limit", "cursor")
	if err != nil {
		return err
	}
	now := a.opts.Now()
	f := store.AuditFilter{Actor: q["actor"], Target: q["target"], TargetType: q["target_type"], Action: q["action"], Limit: 100}
	if v := q["since"]; v != "" {
		if f.Since, err = parseWhen("since", v, now); err != nil {
			return err
		}
	}
	if v := q["until"]; v != "" {
		if f.Until, err = parseWhen("until", v, now); err != nil {
			return err
		}
	}
	if v := q["limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditPage {
			return badRequest("query parameter \"limit\": %q is not a number from 1 to %d", v, maxAuditPage)
		}
		f.Limit = n
	}
	if v := q["cursor"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return badRequest("query parameter \"cursor\": %q is not a cursor from next_cursor", v)
		}
		f.Before = n
	}
	evs, err := a.st.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	out := AuditResponse{Events: make([]AuditEvent, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, AuditEvent{ID: e.Seq, At: timeJSON(e.At),
			Actor: AuditActor{Kind: e.ActorKind, ID: e.ActorID, Name: e.ActorName, Role: e.ActorRole},
			Via:   e.Via, RemoteAddr: e.RemoteAddr, Action: e.Action, Outcome: e.Outcome,
			Target: AuditTarget{Type: e.TargetType, ID: e.TargetID, Name: e.TargetName},
			Before: json.RawMessage(e.Before), After: json.RawMessage(e.After), RequestID: e.RequestID})
	}
	if len(evs) == f.Limit && len(evs) > 0 {
		out.NextCursor = strconv.FormatInt(evs[len(evs)-1].Seq, 10)
	}
	return writeJSON(w, http.StatusOK, out)
}
