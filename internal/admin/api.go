// Package admin is Tollgate's admin REST API: users, teams, virtual keys,
// budgets and rate limits, usage queries and CSV export, and budget status.
// It is JSON over HTTP under /admin/, authenticated by the admin credential
// (see Bootstrap), and is what the tollgate CLI and the web console call.
//
// Wherever a request names a user, team or key, its id or its name (a key's
// alias) is accepted, so the CLI can say --user alice.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// Options configure the API.
type Options struct {
	// Logger receives server-side errors; nil discards them.
	Logger *slog.Logger
	// OnChange is called after every successful mutation, so the gateway can
	// reload its in-memory keys, budgets and limits. It runs on the request's
	// goroutine before the response is written; keep it quick (or have it
	// signal a reloader).
	OnChange func()
	// Live, when set, subscribes to the usage records of calls as they
	// finish, for GET /admin/usage/live; the returned func unsubscribes.
	Live func() (<-chan usage.Record, func())
	// Now is the clock used for creation times, "since 7d" and budget
	// periods; nil means time.Now.
	Now func() time.Time
	// Enforcer, when set, is what GET /admin/spend reports: the gateway's
	// own budget ledger (settled spend plus the reservations of calls in
	// flight), so that the answer agrees with the
	// x-tollgate-budget-remaining-* headers to the micro-dollar. Without
	// it (an admin API alone, or a budget the ledger has not loaded), the
	// status is what a ledger loaded from the store's hourly rollups would
	// enforce.
	Enforcer Enforcer
	// ClientIP, when set, is the client address the audit log records
	// (the gateway passes the one its access rules resolved, which honours
	// trusted proxies); nil records the connection's peer address.
	ClientIP func(*http.Request) string
	// PasswordParams are the argon2id costs of new account passwords; nil
	// means authz.DefaultArgon2id. Tests lower them.
	PasswordParams *authz.Argon2idParams
	// Models, when set, is the gateway's view of its routes, for
	// /admin/models: it checks models against the config in force, lists
	// every route with its source, and tests them. Without it the API
	// manages the database's models alone.
	Models ModelRuntime
}

// Enforcer reports the state of a budget as the gateway enforces it;
// *limits.Ledger is one.
type Enforcer interface {
	Status(budgetID string) (limits.BudgetStatus, bool)
}

// API serves the admin endpoints. Mount it for "/admin/".
type API struct {
	st   *store.Store
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	fails     *failLimiter  // failed sign-ins per name and address
	hashSem   chan struct{} // bounds concurrent password verifications
	dummyOnce sync.Once
	dummy     string // a hash to check unknown names against, for even timing
}

// maxBody bounds request bodies; admin requests are small.
const maxBody = 1 << 20

