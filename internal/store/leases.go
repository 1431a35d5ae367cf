package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tollgate-gw/tollgate/internal/limits"
)

// Budget leases (migration 0004) back limits.Shared: the settled spend of
// each budget period (budget_spend) and what each replica may still reserve
// from it (budget_leases). Every statement that changes either first locks
// the period's budget_spend row (an UPDATE that changes nothing is the
// portable SELECT … FOR UPDATE), so grants and charges of one budget are
// serialised across replicas and the invariant
//
//	spent + sum(live leases) <= limit   (in each limited unit)
//
// holds after every commit: a grant only adds what fits, and a charge moves
// an amount from a lease into spent (or gives it back), never adding to the
// sum. Leases are timed by the replicas' clocks (LeaseRequest.Now); an
// expired lease is not returned to the pool but moved into spent
// (forfeitExpired), which keeps the sum, except for concurrency counters
// (LeaseRequest.Reclaim).

// lockSpend makes sure the period's row exists (starting from initial) and
// locks it until the transaction ends; it returns the settled spend.
func lockSpend(ctx context.Context, tx *sql.Tx, k limits.LeaseKey, initial limits.Amount) (limits.Amount, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO budget_spend (budget_id, period_start_ms, spent_micros, spent_tokens)
		VALUES ($1, $2, $3, $4) ON CONFLICT (budget_id, period_start_ms) DO NOTHING`,
		k.BudgetID, ms(k.PeriodStart), initial.Micros, initial.Tokens); err != nil {
		return limits.Amount{}, fmt.Errorf("store: start spend of budget %s: %w", k.BudgetID, err)
	}
	var sp limits.Amount
	if err := tx.QueryRowContext(ctx, `UPDATE budget_spend SET spent_micros = spent_micros
		WHERE budget_id = $1 AND period_start_ms = $2 RETURNING spent_micros, spent_tokens`,
		k.BudgetID, ms(k.PeriodStart)).Scan(&sp.Micros, &sp.Tokens); err != nil {
		return limits.Amount{}, fmt.Errorf("store: lock spend of budget %s: %w", k.BudgetID, err)
	}
	return sp, nil
}

// leaseTotals sums the period's live leases, all replicas and replica's.
func leaseTotals(ctx context.Context, tx *sql.Tx, k limits.LeaseKey, replica string) (all, mine limits.Amount, err error) {
	err = tx.QueryRowContext(ctx, `SELECT
		CAST(COALESCE(SUM(leased_micros), 0) AS BIGINT), CAST(COALESCE(SUM(leased_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN replica_id = $3 THEN leased_micros ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN replica_id = $3 THEN leased_tokens ELSE 0 END), 0) AS BIGINT)
		FROM budget_leases WHERE budget_id = $1 AND period_start_ms = $2`,
		k.BudgetID, ms(k.PeriodStart), replica).Scan(&all.Micros, &all.Tokens, &mine.Micros, &mine.Tokens)
	if err != nil {
		err = fmt.Errorf("store: sum leases of budget %s: %w", k.BudgetID, err)
	}
	return all, mine, err
}

// Lease grants replica as much of req.Want as fits under req.Limit, or
// nothing when req.Min does not fit, in one transaction: leases that expired
// before req.Now are first counted as spent, or reclaimed with
// req.Reclaim. It implements limits.LeaseStore.
func (s *Store) Lease(ctx context.Context, req limits.LeaseRequest) (limits.LeaseGrant, error) {
	var g limits.LeaseGrant
	err := s.write(ctx, func(tx *sql.Tx) error {
		spent, err := lockSpend(ctx, tx, req.Key, req.Initial)
		if err != nil {
			return err
		}
		if !req.Key.PeriodStart.IsZero() {
			// Rows of ended periods serve nothing any more (minute
			// counters of rate limits would pile up otherwise).
			for _, table := range []string{"budget_leases", "budget_spend"} {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE budget_id = $1 AND period_start_ms < $2`,
					req.Key.BudgetID, ms(req.Key.PeriodStart)); err != nil {
					return fmt.Errorf("store: drop ended periods of budget %s: %w", req.Key.BudgetID, err)
				}
			}
		}
		if req.Charge != (limits.Amount{}) {
			// This replica's own charges first: taken off its lease
			// before an expired lease is ended, they are counted once.
			if spent, err = applyCharge(ctx, tx, req.Key, req.Replica, req.Charge, limits.Amount{}, time.Time{}); err != nil {
				return err
			}
		}
		if req.Reclaim {
			if _, err := tx.ExecContext(ctx, `DELETE FROM budget_leases
				WHERE budget_id = $1 AND period_start_ms = $2 AND expires_ms <= $3`,
				req.Key.BudgetID, ms(req.Key.PeriodStart), req.Now.UnixMilli()); err != nil {
				return fmt.Errorf("store: reclaim leases of budget %s: %w", req.Key.BudgetID, err)
			}
		} else if spent, err = forfeitExpired(ctx, tx, req.Key, req.Now); err != nil {
			return err
		}
		all, mine, err := leaseTotals(ctx, tx, req.Key, req.Replica)
		if err != nil {
			return err
		}
		grant, ok := leaseGrant(req, spent, all)
		g = limits.LeaseGrant{OK: ok, Granted: grant, Totals: limits.LeaseTotals{Spent: spent, Leased: all, Mine: mine}}
		if !ok {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO budget_leases
			(budget_id, period_start_ms, replica_id, leased_micros, leased_tokens, expires_ms) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (budget_id, period_start_ms, replica_id) DO UPDATE SET
			leased_micros = budget_leases.leased_micros + excluded.leased_micros,
			leased_tokens = budget_leases.leased_tokens + excluded.leased_tokens,
			expires_ms = excluded.expires_ms`,
			req.Key.BudgetID, ms(req.Key.PeriodStart), req.Replica, grant.Micros, grant.Tokens, req.Expires.UnixMilli()); err != nil {
			return fmt.Errorf("store: lease budget %s: %w", req.Key.BudgetID, err)
		}
		g.Totals.Leased = limits.Amount{Micros: all.Micros + grant.Micros, Tokens: all.Tokens + grant.Tokens}
		g.Totals.Mine = limits.Amount{Micros: mine.Micros + grant.Micros, Tokens: mine.Tokens + grant.Tokens}
		return nil
	})
	return g, err
}

// forfeitExpired ends the leases of the period that expired before now and
// counts them as spent, in full; it returns the spend after that. A lease
// that was not renewed belongs to a replica that died or lost the database
// for most of a TTL: what it settled but never flushed, and what its calls
// in flight at the end cost, were taken from that lease, and no one can
// tell how much that was (its usage rows may be lost with it). Returning
// the lease to the pool would let the other replicas spend that money a
// second time; treating it as spent keeps spent + leases, and with it
// everything ever spent, within the ceiling, at the price of the unused part
// of the lease, which stays lost until the period ends. A replica that was
// only cut off and flushes later adds its charges again (counted twice,
// never too little). The lock on the spend row is held.
func forfeitExpired(ctx context.Context, tx *sql.Tx, k limits.LeaseKey, now time.Time) (limits.Amount, error) {
	var gone, sp limits.Amount
	if err := tx.QueryRowContext(ctx, `SELECT
		CAST(COALESCE(SUM(leased_micros), 0) AS BIGINT), CAST(COALESCE(SUM(leased_tokens), 0) AS BIGINT)
		FROM budget_leases WHERE budget_id = $1 AND period_start_ms = $2 AND expires_ms <= $3`,
		k.BudgetID, ms(k.PeriodStart), now.UnixMilli()).Scan(&gone.Micros, &gone.Tokens); err != nil {
		return sp, fmt.Errorf("store: sum expired leases of budget %s: %w", k.BudgetID, err)
	}
	if err := tx.QueryRowContext(ctx, `UPDATE budget_spend SET spent_micros = spent_micros + $3, spent_tokens = spent_tokens + $4
		WHERE budget_id = $1 AND period_start_ms = $2 RETURNING spent_micros, spent_tokens`,
		k.BudgetID, ms(k.PeriodStart), gone.Micros, gone.Tokens).Scan(&sp.Micros, &sp.Tokens); err != nil {
		return sp, fmt.Errorf("store: forfeit expired leases of budget %s: %w", k.BudgetID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM budget_leases
		WHERE budget_id = $1 AND period_start_ms = $2 AND expires_ms <= $3`,
		k.BudgetID, ms(k.PeriodStart), now.UnixMilli()); err != nil {
		return sp, fmt.Errorf("store: end expired leases of budget %s: %w", k.BudgetID, err)
	}
	return sp, nil
}

