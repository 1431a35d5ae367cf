package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

var ctx = context.Background()

func ptr[T any](v T) *T { return &v }

func mustUser(t testing.TB, s *store.Store, name string) store.User {
	t.Helper()
	u, err := s.CreateUser(ctx, store.User{Name: name})
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

func mustTeam(t testing.TB, s *store.Store, name string) store.Team {
	t.Helper()
	tm, err := s.CreateTeam(ctx, store.Team{Name: name})
	if err != nil {
		t.Fatalf("CreateTeam(%q): %v", name, err)
	}
	return tm
}

func mustKey(t testing.TB, s *store.Store, k store.Key) (store.Key, string) {
	t.Helper()
	k, secret, err := s.CreateKey(ctx, k)
	if err != nil {
		t.Fatalf("CreateKey(%q): %v", k.Alias, err)
	}
	return k, secret
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

// rawDB opens the store's database directly, for checks the API does not
// offer.
func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver, name := "pgx", dsn
	if p, ok := strings.CutPrefix(dsn, "sqlite://"); ok {
		driver, name = "sqlite", p
	}
	db, err := sql.Open(driver, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, _ storetest.Opener) {
		dsn := storetest.SQLiteDSN(t)
		if strings.HasSuffix(t.Name(), store.EnginePostgres) {
			dsn = storetest.PostgresDSN(t)
		}
		// Replicas starting together: every Open succeeds and each migration
		// is applied exactly once.
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				s, err := store.Open(ctx, dsn, nil)
				if err == nil {
					err = s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("concurrent Open #%d: %v", i, err)
			}
		}
		// Opening again is a no-op.
		s, err := store.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatalf("re-Open: %v", err)
		}
		defer s.Close()
		// The latest migration's number, and one row per migration file
		// (numbers may have gaps: each branch is assigned its own).
		latest, files := migrationFiles(t, s.Engine())
		if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
			t.Errorf("SchemaVersion() = %d, %v, want %d", v, err, latest)
		}
		var count int
		if err := rawDB(t, dsn).QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != files {
			t.Errorf("schema_migrations has %d rows, want %d", count, files)
		}
		if _, err := s.CreateUser(ctx, store.User{Name: "alice"}); err != nil {
			t.Errorf("CreateUser after re-open: %v", err)
		}
	})
}

func TestOpenDSN(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{"sqlite://" + dir + "/a.db", dir + "/sub/dir/b.db"} {
		s, err := store.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		if s.Engine() != store.EngineSQLite {
			t.Errorf("Open(%q).Engine() = %q, want sqlite", dsn, s.Engine())
		}
		s.Close()
	}
	if fi, err := os.Stat(dir + "/a.db"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new database file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	for _, dsn := range []string{"sqlite://", "sqlite://:memory:", "x.db?mode=memory"} {
		if s, err := store.Open(ctx, dsn, nil); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", dsn)
		}
	}
}

func TestUsers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		alice, err := s.CreateUser(ctx, store.User{Name: "alice", Email: "alice@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(alice.ID, "usr_") || alice.CreatedAt.IsZero() {
			t.Errorf("CreateUser = %+v, want a usr_ id and a creation time", alice)
		}
		_, err = s.CreateUser(ctx, store.User{Name: "alice"})
		wantErr(t, "duplicate name", err, store.ErrConflict)
		for _, bad := range []string{"", " alice", "a\nb"} {
			_, err = s.CreateUser(ctx, store.User{Name: bad})
			wantErr(t, "CreateUser("+bad+")", err, store.ErrInvalid)
		}
		bob := mustUser(t, s, "bob")

		for _, ref := range []string{alice.ID, "alice"} {
			got, err := s.GetUser(ctx, ref)
			if err != nil {
				t.Fatalf("GetUser(%q): %v", ref, err)
			}
			if diff := cmp.Diff(alice, got); diff != "" {
				t.Errorf("GetUser(%q) mismatch (-want +got):\n%s", ref, diff)
			}
		}
		_, err = s.GetUser(ctx, "carol")
		wantErr(t, "GetUser(carol)", err, store.ErrNotFound)

		got, err := s.UpdateUser(ctx, "alice", func(u *store.User) error {
			u.Name, u.Email, u.Disabled = "alice2", "a2@example.com", true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := alice
		want.Name, want.Email, want.Disabled = "alice2", "a2@example.com", true
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UpdateUser mismatch (-want +got):\n%s", diff)
		}
		_, err = s.UpdateUser(ctx, "alice2", func(u *store.User) error { u.Name = "bob"; return nil })
		wantErr(t, "rename onto bob", err, store.ErrConflict)

		list, err := s.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]store.User{want, bob}, list); diff != "" {
			t.Errorf("ListUsers mismatch (-want +got):\n%s", diff)
		}

		if err := s.DeleteUser(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetUser(ctx, bob.ID)
		wantErr(t, "GetUser after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteUser twice", s.DeleteUser(ctx, "bob"), store.ErrNotFound)
	})
}

