// Package ciauth gives CI jobs gateway keys without stored secrets: a GitHub
// Actions job posts the OIDC token GitHub mints for it, the gateway verifies
// the token against the issuer's published keys (JWKS), finds the first
// configured rule whose claim patterns match (repository, ref, environment,
// workflow, …), and answers with a new key that expires within the hour (or
// the rule's TTL, never after the token itself), bound to the repository,
// workflow, ref and run. No repository stores a gateway secret, and a leaked
// key dies on its own.
//
// The key is an ordinary virtual key in the store (hashed, with an expiry,
// the rule's models, budget and rate limit); usage rows carry the
// repository, workflow, ref and run as tags; the token's claims are kept
// beside the key (store.CIKey) for audits.
package ciauth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// Path is where the exchange is served.
const Path = "/v1/auth/github-actions"

// maxBody bounds the request: a GitHub token is about 1–2 KB.
const maxBody = 64 << 10

// KeyStore creates the keys; *store.Store implements it.
type KeyStore interface {
	CreateCIKey(ctx context.Context, k store.Key, budget *store.Budget, limit *store.Limit, ci store.CIKey) (store.NewKey, error)
}

// Options configure an Exchanger.
type Options struct {
	Store KeyStore
	// Created runs after a key is stored and before it is handed out, so
	// that the key works on the very next request (the gateway reloads
	// its key cache and tells the other replicas).
	Created func(ctx context.Context)
	// Now is the clock for token checks and key expiry; nil: time.Now.
	Now func() time.Time
	// HTTPClient fetches the issuer's JWKS; nil: a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Exchanger serves POST /v1/auth/github-actions.
type Exchanger struct {
	cfg      config.GitHubActions
	opts     Options
	verifier *oidc.IDTokenVerifier
}

// New returns an exchanger for cfg. It does not contact the issuer: the
// JWKS is fetched at the first exchange and again when a token names an
// unknown key (GitHub rotates its keys).
func New(cfg config.GitHubActions, o Options) *Exchanger {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Created == nil {
		o.Created = func(context.Context) {}
	}
	// github.com and GitHub Enterprise Server both publish the keys at
	// ISSUER/.well-known/jwks (their discovery documents say so); naming
	// it directly spares a discovery round trip at start.
	jwks := strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/jwks"
	ks := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), o.HTTPClient), jwks)
	v := oidc.NewVerifier(cfg.Issuer, ks, &oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: []string{oidc.RS256},
		Now:                  o.Now,
	})
	return &Exchanger{cfg: cfg, opts: o, verifier: v}
}

// Response is the answer to a successful exchange.
type Response struct {
	// Key is the gateway key: send it as x-api-key or Authorization:
	// Bearer. Mask it in logs (the composite action does).
	Key       string    `json:"key"`
	KeyID     string    `json:"key_id"`
	ExpiresAt time.Time `json:"expires_at"`
	// ExpiresIn is the key's remaining life in seconds.
	ExpiresIn int64  `json:"expires_in"`
	Rule      string `json:"rule"`
}

