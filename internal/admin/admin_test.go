package admin_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current responses")

const adminKey = "test-admin-key-0123456789"

// now is the API's clock in every test.
var now = time.Date(2025, 6, 3, 12, 0, 0, 0, time.UTC)

type env struct {
	t       *testing.T
	st      *store.Store
	api     *admin.API
	srv     *httptest.Server
	changes atomic.Int32
	ids     map[string]string // real id → stable placeholder, for goldens
}

func newEnv(t *testing.T, open storetest.Opener) *env {
	t.Helper()
	e := &env{t: t, st: open(t), ids: map[string]string{}}
	if _, err := admin.Bootstrap(context.Background(), e.st, adminKey); err != nil {
		t.Fatal(err)
	}
	e.api = admin.New(e.st, admin.Options{Now: func() time.Time { return now }, OnChange: func() { e.changes.Add(1) }})
	mux := http.NewServeMux()
	mux.Handle("/admin/", e.api)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the admin key unless headers override it.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path, body string) response {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r.body, want)
	}
	return r
}

var (
	idRE          = regexp.MustCompile(`\b(usr|team|key|bdg|lim|adm|tok)_[a-z2-7]{16}\b`)
	secretRE      = regexp.MustCompile(`\btg-[A-Za-z0-9_-]{43}`)
	prefixRE      = regexp.MustCompile(`"prefix": "tg-[A-Za-z0-9_-]{8}"`)
	tokenSecretRE = regexp.MustCompile(`\btgt-[A-Za-z0-9_-]{43}`)
	tokenPrefixRE = regexp.MustCompile(`"prefix": "tgt-[A-Za-z0-9_-]{8}"`)
)

// normalize replaces generated ids and secrets with stable placeholders
// (numbered by first appearance), so goldens are the same on every run and
// on both engines.
func (e *env) normalize(s string) string {
	s = idRE.ReplaceAllStringFunc(s, func(id string) string {
		if p, ok := e.ids[id]; ok {
			return p
		}
		kind, _, _ := strings.Cut(id, "_")
		n := 1
		for _, p := range e.ids {
			if strings.HasPrefix(p, "<"+kind+"-") {
				n++
			}
		}
		p := fmt.Sprintf("<%s-%d>", kind, n)
		e.ids[id] = p
		return p
	})
	s = secretRE.ReplaceAllString(s, "tg-<secret>")
	s = tokenSecretRE.ReplaceAllString(s, "tgt-<secret>")
	s = tokenPrefixRE.ReplaceAllString(s, `"prefix": "tgt-<prefix>"`)
	return prefixRE.ReplaceAllString(s, `"prefix": "tg-<prefix>"`)
}

