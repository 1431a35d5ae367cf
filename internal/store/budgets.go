package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tollgate-gw/tollgate/internal/limits"
)

var locations sync.Map // zone name → *time.Location

// LoadLocation is time.LoadLocation with a cache, for the request path.
// "Local" is refused: a budget must reset at the same instant on every
// replica, whatever the host's zone.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if v, ok := locations.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "Local" {
		return nil, invalid("time zone %q is not allowed; name an IANA zone such as Europe/Berlin", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalid("unknown time zone %q; use an IANA name such as Europe/Berlin", name)
	}
	locations.Store(name, loc)
	return loc, nil
}

// ValidPeriod reports whether p names a budget period. The periods are
// limits' (limits.ParsePeriod); the store only persists their names.
func ValidPeriod(p string) bool {
	_, err := limits.ParsePeriod(p)
	return err == nil
}

func validScope(kind string) bool {
	return kind == ScopeKey || kind == ScopeUser || kind == ScopeTeam
}

// Limits returns the budget as package limits enforces it. Periods, their
// bounds in the budget's time zone and the budget's status have one
// implementation, in limits; the store persists budgets and nothing more.
// A nil limit and a zero limit both mean no limit in that unit.
func (b *Budget) Limits() (limits.Budget, error) {
	p, err := limits.ParsePeriod(b.Period)
	if err != nil {
		return limits.Budget{}, err
	}
	loc, err := LoadLocation(b.Timezone)
	if err != nil {
		return limits.Budget{}, err
	}
	lb := limits.Budget{ID: b.ID, Scope: limits.Scope{Kind: limits.ScopeKind(b.ScopeKind), ID: b.ScopeID}, Period: p, Location: loc,
		Thresholds: b.Thresholds}
	if b.LimitUSDMicros != nil {
		lb.LimitMicros = *b.LimitUSDMicros
	}
	if b.LimitTokens != nil {
		lb.LimitTokens = *b.LimitTokens
	}
	if err := b.applyMode(&lb); err != nil {
		return limits.Budget{}, err
	}
	return lb, nil
}

// applyMode sets the budget's mode and overdraft on lb, whose limits are
// set: strict, or estimate mode with the overdraft resolved against them.
func (b *Budget) applyMode(lb *limits.Budget) error {
	lb.Strict = b.Mode == ModeStrict
	od, err := limits.ParseOverdraft(b.Overdraft)
	if err != nil {
		return err
	}
	if !lb.Strict {
		lb.Overdraft = od.Resolve(limits.Amount{Micros: lb.LimitMicros, Tokens: lb.LimitTokens})
	}
	return nil
}

// checkBudget validates and normalises b.
func checkBudget(b *Budget) error {
	if !validScope(b.ScopeKind) {
		return invalid("unknown budget scope %q: want key, user or team", b.ScopeKind)
	}
	if b.LimitUSDMicros == nil && b.LimitTokens == nil {
		return invalid("a budget needs a USD limit, a token limit or both")
	}
	if b.LimitUSDMicros != nil && *b.LimitUSDMicros < 0 {
		return invalid("budget USD limit must not be negative")
	}
	if b.LimitTokens != nil && *b.LimitTokens < 0 {
		return invalid("budget token limit must not be negative")
	}
	if !ValidPeriod(b.Period) {
		return invalid("unknown budget period %q: want day, week, month or total", b.Period)
	}
	if b.Timezone == "" {
		b.Timezone = "UTC"
	}
	if _, err := LoadLocation(b.Timezone); err != nil {
		return err
	}
	if b.Thresholds == nil {
		b.Thresholds = slices.Clone(DefaultThresholds)
	}
	switch b.Mode {
	case "":
		b.Mode = ModeEstimate
	case ModeEstimate, ModeStrict:
	default:
		return invalid("unknown budget mode %q: want estimate or strict", b.Mode)
	}
	od, err := limits.ParseOverdraft(b.Overdraft)
	if err != nil {
		return invalid("budget overdraft %q: want a percentage (\"5%%\"), USD (\"0.50\") or tokens (\"20000 tokens\")", b.Overdraft)
	}
	b.Overdraft = od.String()
	for _, t := range b.Thresholds {
		if t < 1 || t > 1000 {
			return invalid("budget threshold %d%% is out of range 1-1000", t)
		}
	}
	b.Thresholds = slices.Compact(slices.Sorted(slices.Values(b.Thresholds)))
	return nil
}