// New returns the admin API on st.
func New(st *store.Store, opts Options) *API {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &API{st: st, opts: opts, log: opts.Logger, mux: http.NewServeMux(),
		fails:   &failLimiter{now: opts.Now, m: map[string]*failCount{}},
		hashSem: make(chan struct{}, 4)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for _, r := range a.routes() {
		a.mux.Handle(r.pattern, a.guard(r.pattern, a.adapt(r.h)))
	}
	return a
}

// route is one endpoint: a ServeMux pattern and its handler.
type route struct {
	pattern string
	h       handlerFunc
}

// routes is the one table of endpoints. New registers exactly these, and
// the tests hold openapi.yaml to it in both directions, so an endpoint
// cannot be added, renamed or removed without its reference changing too.
func (a *API) routes() []route {
	return []route{
		{"POST /admin/users", a.createUser},
		{"GET /admin/users", a.listUsers},
		{"GET /admin/users/{id}", a.getUser},
		{"PATCH /admin/users/{id}", a.patchUser},
		{"DELETE /admin/users/{id}", a.deleteUser},

		{"POST /admin/teams", a.createTeam},
		{"GET /admin/teams", a.listTeams},
		{"GET /admin/teams/{id}", a.getTeam},
		{"PATCH /admin/teams/{id}", a.patchTeam},
		{"DELETE /admin/teams/{id}", a.deleteTeam},
		{"POST /admin/teams/{id}/members", a.addMember},
		{"DELETE /admin/teams/{id}/members/{user}", a.removeMember},

		{"POST /admin/keys", a.createKey},
		{"GET /admin/keys", a.listKeys},
		{"GET /admin/keys/{id}", a.getKey},
		{"PATCH /admin/keys/{id}", a.patchKey},
		{"DELETE /admin/keys/{id}", a.deleteKey},
		{"POST /admin/keys/{id}/revoke", a.revokeKey},
		{"POST /admin/keys/{id}/rotate", a.rotateKey},

		{"POST /admin/budgets", a.createBudget},
		{"GET /admin/budgets", a.listBudgets},
		{"GET /admin/budgets/{id}", a.getBudget},
		{"PATCH /admin/budgets/{id}", a.patchBudget},
		{"DELETE /admin/budgets/{id}", a.deleteBudget},

		{"POST /admin/limits", a.createLimit},
		{"GET /admin/limits", a.listLimits},
		{"GET /admin/limits/{id}", a.getLimit},
		{"PATCH /admin/limits/{id}", a.patchLimit},
		{"DELETE /admin/limits/{id}", a.deleteLimit},

		{"POST /admin/models", a.createModel},
		{"GET /admin/models", a.listModels},
		{"GET /admin/models/{name}", a.getModel},
		{"PATCH /admin/models/{name}", a.patchModel},
		{"DELETE /admin/models/{name}", a.deleteModel},
		{"POST /admin/models/{name}/test", a.testModel},

		{"GET /admin/usage", a.usage},
		{"GET /admin/usage.csv", a.usageCSV},
		{"GET /admin/spend", a.spend},
		{"GET /admin/usage/live", a.live},

		{"GET /admin/openapi.json", a.openapi},
		{"GET /admin/whoami", a.whoami},

		{"POST /admin/accounts", a.createAccount},
		{"GET /admin/accounts", a.listAccounts},
		{"GET /admin/accounts/{id}", a.getAccount},
		{"PATCH /admin/accounts/{id}", a.patchAccount},
		{"DELETE /admin/accounts/{id}", a.deleteAccount},

		{"POST /admin/tokens", a.createToken},
		{"GET /admin/tokens", a.listTokens},
		{"GET /admin/tokens/{id}", a.getToken},
		{"POST /admin/tokens/{id}/revoke", a.revokeToken},

		{"GET /admin/audit", a.audit},
	}
}

// ServeHTTP authenticates the request and dispatches it. Authentication
// comes first, so unauthenticated callers cannot map the endpoints. The
// principal goes into the request's context, where every route's role
// check (guard) finds it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := a.authenticate(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p.Via, p.RemoteAddr = via(r), a.clientAddr(r)
	a.dispatch(w, r.WithContext(authz.WithPrincipal(r.Context(), p)))
}

// ServeAs serves r on behalf of p, a principal the caller has already
// authenticated (the console, after checking its session and CSRF token).
// It skips the credential check and nothing else: routing, role checks,
// the audit log, body limits and errors are those of ServeHTTP. An empty
// p.Via is recorded as the console, an empty p.RemoteAddr as the peer.
func (a *API) ServeAs(w http.ResponseWriter, r *http.Request, p authz.Principal) {
	if p.Via == "" {
		p.Via = authz.ViaConsole
	}
	if p.RemoteAddr == "" {
		p.RemoteAddr = a.clientAddr(r)
	}
	a.dispatch(w, r.WithContext(authz.WithPrincipal(r.Context(), p)))
}