// golden sends a request and compares the exchange with testdata/name.golden.
// Headers are as for do. TestOpenAPIGoldens validates every golden against
// openapi.yaml as well.
func (e *env) golden(name string, wantStatus int, method, path, body string, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.status != wantStatus {
		e.t.Errorf("%s %s = %d, want %d\n%s", method, path, r.status, wantStatus, r.body)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", method, path)
	if body != "" {
		fmt.Fprintf(&b, "%s\n", body)
	}
	fmt.Fprintf(&b, "\nHTTP %d\n", r.status)
	for _, h := range []string{"Content-Type", "X-Tollgate-Error-Origin", "Allow"} {
		if v := r.header.Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	fmt.Fprintf(&b, "\n%s", r.body)
	got := e.normalize(b.String())
	path = filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			e.t.Fatal(err)
		}
		return r
	}
	want, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatalf("%v (run go test ./internal/admin/ -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		e.t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
	return r
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// TestGolden walks through a realistic admin session: people, a team, a key
// with its budget and limit, usage, spend, and clean-up. Every response is
// compared with its golden file, on SQLite and PostgreSQL alike.
func TestGolden(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		e := newEnv(t, open)
		ctx := context.Background()
		mutations := 0
		mut := func(r response) response { mutations++; return r }

		mut(e.golden("users_create", 201, "POST", "/admin/users", `{"name":"alice","email":"alice@example.com"}`))
		mut(e.must(201, "POST", "/admin/users", `{"name":"bob"}`))
		mut(e.golden("teams_create", 201, "POST", "/admin/teams", `{"name":"infra"}`))
		mut(e.golden("teams_add_member", 200, "POST", "/admin/teams/infra/members", `{"user":"alice"}`))
		mut(e.must(200, "POST", "/admin/teams/infra/members", `{"user":"bob"}`))

		created := mut(e.golden("keys_create", 201, "POST", "/admin/keys", `{"alias":"alice-laptop","user":"alice","team":"infra",`+
			`"expires_in":"30d","models":["claude-sonnet-4-5","claude-haiku-4-5"],"tags":{"env":"dev"},`+
			`"budget_usd":50.5,"period":"month","timezone":"Europe/Berlin","rpm":60}`))
		secret := decodeJSON[struct{ Secret string }](t, created.body).Secret
		snap, err := e.st.AuthSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Keys) != 1 || snap.Keys[0].SecretHash != store.HashSecret(secret) {
			t.Errorf("the returned secret does not hash to the stored key")
		}
		mut(e.must(201, "POST", "/admin/keys", `{"alias":"ci","team":"infra"}`))
		e.golden("keys_list", 200, "GET", "/admin/keys", "")
		e.golden("keys_list_by_user", 200, "GET", "/admin/keys?user=alice", "")
		mut(e.golden("keys_patch", 200, "PATCH", "/admin/keys/alice-laptop",
			`{"models":null,"expires_at":null,"tags":{"env":"prod"},"team":null}`))
		rotated := mut(e.golden("keys_rotate", 200, "POST", "/admin/keys/ci/rotate", `{"overlap":"1h"}`))
		if s := decodeJSON[struct{ Secret string }](t, rotated.body).Secret; s == "" {
			t.Errorf("rotate answered no secret")
		}
		mut(e.golden("keys_rotate_no_overlap", 200, "POST", "/admin/keys/ci/rotate", ""))
		e.golden("keys_rotate_bad_overlap", 400, "POST", "/admin/keys/ci/rotate", `{"overlap":"soon"}`)
		mut(e.golden("keys_revoke", 200, "POST", "/admin/keys/alice-laptop/revoke", ""))

		mut(e.golden("budgets_create", 201, "POST", "/admin/budgets",
			`{"team":"infra","limit_tokens":1000000,"period":"week","thresholds":[75,90]}`))
		mut(e.must(201, "POST", "/admin/budgets", `{"user":"bob","limit_usd":"2","period":"day"}`))
		e.golden("budgets_list", 200, "GET", "/admin/budgets", "")
		bid := decodeJSON[struct {
			Budgets []struct{ ID string }
		}](t, e.must(200, "GET", "/admin/budgets?user=bob", "").body).Budgets[0].ID
		mut(e.golden("budgets_patch", 200, "PATCH", "/admin/budgets/"+bid, `{"limit_usd":1.25,"limit_tokens":5000,"timezone":"America/New_York"}`))

		mut(e.golden("limits_create", 201, "POST", "/admin/limits", `{"user":"alice","rpm":100,"concurrent":4}`))
		e.golden("limits_list", 200, "GET", "/admin/limits", "")

		// Usage, written as the gateway's usage writer would.
		aliceKey, _ := e.st.GetKey(ctx, "alice-laptop")
		ciKey, _ := e.st.GetKey(ctx, "ci")
		bob, _ := e.st.GetUser(ctx, "bob")
		rec := func(at string, k store.Key, user string, model string, tags map[string]string, in, out, cw5, cw1, cr, cost int64) usage.Record {
			ts, _ := time.Parse(time.RFC3339, at)
			return usage.Record{RequestID: at, Time: ts, KeyID: k.ID, KeyAlias: k.Alias, UserID: user, TeamID: k.TeamID,
				SessionID: "sess-" + at[:10], Tags: tags, Model: model, Status: 200, Tokens: tokens.Counts{Input: in, Output: out, CacheWrite5m: cw5, CacheWrite1h: cw1, CacheRead: cr}, CostMicros: cost}
		}
		recs := []usage.Record{
			rec("2025-06-01T09:15:00Z", aliceKey, aliceKey.UserID, "claude-sonnet-4-5", map[string]string{"repo": "org/app"}, 1000, 200, 300, 0, 5000, 10_650),
			rec("2025-06-01T09:45:00Z", aliceKey, aliceKey.UserID, "claude-haiku-4-5", map[string]string{"repo": "=cmd|x"}, 500, 100, 0, 0, 0, 1_000),
			rec("2025-06-02T14:05:00Z", ciKey, bob.ID, "claude-sonnet-4-5", map[string]string{"repo": "org/app", "pr": "42"}, 2000, 800, 0, 1000, 0, 24_000),
			rec("2025-06-03T08:00:00Z", ciKey, bob.ID, "claude-opus-4-1", nil, 100, 50, 0, 0, 0, 0),
		}
		recs[3].Unpriced, recs[3].Status, recs[3].ErrorOrigin = true, 500, "upstream"
		if err := e.st.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		e.golden("usage_by_user", 200, "GET", "/admin/usage?by=user&since=7d", "")
		e.golden("usage_by_model_day", 200, "GET", "/admin/usage?by=model&granularity=day&since=2025-06-01&until=2025-06-04", "")
		e.golden("usage_by_tag_hour", 200, "GET", "/admin/usage?by=tag&tag=repo&granularity=hour&since=2025-06-01T00:00:00Z", "")
		e.golden("usage_by_session_team", 200, "GET", "/admin/usage?by=session&team=infra&since=3d", "")
		e.golden("usage_csv_by_key", 200, "GET", "/admin/usage.csv?by=key&since=7d", "")
		e.golden("usage_csv_by_tag", 200, "GET", "/admin/usage.csv?by=tag&tag=repo&since=7d", "")
		e.golden("spend", 200, "GET", "/admin/spend", "")

		e.golden("users_list", 200, "GET", "/admin/users", "")
		e.golden("teams_get", 200, "GET", "/admin/teams/infra", "")
		e.golden("users_delete_with_keys", 409, "DELETE", "/admin/users/alice", "")
		mut(e.must(204, "DELETE", "/admin/keys/alice-laptop", ""))
		mut(e.must(204, "DELETE", "/admin/teams/infra/members/alice", ""))
		mut(e.must(204, "DELETE", "/admin/users/alice", ""))
		e.must(404, "GET", "/admin/users/alice", "")
		mut(e.must(204, "DELETE", "/admin/budgets/"+bid, ""))

		if got := int(e.changes.Load()); got != mutations {
			t.Errorf("OnChange called %d times, want once per successful mutation (%d)", got, mutations)
		}
	})
}

