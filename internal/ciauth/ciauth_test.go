package ciauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/ciauth"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// clock is a settable clock shared by the gateway and the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

const message = `{"model":"claude-sonnet-4-5","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`

func startCI(t *testing.T) (*testutil.Harness, *testutil.GitHubIssuer, *clock) {
	t.Helper()
	iss := testutil.NewGitHubIssuer(t)
	clk := &clock{t: time.Now().Truncate(time.Second)}
	h := testutil.Start(t, testutil.WithClock(clk.Now), testutil.WithConfig(func(c *config.Config) {
		c.GitHubActions = config.GitHubActions{Issuer: iss.URL, Audience: "https://gw.example", Rules: []config.GitHubActionsRule{
			{Name: "acme-main", Match: map[string]string{"repository": "acme/*", "ref": "refs/heads/main"}, TTL: 10 * time.Minute,
				Models: []string{"claude-sonnet-4-5"}, Tags: map[string]string{"cost_center": "ci"},
				RateLimit: &config.AutoLimit{RPM: 100}, Budget: &config.AutoBudget{USD: 2}},
			{Name: "acme-release", Match: map[string]string{"repository": "acme/*", "environment": "release"}},
		}}
	}))
	return h, iss, clk
}

// exchange posts a token and decodes the answer.
func exchange(t *testing.T, h *testutil.Harness, token string) (int, http.Header, map[string]any) {
	t.Helper()
	st, hdr, body := h.Post(t, ciauth.Path, "", map[string]string{"Authorization": "Bearer " + token, "x-api-key": ""})
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("POST %s = %d %q, not JSON: %v", ciauth.Path, st, body, err)
	}
	return st, hdr, out
}

func TestExchangeKeyWorksUntilItExpires(t *testing.T) {
	h, iss, clk := startCI(t)
	claims := iss.Claims("acme/app", "4242", "https://gw.example", clk.Now())
	st, hdr, out := exchange(t, h, iss.Sign(t, claims))
	if st != http.StatusOK {
		t.Fatalf("exchange = %d %v, want 200", st, out)
	}
	if hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", hdr.Get("Cache-Control"))
	}
	key, _ := out["key"].(string)
	if !strings.HasPrefix(key, store.KeySecretPrefix) || out["rule"] != "acme-main" || out["expires_in"] != float64(600) {
		t.Fatalf("exchange answer = %v, want a tg- key from rule acme-main for 600 s", out)
	}

	// The key is stored with the rule's models, limits, tags and claims.
	kid := out["key_id"].(string)
	sk, err := h.Gateway.Store.GetKey(context.Background(), kid)
	if err != nil {
		t.Fatal(err)
	}
	wantTags := map[string]string{"repository": "acme/app", "workflow": "ci", "ref": "refs/heads/main", "run_id": "4242",
		"run_attempt": "1", "ci_rule": "acme-main", "cost_center": "ci"}
	if diff := cmp.Diff(wantTags, sk.Tags); diff != "" {
		t.Errorf("key tags (-want +got):\n%s", diff)
	}
	if !cmp.Equal(sk.Models, []string{"claude-sonnet-4-5"}) || !sk.ExpiresAt.Equal(time.UnixMilli(clk.Now().Add(10*time.Minute).UnixMilli())) {
		t.Errorf("key = models %v expires %v, want the rule's model and now+10m", sk.Models, sk.ExpiresAt)
	}
	ci, err := h.Gateway.Store.GetCIKey(context.Background(), kid)
	if err != nil || ci.Repository != "acme/app" || ci.RunID != "4242" || ci.Claims["sha"] != claims["sha"] {
		t.Errorf("GetCIKey = %+v, %v; want the token's claims", ci, err)
	}
	if ls, _ := h.Gateway.Store.ListLimits(context.Background(), store.ScopeFilter{ScopeKind: store.ScopeKey, ScopeID: kid}); len(ls) != 1 || ls[0].RPM != 100 {
		t.Errorf("key limits = %+v, want RPM 100", ls)
	}

	auth := map[string]string{"x-api-key": key}
	if st, _, body := h.Post(t, "/v1/messages", message, auth); st != http.StatusOK {
		t.Fatalf("/v1/messages with the CI key = %d %s, want 200", st, body)
	}
	if st, _, body := h.Post(t, "/v1/messages", strings.Replace(message, "claude-sonnet-4-5", "claude-haiku-4-5", 1), auth); st != http.StatusForbidden {
		t.Errorf("/v1/messages for a model outside the rule = %d %s, want 403", st, body)
	}
	clk.Advance(9 * time.Minute)
	if st, _, body := h.Post(t, "/v1/messages", message, auth); st != http.StatusOK {
		t.Fatalf("/v1/messages 9 minutes later = %d %s, want 200", st, body)
	}
	clk.Advance(time.Minute)
	if st, _, body := h.Post(t, "/v1/messages", message, auth); st != http.StatusUnauthorized {
		t.Fatalf("/v1/messages after the key expired = %d %s, want 401", st, body)
	}

	// Usage rows carry the repository and the run.
	if err := h.Gateway.Writer.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[string]string{"repository": "acme/app", "run_id": "4242"} {
		rows, err := h.Gateway.Store.Usage(context.Background(), store.UsageQuery{By: store.ByTag, Tag: tag})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var n int64
		for _, r := range rows {
			got = append(got, r.Group)
			n += r.Requests
		}
		if !cmp.Equal(got, []string{want}) || n != 2 {
			t.Errorf("usage by tag %s = %v (%d requests), want [%s] (2 requests: the two served)", tag, got, n, want)
		}
	}
}

