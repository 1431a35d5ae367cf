// Package devidp is a real OpenID Connect provider for tests and local
// trials of sign-in: discovery, authorization code with PKCE, refresh
// tokens, a JWKS and RS256-signed ID tokens with email, name and groups
// claims, over an in-memory user store whose users can be added and removed
// while it runs (Go API, or the loopback admin endpoint /admin/users), so
// that a test can deprovision a user and watch the next refresh fail.
//
// It is built on github.com/zitadel/oidc/v3's pkg/op, an OpenID Certified
// provider library that is maintained, CGO-free and served by the Go module
// proxy; the package only supplies the storage, one client and a login form.
// Dex was the alternative: a whole server with its own storage drivers,
// gRPC API and many more dependencies, for the same protocol surface; an
// in-process provider also lets Go tests start one in milliseconds.
//
// It is for loopback use only: passwords are compared in plain text, state
// lives in memory, and the issuer may be plain http.
package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is a person the provider can sign in.
type User struct {
	Subject  string // the sub claim; stable
	Username string // typed in the login form
	Password string
	Email    string
	Name     string
	Groups   []string
}

// Client is the one relying party the provider serves.
type Client struct {
	ID, Secret   string
	RedirectURIs []string
}

// Options configure a Provider.
type Options struct {
	// Issuer is the provider's base URL (http://127.0.0.1:PORT).
	Issuer string
	Client Client
	// AccessTokenTTL and IDTokenTTL: default 5 minutes.
	AccessTokenTTL time.Duration
	Logger         *slog.Logger
}

// Provider is the OIDC provider: an http.Handler serving discovery, the
// protocol endpoints, /login and /admin/users.
type Provider struct {
	issuer string
	mux    *http.ServeMux
	st     *storage
}

// New builds a provider for opts.Issuer.
func New(opts Options) (*Provider, error) {
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	st := &storage{
		client:   opts.Client,
		ttl:      opts.AccessTokenTTL,
		key:      key,
		kid:      rand.Text()[:12],
		users:    map[string]*User{},
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
		refresh:  map[string]*refreshToken{},
	}
	var cryptoKey [32]byte
	rand.Read(cryptoKey[:])
	o, err := op.NewProvider(&op.Config{
		CryptoKey:                cryptoKey,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess, "groups"},
		SupportedClaims:          []string{"sub", "email", "email_verified", "name", "groups"},
		DefaultLogoutRedirectURI: "/",
	}, st, op.StaticIssuer(opts.Issuer), op.WithAllowInsecure(), op.WithLogger(opts.Logger))
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	p := &Provider{issuer: opts.Issuer, mux: http.NewServeMux(), st: st}
	p.mux.HandleFunc("GET /login", p.loginForm)
	p.mux.HandleFunc("POST /login", p.login)
	p.mux.HandleFunc("POST /admin/users", p.adminAdd)
	p.mux.HandleFunc("DELETE /admin/users/{username}", p.adminRemove)
	p.mux.Handle("/", o)
	return p, nil
}

// ServeHTTP serves the provider.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// AddUser adds or replaces a user (by username).
func (p *Provider) AddUser(u User) {
	if u.Subject == "" {
		u.Subject = "sub-" + u.Username
	}
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	c := u
	c.Groups = slices.Clone(u.Groups)
	p.st.users[u.Username] = &c
}

