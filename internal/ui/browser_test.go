package ui_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// chromium returns the browser the tests drive: TOLLGATE_TEST_CHROMIUM
// (scripts/chromium.sh prints it). Without it the browser tests skip, and
// fail when CI=true, so a missing browser can never pass silently.
func chromium(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("TOLLGATE_TEST_CHROMIUM")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but TOLLGATE_TEST_CHROMIUM is not set: run scripts/chromium.sh")
		}
		t.Skip("TOLLGATE_TEST_CHROMIUM not set; eval \"$(scripts/chromium.sh)\" to run the browser tests")
	}
	return bin
}

// newBrowser starts a headless Chromium for the test, closed with it.
func newBrowser(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // root in CI containers
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-gpu", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// run runs steps in the browser, failing the test with what on error.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action that returns a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// acceptLanguage makes the browser send header as Accept-Language.
func acceptLanguage(header string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": header}})
		return err
	})
}

func browserSignIn(t *testing.T, ctx context.Context, h *testutil.Harness) {
	t.Helper()
	run(t, ctx, "sign in",
		chromedp.Navigate(h.URL+"/ui/"),
		chromedp.WaitVisible(css(`input[name=admin_key]`)),
		chromedp.SendKeys(css(`input[name=admin_key]`), adminKey),
		chromedp.Submit(css(`#signin-key`)),
		chromedp.WaitVisible(css(`nav.nav`)),
	)
	path := value(t, ctx, "location", chromedp.Evaluate[string](`location.pathname`))
	if path != "/ui/" {
		t.Fatalf("after sign-in the browser is at %q, want /ui/", path)
	}
}