func TestTeamsAndMembers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
		infra, web := mustTeam(t, s, "infra"), mustTeam(t, s, "web")
		_, err := s.CreateTeam(ctx, store.Team{Name: "infra"})
		wantErr(t, "duplicate team", err, store.ErrConflict)

		for _, m := range [][2]string{{"infra", "alice"}, {web.ID, "alice"}, {"infra", bob.ID}, {"infra", "alice"}} {
			if err := s.AddMember(ctx, m[0], m[1]); err != nil {
				t.Fatalf("AddMember(%s, %s): %v", m[0], m[1], err)
			}
		}
		wantErr(t, "AddMember unknown user", s.AddMember(ctx, "infra", "carol"), store.ErrNotFound)
		wantErr(t, "AddMember unknown team", s.AddMember(ctx, "ops", "alice"), store.ErrNotFound)

		u, _ := s.GetUser(ctx, "alice")
		if diff := cmp.Diff(sorted(infra.ID, web.ID), u.TeamIDs); diff != "" {
			t.Errorf("alice's teams (-want +got):\n%s", diff)
		}
		tm, _ := s.GetTeam(ctx, "infra")
		if diff := cmp.Diff(sorted(alice.ID, bob.ID), tm.MemberIDs); diff != "" {
			t.Errorf("infra members (-want +got):\n%s", diff)
		}
		teams, _ := s.ListTeams(ctx)
		if len(teams) != 2 || teams[0].Name != "infra" || len(teams[0].MemberIDs) != 2 || len(teams[1].MemberIDs) != 1 {
			t.Errorf("ListTeams = %+v", teams)
		}

		if err := s.RemoveMember(ctx, "infra", "bob"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "RemoveMember twice", s.RemoveMember(ctx, "infra", "bob"), store.ErrNotFound)

		if _, err := s.UpdateTeam(ctx, "web", func(t *store.Team) error { t.Name = "frontend"; return nil }); err != nil {
			t.Fatal(err)
		}
		_, err = s.UpdateTeam(ctx, "frontend", func(t *store.Team) error { t.Name = "infra"; return nil })
		wantErr(t, "rename onto infra", err, store.ErrConflict)

		// A team or user that owns keys cannot be deleted.
		mustKey(t, s, store.Key{Alias: "ci", TeamID: "infra", UserID: "alice"})
		wantErr(t, "DeleteTeam with keys", s.DeleteTeam(ctx, "infra"), store.ErrConflict)
		wantErr(t, "DeleteUser with keys", s.DeleteUser(ctx, "alice"), store.ErrConflict)
		if err := s.DeleteKey(ctx, "ci"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTeam(ctx, "infra"); err != nil {
			t.Fatalf("DeleteTeam: %v", err)
		}
		u, _ = s.GetUser(ctx, "alice")
		if diff := cmp.Diff([]string{web.ID}, u.TeamIDs); diff != "" {
			t.Errorf("alice's teams after deleting infra (-want +got):\n%s", diff)
		}
	})
}

