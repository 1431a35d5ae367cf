// Package storetest opens fresh stores for tests, on SQLite always and on
// PostgreSQL when TOLLGATE_TEST_POSTGRES_URL points at a server, so one
// conformance suite covers both engines. Each store gets its own database
// (an SQLite file in t.TempDir, a PostgreSQL schema dropped afterwards), so
// tests may run in parallel.
//
// Start a local PostgreSQL with:
//
//	eval "$(scripts/postgres.sh)"
//
// Under CI=true a missing TOLLGATE_TEST_POSTGRES_URL fails the PostgreSQL
// run instead of skipping it, so a missing server can never pass silently.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/store"
)

// EnvPostgresURL names the variable holding the PostgreSQL test server URL.
const EnvPostgresURL = "TOLLGATE_TEST_POSTGRES_URL"

// Opener opens a fresh, empty, migrated store.
type Opener func(t testing.TB) *store.Store

// Run calls fn in one subtest per engine ("sqlite", "postgres").
func Run(t *testing.T, fn func(t *testing.T, open Opener)) {
	t.Helper()
	t.Run(store.EngineSQLite, func(t *testing.T) { fn(t, OpenSQLite) })
	t.Run(store.EnginePostgres, func(t *testing.T) {
		PostgresURL(t)
		fn(t, OpenPostgres)
	})
}

// PostgresURL returns the PostgreSQL test server URL. Without one it skips
// the test, or fails it when CI=true.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvPostgresURL)
	if u != "" {
		return u
	}
	const how = EnvPostgresURL + ` is not set; start a PostgreSQL on loopback with: eval "$(scripts/postgres.sh)"`
	if os.Getenv("CI") == "true" {
		t.Fatal(how + " (CI=true: the PostgreSQL suite must run)")
	}
	t.Skip(how)
	return ""
}

// SQLiteDSN returns the DSN of a new SQLite database file in t.TempDir.
func SQLiteDSN(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "tollgate.db")
}

// OpenSQLite opens a fresh SQLite store, closed when the test ends.
func OpenSQLite(t testing.TB) *store.Store {
	t.Helper()
	return open(t, SQLiteDSN(t))
}

// PostgresDSN creates an empty schema on the PostgreSQL test server and
// returns a DSN whose search_path is that schema. The schema is dropped when
// the test ends.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "tg_test_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("storetest: connect to %s: %v", EnvPostgresURL, err)
	}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		db.Close()
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: %s: %v", EnvPostgresURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres opens a store in a fresh PostgreSQL schema.
func OpenPostgres(t testing.TB) *store.Store {
	t.Helper()
	return open(t, PostgresDSN(t))
}

func open(t testing.TB, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