// TestBrowser drives the console in a real Chromium against a real
// gateway: sign in, a chart drawn from real calls, a key created in the
// console and used by the official SDK, a budget lowered in the console
// refusing the next call, CSRF and CSP as the browser sees them.
func TestBrowser(t *testing.T) {
	ctx := newBrowser(t, 1280, 900)
	h := startGateway(t)
	carol := h.NewPrincipal(t, "carol", testutil.PrincipalSpec{UserUSD: 50})
	for _, m := range []string{"claude-haiku-4-5", "claude-sonnet-4-5"} {
		if s := call(t, h, carol.Secret, m, "in=2000 out=300"); s != 200 {
			t.Fatalf("call %s = %d, want 200", m, s)
		}
	}
	waitWritten(t, h, 2)
	browserSignIn(t, ctx, h)

	t.Run("chart from real calls", func(t *testing.T) {
		for _, tc := range []struct{ by, group string }{
			{"model", "claude-haiku-4-5"}, {"model", "claude-sonnet-4-5"}, {"user", carol.UserID}, {"team", carol.TeamID},
		} {
			run(t, ctx, "overview by "+tc.by, chromedp.Navigate(h.URL+"/ui/?by="+tc.by), chromedp.WaitVisible(css(`svg.chart-svg`)))
			marks := value(t, ctx, "marks", chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll('svg.chart-svg rect.mark[data-group^=%q]').length`, tc.group)))
			if marks == 0 {
				t.Errorf("chart by %s has no mark for %s", tc.by, tc.group)
			}
		}
	})

	t.Run("create a key and use it from the SDK", func(t *testing.T) {
		run(t, ctx, "create key",
			chromedp.Navigate(h.URL+"/ui/keys"),
			chromedp.WaitVisible(css(`#new-key`)),
			chromedp.SendKeys(css(`#new-key input[name=alias]`), "sdk-from-console"),
			chromedp.SetValue(css(`#new-key select[name=user]`), carol.UserID),
			chromedp.Submit(css(`#new-key`)),
			chromedp.WaitVisible(css(`#secret`)),
		)
		secret := strings.TrimSpace(value(t, ctx, "secret", chromedp.Text(css(`#secret`))))
		if dir := os.Getenv("TOLLGATE_SCREENSHOTS"); dir != "" {
			png := value(t, ctx, "screenshot", chromedp.FullScreenshot(100))
			if err := os.WriteFile(filepath.Join(dir, "secret-en.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if secret == "" || secret == carol.Secret {
			t.Fatalf("secret shown = %q", secret)
		}
		snippet := value(t, ctx, "snippet", chromedp.Text(css(`#snip-bedrock`)))
		if !strings.Contains(snippet, "CLAUDE_CODE_USE_BEDROCK=1") || !strings.Contains(snippet, "x-api-key: "+secret) ||
			!strings.Contains(snippet, "ANTHROPIC_BEDROCK_BASE_URL="+h.URL) {
			t.Errorf("Bedrock snippet =\n%s", snippet)
		}
		c := anthropic.NewClient(option.WithBaseURL(h.URL), option.WithAPIKey(secret), option.WithMaxRetries(0),
			option.WithRequestTimeout(20*time.Second))
		msg, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{
			Model: "claude-haiku-4-5", MaxTokens: 50,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello [[sim:text from the console key]]"))},
		})
		if err != nil {
			t.Fatalf("SDK call with the console's key: %v", err)
		}
		if len(msg.Content) == 0 || msg.Content[0].Text != "from the console key" {
			t.Errorf("SDK answer = %+v", msg.Content)
		}
	})

	t.Run("lower a budget and the next call is refused", func(t *testing.T) {
		budgets, err := h.Gateway.Store.ListBudgets(context.Background(), store.ScopeFilter{})
		if err != nil || len(budgets) != 1 {
			t.Fatalf("budgets = %v, %v; want carol's", budgets, err)
		}
		if s := call(t, h, carol.Secret, "claude-haiku-4-5", "in=10 out=1"); s != 200 {
			t.Fatalf("call before lowering = %d, want 200", s)
		}
		run(t, ctx, "lower budget",
			chromedp.Navigate(h.URL+"/ui/budgets"),
			chromedp.Click(css(`a[href="/ui/budgets/`+budgets[0].ID+`"]`)),
			chromedp.WaitVisible(css(`#edit-budget`)),
			chromedp.SetValue(css(`#edit-budget input[name=limit_usd]`), "0.000001"),
			chromedp.Submit(css(`#edit-budget`)),
			chromedp.WaitVisible(css(`.flash.ok`)),
		)
		if s := call(t, h, carol.Secret, "claude-haiku-4-5", "in=10 out=1"); s != 429 {
			t.Errorf("call after lowering the budget in the console = %d, want 429", s)
		}
	})

	dave := h.NewPrincipal(t, "dave", testutil.PrincipalSpec{})
	t.Run("add a model and call it from the SDK without restart", func(t *testing.T) {
		run(t, ctx, "add model",
			chromedp.Navigate(h.URL+"/ui/models"),
			chromedp.WaitVisible(css(`#new-model`)),
			chromedp.SendKeys(css(`#new-model input[name=name]`), "console-sonnet"),
			chromedp.SetValue(css(`#new-model textarea[name=targets]`), "bedrock us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
			chromedp.SendKeys(css(`#new-model input[name=price_input]`), "3"),
			chromedp.SendKeys(css(`#new-model input[name=price_output]`), "15"),
			chromedp.Submit(css(`#new-model`)),
			chromedp.WaitVisible(css(`.flash.ok`)),
		)
		src := value(t, ctx, "source", chromedp.Evaluate[string](`document.querySelector('tr[data-model="console-sonnet"]').dataset.source`))
		if src != "database" {
			t.Errorf("the new model's source = %q, want database", src)
		}
		c := anthropic.NewClient(option.WithBaseURL(h.URL), option.WithAPIKey(dave.Secret), option.WithMaxRetries(0),
			option.WithRequestTimeout(20*time.Second))
		msg, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{
			Model: "console-sonnet", MaxTokens: 50,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello [[sim:text from the console model]]"))},
		})
		if err != nil {
			t.Fatalf("SDK call to the model added in the console: %v", err)
		}
		if len(msg.Content) == 0 || msg.Content[0].Text != "from the console model" {
			t.Errorf("SDK answer = %+v", msg.Content)
		}
		run(t, ctx, "test the model", chromedp.Click(css(`form[action="/ui/models/console-sonnet/test"] button`)), chromedp.WaitVisible(css(`#test-result`)))
		if txt := value(t, ctx, "test result", chromedp.Text(css(`#test-result`))); !strings.Contains(txt, "answered") {
			t.Errorf("test result = %q, want an answered call", txt)
		}
	})

	t.Run("the audit log shows each change", func(t *testing.T) {
		run(t, ctx, "audit page", chromedp.Navigate(h.URL+"/ui/audit"), chromedp.WaitVisible(css(`ol.audit`)))
		for _, action := range []string{"keys.create", "budgets.update", "models.create"} {
			who := value(t, ctx, action, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll('li.event[data-action=%q]')].map(e =>
				e.querySelector('.actor').textContent + '|' + e.querySelector('.via').textContent)`, action)))
			if len(who) == 0 {
				t.Errorf("the audit page shows no %s", action)
				continue
			}
			if who[0] != "admin key|console" {
				t.Errorf("%s by %q, want admin key|console", action, who[0])
			}
		}
		// The lowered budget shows as a change of its limit.
		diff := value(t, ctx, "budget diff", chromedp.Evaluate[string](`[...document.querySelectorAll('li.event[data-action="budgets.update"] table.diff tr.changed')].map(r => r.textContent).join(';')`))
		if !strings.Contains(diff, "limit_usd") {
			t.Errorf("budgets.update diff = %q, want the limit's change", diff)
		}
	})

	t.Run("accounts: a viewer cannot write, a team admin sees its team's keys", func(t *testing.T) {
		for _, a := range [][3]string{{"vera", "viewer", ""}, {"tara", "team_admin", carol.TeamID}} {
			steps := []chromedp.Action[chromedp.Void]{
				chromedp.Navigate(h.URL + "/ui/admins"),
				chromedp.WaitVisible(css(`#new-account`)),
				chromedp.SendKeys(css(`#new-account input[name=name]`), a[0]),
				chromedp.SendKeys(css(`#new-account input[name=password]`), a[0]+"-password-1234"),
				chromedp.SetValue(css(`#new-account select[name=role]`), a[1]),
			}
			if a[2] != "" {
				steps = append(steps, chromedp.SetValue(css(`#new-account select[name=teams]`), a[2]))
			}
			steps = append(steps, chromedp.Submit(css(`#new-account`)), chromedp.WaitVisible(css(`#secret`)))
			run(t, ctx, "create "+a[0], steps...)
		}
		signInAs := func(name string) {
			run(t, ctx, "sign in as "+name,
				chromedp.Navigate(h.URL+"/ui/keys"), chromedp.Submit(css(`form[action="/ui/signout"]`)),
				chromedp.WaitVisible(css(`input[name=password]`)),
				chromedp.SendKeys(css(`input[name=name]`), name),
				chromedp.SendKeys(css(`input[name=password]`), name+"-password-1234"),
				chromedp.Submit(css(`input[name=password]`)),
				chromedp.WaitVisible(css(`nav.nav`)))
		}
		signInAs("vera")
		for _, pg := range []string{"/ui/", "/ui/keys", "/ui/users", "/ui/teams", "/ui/budgets", "/ui/limits", "/ui/models", "/ui/audit"} {
			run(t, ctx, pg, chromedp.Navigate(h.URL+pg), chromedp.WaitVisible(css(`main`)))
			writes := value(t, ctx, "forms", chromedp.Evaluate[int](`document.querySelectorAll('form[method=post]:not([action="/ui/signout"])').length`))
			if writes != 0 {
				t.Errorf("the viewer sees %d write forms on %s", writes, pg)
			}
			if admins := value(t, ctx, "nav", chromedp.Evaluate[int](`document.querySelectorAll('nav a[href="/ui/admins"]').length`)); admins != 0 {
				t.Errorf("the viewer's navigation on %s links the admins page", pg)
			}
		}
		// A forged write with the viewer's own valid CSRF token: the
		// console passes it on, and the admin API's 403 is shown.
		run(t, ctx, "forged post", chromedp.Navigate(h.URL+"/ui/teams"), chromedp.WaitVisible(css(`main`)),
			chromedp.Evaluate[chromedp.Void](`(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/ui/teams';
				for (const [k, v] of [['csrf', document.querySelector('input[name=csrf]').value], ['name', 'forged']]) {
					const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }
				document.body.appendChild(f); f.submit(); })()`),
			chromedp.WaitVisible(css(`.flash.error`)))
		msg := value(t, ctx, "403 message", chromedp.Text(css(`.flash.error`)))
		if !strings.Contains(msg, "role viewer may not do this") || !strings.Contains(msg, "teams:write") {
			t.Errorf("forged POST shows %q, want the admin API's 403", msg)
		}

		signInAs("tara")
		run(t, ctx, "team admin's keys", chromedp.Navigate(h.URL+"/ui/keys"), chromedp.WaitVisible(css(`main table`)))
		keys := value(t, ctx, "keys", chromedp.Text(css(`main table tbody`)))
		// sdk-from-console belongs to carol but no team: not the team admin's.
		if !strings.Contains(keys, "carol-key") || strings.Contains(keys, "sdk-from-console") || strings.Contains(keys, "dave-key") {
			t.Errorf("the team admin of carol's team sees keys:\n%s\nwant carol's only", keys)
		}
		if n := value(t, ctx, "users nav", chromedp.Evaluate[int](`document.querySelectorAll('nav a[href="/ui/users"], nav a[href="/ui/admins"]').length`)); n != 0 {
			t.Errorf("the team admin's navigation links users or admins")
		}
		run(t, ctx, "back to the owner", chromedp.Submit(css(`form[action="/ui/signout"]`)), chromedp.WaitVisible(css(`#signin-key`)))
		browserSignIn(t, ctx, h)
	})

	t.Run("CSRF and CSP in the browser", func(t *testing.T) {
		run(t, ctx, "users page", chromedp.Navigate(h.URL+"/ui/users"), chromedp.WaitVisible(css(`main`)))
		status := value(t, ctx, "post without token", chromedp.Evaluate[int](
			`fetch('/ui/users', {method: 'POST', body: new URLSearchParams({name: 'mallory'})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
		inline := value(t, ctx, "inline", chromedp.Evaluate[int](`document.querySelectorAll('script:not([src]), [style]').length`))
		if status != 403 {
			t.Errorf("POST /ui/users without the CSRF token from the page = %d, want 403", status)
		}
		if inline != 0 {
			t.Errorf("%d inline scripts or style attributes on /ui/users", inline)
		}
		// The policy is enforced: a script the page injects inline does not run.
		ran := value(t, ctx, "inline script blocked", chromedp.Evaluate[bool](`(() => { const s = document.createElement('script');
			s.textContent = 'window.__inline = true'; document.body.appendChild(s); return window.__inline === true; })()`))
		if ran {
			t.Errorf("an inline script ran despite the CSP")
		}
	})
}

// overflowJS lists the elements whose content is wider than their box,
// and the document when it is wider than the window.
const overflowJS = `(() => {
  const bad = [];
  if (document.documentElement.scrollWidth > window.innerWidth) bad.push('document ' + document.documentElement.scrollWidth);
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg')) continue;
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      bad.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' ' + el.scrollWidth + '>' + el.clientWidth + ': ' + el.textContent.trim().slice(0, 40));
    }
  }
  return bad;
})()`

// consolePages are the pages the overflow test and the screenshots visit.
func consolePages(h *testutil.Harness, p testutil.Principal, requestID string) [][2]string {
	return [][2]string{
		{"overview", "/ui/"}, {"requests", "/ui/requests"}, {"request", "/ui/requests/" + requestID}, {"keys", "/ui/keys"},
		{"key", "/ui/keys/" + p.KeyID}, {"users", "/ui/users"}, {"teams", "/ui/teams"}, {"budgets", "/ui/budgets"},
		{"limits", "/ui/limits"}, {"usage", "/ui/usage?by=model&range=7d&granularity=hour"},
		{"models", "/ui/models"}, {"model", "/ui/models/" + consoleModel}, {"audit", "/ui/audit"}, {"admins", "/ui/admins"},
	}
}

// consoleModel is the database model seedAdmin adds, whose page the
// overflow test and the screenshots visit.
const consoleModel = "チーム-sonnet-長い名前のモデル"

// seedAdmin makes, through the admin API, what the models, audit and
// admins pages show: a database model with its own price, admin accounts
// of each role, a scoped token, and changes to audit.
func seedAdmin(t *testing.T, h *testutil.Harness, p testutil.Principal) {
	t.Helper()
	auth := map[string]string{"Authorization": "Bearer " + adminKey}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/admin/models", `{"name":"` + consoleModel + `","display_name":"Sonnet（チーム専用）","strategy":"weighted","targets":[` +
			`{"provider":"bedrock","model":"us.anthropic.claude-sonnet-4-5-20250929-v1:0","weight":3},` +
			`{"provider":"bedrock","model":"global.anthropic.claude-sonnet-4-5-20250929-v1:0","weight":1}],` +
			`"price":{"input":3,"output":15,"cache_write_5m":3.75,"cache_write_1h":6,"cache_read":0.3}}`},
		{"PATCH", "/admin/models/" + url.PathEscape(consoleModel), `{"price":{"input":2.5,"output":12,"cache_write_5m":3.1,"cache_write_1h":5,"cache_read":0.25}}`},
		{"POST", "/admin/accounts", `{"name":"佐藤花子","password":"hanako-password-1234","role":"admin"}`},
		{"POST", "/admin/accounts", `{"name":"team-lead","password":"lead-password-1234","role":"team_admin","teams":["` + p.TeamID + `"]}`},
		{"POST", "/admin/accounts", `{"name":"finance","password":"finance-password-1234","role":"viewer"}`},
		{"POST", "/admin/tokens", `{"name":"ci-automation","role":"admin","expires_in":"90d"}`},
		{"PATCH", "/admin/keys/" + p.KeyID, `{"alias":"山田の作業用キー"}`},
	} {
		if status, _, body := h.Do(t, c.method, c.path, c.body, auth); status >= 300 {
			t.Fatalf("%s %s = %d: %s", c.method, c.path, status, body)
		}
	}
}

// TestBrowserJapanese: with a Japanese browser every page is in Japanese
// and nothing overflows its box, at a desktop and a narrow width. With
// TOLLGATE_SCREENSHOTS=dir it also saves a screenshot of every page in
// both languages (docs/screenshots).
func TestBrowserJapanese(t *testing.T) {
	shots := os.Getenv("TOLLGATE_SCREENSHOTS")
	h := startGateway(t)
	p := h.NewPrincipal(t, "山田太郎", testutil.PrincipalSpec{UserUSD: 25, TeamUSD: 200, KeyLimit: &store.Limit{RPM: 60, TPM: 100000}})
	q := h.NewPrincipal(t, "ops-bot", testutil.PrincipalSpec{KeyUSD: 5})
	n := 0
	for i, m := range []string{"claude-haiku-4-5", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"} {
		for _, who := range []testutil.Principal{p, q} {
			call(t, h, who.Secret, m, fmt.Sprintf("in=%d out=%d cr=%d", 1000*(i+1), 200*(i+1), 500*i))
			n++
		}
	}
	waitWritten(t, h, int64(n))
	// Two weeks of earlier usage, so the charts have history to show.
	var past []usage.Record
	now := time.Now().UTC()
	models := []string{"claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805"}
	for d := 1; d < 14; d++ {
		for i, who := range []testutil.Principal{p, q} {
			for j, m := range models {
				past = append(past, usage.Record{RequestID: fmt.Sprintf("past-%d-%d-%d", d, i, j), Time: now.Add(-time.Duration(d) * 24 * time.Hour),
					KeyID: who.KeyID, KeyAlias: "key", UserID: who.UserID, TeamID: who.TeamID, Model: m, Status: 200,
					Tokens: tokens.Counts{Input: int64(1000 * (d%5 + 1)), Output: 300}, CostMicros: int64((d%7 + 1) * (j + 1) * (i + 2) * 9000)})
			}
		}
	}
	if err := h.Gateway.Store.InsertUsage(context.Background(), past); err != nil {
		t.Fatal(err)
	}
	seedAdmin(t, h, p)
	calls, err := h.Gateway.Store.RecentCalls(context.Background(), store.CallFilter{}, 1)
	if err != nil || len(calls) == 0 {
		t.Fatalf("recent calls: %v", err)
	}
	for _, size := range [][2]int{{1280, 900}, {760, 900}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			ctx := newBrowser(t, size[0], size[1])
			run(t, ctx, "Accept-Language", acceptLanguage("ja-JP,ja;q=0.9,en;q=0.5"))
			browserSignIn(t, ctx, h)
			for _, pg := range consolePages(h, p, calls[0].RequestID) {
				run(t, ctx, pg[1], chromedp.Navigate(h.URL+pg[1]), chromedp.WaitVisible(css(`main`)))
				lang := value(t, ctx, "lang", chromedp.Evaluate[string](`document.documentElement.lang`))
				bad := value(t, ctx, "overflow", chromedp.Evaluate[[]string](overflowJS))
				if lang != "ja" {
					t.Errorf("%s: lang = %q, want ja", pg[1], lang)
				}
				if len(bad) > 0 {
					t.Errorf("%s at %dpx: overflowing:\n%s", pg[1], size[0], strings.Join(bad, "\n"))
				}
			}
			if shots == "" || size[0] != 1280 {
				return
			}
			for _, code := range []string{"ja", "en"} {
				run(t, ctx, "switch language", chromedp.Navigate(h.URL+"/ui/lang/"+code+"?next=/ui/"))
				for _, pg := range consolePages(h, p, calls[0].RequestID) {
					run(t, ctx, pg[1], chromedp.Navigate(h.URL+pg[1]), chromedp.WaitVisible(css(`main`)))
					png := value(t, ctx, "screenshot "+pg[1], chromedp.FullScreenshot(100))
					name := filepath.Join(shots, pg[0]+"-"+code+".png")
					if err := os.WriteFile(name, png, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			run(t, ctx, "sign out for the sign-in screenshot",
				chromedp.Navigate(h.URL+"/ui/keys"), chromedp.Submit(css(`form[action="/ui/signout"]`)),
				chromedp.WaitVisible(css(`#signin-key`)))
			png := value(t, ctx, "screenshot sign-in", chromedp.FullScreenshot(100))
			if err := os.WriteFile(filepath.Join(shots, "signin-en.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}
