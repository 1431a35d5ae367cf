package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The change feed: on PostgreSQL, admin writes are announced with NOTIFY on
// a channel named after the schema (so that deployments sharing a database
// in different schemas do not wake each other), and every replica LISTENs on
// a connection of its own and reloads. On SQLite there is one replica and
// nothing to announce.

const changeChannel = "tollgate_changes_"

// NotifyChange tells every replica listening (ListenChanges) that keys,
// users, teams, budgets or limits changed. It does nothing on SQLite.
func (s *Store) NotifyChange(ctx context.Context) error {
	if s.engine != EnginePostgres {
		return nil
	}
	if _, err := s.w.ExecContext(ctx, `SELECT pg_notify($1 || current_schema(), '')`, changeChannel); err != nil {
		return fmt.Errorf("store: notify change: %w", err)
	}
	return nil
}

// ListenChanges listens for NotifyChange on a dedicated connection until ctx
// ends or the connection fails, and returns why. listening is called once
// the LISTEN is in place (anything announced before it was missed: reload
// then), changed at every announcement. On SQLite it returns an error at
// once: there is no feed.
func (s *Store) ListenChanges(ctx context.Context, listening, changed func()) error {
	if s.engine != EnginePostgres {
		return fmt.Errorf("store: no change feed on %s", s.engine)
	}
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return fmt.Errorf("store: change feed: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("store: change feed: schema: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{changeChannel + schema}.Sanitize()); err != nil {
		return fmt.Errorf("store: change feed: listen: %w", err)
	}
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("store: change feed: %w", err)
		}
		changed()
	}
}