// TestGoldenReference records the exchanges TestGolden does not: reads of
// single objects, the remaining patches and the error responses, so that
// TestOpenAPIGoldens checks them against the reference too.
func TestGoldenReference(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite)
	e.must(201, "POST", "/admin/users", `{"name":"alice","email":"alice@example.com"}`)
	e.must(201, "POST", "/admin/teams", `{"name":"infra"}`)
	e.must(200, "POST", "/admin/teams/infra/members", `{"user":"alice"}`)
	e.must(201, "POST", "/admin/keys", `{"alias":"k1","user":"alice","tags":{"env":"ci"}}`)
	bid := decodeJSON[struct{ Budget struct{ ID string } }](t,
		e.must(201, "POST", "/admin/budgets", `{"key":"k1","limit_usd":10,"period":"total"}`).body).Budget.ID
	lid := decodeJSON[struct{ Limit struct{ ID string } }](t,
		e.must(201, "POST", "/admin/limits", `{"team":"infra","tpm":50000}`).body).Limit.ID

	e.golden("users_get", 200, "GET", "/admin/users/alice", "")
	e.golden("users_patch", 200, "PATCH", "/admin/users/alice", `{"email":"alice@example.org","disabled":false}`)
	e.golden("teams_list", 200, "GET", "/admin/teams", "")
	e.golden("teams_patch", 200, "PATCH", "/admin/teams/infra", `{"name":"platform"}`)
	e.golden("keys_get", 200, "GET", "/admin/keys/k1", "")
	e.golden("budgets_get", 200, "GET", "/admin/budgets/"+bid, "")
	e.golden("spend_by_key_total", 200, "GET", "/admin/spend?key=k1", "")
	e.golden("limits_get", 200, "GET", "/admin/limits/"+lid, "")
	e.golden("limits_patch", 200, "PATCH", "/admin/limits/"+lid, `{"tpm":100000,"concurrent":8}`)

	e.golden("error_unauthorized", 401, "GET", "/admin/keys", "", "Authorization", "")
	e.golden("error_not_found", 404, "GET", "/admin/keys/nope", "")
	e.golden("error_unknown_field", 400, "POST", "/admin/keys", `{"alais":"k2"}`)
	e.golden("error_unknown_query", 400, "GET", "/admin/usage?usr=alice", "")
	e.golden("error_conflict", 409, "POST", "/admin/users", `{"name":"alice"}`)
	e.golden("error_no_route", 404, "GET", "/admin/nothing", "")
	e.golden("error_wrong_method", 405, "PUT", "/admin/users", `{}`)
	e.golden("usage_live_disabled", 404, "GET", "/admin/usage/live", "")

	// A key with its budget and limit as objects, created in one
	// transaction (store.CreateKeyWith).
	e.golden("keys_create_with_budget_and_limit", 201, "POST", "/admin/keys", `{"alias":"ci-nightly","team":"platform",`+
		`"budget":{"limit_usd":"12.5","limit_tokens":2000000,"period":"day","timezone":"Europe/Berlin","thresholds":[80]},`+
		`"limit":{"rpm":30,"concurrent":2}}`)
}

