package store_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// replicas opens n stores on one new database, as n gateway replicas would,
// and returns them with the database's DSN.
func replicas(t *testing.T, n int) ([]*store.Store, string) {
	t.Helper()
	dsn := storetest.SQLiteDSN(t)
	if strings.HasSuffix(t.Name(), store.EnginePostgres) {
		dsn = storetest.PostgresDSN(t)
	}
	ss := make([]*store.Store, n)
	for i := range ss {
		s, err := store.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatalf("Open replica %d: %v", i, err)
		}
		t.Cleanup(func() { s.Close() })
		ss[i] = s
	}
	return ss, dsn
}

// counts returns the raw rows and the requests counted in each rollup.
func counts(t *testing.T, dsn string) (rows, hourly, tagged int64) {
	t.Helper()
	db := rawDB(t, dsn)
	for q, v := range map[string]*int64{
		`SELECT count(*) FROM usage_records`:                                      &rows,
		`SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM usage_hourly`:     &hourly,
		`SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM usage_tag_hourly`: &tagged,
	} {
		if err := db.QueryRow(q).Scan(v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return rows, hourly, tagged
}

// The same record handed to two replicas' writers (or replayed from a spool
// after a crash that followed the commit) lands once in the raw rows and
// once in every rollup; records without a request id are always stored.
func TestInsertUsageOncePerRequest(t *testing.T) {
	storetest.Run(t, func(t *testing.T, _ storetest.Opener) {
		ss, dsn := replicas(t, 2)
		const n = 300 // more than one INSERT chunk
		batch := make([]usage.Record, 0, n+2)
		for i := range n {
			batch = append(batch, usage.Record{RequestID: fmt.Sprintf("req_%04d", i), Time: base.Add(time.Duration(i) * time.Minute),
				Model: "claude-haiku-4-5", Tags: map[string]string{"team": "infra"}, Tokens: tokens.Counts{Input: 1}})
		}
		batch = append(batch, batch[0]) // a repeat within the batch
		batch = append(batch, usage.Record{Time: base, Model: "claude-haiku-4-5", Tokens: tokens.Counts{Input: 1}})

		// Both replicas write the whole batch at once, three times each.
		var wg sync.WaitGroup
		errs := make([]error, 2*3)
		for i := range errs {
			wg.Go(func() { errs[i] = ss[i%2].InsertUsage(ctx, batch) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("InsertUsage #%d: %v", i, err)
			}
		}
		// n named records once each, the unnamed one once per call.
		want := int64(n + len(errs))
		rows, hourly, tagged := counts(t, dsn)
		if rows != want || hourly != want || tagged != n {
			t.Errorf("after %d inserts of one batch: rows, hourly requests, tagged requests = %d, %d, %d; want %d, %d, %d",
				len(errs), rows, hourly, tagged, want, want, n)
		}
	})
}

// Every replica runs the hourly purge; on PostgreSQL only one of them works
// at a time and the others skip, and either way each row is deleted once.
func TestPurgeUsageOneReplicaAtATime(t *testing.T) {
	storetest.Run(t, func(t *testing.T, _ storetest.Opener) {
		ss, dsn := replicas(t, 3)
		const n = 50
		recs := make([]usage.Record, n)
		for i := range recs {
			recs[i] = usage.Record{RequestID: fmt.Sprint("req_", i), Time: base, Model: "m", Tokens: tokens.Counts{Input: 1}}
		}
		if err := ss[0].InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		cut := base.Add(time.Hour)

		if strings.HasSuffix(t.Name(), store.EnginePostgres) {
			// Another replica is purging: this one skips and deletes nothing.
			conn, err := rawDB(t, dsn).Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(store.PurgeLockID)); err != nil {
				t.Fatal(err)
			}
			if got, err := ss[1].PurgeUsage(ctx, cut); !errors.Is(err, store.ErrPurgeBusy) || got != 0 {
				t.Errorf("PurgeUsage while another replica purges = %d, %v; want 0, ErrPurgeBusy", got, err)
			}
			if rows, _, _ := counts(t, dsn); rows != n {
				t.Errorf("rows after a skipped purge = %d, want %d", rows, n)
			}
			if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, int64(store.PurgeLockID)); err != nil {
				t.Fatal(err)
			}
		}

		// All replicas purge at once: every row is deleted exactly once, and
		// a replica either purged or skipped.
		var wg sync.WaitGroup
		deleted := make([]int64, len(ss))
		errs := make([]error, len(ss))
		for i, s := range ss {
			wg.Go(func() { deleted[i], errs[i] = s.PurgeUsage(ctx, cut) })
		}
		wg.Wait()
		var total int64
		ran := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ran++
			case !errors.Is(err, store.ErrPurgeBusy):
				t.Errorf("PurgeUsage on replica %d: %v", i, err)
			}
			total += deleted[i]
		}
		t.Logf("%d of %d concurrent purges ran, %d skipped", ran, len(ss), len(ss)-ran)
		if ran == 0 || total != n {
			t.Errorf("concurrent purges: %d ran, deleted %d rows; want at least 1 and %d", ran, total, n)
		}
		if rows, hourly, _ := counts(t, dsn); rows != 0 || hourly != n {
			t.Errorf("after purge: rows, hourly requests = %d, %d; want 0, %d", rows, hourly, n)
		}
	})
}

// Migration 0005 keeps the oldest of the rows a replay stored twice before
// it, so that its unique index can be built.
func TestMigrationRemovesDuplicateUsage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, _ storetest.Opener) {
		ss, dsn := replicas(t, 1)
		db := rawDB(t, dsn)
		// Back to before 0005.
		for _, q := range []string{`DROP INDEX usage_records_request`, `DELETE FROM schema_migrations WHERE version = 5`} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		rec := usage.Record{RequestID: "req_twice", Time: base, Model: "m", Tokens: tokens.Counts{Input: 1}}
		unnamed := usage.Record{Time: base, Model: "m", Tokens: tokens.Counts{Input: 1}}
		for range 2 {
			if err := ss[0].InsertUsage(ctx, []usage.Record{rec, unnamed}); err != nil {
				t.Fatal(err)
			}
		}
		if rows, _, _ := counts(t, dsn); rows != 4 {
			t.Fatalf("rows before the migration = %d, want 4", rows)
		}
		s, err := store.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatalf("Open (migration 0005 again): %v", err)
		}
		defer s.Close()
		var rows, named int64
		if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE request_id = 'req_twice') FROM usage_records`).Scan(&rows, &named); err != nil {
			t.Fatal(err)
		}
		if rows != 3 || named != 1 {
			t.Errorf("after migration 0005: %d rows, %d of req_twice; want 3, 1", rows, named)
		}
		if err := s.InsertUsage(ctx, []usage.Record{rec}); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT count(*) FROM usage_records`).Scan(&rows); err != nil || rows != 3 {
			t.Errorf("rows after writing req_twice again = %d, %v; want 3", rows, err)
		}
	})
}