// oauthError is an error in the OAuth 2.0 shape (RFC 6749 §5.2), the one
// token endpoints answer with, so that generic OAuth clients and scripts
// read it.
type oauthError struct {
	status int
	code   string // invalid_request, invalid_token, access_denied, server_error
	desc   string
	origin apierror.Origin
	cause  error // for the log only
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func clientErr(status int, code, format string, args ...any) *oauthError {
	return &oauthError{status: status, code: code, desc: fmt.Sprintf(format, args...), origin: apierror.OriginClient}
}

// ServeHTTP exchanges a token for a key. The token comes as Authorization:
// Bearer, as a JSON body {"token": "…"}, or as a form field token.
func (e *Exchanger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e.fail(w, r, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request",
			desc: "use POST", origin: apierror.OriginClient})
		return
	}
	resp, err := e.exchange(r)
	if err != nil {
		var oe *oauthError
		if !errors.As(err, &oe) {
			oe = &oauthError{status: http.StatusInternalServerError, code: "server_error",
				desc: "the gateway could not issue a key; see its log", origin: apierror.OriginGateway, cause: err}
		}
		e.fail(w, r, oe)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

func (e *Exchanger) fail(w http.ResponseWriter, r *http.Request, oe *oauthError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set(apierror.OriginHeader, string(oe.origin))
	// Nothing here gets better by itself on a retry but a server error.
	h.Set("x-should-retry", strconv.FormatBool(oe.origin == apierror.OriginGateway))
	if oe.code == "invalid_token" {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	lvl := slog.LevelInfo
	if oe.origin == apierror.OriginGateway {
		lvl = slog.LevelError
	}
	e.opts.Logger.Log(r.Context(), lvl, "github actions key exchange refused",
		"error", oe.code, "description", oe.desc, "cause", oe.cause)
	w.WriteHeader(oe.status)
	json.NewEncoder(w).Encode(map[string]string{"error": oe.code, "error_description": oe.desc})
}

// tokenOf reads the token from the request.
func tokenOf(r *http.Request) (string, error) {
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return "", clientErr(http.StatusBadRequest, "invalid_request", "could not read the request body")
	}
	if len(body) > maxBody {
		return "", clientErr(http.StatusRequestEntityTooLarge, "invalid_request", "the request body is larger than %d bytes", maxBody)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var tok string
	switch ct {
	case "application/x-www-form-urlencoded":
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if err := r.ParseForm(); err != nil {
			return "", clientErr(http.StatusBadRequest, "invalid_request", "malformed form body")
		}
		tok = r.PostForm.Get("token")
	default:
		var in struct {
			Token string `json:"token"`
		}
		if len(body) > 0 {
			if err := json.Unmarshal(body, &in); err != nil {
				return "", clientErr(http.StatusBadRequest, "invalid_request", "the body must be JSON {\"token\": \"…\"} or a form with token=…")
			}
		}
		tok = in.Token
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", clientErr(http.StatusBadRequest, "invalid_request",
			"no token: send the GitHub Actions OIDC token as Authorization: Bearer, JSON {\"token\": \"…\"} or form token=…")
	}
	return tok, nil
}

// exchange verifies the token, picks the rule and creates the key.
func (e *Exchanger) exchange(r *http.Request) (*Response, error) {
	raw, err := tokenOf(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	tok, err := e.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_token",
			desc:   "the token is not a valid GitHub Actions OIDC token for this gateway: " + verifyReason(err),
			origin: apierror.OriginClient, cause: err}
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, clientErr(http.StatusUnauthorized, "invalid_token", "the token's claims are not a JSON object")
	}
	c := Claims(claims)
	rule, ok := Match(e.cfg.Rules, c)
	if !ok {
		return nil, clientErr(http.StatusForbidden, "access_denied",
			"no rule of this gateway allows %s (ref %s, workflow %s) to get a key",
			orNone(c.String("repository")), orNone(c.String("ref")), orNone(c.String("workflow")))
	}
	now := e.opts.Now()
	expires := now.Add(cmp.Or(rule.TTL, config.DefaultGitHubActionsTTL))
	// A key never outlives the token it was exchanged for.
	if tok.Expiry.Before(expires) {
		expires = tok.Expiry
	}
	k, budget, limit := e.keyFor(rule, c, expires)
	ci := store.CIKey{Issuer: e.cfg.Issuer, Rule: rule.Name, Repository: c.String("repository"), RunID: c.String("run_id"), Claims: claims}
	nk, err := e.opts.Store.CreateCIKey(ctx, k, budget, limit, ci)
	switch {
	case errors.Is(err, store.ErrConflict):
		// The alias carries the token's jti: a token is exchanged once.
		return nil, clientErr(http.StatusBadRequest, "invalid_grant", "this token was already exchanged for a key; request a new token")
	case errors.Is(err, store.ErrNotFound):
		return nil, &oauthError{status: http.StatusInternalServerError, code: "server_error",
			desc: fmt.Sprintf("rule %q names team %q, which does not exist", rule.Name, rule.Team), origin: apierror.OriginGateway, cause: err}
	case err != nil:
		return nil, err
	}
	e.opts.Created(ctx)
	e.opts.Logger.Info("github actions key issued", "key", nk.Key.ID, "rule", rule.Name,
		"repository", ci.Repository, "run_id", ci.RunID, "ref", c.String("ref"), "expires_at", nk.Key.ExpiresAt)
	return &Response{Key: nk.Secret, KeyID: nk.Key.ID, ExpiresAt: nk.Key.ExpiresAt, Rule: rule.Name,
		ExpiresIn: int64(math.Round(nk.Key.ExpiresAt.Sub(now).Seconds()))}, nil
}