// leaseGrant is the rule of Lease: in each limited unit, as much of Want as
// is left, and refused when Min is not.
func leaseGrant(req limits.LeaseRequest, spent, leased limits.Amount) (limits.Amount, bool) {
	unit := func(limit, spent, leased, lo, want int64) (int64, bool) {
		if limit <= 0 {
			return 0, true
		}
		left := limit - spent - leased
		if lo > left {
			return 0, false
		}
		return max(min(want, left), lo, 0), true
	}
	m, okM := unit(req.Limit.Micros, spent.Micros, leased.Micros, req.Min.Micros, req.Want.Micros)
	t, okT := unit(req.Limit.Tokens, spent.Tokens, leased.Tokens, req.Min.Tokens, req.Want.Tokens)
	if !okM || !okT {
		return limits.Amount{}, false
	}
	return limits.Amount{Micros: m, Tokens: t}, true
}

// Charge adds c.Charge to the period's spend and takes c.Charge + c.Return
// off replica's lease (never below zero), renewing it to c.Expires, in one
// transaction. It implements limits.LeaseStore.
func (s *Store) Charge(ctx context.Context, replica string, c limits.LeaseCharge) (limits.LeaseTotals, error) {
	var tot limits.LeaseTotals
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := lockSpend(ctx, tx, c.Key, c.Initial); err != nil {
			return err
		}
		var err error
		if tot.Spent, err = applyCharge(ctx, tx, c.Key, replica, c.Charge, c.Return, c.Expires); err != nil {
			return err
		}
		tot.Leased, tot.Mine, err = leaseTotals(ctx, tx, c.Key, replica)
		return err
	})
	return tot, err
}

