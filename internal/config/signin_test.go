package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/config"
)

func TestSignInAndGitHubActionsConfig(t *testing.T) {
	env := func(name string) (string, bool) {
		if name == "OIDC_SECRET" {
			return "from-env", true
		}
		return "", false
	}
	const good = `
sign_in:
  issuer: https://acme.okta.com
  client_id: tollgate
  client_secret: ${OIDC_SECRET}
  redirect_url: https://gw.acme.com/signin/callback
  scopes: [openid, email, profile, groups]
  claims: {user_id: oid}
  groups:
    - {group: eng, team: engineering, budget: {usd: 100}, rate_limit: {rpm: 60}}
    - {group: gw-admins, admin_role: admin}
github_actions:
  audience: https://gw.acme.com
  rules:
    - name: main
      match: {repository: "acme/*", ref: refs/heads/main}
      ttl: 30m
      budget: {usd: 5, period: day}
`
	c, err := config.ParseWith([]byte(good), "good.yaml", env)
	if err != nil {
		t.Fatalf("ParseWith(good) = %v", err)
	}
	s, g := c.SignIn, c.GitHubActions
	if s.ClientSecret != "from-env" || s.Claims.UserID != "oid" || s.Claims.Groups != "groups" || s.StateTTL != config.DefaultSignInStateTTL ||
		s.Groups[0].Budget.Period != "month" {
		t.Errorf("sign_in = %+v, want the env secret, oid, default groups claim, state TTL and month budgets", s)
	}
	if g.Issuer != config.DefaultGitHubActionsIssuer || g.Audience != "https://gw.acme.com" || g.Rules[0].TTL != 30*time.Minute {
		t.Errorf("github_actions = %+v, want the default issuer, the audience and a 30m TTL", g)
	}

	bad := []struct {
		name, yaml, want string
	}{
		{"http issuer", "sign_in: {issuer: 'http://idp.example', client_id: x, redirect_url: 'https://gw/cb'}", "sign_in.issuer"},
		{"no client id", "sign_in: {issuer: 'https://idp.example', redirect_url: 'https://gw/cb'}", "sign_in.client_id"},
		{"no redirect", "sign_in: {issuer: 'https://idp.example', client_id: x}", "sign_in.redirect_url"},
		{"bad role", "sign_in: {issuer: 'https://idp.example', client_id: x, redirect_url: 'https://gw/cb', groups: [{group: g, admin_role: god}]}", "admin_role"},
		{"client without issuer", "sign_in: {client_id: x}", "sign_in.issuer"},
		{"empty match", "github_actions: {rules: [{name: r, match: {}}]}", "match"},
		{"bad glob", "github_actions: {rules: [{name: r, match: {repository: '['}}]}", "match.repository"},
		{"duplicate rule", "github_actions: {rules: [{name: r, match: {repository: a}}, {name: r, match: {repository: b}}]}", "duplicate rule"},
		{"budget without limit", "github_actions: {rules: [{name: r, match: {repository: a}, budget: {period: day}}]}", "usd or tokens"},
		{"bad period", "github_actions: {rules: [{name: r, match: {repository: a}, budget: {usd: 1, period: year}}]}", "period"},
		{"ghes issuer over http", "github_actions: {issuer: 'http://ghe.acme.com/_services/token', rules: [{name: r, match: {repository: a}}]}", "github_actions.issuer"},
	}
	for _, tt := range bad {
		_, err := config.ParseWith([]byte(tt.yaml), "bad.yaml", env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseWith(%s) = %v, want an error about %s", tt.name, err, tt.want)
		}
	}
}
