package config

import (
	"net/url"
	"path"
	"time"

	"github.com/tollgate-gw/tollgate/internal/authz"
)

// Defaults of sign_in and github_actions.
const (
	// DefaultSignInStateTTL bounds how long a started sign-in may take at
	// the identity provider: long enough for a password manager and a
	// second factor, short enough that a leaked state is useless.
	DefaultSignInStateTTL = 10 * time.Minute
	// DefaultGitHubActionsIssuer is github.com's token issuer; GitHub
	// Enterprise Server uses https://HOST/_services/token.
	DefaultGitHubActionsIssuer = "https://token.actions.githubusercontent.com"
	// DefaultGitHubActionsAudience is the audience a workflow asks for with
	// core.getIDToken (or ACTIONS_ID_TOKEN_REQUEST_URL&audience=).
	DefaultGitHubActionsAudience = "tollgate"
	// DefaultGitHubActionsTTL is the life of a CI key when the matching rule
	// sets none: about the length of a long job. A key never outlives its
	// token's own expiry window (GitHub's tokens live a few minutes to an
	// hour); see GitHubActions.
	DefaultGitHubActionsTTL = time.Hour
)

// DefaultSignInScopes are requested when sign_in.scopes is empty.
var DefaultSignInScopes = []string{"openid", "email", "profile"}

// SignIn configures the OIDC relying party: how people sign in with the
// company's identity provider (Okta, Entra ID, Google Workspace, Keycloak,
// Dex, Cognito). The console and Claude Code's /login build on it. Empty
// Issuer: sign-in is off. See docs/sign-in.md for each provider.
type SignIn struct {
	// Issuer is the provider's issuer URL exactly as its discovery document
	// states it (https://…; http only on loopback, for trials), e.g.
	// https://acme.okta.com or https://login.microsoftonline.com/TENANT/v2.0.
	Issuer string `yaml:"issuer"`
	// ClientID and ClientSecret are the gateway's registration at the
	// provider; write the secret as "${SOME_ENV_VAR}".
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// RedirectURL is where the provider sends the browser back: the
	// gateway's public URL + the callback path of the flow using it.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes requested; default openid, email, profile. Add "groups" (or
	// the provider's own scope) when groups should map to teams.
	Scopes []string `yaml:"scopes"`
	// Claims name the ID-token claims read. Defaults: user_id "sub",
	// email "email", name "name", groups "groups".
	Claims SignInClaims `yaml:"claims"`
	// StateTTL bounds a sign-in from start to callback. Default 10m.
	StateTTL time.Duration `yaml:"state_ttl"`
	// Groups map the provider's groups to teams, admin roles and the
	// budget and rate limit of users who appear by themselves (created at
	// their first sign-in). The first group listed that a user is in gives
	// the budget and rate limit; every matching group adds its team.
	Groups []SignInGroup `yaml:"groups"`
}

// Enabled reports whether sign-in is configured.
func (s SignIn) Enabled() bool { return s.Issuer != "" }

// SignInClaims name the ID-token claims the relying party reads.
type SignInClaims struct {
	// UserID is the stable, unique id of the person at the provider. Keep
	// "sub" unless the provider's sub is per-application and another claim
	// (Entra's "oid") must be shared with other tools.
	UserID string `yaml:"user_id"`
	Email  string `yaml:"email"`
	Name   string `yaml:"name"`
	// Groups is a claim holding a list of strings (or one string).
	Groups string `yaml:"groups"`
}

// SignInGroup is what membership of one provider group gives.
type SignInGroup struct {
	// Group is the group's name (or id, for Entra ID) as the groups claim
	// carries it.
	Group string `yaml:"group"`
	// Team, when set, is the team members join (created when missing).
	Team string `yaml:"team"`
	// AdminRole, when set, is the console role members get: owner, admin,
	// team_admin or viewer.
	AdminRole string `yaml:"admin_role"`
	// Budget and RateLimit apply to users created at their first sign-in.
	Budget    *AutoBudget `yaml:"budget"`
	RateLimit *AutoLimit  `yaml:"rate_limit"`
}

// AutoBudget is a budget created together with a user or key that appears
// by itself.
type AutoBudget struct {
	// USD is the spend limit per period in US dollars; Tokens a token
	// limit. At least one.
	USD    float64 `yaml:"usd"`
	Tokens int64   `yaml:"tokens"`
	// Period is day, week, month or total. Default month.
	Period string `yaml:"period"`
}

// AutoLimit is a rate limit created together with a user or key that
// appears by itself; zero means unlimited.
type AutoLimit struct {
	RPM        int64 `yaml:"rpm"`
	TPM        int64 `yaml:"tpm"`
	Concurrent int64 `yaml:"concurrent"`
}

// GitHubActions configures CI without stored secrets: a workflow posts the
// OIDC token GitHub gives it to POST /v1/auth/github-actions and gets a
// short-lived gateway key bound to the repository, workflow, ref and run.
// No rules: the exchange is off.
type GitHubActions struct {
	// Issuer of the tokens. Default https://token.actions.githubusercontent.com;
	// GitHub Enterprise Server: https://HOST/_services/token.
	Issuer string `yaml:"issuer"`
	// Audience the token must be issued for (the workflow asks for it).
	// Default "tollgate"; use the gateway's URL to tie tokens to it.
	Audience string `yaml:"audience"`
	// Rules are tried in order; the first whose every pattern matches
	// decides. A token no rule matches is refused with 403.
	Rules []GitHubActionsRule `yaml:"rules"`
}

// Enabled reports whether the exchange is on.
func (g GitHubActions) Enabled() bool { return len(g.Rules) > 0 }

