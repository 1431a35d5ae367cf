package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-gw/tollgate/internal/keys"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/metrics"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// Accounts keeps the request path's in-memory view of the store — keys,
// budgets with their spend this period, rate limits — and reloads it when the
// admin API changes something (on this replica, or on another one: the
// change feed), and periodically as a safety net. On SQLite no request ever
// queries the database; on PostgreSQL budgets and rate limits are shared
// across replicas (limits.Shared), and a request queries the database only
// when the lease in hand does not cover it.
type Accounts struct {
	st   *store.Store
	Keys *keys.Cache
	// Ledger holds the budgets: a *limits.Ledger in process, or a
	// *limits.Shared (Shared) when replicas share PostgreSQL.
	Ledger BudgetLedger
	// Limiter holds the rate limits: a *limits.Limiter in process, or a
	// *limits.SharedLimiter when replicas share PostgreSQL.
	Limiter RateLimiter
	log     *slog.Logger

	// names maps "kind/id" of keys, users and teams to their alias, for
	// metric labels (which never carry ids).
	names atomic.Pointer[map[string]string]

	mu sync.Mutex // serialises reloads
}

// BudgetLedger is what the gateway needs of a budget ledger:
// *limits.Ledger in process and *limits.Shared across replicas implement
// it.
type BudgetLedger interface {
	Load(budgets []limits.Budget, spent limits.SpentFunc) error
	Reserve(ctx context.Context, scopes []limits.Scope, worst limits.Amount) (*limits.Reservation, error)
	Admit(ctx context.Context, scopes []limits.Scope, ask limits.Ask) (*limits.Reservation, error)
	Remaining(ctx context.Context, scopes []limits.Scope) (limits.BudgetStatus, bool)
	Covering(ctx context.Context, scopes []limits.Scope) []limits.BudgetStatus
	Status(id string) (limits.BudgetStatus, bool)
	Statuses() []limits.BudgetStatus
	SetAlerts(threshold func(b limits.Budget, pct int), refusal func(e *limits.OverBudgetError))
}

// RateLimiter is what the gateway needs of a rate limiter:
// *limits.Limiter and *limits.SharedLimiter implement it.
type RateLimiter interface {
	Load(rls []limits.RateLimit) error
	Acquire(ctx context.Context, scopes []limits.Scope, estTokens int64) (release func(actualTokens int64), err error)
}

// Share makes the accounts enforce budgets and rate limits shared across
// replicas through st (PostgreSQL), and returns both for their flushers
// (Run). Call it before the first Reload.
func (a *Accounts) Share(o limits.SharedOptions) (*limits.Shared, *limits.SharedLimiter) {
	sh, rl := limits.NewShared(a.st, o), limits.NewSharedLimiter(a.st, o)
	a.Ledger, a.Limiter = sh, rl
	return sh, rl
}

// NewAccounts builds the caches over st. Call Reload once before serving.
func NewAccounts(st *store.Store, static *keys.Static, log *slog.Logger) *Accounts {
	a := &Accounts{
		st:      st,
		Keys:    keys.NewCache(static, nil),
		Ledger:  limits.NewLedger(nil),
		Limiter: limits.NewLimiter(nil),
		log:     log,
	}
	a.Keys.ConfirmOpenWith(a.confirmOpen)
	return a
}

// confirmOpen is how the key cache, holding no keys, makes sure that the
// store has none either before it admits a request openly: another replica
// may have created the first key since the last reload. When keys exist,
// it reloads everything at once, so the new keys are served as themselves,
// with their budgets and limits, on this very request.
func (a *Accounts) confirmOpen(ctx context.Context) error {
	has, err := a.st.HasKeys(ctx)
	if err != nil {
		return err
	}
	if !has {
		return nil
	}
	a.log.Info("keys were created on another replica; reloading before serving", "reason", "open mode confirmation")
	return a.Reload(ctx)
}

// Run reloads every interval until ctx ends, so that replicas sharing a
// database see each other's admin changes and settled spend. (Admin changes
// made through this replica reload at once, synchronously.)
func (a *Accounts) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.Reload(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("reloading keys and budgets failed; serving the previous set", "err", err)
		}
	}
}

