package store_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// base is a whole UTC hour; generated usage spans the 48 hours after it.
var base = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// fixture is a store with two users, a team and three keys.
type fixture struct {
	s                    *store.Store
	alice, bob           store.User
	infra                store.Team
	kAlice, kBob, kInfra store.Key
}

func newFixture(t *testing.T, open storetest.Opener) *fixture {
	t.Helper()
	s := open(t)
	f := &fixture{s: s, alice: mustUser(t, s, "alice"), bob: mustUser(t, s, "bob"), infra: mustTeam(t, s, "infra")}
	f.kAlice, _ = mustKey(t, s, store.Key{Alias: "alice-key", UserID: "alice"})
	f.kBob, _ = mustKey(t, s, store.Key{Alias: "bob-key", UserID: "bob", TeamID: "infra"})
	f.kInfra, _ = mustKey(t, s, store.Key{Alias: "ci", TeamID: "infra"})
	return f
}

// records returns n pseudo-random usage records of the fixture's keys.
func (f *fixture) records(seed uint64, n int) []usage.Record {
	r := rand.New(rand.NewPCG(seed, 1))
	keys := []store.Key{f.kAlice, f.kBob, f.kInfra, {}}
	models := []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"}
	out := make([]usage.Record, n)
	for i := range out {
		k := keys[r.IntN(len(keys))]
		rec := usage.Record{
			RequestID: fmt.Sprintf("req-%d-%d", seed, i),
			Time:      base.Add(time.Duration(r.Int64N(int64(48 * time.Hour)))).Truncate(time.Millisecond),
			KeyID:     k.ID, KeyAlias: k.Alias, UserID: k.UserID, TeamID: k.TeamID,
			SessionID: fmt.Sprintf("sess-%d", r.IntN(5)),
			Model:     models[r.IntN(len(models))], Provider: "bedrock", Region: "us-east-1", Door: "anthropic",
			Stream: r.IntN(2) == 0, Status: 200, LatencyMs: r.Int64N(5000), TTFTMs: r.Int64N(500),
			Tokens: tokens.Counts{Input: r.Int64N(10_000), Output: r.Int64N(4_000), CacheWrite5m: r.Int64N(2_000), CacheWrite1h: r.Int64N(1_000), CacheRead: r.Int64N(50_000)}, CostMicros: r.Int64N(200_000), Attempts: 1 + r.IntN(3),
		}
		rec.ModelRequested = rec.Model
		switch r.IntN(10) {
		case 0:
			rec.Status, rec.ErrorOrigin = 429, "client"
		case 1:
			rec.ErrorOrigin = "upstream" // a stream that failed after 200
		case 2:
			rec.Unpriced, rec.CostMicros = true, 0
		}
		if r.IntN(3) > 0 {
			rec.Tags = map[string]string{"repo": fmt.Sprintf("org/app%d", r.IntN(3))}
			if r.IntN(2) == 0 {
				rec.Tags["pr"] = fmt.Sprint(r.IntN(4))
			}
		}
		out[i] = rec
	}
	return out
}

func insertBatches(t testing.TB, s *store.Store, recs []usage.Record, size int) {
	t.Helper()
	for start := 0; start < len(recs); start += size {
		if err := s.InsertUsage(ctx, recs[start:min(start+size, len(recs))]); err != nil {
			t.Fatalf("InsertUsage: %v", err)
		}
	}
}

// expect computes what a usage query must return, straight from records.
func expect(recs []usage.Record, group func(*usage.Record) []string, bucket func(time.Time) time.Time,
	keep func(*usage.Record) bool) []store.UsageRow {
	type k struct {
		t time.Time
		g string
	}
	m := map[k]*store.UsageRow{}
	for i := range recs {
		r := &recs[i]
		if keep != nil && !keep(r) {
			continue
		}
		for _, g := range group(r) {
			key := k{bucket(r.Time), g}
			row := m[key]
			if row == nil {
				row = &store.UsageRow{Time: key.t, Group: g}
				m[key] = row
			}
			row.Requests++
			if r.ErrorOrigin != "" || r.Status >= 400 {
				row.Errors++
			}
			if r.Unpriced {
				row.Unpriced++
			}
			row.Tokens.Add(r.Tokens)
			row.CostMicros += r.CostMicros
			row.Attempts += int64(r.Attempts)
		}
	}
	out := []store.UsageRow{}
	for _, r := range m {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Group < out[j].Group
	})
	return out
}

