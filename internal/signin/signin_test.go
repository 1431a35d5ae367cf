package signin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/devidp"
	"github.com/tollgate-gw/tollgate/internal/signin"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

const redirect = "http://127.0.0.1:9/callback" // never contacted: the browser stops there

// startIdP runs a devidp provider on loopback with two users.
func startIdP(t *testing.T) *devidp.Provider {
	t.Helper()
	var h atomic.Pointer[devidp.Provider]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.Load().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	p, err := devidp.New(devidp.Options{Issuer: srv.URL, Client: devidp.Client{ID: "tollgate", Secret: "s3cret", RedirectURIs: []string{redirect}}})
	if err != nil {
		t.Fatal(err)
	}
	h.Store(p)
	p.AddUser(devidp.User{Username: "ann", Password: "pw-ann", Email: "ann@example.com", Name: "Ann", Groups: []string{"eng", "gw-admins"}})
	p.AddUser(devidp.User{Username: "bob", Password: "pw-bob", Email: "bob@example.com", Name: "Bob", Groups: []string{"sales"}})
	return p
}

func newRP(t *testing.T, idp *devidp.Provider, st signin.Store) *signin.RP {
	cfg := config.SignIn{Issuer: idp.Issuer(), ClientID: "tollgate", ClientSecret: "s3cret", RedirectURL: redirect,
		Scopes: []string{"openid", "email", "profile", "groups", "offline_access"},
		Claims: config.SignInClaims{UserID: "sub", Email: "email", Name: "name", Groups: "groups"}, StateTTL: 600e9,
		Groups: []config.SignInGroup{
			{Group: "eng", Team: "engineering", Budget: &config.AutoBudget{USD: 50, Period: "month"}, RateLimit: &config.AutoLimit{RPM: 60}},
			{Group: "gw-admins", AdminRole: "admin"},
			{Group: "sales", Team: "sales", AdminRole: "viewer"},
		}}
	return signin.New(cfg, st, signin.Options{})
}

var formID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// browse plays the browser: it follows the provider's redirects, posts the
// login form, and stops at the redirect URL, returning its query.
func browse(t *testing.T, start, user, password string) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formID.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("login page = %d %s, want the provider's form", resp.StatusCode, page)
	}
	resp, err = c.PostForm(resp.Request.URL.String(), url.Values{"id": {string(m[1])}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("after login = %d %v, want a redirect to %s", resp.StatusCode, loc, redirect)
	}
	return loc.Query()
}

