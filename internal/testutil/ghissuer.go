package testutil

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// GitHubIssuer is a stand-in for GitHub Actions' token issuer on loopback:
// it publishes its key at /.well-known/jwks, as GitHub does, and mints
// RS256 tokens shaped like the ones a workflow gets from
// ACTIONS_ID_TOKEN_REQUEST_URL. Tests point github_actions.issuer at URL.
type GitHubIssuer struct {
	URL string
	key *rsa.PrivateKey
	kid string
}

// NewGitHubIssuer starts an issuer that lives until the test ends.
func NewGitHubIssuer(t testing.TB) *GitHubIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g := &GitHubIssuer{key: key, kid: "test-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: g.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// Claims returns the claims of a push to main of repository's "ci"
// workflow, run runID, issued at now for audience and valid for an hour:
// edit them before Sign.
func (g *GitHubIssuer) Claims(repository, runID, audience string, now time.Time) map[string]any {
	owner := repository
	for i := range repository {
		if repository[i] == '/' {
			owner = repository[:i]
			break
		}
	}
	return map[string]any{
		"iss": g.URL, "aud": audience, "sub": "repo:" + repository + ":ref:refs/heads/main",
		"iat": now.Unix(), "nbf": now.Add(-5 * time.Second).Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": rand.Text(), "repository": repository, "repository_owner": owner, "ref": "refs/heads/main",
		"ref_type": "branch", "sha": "0123456789abcdef0123456789abcdef01234567", "workflow": "ci",
		"workflow_ref":     repository + "/.github/workflows/ci.yml@refs/heads/main",
		"job_workflow_ref": repository + "/.github/workflows/ci.yml@refs/heads/main",
		"event_name":       "push", "run_id": runID, "run_number": "7", "run_attempt": "1", "actor": "octocat",
		"runner_environment": "github-hosted",
	}
}

// Sign mints a token with claims, signed by the issuer's key.
func (g *GitHubIssuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return signRS256(t, g.key, g.kid, claims)
}

// SignWithStranger mints a token with claims signed by a key the issuer
// does not publish: a forgery.
func (g *GitHubIssuer) SignWithStranger(t testing.TB, claims map[string]any) string {
	t.Helper()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signRS256(t, other, g.kid, claims)
}

func signRS256(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
