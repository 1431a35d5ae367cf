package adminclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/adminclient"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

const adminKey = "test-admin-key-0123456789"

func newClient(t *testing.T) *adminclient.Client {
	t.Helper()
	st := storetest.OpenSQLite(t)
	if _, err := admin.Bootstrap(context.Background(), st, adminKey); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", admin.New(st, admin.Options{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return adminclient.New(srv.URL, adminKey, srv.Client(), "adminclient-test")
}

func ptr[T any](v T) *T { return &v }

// TestRoundTrip drives the typed client against the real admin API: every
// answer decodes into the admin package's own types, and what went in comes
// back out.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	if _, err := c.CreateUser(ctx, admin.UserRequest{Name: ptr("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTeam(ctx, "infra"); err != nil {
		t.Fatal(err)
	}
	team, err := c.AddMember(ctx, "infra", "alice")
	if err != nil || len(team.Members) != 1 || team.Members[0] != "alice" {
		t.Fatalf("AddMember = %+v, %v, want alice in infra", team, err)
	}
	usd := json.Number("12.5")
	created, err := c.CreateKey(ctx, admin.CreateKeyRequest{Alias: "ci", User: "alice",
		Budget: &admin.KeyBudget{LimitUSD: &usd, Period: "day"}, Limit: &admin.KeyLimit{RPM: 30}})
	if err != nil {
		t.Fatal(err)
	}
	if created.Secret == "" || created.Key.Alias != "ci" || created.Key.User == nil || *created.Key.User != "alice" ||
		created.Budget == nil || created.Budget.LimitUSD == nil || *created.Budget.LimitUSD != 12_500_000 ||
		created.Limit == nil || created.Limit.RPM != 30 {
		t.Errorf("CreateKey = %+v", created)
	}
	if created.Key.CreatedAt == nil || created.Key.CreatedAt.IsZero() {
		t.Errorf("CreateKey: created_at = %v, want a time", created.Key.CreatedAt)
	}
	keys, err := c.Keys(ctx, "alice", "")
	if err != nil || len(keys) != 1 || keys[0].ID != created.Key.ID {
		t.Errorf("Keys(alice) = %+v, %v, want the one key", keys, err)
	}
	spend, err := c.Spend(ctx, adminclient.Scope{Kind: "key", Ref: "ci"})
	if err != nil || len(spend.Budgets) != 1 || spend.Budgets[0].RemainingUSDMicros == nil ||
		*spend.Budgets[0].RemainingUSDMicros != 12_500_000 {
		t.Errorf("Spend(key ci) = %+v, %v, want the key's untouched budget", spend, err)
	}
	limits, err := c.Limits(ctx, adminclient.Scope{Kind: "key", Ref: "ci"})
	if err != nil || len(limits) != 1 || limits[0].RPM != 30 {
		t.Errorf("Limits(key ci) = %+v, %v", limits, err)
	}
	revoked, err := c.RevokeKey(ctx, "ci")
	if err != nil || !revoked.Disabled {
		t.Errorf("RevokeKey = %+v, %v, want disabled", revoked, err)
	}

	_, err = c.Key(ctx, "nope")
	var apiErr *adminclient.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound || apiErr.Type != "not_found_error" {
		t.Errorf("Key(nope) error = %#v, want a 404 not_found_error", err)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := adminclient.New(srv.URL, adminKey, nil, "").Users(context.Background())
	var u *adminclient.UnreachableError
	if !errors.As(err, &u) {
		t.Errorf("Users on a closed server: err = %v, want an *UnreachableError", err)
	}
}

// TestUpdatesAndRotate: the PATCH requests send only what is set, null
// clears, and a rotation returns a new secret with the end of the overlap.
func TestUpdatesAndRotate(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	if _, err := c.CreateTeam(ctx, "infra"); err != nil {
		t.Fatal(err)
	}
	usd := json.Number("10")
	created, err := c.CreateKey(ctx, admin.CreateKeyRequest{Alias: "ci", Team: "infra", Models: []string{"claude-haiku-4-5"},
		Budget: &admin.KeyBudget{LimitUSD: &usd, Period: "day"}, Limit: &admin.KeyLimit{RPM: 30, Concurrent: 2}})
	if err != nil {
		t.Fatal(err)
	}

	k, err := c.UpdateKey(ctx, "ci", admin.PatchKeyRequest{Alias: ptr("ci-2"), Team: admin.Null[string](), Models: admin.Null[[]string]()})
	if err != nil || k.Alias != "ci-2" || k.Team != nil || len(k.Models) != 0 || k.ID != created.Key.ID {
		t.Errorf("UpdateKey = %+v, %v; want renamed, without team or model list", k, err)
	}

	b, err := c.UpdateBudget(ctx, created.Budget.ID, admin.PatchBudgetRequest{LimitTokens: admin.Some(int64(1000)), Period: ptr("week")})
	if err != nil || b.Period != "week" || b.LimitTokens == nil || *b.LimitTokens != 1000 || b.LimitUSDMicros == nil || *b.LimitUSDMicros != 10_000_000 {
		t.Errorf("UpdateBudget = %+v, %v; want a weekly budget of $10 and 1000 tokens", b, err)
	}
	b, err = c.UpdateBudget(ctx, b.ID, admin.PatchBudgetRequest{LimitUSD: admin.Null[json.Number]()})
	if err != nil || b.LimitUSDMicros != nil {
		t.Errorf("UpdateBudget(limit_usd null) = %+v, %v; want no USD limit", b, err)
	}

	zero := int64(0)
	l, err := c.UpdateLimit(ctx, created.Limit.ID, admin.PatchLimitRequest{RPM: ptr(int64(60)), Concurrent: &zero})
	if err != nil || l.RPM != 60 || l.Concurrent != 0 {
		t.Errorf("UpdateLimit = %+v, %v; want 60 rpm, no concurrency limit", l, err)
	}

	r, err := c.RotateKey(ctx, "ci-2", "1h")
	if err != nil || r.Secret == "" || r.Secret == created.Secret || r.Key.ID != created.Key.ID || r.PreviousExpiresAt == nil {
		t.Errorf("RotateKey(1h) = %+v, %v; want a new secret and the end of the overlap", r, err)
	}
	if r, err := c.RotateKey(ctx, "ci-2", ""); err != nil || r.PreviousExpiresAt != nil {
		t.Errorf("RotateKey() = %+v, %v; want no overlap", r, err)
	}
	if err := c.DeleteKey(ctx, "ci-2"); err != nil {
		t.Errorf("DeleteKey = %v", err)
	}
}

func TestOptionalJSON(t *testing.T) {
	for _, c := range []struct {
		in   admin.PatchKeyRequest
		want string
	}{
		{admin.PatchKeyRequest{}, `{}`},
		{admin.PatchKeyRequest{Team: admin.Null[string]()}, `{"team":null}`},
		{admin.PatchKeyRequest{Team: admin.Some("infra"), Models: admin.Some([]string{})}, `{"team":"infra","models":[]}`},
	} {
		b, err := json.Marshal(c.in)
		if err != nil || string(b) != c.want {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %s", c.in, b, err, c.want)
		}
	}
}
