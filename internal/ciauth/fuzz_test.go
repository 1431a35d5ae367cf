package ciauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/ciauth"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// FuzzExchangeRequest feeds arbitrary bodies, content types and bearer
// values to the exchange. Nothing signed by the issuer gets in, so every
// answer must be a client error in the OAuth JSON shape — never a panic, a
// 2xx or a 5xx.
func FuzzExchangeRequest(f *testing.F) {
	iss := testutil.NewGitHubIssuer(f)
	ex := ciauth.New(config.GitHubActions{Issuer: iss.URL, Audience: "tollgate",
		Rules: []config.GitHubActionsRule{{Name: "r", Match: map[string]string{"repository": "*/*"}}}}, ciauth.Options{})
	f.Add("application/json", `{"token":"a.b.c"}`, "")
	f.Add("application/x-www-form-urlencoded", "token=eyJhbGciOiJub25lIn0.e30.", "")
	f.Add("", "", "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3Qta2V5LTEifQ.eyJyZXBvc2l0b3J5IjoiYS9iIn0.c2ln")
	f.Add("text/plain", `{"token":`, "Bearer")
	f.Add("application/x-www-form-urlencoded", "%zz", "")
	f.Fuzz(func(t *testing.T, ctype, body, bearer string) {
		r := httptest.NewRequest(http.MethodPost, ciauth.Path, strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		w := httptest.NewRecorder()
		ex.ServeHTTP(w, r)
		if w.Code < 400 || w.Code >= 500 {
			t.Fatalf("status %d for body %q bearer %q, want a 4xx", w.Code, body, bearer)
		}
		var out struct{ Error, ErrorDescription string }
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Error == "" {
			t.Fatalf("answer %q is not an OAuth error", w.Body.String())
		}
	})
}