func nullInt(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

func intPtr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// CreateBudget creates a budget. b.ScopeID may be an id or a name (a key's
// alias). A scope has at most one budget per period (ErrConflict).
func (s *Store) CreateBudget(ctx context.Context, b Budget) (Budget, error) {
	if err := s.prepareBudget(&b); err != nil {
		return Budget{}, err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		ref := b.ScopeID
		var err error
		if b.ScopeID, err = resolve(ctx, tx, b.ScopeKind, b.ScopeID); err != nil {
			return err
		}
		return insertBudget(ctx, tx, &b, ref)
	})
	if err != nil {
		return Budget{}, err
	}
	return b, nil
}

// prepareBudget validates a new budget and gives it an id and creation time.
func (s *Store) prepareBudget(b *Budget) error {
	if err := checkBudget(b); err != nil {
		return err
	}
	b.ID = newID("bdg")
	b.CreatedAt = s.createdAt(b.CreatedAt)
	return nil
}

// insertBudget inserts a prepared budget whose scope is resolved; ref names
// the scope in a conflict's message, as the caller gave it.
func insertBudget(ctx context.Context, tx *sql.Tx, b *Budget, ref string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO budgets
		(id, scope_kind, scope_id, limit_usd_micros, limit_tokens, period, timezone, thresholds, created_at, mode, overdraft)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		b.ID, b.ScopeKind, b.ScopeID, nullInt(b.LimitUSDMicros), nullInt(b.LimitTokens), b.Period, b.Timezone,
		encodeJSON(b.Thresholds), ms(b.CreatedAt), b.Mode, b.Overdraft)
	if isUnique(err) {
		return conflict("%s %q already has a %s budget", b.ScopeKind, ref, b.Period)
	}
	if err != nil {
		return fmt.Errorf("store: create budget: %w", err)
	}
	return nil
}

const budgetCols = `id, scope_kind, scope_id, limit_usd_micros, limit_tokens, period, timezone, thresholds, created_at, mode, overdraft`

func scanBudget(sc scanner) (Budget, error) {
	var b Budget
	var usd, tokens sql.NullInt64
	var thresholds string
	var created int64
	if err := sc.Scan(&b.ID, &b.ScopeKind, &b.ScopeID, &usd, &tokens, &b.Period, &b.Timezone, &thresholds, &created, &b.Mode, &b.Overdraft); err != nil {
		return Budget{}, err
	}
	b.LimitUSDMicros, b.LimitTokens = intPtr(usd), intPtr(tokens)
	b.CreatedAt = fromMS(created)
	if err := json.Unmarshal([]byte(thresholds), &b.Thresholds); err != nil {
		return Budget{}, fmt.Errorf("budget %s: thresholds: %w", b.ID, err)
	}
	return b, nil
}

// GetBudget returns the budget with id.
func (s *Store) GetBudget(ctx context.Context, id string) (Budget, error) {
	return getBudget(ctx, s.r, id)
}

