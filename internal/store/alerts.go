package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// BudgetAlert is one announced budget event: a threshold reached, or the
// budget refusing calls, in one period. (BudgetID, Event, Threshold,
// PeriodStart) is unique.
type BudgetAlert struct {
	ID          string
	BudgetID    string
	Event       string // "threshold" or "refused"
	Threshold   int    // percent; 0 for "refused"
	PeriodStart time.Time
	ScopeKind   string
	ScopeID     string
	CreatedAt   time.Time
}

// AlertDelivery is the state of one alert's delivery to one sink.
type AlertDelivery struct {
	AlertID   string
	Sink      string
	Outcome   string // "delivered", "retried" or "failed"
	Attempts  int
	LastError string
	UpdatedAt time.Time
}

// ClaimBudgetAlert records a, unless an alert with the same budget, event,
// threshold and period exists, and reports whether this call recorded it.
// Only the claimer notifies, which makes an alert once-only across
// restarts and replicas sharing the database. The returned alert carries
// the new ID when claimed.
func (s *Store) ClaimBudgetAlert(ctx context.Context, a BudgetAlert) (BudgetAlert, bool, error) {
	a.ID = newID("alert")
	a.CreatedAt = s.createdAt(a.CreatedAt)
	var res sql.Result
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, `INSERT INTO budget_alerts
			(id, budget_id, event, threshold, period_start, scope_kind, scope_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (budget_id, event, threshold, period_start) DO NOTHING`,
			a.ID, a.BudgetID, a.Event, a.Threshold, ms(a.PeriodStart), a.ScopeKind, a.ScopeID, ms(a.CreatedAt))
		return err
	})
	if err != nil {
		return a, false, fmt.Errorf("store: claim budget alert: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return a, false, fmt.Errorf("store: claim budget alert: %w", err)
	}
	return a, n == 1, nil
}

// RecordAlertDelivery stores the latest state of an alert's delivery to a
// sink.
func (s *Store) RecordAlertDelivery(ctx context.Context, d AlertDelivery) error {
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = time.Now()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO alert_deliveries
			(alert_id, sink, outcome, attempts, last_error, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (alert_id, sink) DO UPDATE SET outcome = excluded.outcome, attempts = excluded.attempts,
				last_error = excluded.last_error, updated_at = excluded.updated_at`,
			d.AlertID, d.Sink, d.Outcome, d.Attempts, cleanText(d.LastError), ms(d.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record alert delivery: %w", err)
	}
	return nil
}

// BudgetAlerts lists every recorded alert of a budget, oldest first.
func (s *Store) BudgetAlerts(ctx context.Context, budgetID string) ([]BudgetAlert, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, budget_id, event, threshold, period_start, scope_kind, scope_id, created_at
		FROM budget_alerts WHERE budget_id = $1 ORDER BY created_at, id`, budgetID)
	if err != nil {
		return nil, fmt.Errorf("store: budget alerts: %w", err)
	}
	defer rows.Close()
	var out []BudgetAlert
	for rows.Next() {
		var a BudgetAlert
		var start, created int64
		if err := rows.Scan(&a.ID, &a.BudgetID, &a.Event, &a.Threshold, &start, &a.ScopeKind, &a.ScopeID, &created); err != nil {
			return nil, fmt.Errorf("store: budget alerts: %w", err)
		}
		a.PeriodStart, a.CreatedAt = fromMS(start), fromMS(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// AlertDeliveries lists the delivery state of an alert, by sink.
func (s *Store) AlertDeliveries(ctx context.Context, alertID string) ([]AlertDelivery, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT alert_id, sink, outcome, attempts, last_error, updated_at
		FROM alert_deliveries WHERE alert_id = $1 ORDER BY sink`, alertID)
	if err != nil {
		return nil, fmt.Errorf("store: alert deliveries: %w", err)
	}
	defer rows.Close()
	var out []AlertDelivery
	for rows.Next() {
		var d AlertDelivery
		var at int64
		if err := rows.Scan(&d.AlertID, &d.Sink, &d.Outcome, &d.Attempts, &d.LastError, &at); err != nil {
			return nil, fmt.Errorf("store: alert deliveries: %w", err)
		}
		d.UpdatedAt = fromMS(at)
		out = append(out, d)
	}
	return out, rows.Err()
}
