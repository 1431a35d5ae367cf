package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

func TestSignInStates(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		now := time.Now()
		st := store.SignInState{StateHash: store.HashSecret("state-1"), Nonce: "n1", Verifier: "v1", ReturnTo: "/ui/", ExpiresAt: now.Add(time.Minute)}
		if err := s.CreateSignInState(ctx, st); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "duplicate", s.CreateSignInState(ctx, st), store.ErrConflict)
		got, err := s.TakeSignInState(ctx, st.StateHash, now)
		if err != nil {
			t.Fatal(err)
		}
		if got.Nonce != "n1" || got.Verifier != "v1" || got.ReturnTo != "/ui/" {
			t.Errorf("TakeSignInState = %+v, want the stored state", got)
		}
		_, err = s.TakeSignInState(ctx, st.StateHash, now)
		wantErr(t, "second take", err, store.ErrNotFound)

		old := store.SignInState{StateHash: store.HashSecret("state-2"), Nonce: "n", Verifier: "v", ExpiresAt: now.Add(time.Minute)}
		if err := s.CreateSignInState(ctx, old); err != nil {
			t.Fatal(err)
		}
		_, err = s.TakeSignInState(ctx, old.StateHash, now.Add(2*time.Minute))
		wantErr(t, "expired", err, store.ErrNotFound)
	})
}

func TestSignInUser(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		mustUser(t, s, "ann@example.com") // takes the name a new user would get
		manual := mustTeam(t, s, "manual")
		id := store.Identity{Issuer: "https://idp.example", Subject: "u1", Email: "ann@example.com", Groups: []string{"eng", "ops"}}
		usd := int64(5_000_000)
		plan := store.SignInPlan{Teams: []string{"eng", "ops"}, Managed: []string{"eng", "ops", "sales"},
			Budget: &store.Budget{LimitUSDMicros: &usd, Period: store.PeriodMonth}, Limit: &store.Limit{RPM: 10}}
		first, err := s.SignInUser(ctx, id, plan)
		if err != nil {
			t.Fatal(err)
		}
		if !first.Created || first.User.Name != "ann@example.com-2" || first.User.Email != "ann@example.com" {
			t.Errorf("first SignInUser = %+v, want a created user named ann@example.com-2", first)
		}
		teamNames := func() []string {
			u, err := s.GetUser(ctx, first.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, tid := range u.TeamIDs {
				tm, err := s.GetTeam(ctx, tid)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, tm.Name)
			}
			return sorted(out...)
		}
		if diff := cmp.Diff([]string{"eng", "ops"}, teamNames()); diff != "" {
			t.Errorf("teams after first sign-in (-want +got):\n%s", diff)
		}
		bs, err := s.ListBudgets(ctx, store.ScopeFilter{ScopeKind: store.ScopeUser, ScopeID: first.User.ID})
		if err != nil || len(bs) != 1 || *bs[0].LimitUSDMicros != usd {
			t.Errorf("budgets of the new user = %+v, %v; want one of %d micro-USD", bs, err, usd)
		}

		// Second sign-in: left ops, joined a team by hand; same user.
		if err := s.AddMember(ctx, manual.Name, first.User.ID); err != nil {
			t.Fatal(err)
		}
		id.Groups = []string{"eng"}
		plan.Teams = []string{"eng"}
		again, err := s.SignInUser(ctx, id, plan)
		if err != nil {
			t.Fatal(err)
		}
		if again.Created || again.User.ID != first.User.ID {
			t.Errorf("second SignInUser = %+v, want the same user, not created", again)
		}
		if diff := cmp.Diff([]string{"eng", "manual"}, teamNames()); diff != "" {
			t.Errorf("teams after second sign-in (-want +got):\n%s", diff)
		}
		ids, err := s.UserIdentities(ctx, first.User.ID)
		if err != nil || len(ids) != 1 || !cmp.Equal(ids[0].Groups, []string{"eng"}) {
			t.Errorf("UserIdentities = %+v, %v; want one identity with groups [eng]", ids, err)
		}
		_, err = s.SignInUser(ctx, store.Identity{Issuer: "x"}, plan)
		wantErr(t, "no subject", err, store.ErrInvalid)
	})
}

func TestCreateCIKey(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		exp := time.Now().Add(time.Hour)
		nk, err := s.CreateCIKey(ctx, store.Key{Alias: "gha-acme-app-1", ExpiresAt: exp, Tags: map[string]string{"repository": "acme/app"}},
			nil, &store.Limit{RPM: 5}, store.CIKey{Issuer: "https://gh", Rule: "r", Repository: "acme/app", RunID: "42",
				Claims: map[string]any{"repository": "acme/app", "run_id": "42"}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetCIKey(ctx, nk.Key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Repository != "acme/app" || got.RunID != "42" || got.Claims["run_id"] != "42" {
			t.Errorf("GetCIKey = %+v, want repository, run and claims", got)
		}
		if _, err := s.GetCIKey(ctx, "key_none"); !errorsIs(err, store.ErrNotFound) {
			t.Errorf("GetCIKey(unknown) = %v, want ErrNotFound", err)
		}
		// A failed key (taken alias) leaves no CI record behind.
		_, err = s.CreateCIKey(ctx, store.Key{Alias: "gha-acme-app-1"}, nil, nil, store.CIKey{Issuer: "i", Rule: "r"})
		wantErr(t, "taken alias", err, store.ErrConflict)
	})
}