func total(time.Time) time.Time  { return time.Time{} }
func hour(t time.Time) time.Time { return t.Truncate(time.Hour) }

func one(f func(*usage.Record) string) func(*usage.Record) []string {
	return func(r *usage.Record) []string { return []string{f(r)} }
}

func withNames(rows []store.UsageRow, names map[string]string) []store.UsageRow {
	for i := range rows {
		rows[i].Name = names[rows[i].Group]
	}
	return rows
}

func TestInsertUsageRollups(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		f := newFixture(t, open)
		recs := f.records(1, 3000)
		insertBatches(t, f.s, recs, 500)
		keyNames := map[string]string{f.kAlice.ID: "alice-key", f.kBob.ID: "bob-key", f.kInfra.ID: "ci"}
		userNames := map[string]string{f.alice.ID: "alice", f.bob.ID: "bob"}

		tests := []struct {
			name string
			q    store.UsageQuery
			want []store.UsageRow
		}{
			{"by model total", store.UsageQuery{By: store.ByModel},
				expect(recs, one(func(r *usage.Record) string { return r.Model }), total, nil)},
			{"by key hourly", store.UsageQuery{By: store.ByKey, Granularity: store.GranularityHour},
				withNames(expect(recs, one(func(r *usage.Record) string { return r.KeyID }), hour, nil), keyNames)},
			{"by user daily", store.UsageQuery{By: store.ByUser, Granularity: store.GranularityDay},
				withNames(expect(recs, one(func(r *usage.Record) string { return r.UserID }),
					func(t time.Time) time.Time { return t.Truncate(24 * time.Hour) }, nil), userNames)},
			{"by team, user filter by name", store.UsageQuery{By: store.ByTeam, UserID: "bob"},
				withNames(expect(recs, one(func(r *usage.Record) string { return r.TeamID }), total,
					func(r *usage.Record) bool { return r.UserID == f.bob.ID }), map[string]string{f.infra.ID: "infra"})},
			{"by model, key and model filter, range", store.UsageQuery{By: store.ByModel, KeyID: "ci",
				Model: "claude-haiku-4-5", Since: base.Add(5 * time.Hour), Until: base.Add(29 * time.Hour)},
				expect(recs, one(func(r *usage.Record) string { return r.Model }), total, func(r *usage.Record) bool {
					return r.KeyID == f.kInfra.ID && r.Model == "claude-haiku-4-5" &&
						!r.Time.Before(base.Add(5*time.Hour)) && r.Time.Before(base.Add(29*time.Hour))
				})},
			{"by tag repo", store.UsageQuery{By: store.ByTag, Tag: "repo"},
				expect(recs, func(r *usage.Record) []string {
					if v, ok := r.Tags["repo"]; ok {
						return []string{v}
					}
					return nil
				}, total, nil)},
			{"by tag pr hourly, model filter", store.UsageQuery{By: store.ByTag, Tag: "pr", Model: "claude-opus-4-1", Granularity: "hour"},
				expect(recs, func(r *usage.Record) []string {
					if v, ok := r.Tags["pr"]; ok {
						return []string{v}
					}
					return nil
				}, hour, func(r *usage.Record) bool { return r.Model == "claude-opus-4-1" })},
			{"by session, team filter", store.UsageQuery{By: store.BySession, TeamID: "infra"},
				expect(recs, one(func(r *usage.Record) string { return r.SessionID }), total,
					func(r *usage.Record) bool { return r.TeamID == f.infra.ID })},
			{"by session hourly, exact range", store.UsageQuery{By: store.BySession, Granularity: "hour",
				Since: base.Add(90 * time.Minute), Until: base.Add(3 * time.Hour)},
				expect(recs, one(func(r *usage.Record) string { return r.SessionID }), hour, func(r *usage.Record) bool {
					return !r.Time.Before(base.Add(90*time.Minute)) && r.Time.Before(base.Add(3*time.Hour))
				})},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := f.s.Usage(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Usage(%+v) mismatch (-want +got):\n%s", tc.q, diff)
				}
			})
		}

		// The key's last use is the newest of its rows.
		var last time.Time
		for _, r := range recs {
			if r.KeyID == f.kAlice.ID && r.Time.After(last) {
				last = r.Time
			}
		}
		k, _ := f.s.GetKey(ctx, "alice-key")
		if !k.LastUsedAt.Equal(last) {
			t.Errorf("LastUsedAt = %v, want %v", k.LastUsedAt, last)
		}
	})
}

