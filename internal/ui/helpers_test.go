package ui_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

const adminKey = "tg-admin-console-test-0123456789abcdef"

// startGateway starts a real gateway (SQLite, Bedrock simulator) with a
// known admin key.
func startGateway(t testing.TB, opts ...testutil.Option) *testutil.Harness {
	t.Helper()
	return testutil.Start(t, append([]testutil.Option{testutil.WithEnv("TOLLGATE_ADMIN_KEY", adminKey)}, opts...)...)
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see them.
func browser(t testing.TB, h *testutil.Harness) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := *h.Server.Client()
	c.Jar = jar
	c.Timeout = 20 * time.Second
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// signIn signs c in with the admin key and returns the session's CSRF
// token, read from a page's form.
func signIn(t testing.TB, h *testutil.Harness, c *http.Client) string {
	t.Helper()
	resp, err := c.PostForm(h.URL+"/ui/signin", url.Values{"admin_key": {adminKey}, "next": {"/ui/users"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/users" {
		t.Fatalf("sign in: %s to %q, want 303 to /ui/users", resp.Status, resp.Header.Get("Location"))
	}
	_, body := get(t, c, h.URL+"/ui/users")
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	if !ok {
		t.Fatalf("no CSRF token on /ui/users:\n%s", body)
	}
	token, _, _ := strings.Cut(rest, `"`)
	return token
}

func get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

// waitWritten waits until the usage writer has stored n rows.
func waitWritten(t testing.TB, h *testutil.Harness, n int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for h.Gateway.Writer.Stats().Written < n {
		if time.Now().After(deadline) {
			t.Fatalf("usage writer stored %d rows, want %d", h.Gateway.Writer.Stats().Written, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call sends one Messages call through the gateway with secret.
func call(t testing.TB, h *testutil.Harness, secret, model, usage string) int {
	t.Helper()
	body := `{"model":"` + model + `","max_tokens":100,"messages":[{"role":"user","content":"hi [[sim:usage ` + usage + `]]"}]}`
	status, _, _ := h.Post(t, "/v1/messages", body, map[string]string{"x-api-key": secret})
	return status
}

func storeFilterNone() store.CallFilter { return store.CallFilter{} }