func TestSignInEndToEnd(t *testing.T) {
	ctx := context.Background()
	idp := startIdP(t)
	st := storetest.OpenSQLite(t)
	rp := newRP(t, idp, st)

	begun, err := rp.Begin(ctx, "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(begun.URL)
	if q := u.Query(); q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") != begun.State {
		t.Fatalf("authorization URL %s lacks PKCE S256, nonce or state", begun.URL)
	}
	cb := browse(t, begun.URL, "ann", "pw-ann")
	res, err := rp.Complete(ctx, cb.Get("state"), cb.Get("code"), cb.Get("error"))
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if !res.Created || res.User.Name != "ann@example.com" || res.Identity.Subject != "sub-ann" || res.Identity.Name != "Ann" ||
		res.AdminRole != authz.Admin || res.ReturnTo != "/ui/" {
		t.Errorf("Complete = %+v, want created user ann@example.com, sub-ann, role admin, return /ui/", res)
	}
	if diff := cmp.Diff([]string{"eng", "gw-admins"}, res.Identity.Groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	user, _ := st.GetUser(ctx, res.User.ID)
	team, err := st.GetTeam(ctx, "engineering")
	if err != nil || !cmp.Equal(user.TeamIDs, []string{team.ID}) {
		t.Errorf("teams of the user = %v (team %v, %v), want [engineering]", user.TeamIDs, team.ID, err)
	}
	bs, _ := st.ListBudgets(ctx, store.ScopeFilter{ScopeKind: store.ScopeUser, ScopeID: res.User.ID})
	if len(bs) != 1 || *bs[0].LimitUSDMicros != 50_000_000 || bs[0].Period != store.PeriodMonth {
		t.Errorf("budgets of the user = %+v, want $50 a month from group eng", bs)
	}

	// The state worked once.
	if _, err := rp.Complete(ctx, cb.Get("state"), cb.Get("code"), ""); !errors.Is(err, signin.ErrState) {
		t.Errorf("Complete with a used state = %v, want ErrState", err)
	}

	// A second sign-in finds the same user.
	cb = browse(t, mustBegin(t, rp).URL, "ann", "pw-ann")
	again, err := rp.Complete(ctx, cb.Get("state"), cb.Get("code"), "")
	if err != nil || again.Created || again.User.ID != res.User.ID {
		t.Errorf("second Complete = %+v, %v; want the same user, not created", again, err)
	}

	// Refresh works while the user exists at the provider, and fails once
	// they are removed there.
	if res.Token.RefreshToken == "" {
		t.Fatal("no refresh token from the provider")
	}
	tok, id, err := rp.Refresh(ctx, again.Token.RefreshToken, again.Identity)
	if err != nil || id.Subject != "sub-ann" || tok.RefreshToken == "" {
		t.Fatalf("Refresh = %v, %+v, %v; want new tokens for sub-ann", tok, id, err)
	}
	idp.RemoveUser("ann")
	if _, _, err := rp.Refresh(ctx, tok.RefreshToken, id); !errors.Is(err, signin.ErrRevoked) {
		t.Errorf("Refresh after the user was removed = %v, want ErrRevoked", err)
	}
}

func mustBegin(t *testing.T, rp *signin.RP) signin.Begun {
	t.Helper()
	b, err := rp.Begin(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignInRefusals(t *testing.T) {
	ctx := context.Background()
	idp := startIdP(t)
	st := storetest.OpenSQLite(t)
	rp := newRP(t, idp, st)

	t.Run("unknown state", func(t *testing.T) {
		cb := browse(t, mustBegin(t, rp).URL, "bob", "pw-bob")
		if _, err := rp.Complete(ctx, "forged-"+cb.Get("state"), cb.Get("code"), ""); !errors.Is(err, signin.ErrState) {
			t.Errorf("Complete with a forged state = %v, want ErrState", err)
		}
	})
	t.Run("wrong nonce", func(t *testing.T) {
		b := mustBegin(t, rp)
		// Swap the stored nonce, as if the ID token had been minted for
		// another sign-in.
		h := store.HashSecret(b.State)
		s, err := st.TakeSignInState(ctx, h, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.Nonce = "another-nonce"
		if err := st.CreateSignInState(ctx, s); err != nil {
			t.Fatal(err)
		}
		cb := browse(t, b.URL, "bob", "pw-bob")
		if _, err := rp.Complete(ctx, cb.Get("state"), cb.Get("code"), ""); !errors.Is(err, signin.ErrToken) || !strings.Contains(err.Error(), "nonce") {
			t.Errorf("Complete with a wrong nonce = %v, want ErrToken (nonce)", err)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		b := mustBegin(t, rp)
		if _, err := rp.Complete(ctx, b.State, "", "access_denied"); !errors.Is(err, signin.ErrDenied) {
			t.Errorf("Complete with error=access_denied = %v, want ErrDenied", err)
		}
	})
	t.Run("disabled user", func(t *testing.T) {
		cb := browse(t, mustBegin(t, rp).URL, "bob", "pw-bob")
		res, err := rp.Complete(ctx, cb.Get("state"), cb.Get("code"), "")
		if err != nil || res.AdminRole != authz.Viewer {
			t.Fatalf("Complete = %+v, %v; want bob as viewer", res, err)
		}
		if _, err := st.UpdateUser(ctx, res.User.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
			t.Fatal(err)
		}
		cb = browse(t, mustBegin(t, rp).URL, "bob", "pw-bob")
		if _, err := rp.Complete(ctx, cb.Get("state"), cb.Get("code"), ""); !errors.Is(err, signin.ErrDenied) {
			t.Errorf("Complete for a disabled user = %v, want ErrDenied", err)
		}
	})
}

func TestGroups(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want []string
	}{
		{"list", []any{"b", "a", "b", 3.0, ""}, []string{"a", "b"}},
		{"one string", "eng", []string{"eng"}},
		{"missing", nil, nil},
		{"object", map[string]any{"src1": "x"}, nil},
	}
	for _, tt := range tests {
		if got := signin.Groups(tt.in); !cmp.Equal(got, tt.want) {
			t.Errorf("Groups(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
