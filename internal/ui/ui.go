package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// AdminAPI is the part of the admin API the console uses: *admin.API.
type AdminAPI interface {
	// ServeAs serves an admin request on behalf of an authenticated
	// principal.
	ServeAs(w http.ResponseWriter, r *http.Request, p authz.Principal)
	// CheckAdminKey returns the owner principal of the bootstrap admin key.
	CheckAdminKey(ctx context.Context, secret string) (authz.Principal, error)
}

// Accounts authenticates named admin accounts by name and password. It is
// optional: without it the sign-in page offers the admin key only.
type Accounts interface {
	Authenticate(ctx context.Context, name, password string) (authz.Principal, error)
}

// Store is what the console reads directly: sessions, and the recent calls
// the admin API has no endpoint for. *store.Store is one.
type Store interface {
	CreateConsoleSession(ctx context.Context, s store.ConsoleSession, now time.Time) error
	ConsoleSession(ctx context.Context, idHash string) (store.ConsoleSession, error)
	TouchConsoleSession(ctx context.Context, idHash string, t time.Time) error
	DeleteConsoleSession(ctx context.Context, idHash string) error
	RecentCalls(ctx context.Context, f store.CallFilter, limit int) ([]store.Call, error)
	CallByRequestID(ctx context.Context, requestID string) (store.Call, error)
}

// Options configure the console.
type Options struct {
	Store Store
	Admin AdminAPI
	// Accounts, when set, enables the name and password form.
	Accounts Accounts
	// ClientIP returns the address a request comes from as the access
	// rules resolved it, for the audit log; nil uses the TCP peer.
	ClientIP func(*http.Request) netip.Addr
	// IdleTimeout ends a session unused for this long (default 2h);
	// MaxAge ends any session this long after sign-in (default 24h).
	IdleTimeout, MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Console is the web console's handler. Mount it for "/ui/".
type Console struct {
	opts  Options
	log   *slog.Logger
	mux   *http.ServeMux
	pages map[string]*template.Template
}

// New returns the console.
func New(opts Options) (*Console, error) {
	if opts.Store == nil || opts.Admin == nil {
		return nil, errors.New("ui: Store and Admin are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 2 * time.Hour
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	c := &Console{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

func (c *Console) parseTemplates() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", n)
		if err != nil {
			return fmt.Errorf("ui: parse %s: %w", n, err)
		}
		c.pages[base] = t
	}
	return nil
}

// handler is a console endpoint: it writes a page or returns an error,
// which ServeHTTP renders as an error page in the console's style.
type handler func(w http.ResponseWriter, r *http.Request, s *session) error

func (c *Console) routes() {
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix("/ui/static/", http.FileServerFS(static))
	c.mux.Handle("GET /ui/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	c.mux.HandleFunc("GET /ui/signin", c.signinPage)
	c.mux.HandleFunc("POST /ui/signin", c.signin)
	c.mux.HandleFunc("GET /ui/lang/{lang}", c.setLang)

	c.page("POST /ui/signout", c.signout)
	c.page("GET /ui/{$}", c.overview)
	c.page("GET /ui/fragments/overview", c.overviewFragment)
	c.page("GET /ui/requests", c.requests)
	c.page("GET /ui/fragments/requests", c.requestsFragment)
	c.page("GET /ui/requests/{id}", c.request)

	c.page("GET /ui/keys", c.keys)
	c.page("POST /ui/keys", c.createKey)
	c.page("GET /ui/keys/{id}", c.key)
	c.page("POST /ui/keys/{id}", c.editKey)
	c.page("POST /ui/keys/{id}/rotate", c.rotateKey)
	c.page("POST /ui/keys/{id}/delete", c.deleteKey)

	c.page("GET /ui/users", c.users)
	c.page("POST /ui/users", c.createUser)
	c.page("POST /ui/users/{id}", c.editUser)
	c.page("POST /ui/users/{id}/delete", c.deleteUser)

	c.page("GET /ui/teams", c.teams)
	c.page("POST /ui/teams", c.createTeam)
	c.page("POST /ui/teams/{id}/members", c.addMember)
	c.page("POST /ui/teams/{id}/members/{user}/delete", c.removeMember)
	c.page("POST /ui/teams/{id}/delete", c.deleteTeam)

	c.page("GET /ui/budgets", c.budgets)
	c.page("POST /ui/budgets", c.createBudget)
	c.page("GET /ui/budgets/{id}", c.budget)
	c.page("POST /ui/budgets/{id}", c.editBudget)
	c.page("POST /ui/budgets/{id}/delete", c.deleteBudget)

	c.page("GET /ui/limits", c.limitsPage)
	c.page("POST /ui/limits", c.createLimit)
	c.page("POST /ui/limits/{id}", c.editLimit)
	c.page("POST /ui/limits/{id}/delete", c.deleteLimit)

	c.page("GET /ui/models", c.models)
	c.page("POST /ui/models", c.createModel)
	c.page("GET /ui/models/{name}", c.model)
	c.page("POST /ui/models/{name}", c.editModel)
	c.page("POST /ui/models/{name}/delete", c.deleteModel)
	c.page("POST /ui/models/{name}/test", c.testModel)

	c.page("GET /ui/audit", c.audit)

	c.page("GET /ui/admins", c.admins)
	c.page("POST /ui/admins/accounts", c.createAccount)
	c.page("POST /ui/admins/accounts/{id}", c.editAccount)
	c.page("POST /ui/admins/accounts/{id}/delete", c.deleteAccount)
	c.page("POST /ui/admins/tokens", c.createToken)
	c.page("POST /ui/admins/tokens/{id}/revoke", c.revokeToken)

	c.page("GET /ui/usage", c.explorer)
	c.page("GET /ui/usage.csv", c.explorerCSV)

	c.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, nil, &pageError{Status: http.StatusNotFound, Msg: "err.notfound"})
	})
}

// page registers a handler that needs a signed-in session, and on POST a
// valid CSRF token from the console's own origin.
func (c *Console) page(pattern string, h handler) {
	c.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil && !errors.Is(err, errNoSession) {
			c.renderError(w, r, nil, err) // the store failed: not a reason to sign in again
			return
		}
		if err != nil {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/ui/fragments/") {
				http.Redirect(w, r, "/ui/signin?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.renderError(w, r, nil, &pageError{Status: http.StatusUnauthorized, Msg: "err.signin"})
			return
		}
		if r.Method == http.MethodPost {
			if err := checkOrigin(r); err != nil {
				c.renderError(w, r, s, err)
				return
			}
			if err := s.checkCSRF(r); err != nil {
				c.renderError(w, r, s, err)
				return
			}
		}
		if err := h(w, r, s); err != nil {
			c.renderError(w, r, s, err)
		}
	}))
}

