// Package signin is the OpenID Connect relying party: people sign in with
// the company's identity provider (Okta, Entra ID, Google Workspace,
// Keycloak, Dex, …) by the authorization code flow with PKCE, state and
// nonce, and the ID token they bring back names a Tollgate user — created at
// the first sign-in, with teams from the provider's groups. The console's
// SSO and Claude Code's /login call Begin and Complete; Refresh goes back to
// the provider, so that someone removed there loses access at the next
// refresh.
//
// The protocol work is done by well-kept libraries (golang.org/x/oauth2 for
// the code exchange and PKCE, github.com/coreos/go-oidc/v3 for discovery and
// ID-token verification); this package adds what is Tollgate's: state kept in
// the store (so that the callback may land on any replica, and works once),
// the claim mapping, and the user and teams it yields.
package signin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/ciauth"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// Errors callers decide on with errors.Is.
var (
	// ErrState: the state is unknown, used already or expired — a replay,
	// a forged callback, or a sign-in left too long. Start again.
	ErrState = errors.New("signin: unknown, used or expired sign-in state")
	// ErrToken: the provider's answer did not verify (signature, issuer,
	// audience, expiry, nonce) or lacks the user-id claim.
	ErrToken = errors.New("signin: the identity provider's token did not verify")
	// ErrDenied: the provider refused (the user cancelled, or is not
	// assigned to the application) or the user is disabled in Tollgate.
	ErrDenied = errors.New("signin: access denied")
	// ErrRevoked: the provider no longer honours the refresh token (the
	// user was removed or signed out everywhere). Sign in again.
	ErrRevoked = errors.New("signin: the identity provider revoked the sign-in")
)

// Store keeps sign-in state and users; *store.Store implements it.
type Store interface {
	CreateSignInState(ctx context.Context, st store.SignInState) error
	TakeSignInState(ctx context.Context, stateHash string, now time.Time) (store.SignInState, error)
	SignInUser(ctx context.Context, id store.Identity, plan store.SignInPlan) (store.SignInResult, error)
}

// Options adjust a relying party.
type Options struct {
	// HTTPClient talks to the provider; nil: a client with a 15 s timeout.
	HTTPClient *http.Client
	// Now is the clock of state expiry and token checks; nil: time.Now.
	Now func() time.Time
}

// RP is the relying party for one identity provider. It discovers the
// provider at first use, not at start, so that a gateway starts (and serves
// keys) while the provider is unreachable.
type RP struct {
	cfg  config.SignIn
	st   Store
	http *http.Client
	now  func() time.Time

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// New returns a relying party for cfg (cfg.Enabled() must be true).
func New(cfg config.SignIn, st Store, o Options) *RP {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &RP{cfg: cfg, st: st, http: o.HTTPClient, now: o.Now}
}

// discover fetches the provider's discovery document once.
func (rp *RP) discover(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.oauth != nil {
		return rp.oauth, rp.verifier, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, rp.http), rp.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("signin: discover %s: %w", rp.cfg.Issuer, err)
	}
	rp.oauth = &oauth2.Config{ClientID: rp.cfg.ClientID, ClientSecret: rp.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: rp.cfg.RedirectURL, Scopes: rp.cfg.Scopes}
	// The key set outlives this request: it refetches keys on rotation.
	rp.verifier = p.VerifierContext(oidc.ClientContext(context.Background(), rp.http),
		&oidc.Config{ClientID: rp.cfg.ClientID, Now: rp.now})
	return rp.oauth, rp.verifier, nil
}

// Begun is a started sign-in.
type Begun struct {
	// URL is where to send the browser: the provider's authorization
	// endpoint with state, nonce and the PKCE challenge.
	URL string
	// State is the state parameter, for callers that also bind it to the
	// browser (a cookie), which defends against login CSRF.
	State string
}

// Begin starts a sign-in: it stores the state, nonce and PKCE verifier for
// StateTTL and returns the provider URL to redirect to. returnTo is kept
// with the state, for the caller to go on with after Complete.
func (rp *RP) Begin(ctx context.Context, returnTo string) (Begun, error) {
	oc, _, err := rp.discover(ctx)
	if err != nil {
		return Begun{}, err
	}
	state, nonce, verifier := rand.Text()+rand.Text(), rand.Text()+rand.Text(), oauth2.GenerateVerifier()
	now := rp.now()
	if err := rp.st.CreateSignInState(ctx, store.SignInState{StateHash: store.HashSecret(state), Nonce: nonce,
		Verifier: verifier, ReturnTo: returnTo, ExpiresAt: now.Add(rp.cfg.StateTTL), CreatedAt: now}); err != nil {
		return Begun{}, fmt.Errorf("signin: store state: %w", err)
	}
	u := oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	return Begun{URL: u, State: state}, nil
}

// Result is a completed sign-in.
type Result struct {
	Identity store.Identity
	User     store.User
	// Created is true when this sign-in created the user.
	Created bool
	// AdminRole is the most powerful console role the user's groups give;
	// "" for none.
	AdminRole authz.Role
	// ReturnTo is what Begin was given.
	ReturnTo string
	// Token holds the provider's tokens; its RefreshToken (when the
	// provider gave one: scope offline_access, or the provider's default)
	// is what Refresh takes.
	Token *oauth2.Token
}