// GitHubActionsRule grants keys to the workflows whose token claims match.
type GitHubActionsRule struct {
	// Name identifies the rule in logs, key aliases and usage tags.
	Name string `yaml:"name"`
	// Match maps claim names (repository, repository_owner, ref,
	// environment, workflow, event_name, job_workflow_ref, actor, …) to
	// glob patterns (path.Match: * stops at '/', so "acme/*" matches every
	// repository of acme). Every listed claim must match; a claim missing
	// from the token matches nothing. At least one entry.
	Match map[string]string `yaml:"match"`
	// TTL of the key; default 1h. The key never outlives the token's own
	// window (exp - iat) counted from now.
	TTL time.Duration `yaml:"ttl"`
	// Models the key may call; empty: all.
	Models []string `yaml:"models"`
	// Tags are added to every usage row of the key, next to the
	// repository, workflow, ref and run tags the gateway adds itself.
	Tags map[string]string `yaml:"tags"`
	// Team, when set, owns the keys, so team budgets apply.
	Team string `yaml:"team"`
	// Budget and RateLimit are created on each key.
	Budget    *AutoBudget `yaml:"budget"`
	RateLimit *AutoLimit  `yaml:"rate_limit"`
}

func (s *SignIn) applyDefaults() {
	if !s.Enabled() {
		return
	}
	if len(s.Scopes) == 0 {
		s.Scopes = append([]string(nil), DefaultSignInScopes...)
	}
	s.Claims.UserID = or(s.Claims.UserID, "sub")
	s.Claims.Email = or(s.Claims.Email, "email")
	s.Claims.Name = or(s.Claims.Name, "name")
	s.Claims.Groups = or(s.Claims.Groups, "groups")
	s.StateTTL = orZero(s.StateTTL, DefaultSignInStateTTL)
	for i := range s.Groups {
		if b := s.Groups[i].Budget; b != nil {
			b.Period = or(b.Period, "month")
		}
	}
}

func (g *GitHubActions) applyDefaults() {
	if !g.Enabled() {
		return
	}
	g.Issuer = or(g.Issuer, DefaultGitHubActionsIssuer)
	g.Audience = or(g.Audience, DefaultGitHubActionsAudience)
	for i := range g.Rules {
		r := &g.Rules[i]
		r.TTL = orZero(r.TTL, DefaultGitHubActionsTTL)
		if r.Budget != nil {
			r.Budget.Period = or(r.Budget.Period, "total")
		}
	}
}

// issuerURL reports whether raw is an issuer the relying party may use:
// https, or http on a loopback host (tests, trials).
func issuerURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		return h == "127.0.0.1" || h == "::1" || h == "localhost"
	}
	return false
}

func (v *validator) signIn() {
	s := v.c.SignIn
	if !s.Enabled() {
		if s.ClientID != "" || len(s.Groups) > 0 {
			v.add("sign_in.issuer", "is required when sign_in is configured")
		}
		return
	}
	if !issuerURL(s.Issuer) {
		v.add("sign_in.issuer", "must be an https URL (http only on a loopback host), without query or fragment")
	}
	if s.ClientID == "" {
		v.add("sign_in.client_id", "is required")
	}
	if u, err := url.Parse(s.RedirectURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add("sign_in.redirect_url", "must be an absolute http or https URL: the gateway's public URL and the callback path")
	}
	v.nonNegative("sign_in.state_ttl", s.StateTTL)
	for i, g := range s.Groups {
		p := indexPath("sign_in.groups", i)
		if g.Group == "" {
			v.add(p+".group", "is required")
		}
		if g.AdminRole != "" && !authz.Role(g.AdminRole).Valid() {
			v.add(p+".admin_role", "must be one of owner, admin, team_admin, viewer")
		}
		v.autoBudget(p+".budget", g.Budget)
		v.autoLimit(p+".rate_limit", g.RateLimit)
	}
}

func (v *validator) githubActions() {
	g := v.c.GitHubActions
	if !g.Enabled() {
		return
	}
	if !issuerURL(g.Issuer) {
		v.add("github_actions.issuer", "must be an https URL (http only on a loopback host), without query or fragment")
	}
	names := map[string]int{}
	for i, r := range g.Rules {
		p := indexPath("github_actions.rules", i)
		if r.Name == "" {
			v.add(p+".name", "is required: it names the rule in logs, key aliases and usage tags")
		} else if j, dup := names[r.Name]; dup {
			v.add(p+".name", "duplicate rule name %q (also github_actions.rules[%d])", r.Name, j)
		} else {
			names[r.Name] = i
		}
		if len(r.Match) == 0 {
			v.add(p+".match", "needs at least one claim pattern, e.g. repository: \"acme/*\"")
		}
		for claim, pat := range r.Match {
			if _, err := path.Match(pat, ""); err != nil || claim == "" {
				v.add(p+".match."+claim, "is not a valid glob pattern")
			}
		}
		v.nonNegative(p+".ttl", r.TTL)
		v.autoBudget(p+".budget", r.Budget)
		v.autoLimit(p+".rate_limit", r.RateLimit)
	}
}

func (v *validator) autoBudget(p string, b *AutoBudget) {
	if b == nil {
		return
	}
	switch {
	case b.USD < 0 || b.Tokens < 0:
		v.add(p, "usd and tokens must not be negative")
	case b.USD == 0 && b.Tokens == 0:
		v.add(p, "needs usd or tokens above zero")
	}
	if b.Period != "" { // empty: the default of where it is used
		v.oneOf(p+".period", b.Period, []string{"day", "week", "month", "total"})
	}
}

func (v *validator) autoLimit(p string, l *AutoLimit) {
	if l != nil && (l.RPM < 0 || l.TPM < 0 || l.Concurrent < 0) {
		v.add(p, "must not be negative")
	}
}
