package ui_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/ui"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// accounts stands in for the named admin accounts another package
// provides: name → principal, every password "pw".
type accounts map[string]authz.Principal

func (a accounts) Authenticate(_ context.Context, name, password string) (authz.Principal, error) {
	p, ok := a[name]
	if !ok || password != "pw" {
		return authz.Principal{}, errors.New("no such account or wrong password")
	}
	return p, nil
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *clock) serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	r.Host = "127.0.0.1"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type fixture struct {
	st      *store.Store
	console *ui.Console
	clock   *clock
}

func newFixture(t *testing.T, acc accounts) *fixture {
	t.Helper()
	st := storetest.OpenSQLite(t)
	if _, err := admin.Bootstrap(context.Background(), st, adminKey); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC()}
	opts := ui.Options{Store: st, Admin: admin.New(st, admin.Options{}), Now: clk.Now,
		IdleTimeout: time.Hour, MaxAge: 8 * time.Hour}
	if acc != nil {
		opts.Accounts = acc
	}
	c, err := ui.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, console: c, clock: clk}
}

// signIn posts form to the sign-in page and returns the session cookie.
func (f *fixture) signIn(t *testing.T, form url.Values) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest("POST", "/ui/signin", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := f.clock.serve(f.console, r)
	for _, ck := range w.Result().Cookies() {
		if ck.Name == "tollgate_session" && ck.Value != "" {
			if !ck.HttpOnly || ck.Path != "/" || ck.SameSite == http.SameSiteNoneMode {
				t.Errorf("session cookie %+v: want HttpOnly, Path=/, SameSite", ck)
			}
			return ck
		}
	}
	t.Fatalf("sign-in with %v = %d, no session", form, w.Code)
	return nil
}

func (f *fixture) get(ck *http.Cookie, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	if ck != nil {
		r.AddCookie(ck)
	}
	return f.clock.serve(f.console, r)
}

// TestSessionExpiry: a session ends after IdleTimeout without use and
// after MaxAge whatever the use.
func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, nil)
	ck := f.signIn(t, url.Values{"admin_key": {adminKey}})
	// Used every 50 minutes, so never idle for an hour, until 7.5 h after
	// sign-in ...
	for i := range 10 {
		if i > 0 {
			f.clock.Add(50 * time.Minute)
		}
		if w := f.get(ck, "/ui/users"); w.Code != http.StatusOK {
			t.Fatalf("after %d×50 min of use: GET = %d, want 200", i, w.Code)
		}
	}
	// ... then 31 minutes later: idle for less than an hour, but 8 h 1 min
	// after sign-in, past MaxAge.
	f.clock.Add(31 * time.Minute)
	if w := f.get(ck, "/ui/users"); w.Code != http.StatusSeeOther {
		t.Errorf("after MaxAge: GET = %d, want 303 to sign-in", w.Code)
	}

	ck = f.signIn(t, url.Values{"admin_key": {adminKey}})
	f.clock.Add(61 * time.Minute)
	if w := f.get(ck, "/ui/users"); w.Code != http.StatusSeeOther {
		t.Errorf("after an idle hour: GET = %d, want 303 to sign-in", w.Code)
	}
}

// TestAccountsSignIn: with accounts, the name and password form signs in
// as that account; a wrong password does not; a plain HTTP sign-in from
// a non-loopback host is refused.
func TestAccountsSignIn(t *testing.T) {
	f := newFixture(t, accounts{"ana": {Kind: authz.KindAccount, ID: "acct_1", Name: "ana", Role: authz.Admin}})
	if w := f.get(nil, "/ui/signin"); !strings.Contains(w.Body.String(), `name="password"`) {
		t.Errorf("sign-in page with accounts has no password field")
	}
	ck := f.signIn(t, url.Values{"name": {"ana"}, "password": {"pw"}})
	if w := f.get(ck, "/ui/users"); w.Code != 200 || !strings.Contains(w.Body.String(), "ana") {
		t.Errorf("signed in as ana: GET = %d, page does not name ana", w.Code)
	}
	r := httptest.NewRequest("POST", "/ui/signin", strings.NewReader("name=ana&password=nope"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w := f.clock.serve(f.console, r); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong password = %d, want 401", w.Code)
	}
	r = httptest.NewRequest("POST", "/ui/signin", strings.NewReader("name=ana&password=pw"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Host = "gateway.example.com"
	w := httptest.NewRecorder()
	f.console.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
		t.Errorf("plain HTTP sign-in from gateway.example.com = %d with %d cookies, want 403 and none", w.Code, len(w.Result().Cookies()))
	}
	r.Header.Set("X-Forwarded-Proto", "https")
	w = httptest.NewRecorder()
	f.console.ServeHTTP(w, r)
	var secure *http.Cookie
	for _, ck := range w.Result().Cookies() {
		if ck.Name == "__Host-tollgate_session" {
			secure = ck
		}
	}
	if secure == nil || !secure.Secure || secure.Path != "/" || secure.Domain != "" {
		t.Errorf("sign-in behind a TLS proxy: cookie %+v, want __Host-tollgate_session, Secure, Path=/, no Domain", secure)
	}
}

// TestTeamAdminSeesOwnTeamsCalls: the pages that read calls from the store
// directly show a team admin the calls of their teams only; a viewer gets
// no forms.
func TestTeamAdminSeesOwnTeamsCalls(t *testing.T) {
	f := newFixture(t, accounts{
		"lead":   {Kind: authz.KindAccount, ID: "acct_lead", Name: "lead", Role: authz.TeamAdmin, Teams: []string{"team_a"}},
		"viewer": {Kind: authz.KindAccount, ID: "acct_view", Name: "viewer", Role: authz.Viewer},
	})
	now := f.clock.Now()
	err := f.st.InsertUsage(context.Background(), []usage.Record{
		{RequestID: "req_a", Time: now, TeamID: "team_a", KeyAlias: "key-a", Model: "model-a", Status: 200, Tokens: tokens.Counts{Input: 1}},
		{RequestID: "req_b", Time: now, TeamID: "team_b", KeyAlias: "key-b", Model: "model-b", Status: 200, Tokens: tokens.Counts{Input: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ck := f.signIn(t, url.Values{"name": {"lead"}, "password": {"pw"}})
	body := f.get(ck, "/ui/requests").Body.String()
	if !strings.Contains(body, "key-a") || strings.Contains(body, "key-b") {
		t.Errorf("team admin of team_a: live requests show key-a %v, key-b %v; want only key-a",
			strings.Contains(body, "key-a"), strings.Contains(body, "key-b"))
	}
	if w := f.get(ck, "/ui/requests/req_b"); w.Code != http.StatusNotFound {
		t.Errorf("team admin of team_a: another team's call = %d, want 404", w.Code)
	}
	if w := f.get(ck, "/ui/requests/req_a"); w.Code != http.StatusOK {
		t.Errorf("team admin of team_a: own team's call = %d, want 200", w.Code)
	}
	vk := f.signIn(t, url.Values{"name": {"viewer"}, "password": {"pw"}})
	if body := f.get(vk, "/ui/keys").Body.String(); strings.Contains(body, `id="new-key"`) {
		t.Errorf("a viewer is offered the new-key form")
	}
}