func sorted(v ...string) []string {
	out := append([]string(nil), v...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

var secretRE = regexp.MustCompile(`^tg-[A-Za-z0-9_-]{43}$`)

func TestKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		alice := mustUser(t, s, "alice")
		infra := mustTeam(t, s, "infra")
		expires := time.Date(2030, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
		k, secret := mustKey(t, s, store.Key{
			Alias: "alice-laptop", UserID: "alice", TeamID: "infra", ExpiresAt: expires,
			Models: []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-sonnet-4-5"},
			Tags:   map[string]string{"env": "dev"},
		})
		if !secretRE.MatchString(secret) {
			t.Errorf("secret %q does not match %s", secret, secretRE)
		}
		if k.Prefix != secret[:11] || k.SecretHash != store.HashSecret(secret) || len(k.SecretHash) != 64 {
			t.Errorf("key prefix/hash = %q/%q, want %q/HashSecret(secret)", k.Prefix, k.SecretHash, secret[:11])
		}
		if k.UserID != alice.ID || k.TeamID != infra.ID || !strings.HasPrefix(k.ID, "key_") {
			t.Errorf("CreateKey = %+v, want resolved owner ids", k)
		}
		if diff := cmp.Diff([]string{"claude-haiku-4-5", "claude-sonnet-4-5"}, k.Models); diff != "" {
			t.Errorf("models (-want +got):\n%s", diff)
		}
		got, err := s.GetKey(ctx, "alice-laptop")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(k, got); diff != "" {
			t.Errorf("GetKey mismatch (-want +got):\n%s", diff)
		}
		if got.ExpiresAt != expires.Truncate(time.Millisecond) {
			t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, expires)
		}

		_, _, err = s.CreateKey(ctx, store.Key{Alias: "alice-laptop"})
		wantErr(t, "duplicate alias", err, store.ErrConflict)
		_, _, err = s.CreateKey(ctx, store.Key{Alias: "x", UserID: "nobody"})
		wantErr(t, "unknown owner", err, store.ErrNotFound)
		_, _, err = s.CreateKey(ctx, store.Key{Alias: "x", Tags: map[string]string{"a=b": "c"}})
		wantErr(t, "bad tag name", err, store.ErrInvalid)

		anon, secret2 := mustKey(t, s, store.Key{})
		if anon.Alias != anon.ID || anon.UserID != "" || secret2 == secret {
			t.Errorf("key without alias or owner = %+v", anon)
		}

		list, err := s.ListKeys(ctx, store.KeyFilter{UserID: "alice"})
		if err != nil || len(list) != 1 || list[0].ID != k.ID {
			t.Errorf("ListKeys(user alice) = %v, %v; want [alice-laptop]", list, err)
		}
		list, _ = s.ListKeys(ctx, store.KeyFilter{})
		if len(list) != 2 {
			t.Errorf("ListKeys() has %d keys, want 2", len(list))
		}

		upd, err := s.UpdateKey(ctx, k.ID, func(k *store.Key) error {
			k.Alias, k.Models, k.Tags, k.ExpiresAt, k.TeamID = "alice-2", nil, nil, time.Time{}, ""
			k.SecretHash = "ignored"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if upd.Alias != "alice-2" || upd.Models != nil || upd.Tags != nil || !upd.ExpiresAt.IsZero() ||
			upd.TeamID != "" || upd.SecretHash != k.SecretHash {
			t.Errorf("UpdateKey = %+v", upd)
		}
		rev, err := s.RevokeKey(ctx, "alice-2")
		if err != nil || !rev.Disabled {
			t.Errorf("RevokeKey = %+v, %v; want disabled", rev, err)
		}

		if _, err := s.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeKey, ScopeID: "alice-2",
			LimitTokens: ptr[int64](10), Period: store.PeriodDay}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteKey(ctx, "alice-2"); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetKey(ctx, k.ID)
		wantErr(t, "GetKey after delete", err, store.ErrNotFound)
		if b, _ := s.ListBudgets(ctx, store.ScopeFilter{}); len(b) != 0 {
			t.Errorf("budgets of a deleted key survive: %+v", b)
		}
	})
}