// ServeHTTP adds the security headers every answer carries, then routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.URL.Path == "/ui" {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// CSP is the console's Content-Security-Policy: its own scripts, styles
// and images only, no inline code, no framing, forms posting only to it.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// pageError is an error shown to the user: a status and a message key of
// the catalog (or, with Raw, a message from the admin API, shown as is).
type pageError struct {
	Status int
	Msg    string
	Raw    bool
}

func (e *pageError) Error() string { return e.Msg }

// view is what every template gets.
type view struct {
	L       *lang
	S       *session
	Title   string
	Nav     string
	CSRF    string
	Error   string
	Notice  string
	Path    string
	Data    any
	Request *http.Request
}

// ShowNav reports whether the navigation shows section name to the
// signed-in principal.
func (v *view) ShowNav(name string) bool {
	r, ok := navResource[name]
	switch {
	case !ok:
		return true
	case r.write:
		return v.S.Can(r.res)
	}
	return v.S.CanRead(r.res)
}

// T translates a message key in the page's language.
func (v *view) T(key string, args ...any) string { return v.L.T(key, args...) }

// render writes the page named name.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name, nav string, data any, errMsg string) error {
	t := c.pages[name]
	if t == nil {
		return fmt.Errorf("ui: no template %q", name)
	}
	v := &view{L: langFor(r), S: s, Nav: nav, Data: data, Error: errMsg, Path: r.URL.Path, Request: r}
	if s != nil {
		v.CSRF = s.CSRF
	}
	if n := r.URL.Query().Get("ok"); n != "" {
		v.Notice = v.T("ok." + n)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("ui: render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// renderFragment writes a template block without the layout, for the
// fragments the page's script swaps in.
func (c *Console) renderFragment(w http.ResponseWriter, r *http.Request, s *session, name, block string, data any) error {
	v := &view{L: langFor(r), S: s, Data: data, Request: r}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, block, v); err != nil {
		return fmt.Errorf("ui: render %s/%s: %w", name, block, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(buf.Bytes())
	return err
}

// renderError is the console's one error writer.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	pe := &pageError{Status: http.StatusInternalServerError, Msg: "err.internal"}
	var ae *apiError
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &ae):
		pe = &pageError{Status: ae.Status, Msg: ae.Message, Raw: true}
	default:
		c.log.Error("console: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	l := langFor(r)
	msg := pe.Msg
	if !pe.Raw {
		msg = l.T(pe.Msg)
	}
	if strings.HasPrefix(r.URL.Path, "/ui/fragments/") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(pe.Status)
		fmt.Fprintln(w, msg)
		return
	}
	if rerr := c.render(w, r, s, pe.Status, "error", "", pe.Status, msg); rerr != nil {
		c.log.Error("console: rendering an error page failed", "err", rerr)
	}
}