// dispatch routes an authenticated request.
func (a *API) dispatch(w http.ResponseWriter, r *http.Request) {
	if _, pattern := a.mux.Handler(r); pattern == "" {
		allow, err := a.noRoute(r)
		if allow != "" {
			w.Header().Set("Allow", allow)
		}
		a.writeError(w, r, err)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// noRoute tells a wrong method (405) from an unknown path (404). allow is
// the Allow header of a 405.
func (a *API) noRoute(r *http.Request) (allow string, err error) {
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := a.mux.Handler(r2); p != "" {
			methods = append(methods, m)
		}
	}
	if len(methods) > 0 {
		allow = strings.Join(methods, ", ")
		return allow, apierror.Client(http.StatusMethodNotAllowed, apierror.TypeInvalidRequest,
			"method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow)
	}
	return "", apierror.Client(http.StatusNotFound, apierror.TypeNotFound, "no admin endpoint %s", r.URL.Path)
}

// CheckAdminKey returns the principal of the gateway's bootstrap admin key
// when secret is that key, for callers that take the key in another form
// than a header (the console's sign-in page). Both sides are compared as
// SHA-256 digests in constant time.
func (a *API) CheckAdminKey(ctx context.Context, secret string) (authz.Principal, error) {
	stored, err := a.st.AdminKeyHash(ctx)
	if err != nil {
		return authz.Principal{}, err
	}
	want, err := hex.DecodeString(stored)
	if err != nil || len(want) != sha256.Size {
		return authz.Principal{}, unauthorized("no admin key is configured on this gateway")
	}
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return authz.Principal{}, unauthorized("invalid admin key")
	}
	return authz.Principal{Kind: authz.KindBootstrap, Name: "admin key", Role: authz.Owner}, nil
}

// handlerFunc is an endpoint: it writes a response or returns an error,
// which adapt turns into the one JSON error format.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (a *API) adapt(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// changed notifies the gateway of a successful mutation. Handlers call it
// before writing their response, so a client that gets the answer can use
// the new key or budget at once.
func (a *API) changed() {
	if a.opts.OnChange != nil {
		a.opts.OnChange()
	}
}

// The admin API answers errors with the gateway's one error type,
// apierror.Error: what the client sees (status, type, message, origin)
// apart from the cause that only the log sees.

func badRequest(format string, args ...any) *apierror.Error {
	return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, format, args...)
}

func unauthorized(msg string) *apierror.Error {
	return apierror.Client(http.StatusUnauthorized, apierror.TypeAuthentication, "%s", msg)
}

// toError maps any error to an *apierror.Error: the store's sentinels
// become 4xx with the store's message; anything else is a 500 whose cause
// is logged.
func toError(err error) *apierror.Error {
	var e *apierror.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrNotFound):
		return apierror.Client(http.StatusNotFound, apierror.TypeNotFound, "%s", err.Error())
	case errors.Is(err, store.ErrConflict):
		return apierror.Client(http.StatusConflict, apierror.TypeConflict, "%s", err.Error())
	case errors.Is(err, store.ErrInvalid):
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%s", err.Error())
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return apierror.Client(http.StatusRequestEntityTooLarge, apierror.TypeRequestTooLarge,
			"request body is larger than %d bytes", tooBig.Limit)
	}
	return apierror.Gateway(err, "internal error")
}

// writeError is the admin API's one error writer, its "door": the JSON
// body {"error":{"type","message"}} with the origin header.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	if e.Origin == apierror.OriginGateway || e.Status >= 500 {
		a.log.Error("admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	w.Header().Set(apierror.OriginHeader, string(e.Origin))
	writeJSON(w, e.Status, ErrorBody{ErrorDetail{e.Type, e.Message}})
}

// ErrorBody is every admin error answer, {"error":{"type":…,"message":…}},
// the same shape as the Anthropic API's errors.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an ErrorBody.
type ErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// decode reads a JSON object into v strictly: unknown fields, trailing data
// and wrong types are 400s that name the field.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("request body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("request body must be a JSON object")
	case errors.As(err, &tooBig):
		return toError(err)
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("request body is not valid JSON: %v", err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("request body must be a JSON object, not %s", typ.Value)
		}
		return badRequest("field %q: expected %s, got %s", typ.Field, jsonKind(typ.Type.String()), typ.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badRequest("unknown field %s", name)
	}
	var e *apierror.Error
	if errors.As(err, &e) {
		return e
	}
	return badRequest("invalid request body: %v", err)
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "struct"):
		return "an object"
	case goType == "string" || strings.HasSuffix(goType, "time.Time"):
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"), goType == "json.Number":
		return "a number"
	}
	return goType
}
