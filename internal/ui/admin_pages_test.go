package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// post submits a console form and returns the answer's status and body.
func post(t testing.TB, c *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
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
	return resp.StatusCode, b.String()
}

// signInAccount signs c in as a named admin account and returns the
// session's CSRF token.
func signInAccount(t testing.TB, h *testutil.Harness, c *http.Client, name, password string) string {
	t.Helper()
	status, _ := post(t, c, h.URL+"/ui/signin", url.Values{"name": {name}, "password": {password}, "next": {"/ui/"}})
	if status != http.StatusSeeOther {
		t.Fatalf("sign in as %s = %d, want 303", name, status)
	}
	_, body := get(t, c, h.URL+"/ui/")
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	if !ok {
		t.Fatalf("no CSRF token on /ui/ for %s", name)
	}
	token, _, _ := strings.Cut(rest, `"`)
	return token
}

var secretRE = regexp.MustCompile(`<pre class="secret" id="secret">([^<]+)</pre>`)

// TestModelsPage: a model added on the models page is routed at once; the
// test button shows the one-token call's result; file and catalog models
// have no remove button and say why; a removed model is gone.
func TestModelsPage(t *testing.T) {
	h := startGateway(t)
	p := h.NewPrincipal(t, "mia", testutil.PrincipalSpec{})
	c := browser(t, h)
	csrf := signIn(t, h, c)

	status, body := post(t, c, h.URL+"/ui/models", url.Values{"csrf": {csrf}, "name": {"team-sonnet"},
		"targets": {"bedrock us.anthropic.claude-sonnet-4-5-20250929-v1:0 2\n"}, "strategy": {"weighted"},
		"price_input": {"2.5"}, "price_output": {"12"}})
	if status != http.StatusSeeOther {
		t.Fatalf("add model = %d:\n%s", status, body)
	}
	if s := call(t, h, p.Secret, "team-sonnet", "in=10 out=1"); s != 200 {
		t.Errorf("call to the model added in the console = %d, want 200", s)
	}
	_, body = get(t, c, h.URL+"/ui/models")
	for _, want := range []string{`data-model="team-sonnet" data-source="database"`, `action="/ui/models/team-sonnet/delete"`,
		"2.50 / 12.00", `data-source="catalog"`} {
		if !strings.Contains(body, want) {
			t.Errorf("models page lacks %q", want)
		}
	}
	if strings.Contains(body, `action="/ui/models/claude-haiku-4-5-20251001/delete"`) {
		t.Errorf("a catalog model has a remove button")
	}
	if !strings.Contains(body, `action="/ui/models/claude-haiku-4-5-20251001/test"`) {
		t.Errorf("a catalog model has no test button")
	}
	if !strings.Contains(body, "built-in catalog") && !strings.Contains(body, "config file:") {
		t.Errorf("read-only models do not say why")
	}

	status, body = post(t, c, h.URL+"/ui/models/team-sonnet/test", url.Values{"csrf": {csrf}})
	if status != http.StatusOK || !strings.Contains(body, `id="test-result"`) || !strings.Contains(body, "answered") {
		t.Errorf("test = %d, want the call's result shown:\n%s", status, body)
	}

	status, body = post(t, c, h.URL+"/ui/models/team-sonnet", url.Values{"csrf": {csrf}, "targets": {"bedrock"}})
	if status != http.StatusBadRequest || !strings.Contains(body, "provider upstream-id") {
		t.Errorf("edit with a bad target line = %d, want 400 naming the form of a line", status)
	}
	status, _ = post(t, c, h.URL+"/ui/models/team-sonnet", url.Values{"csrf": {csrf}, "strategy": {"ordered"},
		"targets": {"bedrock global.anthropic.claude-sonnet-4-5-20250929-v1:0"}, "price_input": {"4"}, "price_output": {"20"}})
	if status != http.StatusSeeOther {
		t.Fatalf("edit = %d, want 303", status)
	}
	_, body = get(t, c, h.URL+"/ui/models/team-sonnet")
	if !strings.Contains(body, "global.anthropic.claude-sonnet-4-5-20250929-v1:0") || !strings.Contains(body, "4.00 / 20.00") ||
		!strings.Contains(body, `id="edit-model"`) {
		t.Errorf("the model's page does not show the edit:\n%s", body)
	}
	if s := call(t, h, p.Secret, "team-sonnet", "in=10 out=1"); s != 200 {
		t.Errorf("call after the edit = %d, want 200", s)
	}
	_, body = get(t, c, h.URL+"/ui/models/claude-haiku-4-5-20251001")
	if strings.Contains(body, `id="edit-model"`) || !strings.Contains(body, "built-in catalog") {
		t.Errorf("a catalog model's page offers an edit form or does not say why not:\n%s", body)
	}
	status, _ = post(t, c, h.URL+"/ui/models/team-sonnet/delete", url.Values{"csrf": {csrf}})
	if status != http.StatusSeeOther {
		t.Fatalf("remove = %d, want 303", status)
	}
	if s := call(t, h, p.Secret, "team-sonnet", "in=10 out=1"); s == 200 {
		t.Errorf("the removed model still answers")
	}
}