func TestBudgetsAndLimits(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		alice := mustUser(t, s, "alice")
		mustTeam(t, s, "infra")

		b, err := s.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeUser, ScopeID: "alice",
			LimitUSDMicros: ptr[int64](50_000_000), Period: store.PeriodMonth})
		if err != nil {
			t.Fatal(err)
		}
		if b.ScopeID != alice.ID || b.Timezone != "UTC" || !cmp.Equal(b.Thresholds, []int{50, 80, 100}) ||
			!strings.HasPrefix(b.ID, "bdg_") {
			t.Errorf("CreateBudget = %+v, want defaults filled in", b)
		}
		got, err := s.GetBudget(ctx, b.ID)
		if diff := cmp.Diff(b, got); err != nil || diff != "" {
			t.Errorf("GetBudget: %v, mismatch (-want +got):\n%s", err, diff)
		}

		bad := []struct {
			name string
			b    store.Budget
			want error
		}{
			{"no limit", store.Budget{ScopeKind: "user", ScopeID: "alice", Period: "day"}, store.ErrInvalid},
			{"bad period", store.Budget{ScopeKind: "user", ScopeID: "alice", Period: "year", LimitTokens: ptr[int64](1)}, store.ErrInvalid},
			{"bad zone", store.Budget{ScopeKind: "user", ScopeID: "alice", Period: "day", Timezone: "Mars/Olympus", LimitTokens: ptr[int64](1)}, store.ErrInvalid},
			{"bad scope", store.Budget{ScopeKind: "org", ScopeID: "alice", Period: "day", LimitTokens: ptr[int64](1)}, store.ErrInvalid},
			{"negative", store.Budget{ScopeKind: "user", ScopeID: "alice", Period: "day", LimitUSDMicros: ptr[int64](-1)}, store.ErrInvalid},
			{"bad threshold", store.Budget{ScopeKind: "user", ScopeID: "alice", Period: "day", LimitTokens: ptr[int64](1), Thresholds: []int{0}}, store.ErrInvalid},
			{"unknown user", store.Budget{ScopeKind: "user", ScopeID: "bob", Period: "day", LimitTokens: ptr[int64](1)}, store.ErrNotFound},
			{"same period", store.Budget{ScopeKind: "user", ScopeID: alice.ID, Period: "month", LimitTokens: ptr[int64](1)}, store.ErrConflict},
		}
		for _, tc := range bad {
			_, err := s.CreateBudget(ctx, tc.b)
			wantErr(t, "CreateBudget "+tc.name, err, tc.want)
		}

		tb, err := s.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeTeam, ScopeID: "infra",
			LimitTokens: ptr[int64](1_000_000), Period: store.PeriodWeek, Timezone: "Europe/Berlin", Thresholds: []int{90, 75, 90}})
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(tb.Thresholds, []int{75, 90}) {
			t.Errorf("thresholds = %v, want sorted and unique [75 90]", tb.Thresholds)
		}
		upd, err := s.UpdateBudget(ctx, b.ID, func(b *store.Budget) error {
			b.LimitUSDMicros, b.LimitTokens, b.Period, b.Timezone = nil, ptr[int64](5), store.PeriodDay, "Asia/Kolkata"
			b.ScopeID = "ignored"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if upd.LimitUSDMicros != nil || *upd.LimitTokens != 5 || upd.Period != "day" || upd.ScopeID != alice.ID {
			t.Errorf("UpdateBudget = %+v", upd)
		}
		_, err = s.UpdateBudget(ctx, b.ID, func(b *store.Budget) error { b.LimitTokens = nil; return nil })
		wantErr(t, "UpdateBudget removing every limit", err, store.ErrInvalid)
		list, _ := s.ListBudgets(ctx, store.ScopeFilter{ScopeKind: store.ScopeTeam, ScopeID: "infra"})
		if len(list) != 1 || list[0].ID != tb.ID {
			t.Errorf("ListBudgets(team infra) = %+v", list)
		}
		if err := s.DeleteBudget(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "DeleteBudget twice", s.DeleteBudget(ctx, b.ID), store.ErrNotFound)

		l, err := s.CreateLimit(ctx, store.Limit{ScopeKind: store.ScopeUser, ScopeID: "alice", RPM: 60, Concurrent: 2})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(l.ID, "lim_") || l.ScopeID != alice.ID {
			t.Errorf("CreateLimit = %+v", l)
		}
		_, err = s.CreateLimit(ctx, store.Limit{ScopeKind: store.ScopeUser, ScopeID: "alice", RPM: 1})
		wantErr(t, "second limit on alice", err, store.ErrConflict)
		_, err = s.CreateLimit(ctx, store.Limit{ScopeKind: store.ScopeUser, ScopeID: "alice", RPM: -1})
		wantErr(t, "negative limit", err, store.ErrInvalid)
		l2, err := s.UpdateLimit(ctx, l.ID, func(l *store.Limit) error { l.TPM = 10_000; return nil })
		if err != nil || l2.TPM != 10_000 || l2.RPM != 60 {
			t.Errorf("UpdateLimit = %+v, %v", l2, err)
		}
		if got, _ := s.GetLimit(ctx, l.ID); !cmp.Equal(got, l2) {
			t.Errorf("GetLimit = %+v, want %+v", got, l2)
		}
		if ls, _ := s.ListLimits(ctx, store.ScopeFilter{}); len(ls) != 1 {
			t.Errorf("ListLimits = %+v", ls)
		}
		if err := s.DeleteLimit(ctx, l.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetLimit(ctx, l.ID)
		wantErr(t, "GetLimit after delete", err, store.ErrNotFound)
	})
}