// Complete finishes a sign-in from the callback's state and code (or the
// provider's error, errParam): it takes the state (once), exchanges the
// code with the PKCE verifier, verifies the ID token and its nonce, and
// finds or creates the user with the teams of their groups.
func (rp *RP) Complete(ctx context.Context, state, code, errParam string) (Result, error) {
	if state == "" {
		return Result{}, ErrState
	}
	st, err := rp.st.TakeSignInState(ctx, store.HashSecret(state), rp.now())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, ErrState
	}
	if err != nil {
		return Result{}, fmt.Errorf("signin: %w", err)
	}
	if errParam != "" {
		return Result{}, fmt.Errorf("%w: the identity provider answered %q", ErrDenied, errParam)
	}
	if code == "" {
		return Result{}, fmt.Errorf("%w: no code in the callback", ErrToken)
	}
	oc, verifier, err := rp.discover(ctx)
	if err != nil {
		return Result{}, err
	}
	tok, err := oc.Exchange(oidc.ClientContext(ctx, rp.http), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return Result{}, fmt.Errorf("%w: code exchange: %v", ErrToken, err)
	}
	id, err := rp.verify(ctx, verifier, tok, st.Nonce)
	if err != nil {
		return Result{}, err
	}
	plan, role := rp.plan(id.Groups)
	res, err := rp.st.SignInUser(ctx, id, plan)
	if err != nil {
		return Result{}, fmt.Errorf("signin: user of %s: %w", id.Subject, err)
	}
	if res.User.Disabled {
		return Result{}, fmt.Errorf("%w: user %s is disabled", ErrDenied, res.User.Name)
	}
	return Result{Identity: id, User: res.User, Created: res.Created, AdminRole: role, ReturnTo: st.ReturnTo, Token: tok}, nil
}

// Refresh asks the provider for new tokens with a refresh token and checks
// the new ID token (when one comes back) still names the same person. A
// provider that refuses is ErrRevoked: the person was removed or signed
// out, and must lose access.
func (rp *RP) Refresh(ctx context.Context, refreshToken string, want store.Identity) (*oauth2.Token, store.Identity, error) {
	oc, verifier, err := rp.discover(ctx)
	if err != nil {
		return nil, store.Identity{}, err
	}
	ts := oc.TokenSource(oidc.ClientContext(ctx, rp.http), &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)})
	tok, err := ts.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.Response != nil && (re.Response.StatusCode == http.StatusBadRequest || re.Response.StatusCode == http.StatusUnauthorized)) {
			return nil, store.Identity{}, fmt.Errorf("%w: %s", ErrRevoked, re.ErrorCode)
		}
		return nil, store.Identity{}, fmt.Errorf("signin: refresh: %w", err)
	}
	if _, ok := tok.Extra("id_token").(string); !ok {
		return tok, want, nil // many providers send no new ID token on refresh
	}
	id, err := rp.verify(ctx, verifier, tok, "")
	if err != nil {
		return nil, store.Identity{}, err
	}
	if id.Subject != want.Subject {
		return nil, store.Identity{}, fmt.Errorf("%w: the refreshed token names another user", ErrToken)
	}
	return tok, id, nil
}

// verify checks the ID token in tok and maps its claims. nonce "" skips
// the nonce check (refresh responses carry none).
func (rp *RP) verify(ctx context.Context, v *oidc.IDTokenVerifier, tok *oauth2.Token, nonce string) (store.Identity, error) {
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return store.Identity{}, fmt.Errorf("%w: no id_token in the answer (is the openid scope requested?)", ErrToken)
	}
	idt, err := v.Verify(oidc.ClientContext(ctx, rp.http), raw)
	if err != nil {
		return store.Identity{}, fmt.Errorf("%w: %v", ErrToken, err)
	}
	if nonce != "" && idt.Nonce != nonce {
		return store.Identity{}, fmt.Errorf("%w: nonce mismatch", ErrToken)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return store.Identity{}, fmt.Errorf("%w: claims: %v", ErrToken, err)
	}
	c := ciauth.Claims(claims)
	id := store.Identity{Issuer: idt.Issuer, Subject: c.String(rp.cfg.Claims.UserID), Email: c.String(rp.cfg.Claims.Email),
		Name: c.String(rp.cfg.Claims.Name), Groups: Groups(claims[rp.cfg.Claims.Groups])}
	if id.Subject == "" {
		return store.Identity{}, fmt.Errorf("%w: the ID token has no %q claim", ErrToken, rp.cfg.Claims.UserID)
	}
	return id, nil
}

// Groups reads a groups claim: a list of strings, or one string. Other
// values (a number, an object: Entra's overage marker) are no groups.
func Groups(v any) []string {
	switch g := v.(type) {
	case string:
		if g == "" {
			return nil
		}
		return []string{g}
	case []any:
		out := make([]string, 0, len(g))
		for _, x := range g {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return nil
}

// plan maps groups to teams, the budget and limit of a new user (the first
// listed mapping that has them), and the most powerful admin role.
func (rp *RP) plan(groups []string) (store.SignInPlan, authz.Role) {
	var p store.SignInPlan
	var role authz.Role
	for _, g := range rp.cfg.Groups {
		if g.Team != "" && !slices.Contains(p.Managed, g.Team) {
			p.Managed = append(p.Managed, g.Team)
		}
		if !slices.Contains(groups, g.Group) {
			continue
		}
		if g.Team != "" && !slices.Contains(p.Teams, g.Team) {
			p.Teams = append(p.Teams, g.Team)
		}
		if p.Budget == nil && g.Budget != nil {
			p.Budget = ciauth.AutoBudget(g.Budget)
			if g.Budget.Period == "" {
				p.Budget.Period = store.PeriodMonth
			}
		}
		if p.Limit == nil && g.RateLimit != nil {
			p.Limit = &store.Limit{RPM: g.RateLimit.RPM, TPM: g.RateLimit.TPM, Concurrent: g.RateLimit.Concurrent}
		}
		if r := authz.Role(g.AdminRole); r != "" && (role == "" || slices.Index(authz.Roles, r) < slices.Index(authz.Roles, role)) {
			role = r
		}
	}
	return p, role
}
