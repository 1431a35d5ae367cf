package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// ConsoleSession is a signed-in browser of the web console. IDHash is the
// SHA-256 (hex) of the cookie's value; the value itself is never stored.
type ConsoleSession struct {
	IDHash    string
	Principal string // the authz.Principal as JSON; the store does not interpret it
	CSRFToken string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time // absolute expiry
}

// CreateConsoleSession stores s, and removes sessions that expired before
// now, so the table stays as small as the number of people signed in.
func (s *Store) CreateConsoleSession(ctx context.Context, cs ConsoleSession, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at < $1`, ms(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO console_sessions
			(id_hash, principal, csrf_token, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			cs.IDHash, cs.Principal, cs.CSRFToken, ms(cs.CreatedAt), ms(cs.LastSeen), ms(cs.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create console session: %w", err)
	}
	return nil
}

// ConsoleSession returns the session stored under idHash, or ErrNotFound.
// Expiry is the caller's decision: it knows the idle timeout.
func (s *Store) ConsoleSession(ctx context.Context, idHash string) (ConsoleSession, error) {
	cs := ConsoleSession{IDHash: idHash}
	var created, seen, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT principal, csrf_token, created_at, last_seen_at, expires_at
		FROM console_sessions WHERE id_hash = $1`, idHash).Scan(&cs.Principal, &cs.CSRFToken, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return cs, notFound("no console session")
	}
	if err != nil {
		return cs, fmt.Errorf("store: console session: %w", err)
	}
	cs.CreatedAt, cs.LastSeen, cs.ExpiresAt = fromMS(created), fromMS(seen), fromMS(expires)
	return cs, nil
}

// TouchConsoleSession records that the session was used at t, which
// pushes its idle expiry back.
func (s *Store) TouchConsoleSession(ctx context.Context, idHash string, t time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2`, ms(t), idHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: touch console session: %w", err)
	}
	return nil
}

// DeleteConsoleSession signs a session out; an unknown one is not an error.
func (s *Store) DeleteConsoleSession(ctx context.Context, idHash string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, idHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete console session: %w", err)
	}
	return nil
}

// Call is one stored usage row: a finished call as the console's live and
// request pages show it.
type Call struct {
	RequestID      string
	Time           time.Time
	KeyID          string
	KeyAlias       string
	UserID         string
	TeamID         string
	SessionID      string
	Tags           map[string]string
	ModelRequested string
	Model          string
	UpstreamModel  string
	Provider       string
	Region         string
	Door           string
	Stream         bool
	Status         int
	ErrorOrigin    string
	LatencyMs      int64
	TTFTMs         int64
	Tokens         tokens.Counts
	CostMicros     int64
	Unpriced       bool
	// ErrorMessage is what the client was told of an error; "" on success.
	ErrorMessage string
	// UpstreamRequestID is the provider's id of the last attempt.
	UpstreamRequestID string
}

// CallFilter selects recent calls; "" matches everything. Key, user and
// team are ids.
type CallFilter struct {
	KeyID, UserID, TeamID, Model string
	// Teams, when not nil, restricts the calls to these team ids (a team
	// admin's view); an empty non-nil slice matches nothing.
	Teams []string
	// ErrorsOnly keeps calls with an error origin or a status >= 400.
	ErrorsOnly bool
	// Before, when not zero, keeps calls that arrived before it: the
	// cursor of the next page.
	Before time.Time
}

const callCols = `request_id, ts_ms, key_id, key_alias, user_id, team_id, session_id, tags, model_requested, model,
	upstream_model, provider, region, door, stream, status, error_origin, latency_ms, ttft_ms, input_tokens,
	output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, cost_micros, unpriced,
	error_message, upstream_request_id`

// RecentCalls returns up to limit calls matching f, newest first. It walks
// the time index backwards, so its cost is that of the rows it returns
// (and of those a filter skips), not of the table.
func (s *Store) RecentCalls(ctx context.Context, f CallFilter, limit int) ([]Call, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.KeyID != "" {
		add("key_id = $%d", f.KeyID)
	}
	if f.UserID != "" {
		add("user_id = $%d", f.UserID)
	}
	if f.TeamID != "" {
		add("team_id = $%d", f.TeamID)
	}
	if f.Model != "" {
		add("model = $%d", f.Model)
	}
	if !f.Before.IsZero() {
		add("ts_ms < $%d", ms(f.Before))
	}
	if f.ErrorsOnly {
		where = append(where, "(error_origin <> '' OR status >= 400)")
	}
	if f.Teams != nil {
		if len(f.Teams) == 0 {
			return []Call{}, nil
		}
		var ph []string
		for _, t := range f.Teams {
			args = append(args, t)
			ph = append(ph, fmt.Sprintf("$%d", len(args)))
		}
		where = append(where, "team_id IN ("+strings.Join(ph, ", ")+")")
	}
	q := `SELECT ` + callCols + ` FROM usage_records`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY ts_ms DESC, id DESC LIMIT $%d`, len(args))
	return queryAll(ctx, s.r, "recent calls", scanCall, q, args...)
}

// CallByRequestID returns the call with the gateway's request id, or
// ErrNotFound.
func (s *Store) CallByRequestID(ctx context.Context, requestID string) (Call, error) {
	if requestID == "" {
		return Call{}, notFound("no call with an empty request id")
	}
	// "request_id <> ''" lets SQLite use the partial unique index
	// usage_records_request, which it cannot prove a parameter satisfies.
	c, err := scanCall(s.r.QueryRowContext(ctx, `SELECT `+callCols+` FROM usage_records
		WHERE request_id = $1 AND request_id <> ''`, requestID))
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("no call with request id %q", requestID)
	}
	if err != nil {
		return c, fmt.Errorf("store: call %s: %w", requestID, err)
	}
	return c, nil
}

func scanCall(sc scanner) (Call, error) {
	var c Call
	var ts int64
	var tags string
	var stream, unpriced bool
	err := sc.Scan(&c.RequestID, &ts, &c.KeyID, &c.KeyAlias, &c.UserID, &c.TeamID, &c.SessionID, &tags,
		&c.ModelRequested, &c.Model, &c.UpstreamModel, &c.Provider, &c.Region, &c.Door, &stream, &c.Status,
		&c.ErrorOrigin, &c.LatencyMs, &c.TTFTMs, &c.Tokens.Input, &c.Tokens.Output, &c.Tokens.CacheWrite5m,
		&c.Tokens.CacheWrite1h, &c.Tokens.CacheRead, &c.CostMicros, &unpriced, &c.ErrorMessage, &c.UpstreamRequestID)
	if err != nil {
		return c, err
	}
	c.Time, c.Stream, c.Unpriced = fromMS(ts), stream, unpriced
	if tags != "" && tags != "{}" {
		_ = json.Unmarshal([]byte(tags), &c.Tags) // written by InsertUsage; a bad value shows as no tags
	}
	return c, nil
}
