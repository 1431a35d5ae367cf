package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Audit outcomes.
const (
	AuditOK     = "ok"     // the change was made
	AuditDenied = "denied" // the principal's role did not allow it
)

// AuditEvent is one row of the audit log: who (actor), from where (via,
// remote address), when, what (action and target), and the target before
// and after the change, as the admin API shows it, with secrets removed.
//
// The log is append-only: the store offers AppendAudit and ListAudit and
// nothing that updates or deletes a row, and PurgeUsage (the usage
// retention) never touches it, so the log outlives raw usage rows.
type AuditEvent struct {
	Seq        int64 // position in the log, assigned by AppendAudit; the cursor of ListAudit
	At         time.Time
	ActorKind  string // authz.KindBootstrap, KindAccount or KindToken
	ActorID    string
	ActorName  string
	ActorRole  string
	Via        string // api, cli, console
	RemoteAddr string
	Action     string // "keys.create", "accounts.update", …
	Outcome    string // AuditOK or AuditDenied
	TargetType string // "key", "team", "account", …
	TargetID   string
	TargetName string
	Before     json.RawMessage // nil when there was nothing before (a create)
	After      json.RawMessage // nil when nothing is left (a delete)
	RequestID  string
}

// AppendAudit adds e to the log and returns it with its Seq.
func (s *Store) AppendAudit(ctx context.Context, e AuditEvent) (AuditEvent, error) {
	if e.Action == "" || e.ActorKind == "" {
		return e, invalid("an audit event needs an action and an actor")
	}
	if e.Outcome == "" {
		e.Outcome = AuditOK
	}
	e.At = s.createdAt(e.At)
	err := s.w.QueryRowContext(ctx, `INSERT INTO audit_log
		(at, actor_kind, actor_id, actor_name, actor_role, via, remote_addr, action, outcome,
		 target_type, target_id, target_name, before_json, after_json, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING seq`,
		ms(e.At), e.ActorKind, e.ActorID, e.ActorName, e.ActorRole, e.Via, e.RemoteAddr, e.Action, e.Outcome,
		e.TargetType, e.TargetID, e.TargetName, nullJSON(e.Before), nullJSON(e.After), e.RequestID).Scan(&e.Seq)
	if err != nil {
		return e, fmt.Errorf("store: append audit event: %w", err)
	}
	return e, nil
}

func nullJSON(b json.RawMessage) sql.NullString {
	return sql.NullString{String: string(b), Valid: len(b) > 0}
}

// AuditFilter selects audit events; zero fields select everything.
type AuditFilter struct {
	Actor  string // actor name or id
	Target string // target id or name
	// TargetType narrows Target to one type ("key").
	TargetType string
	// Action is an exact action ("keys.create") or a prefix ending in "."
	// ("keys.").
	Action string
	Since  time.Time // inclusive
	Until  time.Time // exclusive
	// Before, when not 0, returns only events older than that Seq: the
	// cursor of the next page.
	Before int64
	// Limit bounds the answer; 0 means 100.
	Limit int
}

// ListAudit returns the events f selects, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Actor != "" {
		p := arg(f.Actor)
		where = append(where, "(actor_name = "+p+" OR actor_id = "+p+")")
	}
	if f.Target != "" {
		p := arg(f.Target)
		where = append(where, "(target_id = "+p+" OR target_name = "+p+")")
	}
	if f.TargetType != "" {
		where = append(where, "target_type = "+arg(f.TargetType))
	}
	if prefix, ok := strings.CutSuffix(f.Action, "."); ok && prefix != "" {
		where = append(where, "substr(action, 1, "+arg(len(prefix)+1)+") = "+arg(f.Action))
	} else if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(ms(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+arg(ms(f.Until)))
	}
	if f.Before > 0 {
		where = append(where, "seq < "+arg(f.Before))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT seq, at, actor_kind, actor_id, actor_name, actor_role, via, remote_addr, action, outcome,
		target_type, target_id, target_name, before_json, after_json, request_id FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC LIMIT " + arg(limit)
	return queryAll(ctx, s.r, "list audit events", scanAudit, q, args...)
}

func scanAudit(sc scanner) (AuditEvent, error) {
	var e AuditEvent
	var at int64
	var before, after sql.NullString
	err := sc.Scan(&e.Seq, &at, &e.ActorKind, &e.ActorID, &e.ActorName, &e.ActorRole, &e.Via, &e.RemoteAddr,
		&e.Action, &e.Outcome, &e.TargetType, &e.TargetID, &e.TargetName, &before, &after, &e.RequestID)
	e.At = fromMS(at)
	if before.Valid {
		e.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		e.After = json.RawMessage(after.String)
	}
	return e, err
}