func getBudget(ctx context.Context, q queryer, id string) (Budget, error) {
	b, err := scanBudget(q.QueryRowContext(ctx, `SELECT `+budgetCols+` FROM budgets WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Budget{}, notFound("budget %q not found", id)
	}
	if err != nil {
		return Budget{}, fmt.Errorf("store: get budget: %w", err)
	}
	return b, nil
}

// ScopeFilter narrows lists of budgets and limits to one key, user or team.
// The zero value matches everything; ScopeID accepts an id or a name.
type ScopeFilter struct {
	ScopeKind string
	ScopeID   string
}

func (f ScopeFilter) resolve(ctx context.Context, q queryer) (ScopeFilter, error) {
	if f.ScopeKind == "" && f.ScopeID == "" {
		return f, nil
	}
	id, err := resolve(ctx, q, f.ScopeKind, f.ScopeID)
	return ScopeFilter{f.ScopeKind, id}, err
}

// ListBudgets returns the budgets matching f, by scope and period.
func (s *Store) ListBudgets(ctx context.Context, f ScopeFilter) ([]Budget, error) {
	var out []Budget
	err := s.read(ctx, func(tx *sql.Tx) error {
		f, err := f.resolve(ctx, tx)
		if err != nil {
			return err
		}
		out, err = listBudgets(ctx, tx, f)
		return err
	})
	return out, err
}

func listBudgets(ctx context.Context, q queryer, f ScopeFilter) ([]Budget, error) {
	return queryAll(ctx, q, "list budgets", scanBudget, `SELECT `+budgetCols+` FROM budgets
		WHERE ($1 = '' OR scope_kind = $1) AND ($2 = '' OR scope_id = $2)
		ORDER BY scope_kind, scope_id, period, id`, f.ScopeKind, f.ScopeID)
}

// UpdateBudget applies fn to the budget with id and saves it. fn may change
// the limits, Period, Timezone and Thresholds; the scope is fixed.
func (s *Store) UpdateBudget(ctx context.Context, id string, fn func(*Budget) error) (Budget, error) {
	var out Budget
	err := s.write(ctx, func(tx *sql.Tx) error {
		b, err := getBudget(ctx, tx, id)
		if err != nil {
			return err
		}
		kind, scope := b.ScopeKind, b.ScopeID
		if err := fn(&b); err != nil {
			return err
		}
		b.ScopeKind, b.ScopeID = kind, scope
		if err := checkBudget(&b); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE budgets SET limit_usd_micros = $2, limit_tokens = $3, period = $4,
			timezone = $5, thresholds = $6, mode = $7, overdraft = $8 WHERE id = $1`,
			b.ID, nullInt(b.LimitUSDMicros), nullInt(b.LimitTokens), b.Period, b.Timezone, encodeJSON(b.Thresholds), b.Mode, b.Overdraft)
		if isUnique(err) {
			return conflict("%s %q already has a %s budget", b.ScopeKind, b.ScopeID, b.Period)
		}
		if err != nil {
			return fmt.Errorf("store: update budget: %w", err)
		}
		out = b
		return nil
	})
	return out, err
}

// DeleteBudget deletes the budget with id.
func (s *Store) DeleteBudget(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "budgets", "budget", id)
}

// deleteByID deletes the row with id from table; what names the row in
// errors ("budget"). A missing row is ErrNotFound.
func (s *Store) deleteByID(ctx context.Context, table, what, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("%s %q not found", what, id)
	}
	return nil
}

// ---- rate limits ----

func checkLimit(l *Limit) error {
	if !validScope(l.ScopeKind) {
		return invalid("unknown limit scope %q: want key, user or team", l.ScopeKind)
	}
	if l.RPM < 0 || l.TPM < 0 || l.Concurrent < 0 {
		return invalid("rate limits must not be negative (0 means unlimited)")
	}
	return nil
}

// CreateLimit creates the rate limits of a key, user or team (ScopeID: id or
// name). A scope has at most one Limit (ErrConflict); change it with
// UpdateLimit.
func (s *Store) CreateLimit(ctx context.Context, l Limit) (Limit, error) {
	if err := s.prepareLimit(&l); err != nil {
		return Limit{}, err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		ref := l.ScopeID
		var err error
		if l.ScopeID, err = resolve(ctx, tx, l.ScopeKind, l.ScopeID); err != nil {
			return err
		}
		return insertLimit(ctx, tx, &l, ref)
	})
	if err != nil {
		return Limit{}, err
	}
	return l, nil
}

// prepareLimit validates a new limit and gives it an id and creation time.
func (s *Store) prepareLimit(l *Limit) error {
	if err := checkLimit(l); err != nil {
		return err
	}
	l.ID = newID("lim")
	l.CreatedAt = s.createdAt(l.CreatedAt)
	return nil
}

// insertLimit inserts a prepared limit whose scope is resolved; ref names
// the scope in a conflict's message.
func insertLimit(ctx context.Context, tx *sql.Tx, l *Limit, ref string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO rate_limits (id, scope_kind, scope_id, rpm, tpm, concurrent, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, l.ID, l.ScopeKind, l.ScopeID, l.RPM, l.TPM, l.Concurrent, ms(l.CreatedAt))
	if isUnique(err) {
		return conflict("%s %q already has rate limits", l.ScopeKind, ref)
	}
	if err != nil {
		return fmt.Errorf("store: create limit: %w", err)
	}
	return nil
}

const limitCols = `id, scope_kind, scope_id, rpm, tpm, concurrent, created_at`

func scanLimit(sc scanner) (Limit, error) {
	var l Limit
	var created int64
	err := sc.Scan(&l.ID, &l.ScopeKind, &l.ScopeID, &l.RPM, &l.TPM, &l.Concurrent, &created)
	l.CreatedAt = fromMS(created)
	return l, err
}

