package store_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

func TestAdminAccounts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		ml := mustTeam(t, s, "ml")
		a, err := s.CreateAdminAccount(ctx, store.AdminAccount{Name: "alice", PasswordHash: "$argon2id$x", Role: "team_admin", TeamIDs: []string{"ml", ml.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{ml.ID}, a.TeamIDs); diff != "" {
			t.Errorf("team ids (-want +got):\n%s", diff)
		}
		if _, err := s.CreateAdminAccount(ctx, store.AdminAccount{Name: "alice", PasswordHash: "h", Role: "viewer"}); err == nil {
			t.Error("second account named alice: no error")
		} else {
			wantErr(t, "duplicate name", err, store.ErrConflict)
		}
		_, err = s.CreateAdminAccount(ctx, store.AdminAccount{Name: "bob", PasswordHash: "h", Role: "team_admin", TeamIDs: []string{"nope"}})
		wantErr(t, "unknown team", err, store.ErrNotFound)

		got, err := s.GetAdminAccount(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("GetAdminAccount(alice) (-created +got):\n%s", diff)
		}
		up, err := s.UpdateAdminAccount(ctx, a.ID, func(x *store.AdminAccount) error {
			x.Role, x.TeamIDs, x.Disabled = "viewer", nil, true
			return nil
		})
		if err != nil || up.Role != "viewer" || up.TeamIDs != nil || !up.Disabled {
			t.Errorf("UpdateAdminAccount = %+v, %v; want a disabled viewer without teams", up, err)
		}
		at := time.UnixMilli(1_750_000_000_000).UTC()
		if err := s.TouchAdminLogin(ctx, a.ID, at); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListAdminAccounts(ctx)
		if err != nil || len(list) != 1 || !list[0].LastLoginAt.Equal(at) {
			t.Errorf("ListAdminAccounts = %+v, %v; want alice signed in at %v", list, err, at)
		}
		if err := s.DeleteAdminAccount(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetAdminAccount(ctx, "alice")
		wantErr(t, "get deleted account", err, store.ErrNotFound)
	})
}

func TestAdminTokens(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		tok, secret, err := s.CreateAdminToken(ctx, store.AdminToken{Name: "ci", Role: "admin", CreatedBy: "admin key"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, store.AdminTokenPrefix) || !strings.HasPrefix(secret, tok.Prefix) || tok.SecretHash != store.HashSecret(secret) {
			t.Errorf("token %+v does not match its secret", tok)
		}
		got, err := s.AdminTokenByHash(ctx, store.HashSecret(secret))
		if err != nil || got.ID != tok.ID || !got.Active(time.Now()) {
			t.Fatalf("AdminTokenByHash = %+v, %v; want active %s", got, err, tok.ID)
		}
		_, err = s.AdminTokenByHash(ctx, store.HashSecret(secret+"x"))
		wantErr(t, "wrong secret", err, store.ErrNotFound)
		at := time.UnixMilli(1_750_000_000_000).UTC()
		rev, err := s.RevokeAdminToken(ctx, "ci", at)
		if err != nil || !rev.RevokedAt.Equal(at) || rev.Active(at) {
			t.Errorf("RevokeAdminToken = %+v, %v; want revoked at %v", rev, err, at)
		}
		rev2, _ := s.RevokeAdminToken(ctx, "ci", at.Add(time.Hour))
		if !rev2.RevokedAt.Equal(at) {
			t.Errorf("second revocation moved revoked_at to %v", rev2.RevokedAt)
		}
		if err := s.TouchAdminToken(ctx, tok.ID, at); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchAdminToken(ctx, tok.ID, at.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		list, _ := s.ListAdminTokens(ctx)
		if len(list) != 1 || !list[0].LastUsedAt.Equal(at) {
			t.Errorf("last used = %+v; want %v (a touch within the minute is not written)", list, at)
		}
	})
}

func TestAuditLog(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		t0 := time.UnixMilli(1_750_000_000_000).UTC()
		var seqs []int64
		for i, ev := range []store.AuditEvent{
			{ActorKind: "account", ActorName: "alice", Action: "keys.create", TargetType: "key", TargetID: "key_1", TargetName: "ci", After: json.RawMessage(`{"alias":"ci"}`)},
			{ActorKind: "token", ActorName: "bot", Action: "keys.update", TargetType: "key", TargetID: "key_1", TargetName: "ci", Before: json.RawMessage(`{"alias":"ci"}`), After: json.RawMessage(`{"alias":"ci2"}`)},
			{ActorKind: "account", ActorName: "alice", Action: "teams.create", TargetType: "team", TargetID: "team_1", TargetName: "ml"},
			{ActorKind: "account", ActorName: "carol", Action: "users.delete", Outcome: store.AuditDenied, TargetType: "user", TargetID: "usr_1"},
		} {
			ev.At = t0.Add(time.Duration(i) * time.Hour)
			got, err := s.AppendAudit(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, got.Seq)
		}
		for _, tc := range []struct {
			name string
			f    store.AuditFilter
			want []int64 // indexes into seqs, newest first
		}{
			{"all", store.AuditFilter{}, []int64{3, 2, 1, 0}},
			{"actor", store.AuditFilter{Actor: "alice"}, []int64{2, 0}},
			{"target by name", store.AuditFilter{Target: "ci"}, []int64{1, 0}},
			{"target type", store.AuditFilter{TargetType: "team"}, []int64{2}},
			{"action prefix", store.AuditFilter{Action: "keys."}, []int64{1, 0}},
			{"action exact", store.AuditFilter{Action: "keys.update"}, []int64{1}},
			{"since until", store.AuditFilter{Since: t0.Add(time.Hour), Until: t0.Add(3 * time.Hour)}, []int64{2, 1}},
			{"page", store.AuditFilter{Limit: 2}, []int64{3, 2}},
			{"next page", store.AuditFilter{Limit: 2, Before: seqs[2]}, []int64{1, 0}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				evs, err := s.ListAudit(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, e := range evs {
					got = append(got, e.Seq)
				}
				var want []int64
				for _, i := range tc.want {
					want = append(want, seqs[i])
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("ListAudit(%+v) seqs (-want +got):\n%s", tc.f, diff)
				}
			})
		}
		evs, _ := s.ListAudit(ctx, store.AuditFilter{Action: "keys.update"})
		if len(evs) != 1 || string(evs[0].Before) != `{"alias":"ci"}` || string(evs[0].After) != `{"alias":"ci2"}` || evs[0].Outcome != store.AuditOK {
			t.Errorf("keys.update event = %+v; want before and after kept, outcome ok", evs)
		}

		// The usage retention purges raw usage rows, never the audit log.
		if _, err := s.PurgeUsage(ctx, t0.Add(1000*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if all, _ := s.ListAudit(ctx, store.AuditFilter{}); len(all) != 4 {
			t.Errorf("after PurgeUsage the audit log has %d events, want 4", len(all))
		}
	})
}