func TestAuthSnapshot(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		alice := mustUser(t, s, "alice")
		infra := mustTeam(t, s, "infra")
		if err := s.AddMember(ctx, "infra", "alice"); err != nil {
			t.Fatal(err)
		}
		k, secret := mustKey(t, s, store.Key{Alias: "k1", UserID: "alice", Models: []string{"m"}, Tags: map[string]string{"a": "b"}})
		b, _ := s.CreateBudget(ctx, store.Budget{ScopeKind: "key", ScopeID: "k1", LimitTokens: ptr[int64](9), Period: "total"})
		l, _ := s.CreateLimit(ctx, store.Limit{ScopeKind: "team", ScopeID: "infra", TPM: 5})

		snap, err := s.AuthSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		alice.TeamIDs = []string{infra.ID}
		infra.MemberIDs = []string{alice.ID}
		want := &store.Snapshot{
			Keys: []store.Key{k}, Users: []store.User{alice}, Teams: []store.Team{infra},
			Budgets: []store.Budget{b}, Limits: []store.Limit{l},
		}
		if diff := cmp.Diff(want, snap); diff != "" {
			t.Errorf("AuthSnapshot mismatch (-want +got):\n%s", diff)
		}
		if snap.Keys[0].SecretHash != store.HashSecret(secret) {
			t.Error("snapshot key hash does not match the secret")
		}
	})
}

func TestAdminKeyHash(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		if h, err := s.AdminKeyHash(ctx); h != "" || err != nil {
			t.Errorf("AdminKeyHash() on a new store = %q, %v; want empty", h, err)
		}
		if ok, err := s.InitAdminKeyHash(ctx, "h1"); !ok || err != nil {
			t.Errorf("InitAdminKeyHash(h1) = %v, %v; want true", ok, err)
		}
		if ok, err := s.InitAdminKeyHash(ctx, "h2"); ok || err != nil {
			t.Errorf("InitAdminKeyHash(h2) = %v, %v; want false (one is set)", ok, err)
		}
		if err := s.SetAdminKeyHash(ctx, "h3"); err != nil {
			t.Fatal(err)
		}
		if h, _ := s.AdminKeyHash(ctx); h != "h3" {
			t.Errorf("AdminKeyHash() = %q, want h3", h)
		}
	})
}

