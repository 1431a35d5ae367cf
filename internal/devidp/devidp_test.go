package devidp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/tollgate-gw/tollgate/internal/devidp"
)

func start(t *testing.T) (*devidp.Provider, *httptest.Server) {
	t.Helper()
	var h atomic.Pointer[devidp.Provider]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.Load().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	p, err := devidp.New(devidp.Options{Issuer: srv.URL, Client: devidp.Client{ID: "c", Secret: "s", RedirectURIs: []string{"http://127.0.0.1:9/cb"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.Store(p)
	return p, srv
}

// TestDiscovery checks the provider with a standard client: go-oidc reads
// its discovery document and finds the endpoints a relying party needs.
func TestDiscovery(t *testing.T) {
	_, srv := start(t)
	p, err := oidc.NewProvider(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		JWKS       string   `json:"jwks_uri"`
		Challenges []string `json:"code_challenge_methods_supported"`
		Grants     []string `json:"grant_types_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if p.Endpoint().AuthURL == "" || p.Endpoint().TokenURL == "" || meta.JWKS == "" ||
		!contains(meta.Challenges, "S256") || !contains(meta.Grants, "refresh_token") {
		t.Errorf("discovery = %+v %+v, want endpoints, a JWKS, S256 and refresh_token", p.Endpoint(), meta)
	}
	resp, err := http.Get(meta.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ks struct{ Keys []map[string]any }
	json.NewDecoder(resp.Body).Decode(&ks)
	if len(ks.Keys) != 1 || ks.Keys[0]["alg"] != "RS256" {
		t.Errorf("JWKS = %v, want one RS256 key", ks)
	}
}

func TestAdminUsers(t *testing.T) {
	p, srv := start(t)
	resp, err := http.PostForm(srv.URL+"/admin/users", url.Values{"username": {"ann"}, "password": {"pw"}, "groups": {"a", "b"}})
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("add user = %v, %v; want 204", resp, err)
	}
	del := func() int {
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/admin/users/ann", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := del(); st != http.StatusNoContent {
		t.Errorf("remove user = %d, want 204", st)
	}
	if st := del(); st != http.StatusNotFound {
		t.Errorf("remove user again = %d, want 404", st)
	}
	if p.RemoveUser("nobody") {
		t.Error("RemoveUser(nobody) = true")
	}
	if resp, _ := http.Get(srv.URL + "/login?authRequestID=unknown"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("login form for an unknown request = %d, want 400", resp.StatusCode)
	}
}

func contains(v []string, s string) bool {
	for _, x := range v {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