func TestExchangeRefusals(t *testing.T) {
	h, iss, clk := startCI(t)
	now := clk.Now()
	good := func() map[string]any { return iss.Claims("acme/app", "1", "https://gw.example", now) }
	with := func(edit func(map[string]any)) string {
		c := good()
		edit(c)
		return iss.Sign(t, c)
	}
	replayed := iss.Sign(t, good())
	if st, _, out := exchange(t, h, replayed); st != http.StatusOK {
		t.Fatalf("first exchange = %d %v, want 200", st, out)
	}
	tests := []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"another repository", with(func(c map[string]any) { c["repository"] = "evil/app" }), http.StatusForbidden, "access_denied"},
		{"another branch", with(func(c map[string]any) { c["ref"] = "refs/heads/feature" }), http.StatusForbidden, "access_denied"},
		{"expired", with(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), http.StatusUnauthorized, "invalid_token"},
		{"wrong audience", with(func(c map[string]any) { c["aud"] = "https://github.com/acme" }), http.StatusUnauthorized, "invalid_token"},
		{"wrong issuer", with(func(c map[string]any) { c["iss"] = "https://token.actions.githubusercontent.com" }), http.StatusUnauthorized, "invalid_token"},
		{"forged signature", iss.SignWithStranger(t, good()), http.StatusUnauthorized, "invalid_token"},
		{"not a JWT", "hello", http.StatusUnauthorized, "invalid_token"},
		{"replayed token", replayed, http.StatusBadRequest, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, hdr, out := exchange(t, h, tt.token)
			if st != tt.status || out["error"] != tt.code {
				t.Errorf("exchange = %d %v, want %d %s", st, out, tt.status, tt.code)
			}
			if hdr.Get("x-tollgate-error-origin") != "client" || hdr.Get("x-should-retry") != "false" {
				t.Errorf("headers = origin %q retry %q, want client, false", hdr.Get("x-tollgate-error-origin"), hdr.Get("x-should-retry"))
			}
			if d, _ := out["error_description"].(string); d == "" || strings.Contains(d, tt.token) {
				t.Errorf("error_description = %q, want a reason that does not echo the token", d)
			}
		})
	}
}

func TestExchangeTokenForms(t *testing.T) {
	h, iss, clk := startCI(t)
	tok := func() string { return iss.Sign(t, iss.Claims("acme/app", "9", "https://gw.example", clk.Now())) }
	// A release environment matches the second rule, with the default TTL,
	// capped by the token's own expiry.
	rel := iss.Claims("acme/app", "9", "https://gw.example", clk.Now())
	rel["ref"], rel["environment"], rel["exp"] = "refs/tags/v1", "release", clk.Now().Add(5*time.Minute).Unix()
	tests := []struct {
		name, ctype, body string
		status            int
		rule              string
	}{
		{"json", "application/json", `{"token":"` + tok() + `"}`, 200, "acme-main"},
		{"form", "application/x-www-form-urlencoded", "token=" + url.QueryEscape(tok()), 200, "acme-main"},
		{"capped by the token", "application/json", `{"token":"` + iss.Sign(t, rel) + `"}`, 200, "acme-release"},
		{"no token", "application/json", `{}`, 400, ""},
		{"bad json", "application/json", `{"token":`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, body := h.Post(t, ciauth.Path, tt.body, map[string]string{"Content-Type": tt.ctype, "x-api-key": ""})
			var out map[string]any
			json.Unmarshal([]byte(body), &out)
			if st != tt.status {
				t.Fatalf("POST = %d %s, want %d", st, body, tt.status)
			}
			if tt.rule != "" && out["rule"] != tt.rule {
				t.Errorf("rule = %v, want %s", out["rule"], tt.rule)
			}
			if tt.rule == "acme-release" && out["expires_in"] != float64(300) {
				t.Errorf("expires_in = %v, want 300 (the token's remaining life, under the 1h default)", out["expires_in"])
			}
			if tt.status == 400 && out["error"] != "invalid_request" {
				t.Errorf("error = %v, want invalid_request", out["error"])
			}
		})
	}
	if st, _, _ := h.Do(t, http.MethodGet, ciauth.Path, "", nil); st != http.StatusMethodNotAllowed {
		t.Errorf("GET %s = %d, want 405", ciauth.Path, st)
	}
}

func TestMatch(t *testing.T) {
	rules := []config.GitHubActionsRule{
		{Name: "env", Match: map[string]string{"repository_owner": "acme", "environment": "prod*"}},
		{Name: "main", Match: map[string]string{"repository": "acme/*", "ref": "refs/heads/main"}},
	}
	tests := []struct {
		name   string
		claims ciauth.Claims
		want   string
	}{
		{"main", ciauth.Claims{"repository": "acme/app", "ref": "refs/heads/main"}, "main"},
		{"env first", ciauth.Claims{"repository": "acme/app", "repository_owner": "acme", "environment": "production", "ref": "refs/heads/main"}, "env"},
		{"glob stops at slash", ciauth.Claims{"repository": "acme/app/x", "ref": "refs/heads/main"}, ""},
		{"missing claim", ciauth.Claims{"repository_owner": "acme"}, ""},
		{"number claim", ciauth.Claims{"repository": "acme/1", "ref": "refs/heads/main", "run_id": 5.0}, "main"},
		{"non-string claim", ciauth.Claims{"repository": []any{"acme/app"}, "ref": "refs/heads/main"}, ""},
	}
	for _, tt := range tests {
		r, ok := ciauth.Match(rules, tt.claims)
		if got := map[bool]string{true: r.Name}[ok]; got != tt.want {
			t.Errorf("Match(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