func TestUsageQueryErrors(t *testing.T) {
	s := storetest.OpenSQLite(t)
	for _, q := range []store.UsageQuery{
		{By: "org"},
		{By: store.ByTag},
		{By: store.ByTag, Tag: "repo", UserID: "alice"},
		{By: store.ByKey, Granularity: "minute"},
		{By: store.ByKey, Timezone: "Nowhere/Land"},
	} {
		if _, err := s.Usage(ctx, q); !errorsIs(err, store.ErrInvalid) {
			t.Errorf("Usage(%+v) err = %v, want ErrInvalid", q, err)
		}
	}
}

func TestUsageDayTimezone(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		// 21:30 and 22:30 UTC on June 1 are June 1 and June 2 in Berlin (UTC+2).
		recs := []usage.Record{
			{RequestID: "a", Time: base.Add(21*time.Hour + 30*time.Minute), Model: "m", Tokens: tokens.Counts{Input: 1}},
			{RequestID: "b", Time: base.Add(22*time.Hour + 30*time.Minute), Model: "m", Tokens: tokens.Counts{Input: 2}},
		}
		insertBatches(t, s, recs, 10)
		got, err := s.Usage(ctx, store.UsageQuery{By: store.ByModel, Granularity: "day", Timezone: "Europe/Berlin"})
		if err != nil {
			t.Fatal(err)
		}
		want := []store.UsageRow{
			{Time: time.Date(2025, 5, 31, 22, 0, 0, 0, time.UTC), Group: "m", Requests: 1, Tokens: tokens.Counts{Input: 1}},
			{Time: time.Date(2025, 6, 1, 22, 0, 0, 0, time.UTC), Group: "m", Requests: 1, Tokens: tokens.Counts{Input: 2}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("day buckets in Berlin (-want +got):\n%s", diff)
		}
	})
}