// TestViewerAndAudit: an owner creates a viewer account on the admins
// page (password shown once); the viewer sees the pages without write
// controls and without the admins section, and a forged write with the
// viewer's own CSRF token shows the admin API's 403; the audit page shows
// the owner's changes with before and after.
func TestViewerAndAudit(t *testing.T) {
	h := startGateway(t)
	owner := browser(t, h)
	csrf := signIn(t, h, owner)
	status, body := post(t, owner, h.URL+"/ui/admins/accounts", url.Values{"csrf": {csrf}, "name": {"vera"}, "role": {"viewer"}})
	m := secretRE.FindStringSubmatch(body)
	if status != http.StatusCreated || m == nil {
		t.Fatalf("create account = %d, want 201 with the generated password:\n%s", status, body)
	}
	password := m[1]
	if _, again := get(t, owner, h.URL+"/ui/admins"); strings.Contains(again, password) {
		t.Errorf("the password is shown again on the admins page")
	}
	status, body = post(t, owner, h.URL+"/ui/admins/tokens", url.Values{"csrf": {csrf}, "name": {"ci-bot"}, "role": {"admin"}})
	if m := secretRE.FindStringSubmatch(body); status != http.StatusCreated || m == nil {
		t.Errorf("create token = %d, want 201 with the secret", status)
	}
	if status, _ := post(t, owner, h.URL+"/ui/teams", url.Values{"csrf": {csrf}, "name": {"audited"}}); status != http.StatusSeeOther {
		t.Fatalf("create team = %d", status)
	}

	viewer := browser(t, h)
	vcsrf := signInAccount(t, h, viewer, "vera", password)
	for _, page := range []string{"/ui/", "/ui/keys", "/ui/users", "/ui/teams", "/ui/budgets", "/ui/limits", "/ui/models", "/ui/audit"} {
		resp, body := get(t, viewer, h.URL+page)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("viewer GET %s = %s", page, resp.Status)
			continue
		}
		if n := strings.Count(body, `method="post"`); n != 1 { // sign out
			t.Errorf("viewer sees %d forms that post on %s, want only sign-out", n, page)
		}
		if strings.Contains(body, `href="/ui/admins"`) {
			t.Errorf("viewer's navigation on %s links the admins page", page)
		}
	}
	status, body = post(t, viewer, h.URL+"/ui/teams", url.Values{"csrf": {vcsrf}, "name": {"forged"}})
	if status != http.StatusForbidden || !strings.Contains(body, `class="flash error"`) ||
		!strings.Contains(body, "teams:write") {
		t.Errorf("viewer's forged POST = %d, want the API's 403 message shown:\n%s", status, body)
	}

	_, body = get(t, owner, h.URL+"/ui/audit")
	for _, want := range []string{`data-action="accounts.create" data-via="console"`, `data-action="tokens.create"`,
		`data-action="teams.create" data-via="console"`, `<td class="after">&#34;audited&#34;</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	if strings.Contains(body, password) {
		t.Errorf("the audit page shows the account's password")
	}
	// The owner changes vera's role on her row: the next page she loads
	// offers the forms of an admin.
	_, body = get(t, owner, h.URL+"/ui/admins")
	id := regexp.MustCompile(`<tr data-account="vera"><td>vera</td><td><form method="post" action="/ui/admins/accounts/([^"]+)"`).FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no role form on vera's row:\n%s", body)
	}
	if status, _ := post(t, owner, h.URL+"/ui/admins/accounts/"+id[1], url.Values{"csrf": {csrf}, "role": {"admin"}}); status != http.StatusSeeOther {
		t.Fatalf("change vera's role = %d, want 303", status)
	}
	if _, body := get(t, viewer, h.URL+"/ui/teams"); !strings.Contains(body, `id="new-team"`) {
		t.Errorf("after the role change vera's open session still has no team form")
	}
	// Disabled, her open session ends at once.
	if status, _ := post(t, owner, h.URL+"/ui/admins/accounts/"+id[1], url.Values{"csrf": {csrf}, "action": {"disable"}}); status != http.StatusSeeOther {
		t.Fatalf("disable vera = %d, want 303", status)
	}
	if resp, _ := get(t, viewer, h.URL+"/ui/teams"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a disabled account's open session: GET /ui/teams = %s, want 303 to the sign-in page", resp.Status)
	}
	if status, _ := post(t, viewer, h.URL+"/ui/teams", url.Values{"csrf": {vcsrf}, "name": {"after-disable"}}); status != http.StatusUnauthorized {
		t.Errorf("a disabled account's open session could still post: %d", status)
	}

	_, body = get(t, owner, h.URL+"/ui/audit?action=teams.")
	if strings.Contains(body, `data-action="accounts.create"`) || !strings.Contains(body, `data-action="teams.create"`) {
		t.Errorf("the action filter does not narrow the log")
	}
}