// Tags the gateway puts on every CI key, from these claims, so that usage
// rows say which repository and run spent what.
var boundClaims = []string{"repository", "workflow", "ref", "run_id", "run_attempt"}

// keyFor builds the key, budget and rate limit a rule grants.
func (e *Exchanger) keyFor(rule config.GitHubActionsRule, c Claims, expires time.Time) (store.Key, *store.Budget, *store.Limit) {
	tags := map[string]string{}
	for k, v := range rule.Tags {
		tags[k] = v
	}
	for _, name := range boundClaims {
		if v := c.String(name); v != "" {
			tags[name] = v
		}
	}
	tags["ci_rule"] = rule.Name
	jti := c.String("jti")
	sum := sha256.Sum256([]byte(jti))
	alias := fmt.Sprintf("gha-%s-%s-%s", c.String("repository"), c.String("run_id"), hex.EncodeToString(sum[:6]))
	if jti == "" {
		alias += "-" + strconv.FormatInt(e.opts.Now().UnixNano(), 36)
	}
	k := store.Key{Alias: alias, TeamID: rule.Team, ExpiresAt: expires, Models: rule.Models, Tags: tags}
	var budget *store.Budget
	if b := rule.Budget; b != nil {
		budget = AutoBudget(b)
	}
	var limit *store.Limit
	if l := rule.RateLimit; l != nil {
		limit = &store.Limit{RPM: l.RPM, TPM: l.TPM, Concurrent: l.Concurrent}
	}
	return k, budget, limit
}

// AutoBudget converts a configured budget into a store budget.
func AutoBudget(b *config.AutoBudget) *store.Budget {
	out := &store.Budget{Period: cmp.Or(b.Period, store.PeriodTotal)}
	if b.USD > 0 {
		m := int64(b.USD * 1e6)
		out.LimitUSDMicros = &m
	}
	if b.Tokens > 0 {
		t := b.Tokens
		out.LimitTokens = &t
	}
	return out
}

// Claims are a token's claims.
type Claims map[string]any

// String returns a claim as a string: strings as they are, numbers and
// booleans formatted (GitHub sends most claims as strings, but a custom
// issuer may not); "" when missing or of another type.
func (c Claims) String(name string) string {
	switch v := c[name].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// Match returns the first rule whose every pattern matches its claim. A
// claim that is missing or not a string-like value matches no pattern, so a
// rule on environment never matches a job without one.
func Match(rules []config.GitHubActionsRule, c Claims) (config.GitHubActionsRule, bool) {
	for _, r := range rules {
		if matches(r, c) {
			return r, true
		}
	}
	return config.GitHubActionsRule{}, false
}

func matches(r config.GitHubActionsRule, c Claims) bool {
	if len(r.Match) == 0 {
		return false
	}
	for claim, pat := range r.Match {
		v := c.String(claim)
		if v == "" {
			return false
		}
		if ok, err := path.Match(pat, v); err != nil || !ok {
			return false
		}
	}
	return true
}

// verifyReason words a verification failure for the client without
// echoing the token.
func verifyReason(err error) string {
	var exp *oidc.TokenExpiredError
	switch msg := err.Error(); {
	case errors.As(err, &exp):
		return "it expired at " + exp.Expiry.UTC().Format(time.RFC3339)
	case strings.Contains(msg, "issued by a different provider"):
		return "wrong issuer"
	case strings.Contains(msg, "expected audience"):
		return "wrong audience"
	case strings.Contains(msg, "signature"), strings.Contains(msg, "malformed"), strings.Contains(msg, "unexpected signature algorithm"):
		return "bad signature or malformed JWT"
	case strings.Contains(msg, "nbf"):
		return "not valid yet"
	default:
		return "verification failed"
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