func TestSpendSince(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		f := newFixture(t, open)
		at := func(d time.Duration, cost, input int64) usage.Record {
			return usage.Record{RequestID: d.String(), Time: base.Add(d), KeyID: f.kBob.ID, UserID: f.bob.ID,
				TeamID: f.infra.ID, Model: "m", CostMicros: cost, Tokens: tokens.Counts{Input: input, CacheRead: 1}}
		}
		recs := []usage.Record{
			at(10*time.Hour+59*time.Minute+59*time.Second+999*time.Millisecond, 1, 10),
			at(11*time.Hour, 20, 100),
			at(11*time.Hour+59*time.Minute, 300, 1000),
			at(12*time.Hour, 4000, 10000),
		}
		// A second key of the same team, to tell scopes apart.
		other := at(11*time.Hour, 50000, 5)
		other.RequestID, other.KeyID, other.UserID = "other", f.kInfra.ID, ""
		insertBatches(t, f.s, append(recs, other), 2)

		tests := []struct {
			kind, id      string
			since         time.Duration
			micros, token int64
		}{
			{store.ScopeKey, f.kBob.ID, 0, 4321, 11114},
			{store.ScopeKey, f.kBob.ID, 11 * time.Hour, 4320, 11103},                  // the boundary row is excluded...
			{store.ScopeKey, f.kBob.ID, 11*time.Hour - time.Millisecond, 4321, 11114}, // ...and included a millisecond earlier
			{store.ScopeKey, f.kBob.ID, 11*time.Hour + 30*time.Minute, 4320, 11103},   // rounded down to the hour
			{store.ScopeKey, f.kBob.ID, 12 * time.Hour, 4000, 10001},
			{store.ScopeKey, f.kBob.ID, 13 * time.Hour, 0, 0},
			{store.ScopeUser, f.bob.ID, 11 * time.Hour, 4320, 11103},
			{store.ScopeTeam, f.infra.ID, 11 * time.Hour, 54320, 11109},
			{store.ScopeUser, f.alice.ID, 0, 0, 0},
		}
		for _, tc := range tests {
			m, tok, err := f.s.SpendSince(ctx, tc.kind, tc.id, base.Add(tc.since))
			if err != nil || m != tc.micros || tok != tc.token {
				t.Errorf("SpendSince(%s, +%v) = %d, %d, %v; want %d, %d", tc.kind, tc.since, m, tok, err, tc.micros, tc.token)
			}
		}
		if _, _, err := f.s.SpendSince(ctx, "org", "x", base); !errorsIs(err, store.ErrInvalid) {
			t.Errorf("SpendSince(org) err = %v, want ErrInvalid", err)
		}
	})
}

func TestPurgeKeepsRollups(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		f := newFixture(t, open)
		recs := f.records(2, 12_000)
		insertBatches(t, f.s, recs, 1000)
		before, _ := f.s.Usage(ctx, store.UsageQuery{By: store.ByModel})
		cut := base.Add(24 * time.Hour)
		var want int64
		for _, r := range recs {
			if r.Time.Before(cut) {
				want++
			}
		}
		n, err := f.s.PurgeUsage(ctx, cut)
		if err != nil || n != want {
			t.Fatalf("PurgeUsage = %d, %v; want %d", n, err, want)
		}
		after, _ := f.s.Usage(ctx, store.UsageQuery{By: store.ByModel})
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("rollups changed by purge (-before +after):\n%s", diff)
		}
		// Raw rows (sessions) before the cut are gone, the rest remain.
		sess, _ := f.s.Usage(ctx, store.UsageQuery{By: store.BySession})
		wantSess := expect(recs, one(func(r *usage.Record) string { return r.SessionID }), total,
			func(r *usage.Record) bool { return !r.Time.Before(cut) })
		if diff := cmp.Diff(wantSess, sess); diff != "" {
			t.Errorf("sessions after purge (-want +got):\n%s", diff)
		}
	})
}

func TestConcurrentInsertUsage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		f := newFixture(t, open)
		const writers, batches, size = 12, 10, 50
		all := make([][]usage.Record, writers)
		var wg sync.WaitGroup
		errs := make(chan error, writers*batches)
		for w := range writers {
			all[w] = f.records(uint64(100+w), batches*size)
			wg.Go(func() {
				for b := range batches {
					if err := f.s.InsertUsage(ctx, all[w][b*size:(b+1)*size]); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent InsertUsage: %v", err)
		}
		var recs []usage.Record
		for _, r := range all {
			recs = append(recs, r...)
		}
		got, err := f.s.Usage(ctx, store.UsageQuery{By: store.ByModel, Granularity: "hour"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(expect(recs, one(func(r *usage.Record) string { return r.Model }), hour, nil), got); diff != "" {
			t.Errorf("rollups after concurrent inserts (-want +got):\n%s", diff)
		}
		sess, _ := f.s.Usage(ctx, store.UsageQuery{By: store.BySession})
		var n int64
		for _, r := range sess {
			n += r.Requests
		}
		if n != int64(len(recs)) {
			t.Errorf("raw rows = %d, want %d", n, len(recs))
		}
	})
}
