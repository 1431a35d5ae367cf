package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/access"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
	"github.com/tollgate-gw/tollgate/internal/ui"
)

// TestSignIn: pages redirect to the sign-in page; a wrong admin key is
// refused; the right one starts a session stored only as a hash; sign-out
// ends it on the server, not just in the browser.
func TestSignIn(t *testing.T) {
	h := startGateway(t)
	c := browser(t, h)
	resp, _ := get(t, c, h.URL+"/ui/keys")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/signin?next=") {
		t.Fatalf("GET /ui/keys signed out = %s to %q, want 303 to the sign-in page", resp.Status, resp.Header.Get("Location"))
	}
	resp, err := c.PostForm(h.URL+"/ui/signin", url.Values{"admin_key": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign in with a wrong key = %s, want 401", resp.Status)
	}
	csrf := signIn(t, h, c)
	u, _ := url.Parse(h.URL)
	var value string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "tollgate_session" {
			value = ck.Value
		}
	}
	if value == "" {
		t.Fatalf("no tollgate_session cookie after sign-in over plain HTTP on loopback")
	}
	db := h.Gateway.Store
	if _, err := db.ConsoleSession(context.Background(), value); err == nil {
		t.Errorf("the session is stored under the cookie's value; want only its hash")
	}
	resp, err = c.PostForm(h.URL+"/ui/signout", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The old cookie, replayed, no longer works.
	req, _ := http.NewRequest("GET", h.URL+"/ui/keys", nil)
	req.AddCookie(&http.Cookie{Name: "tollgate_session", Value: value})
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET with a signed-out session = %s, want 303 to sign-in", resp.Status)
	}
}