// TestBudgetWindow checks a stored budget's periods as limits enforces them.
func TestBudgetWindow(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	created := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		period, tz  string
		now         time.Time
		start, ress time.Time
	}{
		{"day utc", "day", "UTC", time.Date(2025, 3, 10, 23, 59, 0, 0, time.UTC),
			time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"day berlin before utc midnight", "day", "Europe/Berlin", time.Date(2025, 3, 10, 23, 30, 0, 0, time.UTC),
			time.Date(2025, 3, 11, 0, 0, 0, 0, berlin), time.Date(2025, 3, 12, 0, 0, 0, 0, berlin)},
		{"day across spring DST", "day", "Europe/Berlin", time.Date(2025, 3, 30, 12, 0, 0, 0, time.UTC),
			time.Date(2025, 3, 29, 23, 0, 0, 0, time.UTC), time.Date(2025, 3, 30, 22, 0, 0, 0, time.UTC)},
		{"week from sunday", "week", "UTC", time.Date(2025, 3, 16, 10, 0, 0, 0, time.UTC),
			time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 17, 0, 0, 0, 0, time.UTC)},
		{"week on monday midnight", "week", "UTC", time.Date(2025, 3, 17, 0, 0, 0, 0, time.UTC),
			time.Date(2025, 3, 17, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 24, 0, 0, 0, 0, time.UTC)},
		{"month december", "month", "Europe/Berlin", time.Date(2025, 12, 31, 23, 30, 0, 0, time.UTC),
			time.Date(2026, 1, 1, 0, 0, 0, 0, berlin), time.Date(2026, 2, 1, 0, 0, 0, 0, berlin)},
		{"total", "total", "UTC", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := store.Budget{Period: tc.period, Timezone: tc.tz, CreatedAt: created}
			lb, err := b.Limits()
			if err != nil {
				t.Fatal(err)
			}
			start, reset := lb.PeriodBounds(tc.now)
			if !start.Equal(tc.start) || !reset.Equal(tc.ress) {
				t.Errorf("PeriodBounds(%v) = %v, %v; want %v, %v", tc.now, start, reset, tc.start, tc.ress)
			}
		})
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// TestCreateKeyWith checks that a key, its budget and its rate limit are
// created together or not at all.
func TestCreateKeyWith(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		mustUser(t, s, "alice")

		nk, err := s.CreateKeyWith(ctx, store.Key{Alias: "ci", UserID: "alice"},
			&store.Budget{LimitUSDMicros: ptr[int64](5_000_000), Period: store.PeriodDay},
			&store.Limit{RPM: 60})
		if err != nil {
			t.Fatal(err)
		}
		if nk.Secret == "" || nk.Budget == nil || nk.Limit == nil {
			t.Fatalf("CreateKeyWith = %+v, want a secret, a budget and a limit", nk)
		}
		for what, scope := range map[string][2]string{"budget": {nk.Budget.ScopeKind, nk.Budget.ScopeID},
			"limit": {nk.Limit.ScopeKind, nk.Limit.ScopeID}} {
			if scope != [2]string{store.ScopeKey, nk.Key.ID} {
				t.Errorf("%s scope = %v, want key %s", what, scope, nk.Key.ID)
			}
		}
		gotB, err := s.ListBudgets(ctx, store.ScopeFilter{ScopeKind: store.ScopeKey, ScopeID: "ci"})
		if diff := cmp.Diff([]store.Budget{*nk.Budget}, gotB); err != nil || diff != "" {
			t.Errorf("ListBudgets(key ci): %v, mismatch (-want +got):\n%s", err, diff)
		}
		gotL, err := s.ListLimits(ctx, store.ScopeFilter{ScopeKind: store.ScopeKey, ScopeID: "ci"})
		if diff := cmp.Diff([]store.Limit{*nk.Limit}, gotL); err != nil || diff != "" {
			t.Errorf("ListLimits(key ci): %v, mismatch (-want +got):\n%s", err, diff)
		}

		bad := []struct {
			name   string
			k      store.Key
			budget *store.Budget
			limit  *store.Limit
			want   error
		}{
			{"bad period", store.Key{Alias: "a"}, &store.Budget{Period: "year", LimitTokens: ptr[int64](1)}, nil, store.ErrInvalid},
			{"negative limit", store.Key{Alias: "b"}, nil, &store.Limit{RPM: -1}, store.ErrInvalid},
			{"unknown user", store.Key{Alias: "c", UserID: "bob"}, &store.Budget{Period: "day", LimitTokens: ptr[int64](1)}, &store.Limit{RPM: 1}, store.ErrNotFound},
			{"alias taken", store.Key{Alias: "ci"}, &store.Budget{Period: "day", LimitTokens: ptr[int64](1)}, &store.Limit{RPM: 1}, store.ErrConflict},
		}
		for _, tc := range bad {
			_, err := s.CreateKeyWith(ctx, tc.k, tc.budget, tc.limit)
			wantErr(t, "CreateKeyWith "+tc.name, err, tc.want)
		}
		snap, err := s.AuthSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Keys) != 1 || len(snap.Budgets) != 1 || len(snap.Limits) != 1 {
			t.Errorf("after failed creations: %d keys, %d budgets, %d limits, want 1 of each",
				len(snap.Keys), len(snap.Budgets), len(snap.Limits))
		}
	})
}