// applyCharge adds charge to the period's spend and takes charge + ret off
// replica's lease (never below zero, dropping it once empty), renewing it
// to expires unless that is zero; it returns the spend after that. The lock
// on the spend row is held.
func applyCharge(ctx context.Context, tx *sql.Tx, k limits.LeaseKey, replica string, charge, ret limits.Amount, expires time.Time) (limits.Amount, error) {
	var sp limits.Amount
	if err := tx.QueryRowContext(ctx, `UPDATE budget_spend SET
		spent_micros = spent_micros + $3, spent_tokens = spent_tokens + $4
		WHERE budget_id = $1 AND period_start_ms = $2 RETURNING spent_micros, spent_tokens`,
		k.BudgetID, ms(k.PeriodStart), charge.Micros, charge.Tokens).Scan(&sp.Micros, &sp.Tokens); err != nil {
		return sp, fmt.Errorf("store: charge budget %s: %w", k.BudgetID, err)
	}
	off := limits.Amount{Micros: charge.Micros + ret.Micros, Tokens: charge.Tokens + ret.Tokens}
	exp := expires.UnixMilli()
	if expires.IsZero() {
		exp = 0 // a leftover: keep the lease's own expiry
	}
	if _, err := tx.ExecContext(ctx, `UPDATE budget_leases SET
		leased_micros = CASE WHEN leased_micros > $4 THEN leased_micros - $4 ELSE 0 END,
		leased_tokens = CASE WHEN leased_tokens > $5 THEN leased_tokens - $5 ELSE 0 END,
		expires_ms = CASE WHEN $6 > expires_ms THEN $6 ELSE expires_ms END
		WHERE budget_id = $1 AND period_start_ms = $2 AND replica_id = $3`,
		k.BudgetID, ms(k.PeriodStart), replica, off.Micros, off.Tokens, exp); err != nil {
		return sp, fmt.Errorf("store: take charge off the lease of budget %s: %w", k.BudgetID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM budget_leases WHERE budget_id = $1 AND period_start_ms = $2
		AND replica_id = $3 AND leased_micros = 0 AND leased_tokens = 0`,
		k.BudgetID, ms(k.PeriodStart), replica); err != nil {
		return sp, fmt.Errorf("store: drop empty lease of budget %s: %w", k.BudgetID, err)
	}
	return sp, nil
}

// BudgetSpend returns a budget period's settled spend as the lease tables
// hold it (zero when no replica has leased from it), for tests and the
// admin API.
func (s *Store) BudgetSpend(ctx context.Context, k limits.LeaseKey) (limits.Amount, error) {
	var a limits.Amount
	err := s.r.QueryRowContext(ctx, `SELECT spent_micros, spent_tokens FROM budget_spend
		WHERE budget_id = $1 AND period_start_ms = $2`, k.BudgetID, ms(k.PeriodStart)).Scan(&a.Micros, &a.Tokens)
	if err == sql.ErrNoRows {
		return limits.Amount{}, nil
	}
	if err != nil {
		return a, fmt.Errorf("store: spend of budget %s: %w", k.BudgetID, err)
	}
	return a, nil
}