// GetLimit returns the limit with id.
func (s *Store) GetLimit(ctx context.Context, id string) (Limit, error) {
	return getLimit(ctx, s.r, id)
}

func getLimit(ctx context.Context, q queryer, id string) (Limit, error) {
	l, err := scanLimit(q.QueryRowContext(ctx, `SELECT `+limitCols+` FROM rate_limits WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Limit{}, notFound("limit %q not found", id)
	}
	if err != nil {
		return Limit{}, fmt.Errorf("store: get limit: %w", err)
	}
	return l, nil
}

// ListLimits returns the limits matching f, by scope.
func (s *Store) ListLimits(ctx context.Context, f ScopeFilter) ([]Limit, error) {
	var out []Limit
	err := s.read(ctx, func(tx *sql.Tx) error {
		f, err := f.resolve(ctx, tx)
		if err != nil {
			return err
		}
		out, err = listLimits(ctx, tx, f)
		return err
	})
	return out, err
}

func listLimits(ctx context.Context, q queryer, f ScopeFilter) ([]Limit, error) {
	return queryAll(ctx, q, "list limits", scanLimit, `SELECT `+limitCols+` FROM rate_limits
		WHERE ($1 = '' OR scope_kind = $1) AND ($2 = '' OR scope_id = $2)
		ORDER BY scope_kind, scope_id, id`, f.ScopeKind, f.ScopeID)
}

// UpdateLimit applies fn to the limit with id and saves it. fn may change
// RPM, TPM and Concurrent; the scope is fixed.
func (s *Store) UpdateLimit(ctx context.Context, id string, fn func(*Limit) error) (Limit, error) {
	var out Limit
	err := s.write(ctx, func(tx *sql.Tx) error {
		l, err := getLimit(ctx, tx, id)
		if err != nil {
			return err
		}
		kind, scope := l.ScopeKind, l.ScopeID
		if err := fn(&l); err != nil {
			return err
		}
		l.ScopeKind, l.ScopeID = kind, scope
		if err := checkLimit(&l); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rate_limits SET rpm = $2, tpm = $3, concurrent = $4 WHERE id = $1`,
			l.ID, l.RPM, l.TPM, l.Concurrent); err != nil {
			return fmt.Errorf("store: update limit: %w", err)
		}
		out = l
		return nil
	})
	return out, err
}

// DeleteLimit deletes the limit with id.
func (s *Store) DeleteLimit(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "rate_limits", "limit", id)
}

// ---- snapshot and settings ----

// AuthSnapshot reads every key, user, team, budget and limit in one
// consistent read transaction, for the gateway's in-memory cache.
func (s *Store) AuthSnapshot(ctx context.Context) (*Snapshot, error) {
	snap := &Snapshot{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if snap.Keys, err = listKeys(ctx, tx, "", ""); err != nil {
			return err
		}
		if snap.Users, err = listUsers(ctx, tx); err != nil {
			return err
		}
		if snap.Teams, err = listTeams(ctx, tx); err != nil {
			return err
		}
		if snap.Budgets, err = listBudgets(ctx, tx, ScopeFilter{}); err != nil {
			return err
		}
		snap.Limits, err = listLimits(ctx, tx, ScopeFilter{})
		return err
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

const adminKeySetting = "admin_key_sha256"

// AdminKeyHash returns the hex SHA-256 of the admin credential, or "" when
// none is set.
func (s *Store) AdminKeyHash(ctx context.Context) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, adminKeySetting).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: admin key: %w", err)
	}
	return v, nil
}

// SetAdminKeyHash stores (or replaces) the admin credential's hash.
func (s *Store) SetAdminKeyHash(ctx context.Context, hash string) error {
	if hash == "" {
		return invalid("empty admin key hash")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		adminKeySetting, hash, s.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: set admin key: %w", err)
	}
	return nil
}

// InitAdminKeyHash stores hash only if no admin credential exists yet and
// reports whether it did. Replicas bootstrapping at once therefore agree on
// one credential: only the one whose hash was stored prints its secret.
func (s *Store) InitAdminKeyHash(ctx context.Context, hash string) (bool, error) {
	if hash == "" {
		return false, invalid("empty admin key hash")
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO NOTHING`, adminKeySetting, hash, s.now().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store: init admin key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