// TestRotateKey: a rotated key keeps its id, alias, owner and budget and
// gets a new secret; with an overlap the previous secret's hash is kept
// until its end, without one it is gone.
func TestRotateKey(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		mustUser(t, s, "alice")
		k, old := mustKey(t, s, store.Key{Alias: "ci", UserID: "alice"})
		limit := int64(5_000_000)
		if _, err := s.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeKey, ScopeID: "ci", LimitUSDMicros: &limit, Period: store.PeriodDay}); err != nil {
			t.Fatal(err)
		}

		until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		r, secret, err := s.RotateKey(ctx, "ci", until)
		if err != nil {
			t.Fatal(err)
		}
		if !secretRE.MatchString(secret) || secret == old {
			t.Errorf("RotateKey secret = %q, want a new one", secret)
		}
		if r.ID != k.ID || r.Alias != "ci" || r.UserID != k.UserID || r.SecretHash != store.HashSecret(secret) || r.Prefix != secret[:11] {
			t.Errorf("RotateKey = %+v, want the same key with the new secret's hash and prefix", r)
		}
		if r.PrevSecretHash != store.HashSecret(old) || !r.PrevExpiresAt.Equal(until) {
			t.Errorf("RotateKey(%v) previous = %q until %v, want the old hash until then", until, r.PrevSecretHash, r.PrevExpiresAt)
		}
		snap, err := s.AuthSnapshot(ctx)
		if err != nil || len(snap.Keys) != 1 || snap.Keys[0].PrevSecretHash != store.HashSecret(old) {
			t.Errorf("AuthSnapshot after rotate = %+v, %v, want the previous hash", snap.Keys, err)
		}
		if bs, err := s.ListBudgets(ctx, store.ScopeFilter{ScopeKind: store.ScopeKey, ScopeID: "ci"}); err != nil || len(bs) != 1 {
			t.Errorf("budgets of the rotated key = %+v, %v, want the one budget kept", bs, err)
		}

		r, _, err = s.RotateKey(ctx, k.ID, time.Time{})
		if err != nil || r.PrevSecretHash != "" || !r.PrevExpiresAt.IsZero() {
			t.Errorf("RotateKey without overlap = %+v, %v, want no previous secret", r, err)
		}
		if _, _, err := s.RotateKey(ctx, "nope", time.Time{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RotateKey(nope) = %v, want ErrNotFound", err)
		}
	})
}

// migrationFiles returns the highest migration number of engine and the
// number of its migration files, read from the source tree.
func migrationFiles(t *testing.T, engine string) (latest, files int) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("migrations", engine))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("migration %s: %v", e.Name(), err)
		}
		latest, files = max(latest, n), files+1
	}
	return latest, files
}