// Reload reads the store and swaps in new keys, budgets and limits. Budgets
// whose identity and period are unchanged keep their in-memory spend and
// in-flight reservations; new ones start from the spend the store's rollups
// hold for the current period.
func (a *Accounts) Reload(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	snap, err := a.st.AuthSnapshot(ctx)
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	users := make(map[string]store.User, len(snap.Users))
	names := make(map[string]string, len(snap.Users)+len(snap.Teams)+len(snap.Keys))
	for _, u := range snap.Users {
		users[u.ID] = u
		names["user/"+u.ID] = u.Name
	}
	teams := make(map[string]string, len(snap.Teams))
	for _, t := range snap.Teams {
		teams[t.ID] = t.Name
		names["team/"+t.ID] = t.Name
	}
	entries := make([]keys.Entry, 0, len(snap.Keys))
	for _, k := range snap.Keys {
		h, ok := keys.ParseHash(k.SecretHash)
		if !ok {
			a.log.Warn("skipping key with a malformed hash", "key", k.ID)
			continue
		}
		u := users[k.UserID]
		names["key/"+k.ID] = k.Alias
		entries = append(entries, keys.Entry{
			ID: k.ID, Alias: k.Alias, Hash: h, UserID: k.UserID, UserName: u.Name, TeamID: k.TeamID,
			TeamName: teams[k.TeamID], Expires: k.ExpiresAt, Models: k.Models, Tags: k.Tags, Disabled: k.Disabled || u.Disabled,
			Previous: keys.PreviousFrom(k.PrevSecretHash, k.PrevExpiresAt),
		})
	}

	budgets := make([]limits.Budget, 0, len(snap.Budgets))
	for _, b := range snap.Budgets {
		lb, err := ledgerBudget(b)
		if err != nil {
			a.log.Warn("skipping invalid budget", "budget", b.ID, "err", err)
			continue
		}
		lb.ScopeName = names[b.ScopeKind+"/"+b.ScopeID] // errors name the alias, not the id
		budgets = append(budgets, lb)
	}
	spent := func(b limits.Budget, since time.Time) (limits.Amount, error) {
		micros, tokens, err := a.st.SpendSince(ctx, string(b.Scope.Kind), b.Scope.ID, since)
		return limits.Amount{Micros: micros, Tokens: tokens}, err
	}
	if err := a.Ledger.Load(budgets, spent); err != nil {
		return fmt.Errorf("load budgets: %w", err)
	}
	rls := make([]limits.RateLimit, 0, len(snap.Limits))
	for _, l := range snap.Limits {
		rls = append(rls, limits.RateLimit{Scope: limits.Scope{Kind: limits.ScopeKind(l.ScopeKind), ID: l.ScopeID},
			RPM: int(l.RPM), TPM: int(l.TPM), Concurrent: int(l.Concurrent), ScopeName: names[l.ScopeKind+"/"+l.ScopeID]})
	}
	if err := a.Limiter.Load(rls); err != nil {
		return fmt.Errorf("load rate limits: %w", err)
	}
	a.Keys.Replace(entries)
	a.names.Store(&names)
	return nil
}

// BudgetSamples reports every budget for the metrics, labelled by alias.
func (a *Accounts) BudgetSamples() []metrics.BudgetSample {
	var names map[string]string
	if p := a.names.Load(); p != nil {
		names = *p
	}
	sts := a.Ledger.Statuses()
	out := make([]metrics.BudgetSample, 0, len(sts))
	for _, st := range sts {
		b := st.Budget
		out = append(out, metrics.BudgetSample{
			Scope: string(b.Scope.Kind), Name: names[string(b.Scope.Kind)+"/"+b.Scope.ID], Period: b.Period.String(),
			SpentMicros: st.Spent.Micros, ReservedMicros: st.Reserved.Micros, LimitMicros: b.LimitMicros,
			SpentTokens: st.Spent.Tokens, ReservedTokens: st.Reserved.Tokens, LimitTokens: b.LimitTokens,
			ResetAt: st.ResetAt,
		})
	}
	return out
}

func ledgerBudget(b store.Budget) (limits.Budget, error) {
	p, err := limits.ParsePeriod(b.Period)
	if err != nil {
		return limits.Budget{}, err
	}
	loc := time.UTC
	if b.Timezone != "" {
		if loc, err = time.LoadLocation(b.Timezone); err != nil {
			return limits.Budget{}, fmt.Errorf("time zone %q: %w", b.Timezone, err)
		}
	}
	lb := limits.Budget{ID: b.ID, Scope: limits.Scope{Kind: limits.ScopeKind(b.ScopeKind), ID: b.ScopeID}, Period: p, Location: loc, Thresholds: b.Thresholds}
	if b.LimitUSDMicros != nil {
		lb.LimitMicros = *b.LimitUSDMicros
	}
	if b.LimitTokens != nil {
		lb.LimitTokens = *b.LimitTokens
	}
	lb.Strict = b.Mode == store.ModeStrict
	if !lb.Strict {
		od, err := limits.ParseOverdraft(b.Overdraft)
		if err != nil {
			return limits.Budget{}, fmt.Errorf("overdraft %q: %w", b.Overdraft, err)
		}
		lb.Overdraft = od.Resolve(limits.Amount{Micros: lb.LimitMicros, Tokens: lb.LimitTokens})
	}
	return lb, nil
}