// RemoveUser deletes a user: their refresh tokens stop working at once, as
// at a real provider when someone leaves the company.
func (p *Provider) RemoveUser(username string) bool {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	u, ok := p.st.users[username]
	if !ok {
		return false
	}
	delete(p.st.users, username)
	for id, rt := range p.st.refresh {
		if rt.subject == u.Subject {
			delete(p.st.refresh, id)
		}
	}
	return true
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in — Tollgate dev IdP</title></head>
<body><h1>Sign in</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="login">
<input type="hidden" name="id" value="{{.ID}}">
<label>Username <input name="username" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form></body></html>`))

func (p *Provider) loginForm(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	if _, err := p.st.AuthRequestByID(r.Context(), id); err != nil {
		http.Error(w, "unknown or expired sign-in request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	loginPage.Execute(w, map[string]string{"ID": id})
}

func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	id, name, pw := r.PostForm.Get("id"), r.PostForm.Get("username"), r.PostForm.Get("password")
	if err := p.st.authenticate(id, name, pw); err != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		loginPage.Execute(w, map[string]string{"ID": id, "Error": err.Error()})
		return
	}
	http.Redirect(w, r, p.issuer+"/authorize/callback?id="+id, http.StatusFound)
}

// adminAdd adds a user from a form (username, password, email, name,
// groups repeated). Loopback callers only.
func (p *Provider) adminAdd(w http.ResponseWriter, r *http.Request) {
	if !loopback(r) {
		http.Error(w, "loopback only", http.StatusForbidden)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("username") == "" {
		http.Error(w, "need a form with username", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	p.AddUser(User{Subject: f.Get("subject"), Username: f.Get("username"), Password: f.Get("password"),
		Email: f.Get("email"), Name: f.Get("name"), Groups: f["groups"]})
	w.WriteHeader(http.StatusNoContent)
}

func (p *Provider) adminRemove(w http.ResponseWriter, r *http.Request) {
	if !loopback(r) {
		http.Error(w, "loopback only", http.StatusForbidden)
		return
	}
	if !p.RemoveUser(r.PathValue("username")) {
		http.Error(w, "no such user", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func loopback(r *http.Request) bool {
	host := r.RemoteAddr
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			host = host[:i]
			break
		}
	}
	return host == "127.0.0.1" || host == "[::1]"
}

// ---- storage: op.Storage over maps ----

type storage struct {
	client Client
	ttl    time.Duration
	key    *rsa.PrivateKey
	kid    string

	mu       sync.Mutex
	users    map[string]*User // by username
	requests map[string]*authRequest
	codes    map[string]string // code → request id
	refresh  map[string]*refreshToken
}

type refreshToken struct {
	subject  string
	clientID string
	scopes   []string
	audience []string
	authTime time.Time
}

var errNotFound = errors.New("not found")

func (s *storage) userBySubject(sub string) *User {
	for _, u := range s.users {
		if u.Subject == sub {
			return u
		}
	}
	return nil
}

func (s *storage) authenticate(id, username, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, ok := s.requests[id]
	if !ok {
		return errors.New("unknown or expired sign-in request")
	}
	u, ok := s.users[username]
	if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) != 1 {
		return errors.New("wrong username or password")
	}
	ar.subject, ar.done, ar.authTime = u.Subject, true, time.Now()
	return nil
}

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar := &authRequest{id: rand.Text(), req: *req}
	s.requests[ar.id] = ar
	return ar, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ar, ok := s.requests[id]; ok {
		return ar, nil
	}
	return nil, errNotFound
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for c, rid := range s.codes {
		if rid == id {
			delete(s.codes, c)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return rand.Text(), time.Now().Add(s.ttl), nil
}

func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if current != "" {
		if _, ok := s.refresh[current]; !ok {
			return "", "", time.Time{}, op.ErrInvalidRefreshToken
		}
		delete(s.refresh, current) // rotated: a refresh token works once
	}
	rt := &refreshToken{subject: req.GetSubject(), scopes: req.GetScopes(), audience: req.GetAudience(), clientID: s.client.ID, authTime: time.Now()}
	if a, ok := req.(interface{ GetAuthTime() time.Time }); ok {
		rt.authTime = a.GetAuthTime()
	}
	id := rand.Text()
	s.refresh[id] = rt
	return rand.Text(), id, time.Now().Add(s.ttl), nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok || s.userBySubject(rt.subject) == nil {
		return nil, op.ErrInvalidRefreshToken
	}
	return &refreshRequest{rt: rt}, nil
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(_ context.Context, token, _, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refresh, token)
	return nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, token, nil
}

type signingKey struct {
	key *rsa.PrivateKey
	kid string
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.kid }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{s.key, s.kid}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{signingKey{s.key, s.kid}}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != s.client.ID {
		return nil, errNotFound
	}
	return &client{c: s.client}, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != s.client.ID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.client.Secret)) != 1 {
		return errors.New("invalid client credentials")
	}
	return nil
}

func (s *storage) setUserinfo(info *oidc.UserInfo, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userBySubject(subject)
	if u == nil {
		return errNotFound
	}
	info.Subject = u.Subject
	info.Email, info.EmailVerified = u.Email, true
	info.Name = u.Name
	info.PreferredUsername = u.Username
	info.AppendClaims("groups", slices.Clone(u.Groups))
	return nil
}

func (s *storage) SetUserinfoFromScopes(_ context.Context, info *oidc.UserInfo, userID, _ string, _ []string) error {
	return s.setUserinfo(info, userID)
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	return s.setUserinfo(info, subject)
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, _, subject, clientID string) error {
	resp.Active, resp.Subject, resp.ClientID = true, subject, clientID
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound
}

func (s *storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return scopes, nil
}

func (s *storage) Health(context.Context) error { return nil }

// ---- request and client types op needs ----

type authRequest struct {
	id       string
	req      oidc.AuthRequest
	subject  string
	done     bool
	authTime time.Time
}

func (a *authRequest) GetID() string                      { return a.id }
func (a *authRequest) GetACR() string                     { return "" }
func (a *authRequest) GetAMR() []string                   { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string              { return []string{a.req.ClientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.authTime }
func (a *authRequest) GetClientID() string                { return a.req.ClientID }
func (a *authRequest) GetNonce() string                   { return a.req.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.req.RedirectURI }
func (a *authRequest) GetState() string                   { return a.req.State }
func (a *authRequest) GetSubject() string                 { return a.subject }
func (a *authRequest) Done() bool                         { return a.done }
func (a *authRequest) GetScopes() []string                { return a.req.Scopes }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.req.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.req.ResponseMode }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.req.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.req.CodeChallenge, Method: a.req.CodeChallengeMethod}
}

type refreshRequest struct{ rt *refreshToken }

func (r *refreshRequest) GetAMR() []string            { return []string{"pwd"} }
func (r *refreshRequest) GetAudience() []string       { return r.rt.audience }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.rt.authTime }
func (r *refreshRequest) GetClientID() string         { return r.rt.clientID }
func (r *refreshRequest) GetScopes() []string         { return r.rt.scopes }
func (r *refreshRequest) GetSubject() string          { return r.rt.subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.rt.scopes = s }

type client struct{ c Client }

func (c *client) GetID() string                       { return c.c.ID }
func (c *client) RedirectURIs() []string              { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string            { return "/login?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return 5 * time.Minute }
func (c *client) DevMode() bool                        { return true }
func (c *client) IsScopeAllowed(scope string) bool     { return scope == "groups" }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
