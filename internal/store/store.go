package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	// Budgets reset at midnight in their own time zone; embedding the zone
	// database keeps that working on hosts without /usr/share/zoneinfo
	// (distroless images, a bare t4g.nano).
	_ "time/tzdata"
)

// Engine names returned by Store.Engine.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// Errors callers decide on with errors.Is. Their messages are written for the
// admin API's clients: they name the thing that was not found or clashed.
var (
	// ErrNotFound: no user, team, key, budget or limit with that id or name.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name or alias is taken, or a delete would leave
	// dangling references (a user that still owns keys).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule (unknown period or time zone, a
	// budget without any limit, a negative amount).
	ErrInvalid = errors.New("invalid")
)

// kindError carries one of the sentinels above with a readable message.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func notFound(format string, args ...any) error {
	return &kindError{ErrNotFound, fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &kindError{ErrConflict, fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return &kindError{ErrInvalid, fmt.Sprintf(format, args...)}
}

// Store persists Tollgate's users, teams, keys, budgets, limits and usage in
// SQLite or PostgreSQL. All SQL is shared between the engines ($1..$n
// placeholders, ON CONFLICT upserts); only the migrations differ.
//
// On SQLite the Store holds two pools on the same WAL database: a writer with
// exactly one connection, so writes queue in Go instead of failing with
// SQLITE_BUSY, and a pool of read-only connections that read concurrently
// with it. On PostgreSQL both are the same pool.
//
// A Store is safe for concurrent use.
type Store struct {
	engine string
	dsn    string  // for the change feed's own connection (PostgreSQL)
	w      *sql.DB // writes; on SQLite exactly one connection
	r      *sql.DB // reads
	log    *slog.Logger
	now    func() time.Time
}

// Open connects to the database named by dsn, applies pending migrations and
// returns the Store. dsn is one of:
//
//	sqlite:///abs/path/tollgate.db   SQLite file, absolute path
//	sqlite://relative.db             SQLite file, relative to the working directory
//	/var/lib/tollgate/tollgate.db    a plain path: SQLite
//	postgres://user:pw@host:5432/db?sslmode=disable   (or postgresql://) PostgreSQL
//
// SQLite runs in WAL mode with synchronous=NORMAL: a commit is atomic and
// survives a process crash; a power cut can lose the last commits but never
// corrupts the file.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{log: log, now: time.Now, dsn: dsn}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.engine = EnginePostgres
		err = s.openPostgres(dsn)
	default:
		s.engine = EngineSQLite
		err = s.openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) openPostgres(dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return fmt.Errorf("store: open postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.w, s.r = db, db
	return nil
}

// sqlitePath returns the file path of an SQLite dsn.
func sqlitePath(dsn string) (string, error) {
	path, _ := strings.CutPrefix(dsn, "sqlite://")
	switch {
	case path == "":
		return "", fmt.Errorf("store: empty SQLite path in %q", dsn)
	case strings.ContainsAny(path, "?#"):
		return "", fmt.Errorf("store: SQLite path %q must not contain '?' or '#'", path)
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		// Each pool would get its own private database.
		return "", fmt.Errorf("store: SQLite needs a file path, got %q", path)
	}
	return path, nil
}

func (s *Store) openSQLite(ctx context.Context, dsn string) error {
	path, err := sqlitePath(dsn)
	if err != nil {
		return err
	}
	// The file holds key hashes and usage: create it, and its directory,
	// readable by the gateway's user only.
	_, statErr := os.Stat(path)
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("store: create directory for %s: %w", path, err)
		}
	}
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	// _txlock=immediate takes the write lock at BEGIN, so a transaction never
	// has to upgrade a read lock (which fails at once with SQLITE_BUSY when
	// another process, such as a CLI migrate, is writing).
	w, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Create the file and switch it to WAL before any reader opens it.
	if err := pingSQLite(ctx, w); err != nil {
		w.Close()
		return fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// SQLite gives the -wal and -shm files the database file's mode.
		if err := os.Chmod(path, 0o600); err != nil {
			w.Close()
			return fmt.Errorf("store: %w", err)
		}
	}
	r, err := sql.Open("sqlite", path+"?"+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.w, s.r = w, r
	return nil
}

// pingSQLite opens the writer's connection. Switching a database to WAL
// can fail at once with SQLITE_BUSY, without waiting on busy_timeout, while
// another process opens the same new file (replicas or a CLI starting
// together); it is retried for as long as busy_timeout would have waited.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(10 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// Close closes the database pools.
func (s *Store) Close() error {
	var err error
	if s.w != nil {
		err = s.w.Close()
	}
	if s.r != nil && s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Engine returns EngineSQLite or EnginePostgres.
func (s *Store) Engine() string { return s.engine }

// queryer is what *sql.DB and *sql.Tx have in common.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is what *sql.Row and *sql.Rows have in common, so that one scan
// function per type reads both a Get and a List.
type scanner interface {
	Scan(dest ...any) error
}

// queryAll runs query and reads every row with scan. what names the
// operation in errors ("list users"). No rows is an empty slice, not nil, so
// the admin API's lists encode as [] rather than null.
func queryAll[T any](ctx context.Context, q queryer, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// write runs fn in a write transaction and commits it when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// read runs fn in a read-only transaction that sees one snapshot of the
// database (WAL snapshot on SQLite, REPEATABLE READ on PostgreSQL).
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: begin read: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// isUnique reports whether err is a unique or primary-key violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix + "_" + 16 random base32 characters (80 bits).
func newID(prefix string) string {
	var b [10]byte
	rand.Read(b[:])
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// ms converts t to unix milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts unix milliseconds to a UTC time; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// nullMS is ms for nullable columns: the zero time is NULL.
func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// nullString maps "" to NULL, for nullable references.
func nullString(v string) sql.NullString {
	return sql.NullString{String: v, Valid: v != ""}
}

// createdAt returns t, or now when t is zero, truncated to milliseconds so
// what Create returns equals what a later Get reads back.
func (s *Store) createdAt(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}