// TestCSRF: a POST without the session's token, with another token, or
// from another origin is refused, and changes nothing.
func TestCSRF(t *testing.T) {
	h := startGateway(t)
	c := browser(t, h)
	csrf := signIn(t, h, c)
	for _, tc := range []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"no token", url.Values{"name": {"mallory"}}, nil},
		{"wrong token", url.Values{"name": {"mallory"}, "csrf": {"x" + csrf}}, nil},
		{"cross-site", url.Values{"name": {"mallory"}, "csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"other origin", url.Values{"name": {"mallory"}, "csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}},
	} {
		req, _ := http.NewRequest("POST", h.URL+"/ui/users", strings.NewReader(tc.form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: POST /ui/users = %s, want 403", tc.name, resp.Status)
		}
	}
	if _, body := get(t, c, h.URL+"/ui/users"); strings.Contains(body, "mallory") {
		t.Errorf("a refused POST created the user")
	}
	resp, err := c.PostForm(h.URL+"/ui/users", url.Values{"name": {"alice"}, "csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("POST /ui/users with the token = %s, want 303", resp.Status)
	}
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	styleAttr    = regexp.MustCompile(`\sstyle=`)
)

// TestPagesSecurityHeaders: every page renders, carries the strict CSP and
// has no inline script or style for it to block.
func TestPagesSecurityHeaders(t *testing.T) {
	h := startGateway(t)
	p := h.NewPrincipal(t, "carol", testutil.PrincipalSpec{UserUSD: 10})
	if s := call(t, h, p.Secret, "claude-haiku-4-5", "in=100 out=10"); s != 200 {
		t.Fatalf("call = %d", s)
	}
	waitWritten(t, h, 1)
	c := browser(t, h)
	signIn(t, h, c)
	calls, _ := h.Gateway.Store.RecentCalls(context.Background(), storeFilterNone(), 1)
	pages := []string{"/ui/signin", "/ui/", "/ui/?by=user", "/ui/requests", "/ui/requests/" + calls[0].RequestID, "/ui/keys",
		"/ui/keys/" + p.KeyID, "/ui/users", "/ui/teams", "/ui/budgets", "/ui/limits", "/ui/usage", "/ui/usage?by=model&granularity=hour"}
	for _, path := range pages {
		resp, body := get(t, c, h.URL+path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %s, want 200:\n%s", path, resp.Status, body)
			continue
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != ui.CSP {
			t.Errorf("GET %s: CSP = %q, want %q", path, got, ui.CSP)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
			t.Errorf("GET %s: missing nosniff or Referrer-Policy", path)
		}
		for _, tag := range inlineScript.FindAllString(body, -1) {
			if !strings.Contains(tag, `src="/ui/static/`) {
				t.Errorf("GET %s: inline script %s", path, tag)
			}
		}
		if styleAttr.MatchString(body) || strings.Contains(body, "<style") {
			t.Errorf("GET %s: inline style", path)
		}
	}
	resp, body := get(t, c, h.URL+"/ui/usage.csv?by=user&range=7d")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "time,group,name,requests") || !strings.Contains(body, "carol") {
		t.Errorf("GET /ui/usage.csv = %s:\n%s", resp.Status, body)
	}
}

// TestAdminErrorOnForm: an admin API refusal is shown on the form.
func TestAdminErrorOnForm(t *testing.T) {
	h := startGateway(t)
	c := browser(t, h)
	csrf := signIn(t, h, c)
	for range 2 {
		resp, err := c.PostForm(h.URL+"/ui/teams", url.Values{"name": {"platform"}, "csrf": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadRequest {
			return
		}
	}
	t.Errorf("creating a team twice: no 400 with the admin API's message")
}

// TestConsoleBehindAdminRules: an access rule that fences /admin/ in
// fences the console in too, though no rule names /ui.
func TestConsoleBehindAdminRules(t *testing.T) {
	const secret = "access-secret-0123456789"
	h := startGateway(t, testutil.WithConfig(func(c *config.Config) {
		c.Access.Rules = []access.Rule{{Name: "admin", Paths: []string{"/admin/*"}, AllowCIDRs: []string{"192.0.2.1"},
			AllowHeader: &access.Header{Secrets: []string{secret}}}}
	}))
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"without the header", "", http.StatusForbidden},
		{"with the header", secret, http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", h.URL+"/ui/signin", nil)
		if tc.header != "" {
			req.Header.Set("X-Tollgate-Access", tc.header)
		}
		resp, err := h.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET /ui/signin %s = %s, want %d", tc.name, resp.Status, tc.want)
		}
	}
}

// TestCallPage: the page of a call shows the upstream's request id of a
// call that reached it, and the error the client was told of one that was
// refused.
func TestCallPage(t *testing.T) {
	h := startGateway(t)
	ok := h.NewPrincipal(t, "olga", testutil.PrincipalSpec{})
	if s := call(t, h, ok.Secret, "claude-haiku-4-5", "in=10 out=2"); s != 200 {
		t.Fatalf("call = %d", s)
	}
	broke := h.NewPrincipal(t, "pete", testutil.PrincipalSpec{KeyUSD: 0.000001})
	if s := call(t, h, broke.Secret, "claude-haiku-4-5", "in=10 out=2"); s != 429 {
		t.Fatalf("call over budget = %d, want 429", s)
	}
	waitWritten(t, h, 2)
	c := browser(t, h)
	signIn(t, h, c)
	calls, err := h.Gateway.Store.RecentCalls(context.Background(), storeFilterNone(), 2)
	if err != nil || len(calls) != 2 {
		t.Fatalf("recent calls = %d, %v", len(calls), err)
	}
	for _, call := range calls {
		_, body := get(t, c, h.URL+"/ui/requests/"+call.RequestID)
		switch call.Status {
		case 200:
			if call.UpstreamRequestID == "" || !strings.Contains(body, call.UpstreamRequestID) {
				t.Errorf("page of a served call does not show its upstream request id %q", call.UpstreamRequestID)
			}
		case 429:
			if !strings.Contains(call.ErrorMessage, "budget") || !strings.Contains(body, "over budget") {
				t.Errorf("page of a refused call does not show the error; stored %q", call.ErrorMessage)
			}
		}
	}
}