func TestErrors(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite)
	e.must(201, "POST", "/admin/users", `{"name":"alice"}`)
	e.must(201, "POST", "/admin/keys", `{"alias":"k1","user":"alice"}`)
	changes := e.changes.Load()

	tests := []struct {
		name          string
		method, path  string
		body          string
		headers       []string
		status        int
		typ, contains string
	}{
		{"no key", "GET", "/admin/users", "", []string{"Authorization", ""}, 401, "authentication_error", "missing admin key"},
		{"wrong key", "GET", "/admin/users", "", []string{"Authorization", "Bearer nope"}, 401, "authentication_error", "invalid admin key"},
		{"wrong scheme", "GET", "/admin/users", "", []string{"Authorization", "Basic " + adminKey}, 401, "authentication_error", "missing admin key"},
		{"unauthenticated unknown path", "GET", "/admin/nothing", "", []string{"Authorization", ""}, 401, "authentication_error", ""},
		{"unknown path", "GET", "/admin/nothing", "", nil, 404, "not_found_error", "/admin/nothing"},
		{"wrong method", "PUT", "/admin/users", "{}", nil, 405, "invalid_request_error", "allowed: GET, POST"},
		{"unknown field", "POST", "/admin/users", `{"nmae":"bob"}`, nil, 400, "invalid_request_error", `unknown field "nmae"`},
		{"bad json", "POST", "/admin/users", `{"name":`, nil, 400, "invalid_request_error", "not valid JSON"},
		{"not an object", "POST", "/admin/users", `["bob"]`, nil, 400, "invalid_request_error", "must be a JSON object"},
		{"empty body", "POST", "/admin/teams", ``, nil, 400, "invalid_request_error", "must be a JSON object"},
		{"trailing data", "POST", "/admin/users", `{"name":"bob"} {}`, nil, 400, "invalid_request_error", "single JSON object"},
		{"wrong type", "POST", "/admin/keys", `{"alias":"x","models":"claude"}`, nil, 400, "invalid_request_error", `field "models": expected an array`},
		{"missing name", "POST", "/admin/users", `{"email":"x@y"}`, nil, 400, "invalid_request_error", `"name" is required`},
		{"empty name", "POST", "/admin/users", `{"name":""}`, nil, 400, "invalid_request_error", "must not be empty"},
		{"duplicate user", "POST", "/admin/users", `{"name":"alice"}`, nil, 409, "conflict_error", `a user named "alice" already exists`},
		{"duplicate alias", "POST", "/admin/keys", `{"alias":"k1"}`, nil, 409, "conflict_error", `alias "k1"`},
		{"unknown owner", "POST", "/admin/keys", `{"alias":"k2","user":"carol"}`, nil, 404, "not_found_error", `user "carol" not found`},
		{"bad period", "POST", "/admin/keys", `{"alias":"k2","budget_usd":5,"period":"year"}`, nil, 400, "invalid_request_error", `field "period": "year"`},
		{"bad timezone", "POST", "/admin/keys", `{"alias":"k2","budget_usd":5,"timezone":"Europe/Atlantis"}`, nil, 400, "invalid_request_error", `unknown time zone "Europe/Atlantis"`},
		{"period without budget", "POST", "/admin/keys", `{"alias":"k2","period":"day"}`, nil, 400, "invalid_request_error", "need budget_usd or budget_tokens"},
		{"budget object bad period", "POST", "/admin/keys", `{"alias":"k2","budget":{"limit_usd":5,"period":"year"}}`, nil, 400, "invalid_request_error", `field "period": "year"`},
		{"budget object without limit", "POST", "/admin/keys", `{"alias":"k2","budget":{"period":"day"}}`, nil, 400, "invalid_request_error", "needs a USD limit, a token limit or both"},
		{"budget object and flat fields", "POST", "/admin/keys", `{"alias":"k2","budget":{"limit_usd":5},"budget_usd":5}`, nil, 400, "invalid_request_error", "not both"},
		{"limit object and flat fields", "POST", "/admin/keys", `{"alias":"k2","limit":{"rpm":5},"tpm":5}`, nil, 400, "invalid_request_error", "not both"},
		{"limit object negative", "POST", "/admin/keys", `{"alias":"k2","limit":{"rpm":-5}}`, nil, 400, "invalid_request_error", "must not be negative"},
		{"budget object unknown field", "POST", "/admin/keys", `{"alias":"k2","budget":{"usd":5}}`, nil, 400, "invalid_request_error", `unknown field "usd"`},
		{"budget object unknown owner", "POST", "/admin/keys", `{"alias":"k2","user":"carol","budget":{"limit_usd":5},"limit":{"rpm":1}}`, nil, 404, "not_found_error", `user "carol" not found`},
		{"too many decimals", "POST", "/admin/keys", `{"alias":"k2","budget_usd":0.0000001}`, nil, 400, "invalid_request_error", "more than 6 decimal places"},
		{"negative usd", "POST", "/admin/budgets", `{"user":"alice","limit_usd":-1,"period":"day"}`, nil, 400, "invalid_request_error", "must not be negative"},
		{"expires both", "POST", "/admin/keys", `{"alias":"k2","expires_in":"1d","expires_at":"2030-01-01T00:00:00Z"}`, nil, 400, "invalid_request_error", "not both"},
		{"expires in past", "POST", "/admin/keys", `{"alias":"k2","expires_at":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid_request_error", "in the past"},
		{"bad expires_in", "POST", "/admin/keys", `{"alias":"k2","expires_in":"soon"}`, nil, 400, "invalid_request_error", `"expires_in"`},
		{"budget without limit", "POST", "/admin/budgets", `{"user":"alice","period":"day"}`, nil, 400, "invalid_request_error", "needs a USD limit, a token limit or both"},
		{"budget two scopes", "POST", "/admin/budgets", `{"user":"alice","key":"k1","limit_tokens":5,"period":"day"}`, nil, 400, "invalid_request_error", "exactly one"},
		{"budget no period", "POST", "/admin/budgets", `{"user":"alice","limit_tokens":5}`, nil, 400, "invalid_request_error", `"period" is required`},
		{"budget bad zone", "POST", "/admin/budgets", `{"user":"alice","limit_tokens":5,"period":"day","timezone":"Local"}`, nil, 400, "invalid_request_error", "not allowed"},
		{"budget unknown user", "POST", "/admin/budgets", `{"user":"zed","limit_tokens":5,"period":"day"}`, nil, 404, "not_found_error", `user "zed" not found`},
		{"limit negative", "POST", "/admin/limits", `{"key":"k1","rpm":-5}`, nil, 400, "invalid_request_error", "must not be negative"},
		{"unknown budget", "GET", "/admin/budgets/bdg_nope", "", nil, 404, "not_found_error", `budget "bdg_nope" not found`},
		{"patch unknown key", "PATCH", "/admin/keys/nope", `{"disabled":true}`, nil, 404, "not_found_error", `key "nope" not found`},
		{"remove non-member", "DELETE", "/admin/teams/nope/members/alice", "", nil, 404, "not_found_error", `team "nope" not found`},
		{"usage bad by", "GET", "/admin/usage?by=org", "", nil, 400, "invalid_request_error", `unknown usage dimension "org"`},
		{"usage bad since", "GET", "/admin/usage?since=yesterday", "", nil, 400, "invalid_request_error", `since "yesterday"`},
		{"usage since after until", "GET", "/admin/usage?since=1d&until=2d", "", nil, 400, "invalid_request_error", "must be before"},
		{"usage unknown param", "GET", "/admin/usage?usr=alice", "", nil, 400, "invalid_request_error", `unknown query parameter "usr"`},
		{"usage repeated param", "GET", "/admin/usage?by=user&by=key", "", nil, 400, "invalid_request_error", "given 2 times"},
		{"usage tag without by", "GET", "/admin/usage?tag=repo", "", nil, 400, "invalid_request_error", "needs by=tag"},
		{"usage tag with user", "GET", "/admin/usage?by=tag&tag=repo&user=alice", "", nil, 400, "invalid_request_error", "filtered by model only"},
		{"usage bad granularity", "GET", "/admin/usage.csv?granularity=minute", "", nil, 400, "invalid_request_error", "unknown granularity"},
		{"list with junk param", "GET", "/admin/users?x=1", "", nil, 400, "invalid_request_error", "takes none"},
		{"spend two scopes", "GET", "/admin/spend?user=alice&team=infra", "", nil, 400, "invalid_request_error", "exactly one"},
		{"body too large", "POST", "/admin/users", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, nil, 413, "request_too_large", "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body, tc.headers...)
			var got struct {
				Error struct{ Type, Message string }
			}
			json.Unmarshal(r.body, &got)
			if r.status != tc.status || got.Error.Type != tc.typ || !strings.Contains(got.Error.Message, tc.contains) {
				t.Errorf("%s %s = %d %s, want %d %s containing %q", tc.method, tc.path, r.status, r.body, tc.status, tc.typ, tc.contains)
			}
			if o := r.header.Get("x-tollgate-error-origin"); o != "client" {
				t.Errorf("x-tollgate-error-origin = %q, want client", o)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
	if got := e.changes.Load(); got != changes {
		t.Errorf("failed requests called OnChange %d times", got-changes)
	}
	snap, err := e.st.AuthSnapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Keys) != 1 || len(snap.Budgets) != 0 || len(snap.Limits) != 0 {
		t.Errorf("failed creations left rows behind: %d keys, %d budgets, %d limits, want 1, 0, 0",
			len(snap.Keys), len(snap.Budgets), len(snap.Limits))
	}
}

func TestAuthHeaders(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite)
	for _, h := range [][]string{
		{"Authorization", "Bearer " + adminKey},
		{"Authorization", "bearer " + adminKey},
		{"Authorization", "", "x-api-key", adminKey},
	} {
		if r := e.do("GET", "/admin/users", "", h...); r.status != 200 {
			t.Errorf("GET /admin/users with %v = %d %s, want 200", h, r.status, r.body)
		}
	}
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	secret, err := admin.Bootstrap(ctx, st, "")
	if err != nil || !regexp.MustCompile(`^tga-[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Fatalf("Bootstrap() = %q, %v; want a new tga- key", secret, err)
	}
	if h, _ := st.AdminKeyHash(ctx); h != store.HashSecret(secret) {
		t.Error("the stored hash is not the printed key's")
	}
	if again, err := admin.Bootstrap(ctx, st, ""); again != "" || err != nil {
		t.Errorf("second Bootstrap() = %q, %v; want nothing printed", again, err)
	}

	api := admin.New(st, admin.Options{})
	get := func(key string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/admin/users", nil)
		req.Header.Set("x-api-key", key)
		api.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := get(secret); code != 200 {
		t.Errorf("generated admin key: status %d, want 200", code)
	}

	// The environment wins and rotates the key.
	if s, err := admin.Bootstrap(ctx, st, adminKey); s != "" || err != nil {
		t.Errorf("Bootstrap(env) = %q, %v", s, err)
	}
	if get(secret) != 401 || get(adminKey) != 200 {
		t.Error("TOLLGATE_ADMIN_KEY did not replace the generated key")
	}
	if _, err := admin.Bootstrap(ctx, st, "short"); err == nil {
		t.Error("Bootstrap accepted a 5-character admin key")
	}

	// No credential at all: every request is refused.
	empty := admin.New(storetest.OpenSQLite(t), admin.Options{})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/admin/users", nil)
	req.Header.Set("x-api-key", "anything")
	empty.ServeHTTP(rec, req)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "no admin key is configured") {
		t.Errorf("without a credential: %d %s", rec.Code, rec.Body)
	}
}

func TestFormatUSD(t *testing.T) {
	tests := map[int64]string{0: "0", 1: "0.000001", 50_000_000: "50", 1_234_500: "1.2345", -2_500_000: "-2.5", 999_999: "0.999999"}
	keys := make([]int64, 0, len(tests))
	for k := range tests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, in := range keys {
		if got := admin.FormatUSD(in); got != tests[in] {
			t.Errorf("FormatUSD(%d) = %q, want %q", in, got, tests[in])
		}
	}
}
