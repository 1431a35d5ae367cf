package admin

import (
	"cmp"
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// defaultUsageSince is the range of a usage query without ?since=.
const defaultUsageSince = 7 * 24 * time.Hour

// usageQuery parses the query string shared by /admin/usage and
// /admin/usage.csv:
//
//	by=key|user|team|model|tag|session (default user)
//	since=7d|RFC3339|2025-06-01 (default 7d)  until=… (default now)
//	granularity=hour|day|total (default total)  tz=Europe/Berlin (day buckets)
//	tag=repo (the tag name, with by=tag)
//	key=… user=… team=… model=… (filters; ids or names)
func (a *API) usageQuery(r *http.Request) (store.UsageQuery, error) {
	q, err := query(r, "by", "since", "until", "granularity", "tz", "tag", "key", "user", "team", "model")
	if err != nil {
		return store.UsageQuery{}, err
	}
	now := a.opts.Now()
	uq := store.UsageQuery{By: cmpOr(q["by"], store.ByUser), Tag: q["tag"], Granularity: q["granularity"],
		Timezone: q["tz"], KeyID: q["key"], UserID: q["user"], TeamID: q["team"], Model: q["model"],
		Since: now.Add(-defaultUsageSince), Until: now}
	if v := q["since"]; v != "" {
		if uq.Since, err = parseWhen("since", v, now); err != nil {
			return uq, err
		}
	}
	if v := q["until"]; v != "" {
		if uq.Until, err = parseWhen("until", v, now); err != nil {
			return uq, err
		}
	}
	if !uq.Since.Before(uq.Until) {
		return uq, badRequest("since (%s) must be before until (%s)", uq.Since.UTC().Format(time.RFC3339), uq.Until.UTC().Format(time.RFC3339))
	}
	if q["tag"] != "" && uq.By != store.ByTag {
		return uq, badRequest("tag=%s names the tag to group by and needs by=tag", q["tag"])
	}
	return uq, nil
}

// usageRows runs the query; rows are ordered by time, then name, so keys,
// users and teams read alphabetically.
func (a *API) usageRows(ctx context.Context, uq store.UsageQuery) ([]store.UsageRow, error) {
	rows, err := a.st.Usage(ctx, uq)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(rows, func(x, y store.UsageRow) int {
		return cmp.Or(x.Time.Compare(y.Time), cmp.Compare(x.Name, y.Name), cmp.Compare(x.Group, y.Group))
	})
	return rows, nil
}

func (a *API) usage(w http.ResponseWriter, r *http.Request) error {
	uq, err := a.usageQuery(r)
	if err != nil {
		return err
	}
	rows, err := a.usageRows(r.Context(), uq)
	if err != nil {
		return err
	}
	out := make([]UsageRow, 0, len(rows))
	for _, row := range rows {
		out = append(out, usageRow(row))
	}
	return writeJSON(w, http.StatusOK, UsageResponse{By: uq.By, Granularity: cmpOr(uq.Granularity, store.GranularityTotal),
		Since: timeJSON(uq.Since), Until: timeJSON(uq.Until), Rows: out})
}

// csvHeader is the header row of /admin/usage.csv.
var csvHeader = []string{"time", "group", "name", "requests", "errors", "unpriced", "input_tokens", "output_tokens",
	"cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens", "total_tokens", "cost_usd"}

func (a *API) usageCSV(w http.ResponseWriter, r *http.Request) error {
	uq, err := a.usageQuery(r)
	if err != nil {
		return err
	}
	rows, err := a.usageRows(r.Context(), uq)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="tollgate-usage-by-`+uq.By+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	i := strconv.FormatInt
	for _, row := range rows {
		t := ""
		if !row.Time.IsZero() {
			t = row.Time.UTC().Format(time.RFC3339)
		}
		cw.Write([]string{t, csvSafe(row.Group), csvSafe(row.Name), i(row.Requests, 10), i(row.Errors, 10),
			i(row.Unpriced, 10), i(row.Tokens.Input, 10), i(row.Tokens.Output, 10), i(row.Tokens.CacheWrite5m, 10),
			i(row.Tokens.CacheWrite1h, 10), i(row.Tokens.CacheRead, 10), i(row.Tokens.Total(), 10), FormatUSD(row.CostMicros)})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formulas: tag values and session ids come
// from request headers, and a cell starting with = + - @ would run as a
// formula when the export is opened in a spreadsheet.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

// spend answers GET /admin/spend[?key=|user=|team=]: every budget with
// what the gateway enforces for it in the current period (see
// Options.Enforcer).
func (a *API) spend(w http.ResponseWriter, r *http.Request) error {
	f, err := scopeFilter(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := a.opts.Now()
	all, err := a.st.ListBudgets(ctx, f)
	if err != nil {
		return err
	}
	sc, err := a.scopeOf(ctx)
	if err != nil {
		return err
	}
	budgets := all[:0:0]
	for _, b := range all {
		if sc.scope(b.ScopeKind, b.ScopeID) {
			budgets = append(budgets, b)
		}
	}
	d, err := a.directory(ctx)
	if err != nil {
		return err
	}
	var fromStore *limits.Ledger // loaded on first need
	out := make([]BudgetSpend, 0, len(budgets))
	for _, b := range budgets {
		var st limits.BudgetStatus
		ok := false
		if a.opts.Enforcer != nil {
			st, ok = a.opts.Enforcer.Status(b.ID)
		}
		if !ok {
			if fromStore == nil {
				if fromStore, err = a.storeLedger(ctx, budgets, now); err != nil {
					return err
				}
			}
			if st, ok = fromStore.Status(b.ID); !ok {
				return apierror.Gateway(nil, "budget %s cannot be enforced", b.ID)
			}
		}
		out = append(out, d.spend(b, st))
	}
	slices.SortStableFunc(out, func(x, y BudgetSpend) int {
		return byScope(x.ScopeKind, x.Scope, x.Period, y.ScopeKind, y.Scope, y.Period)
	})
	return writeJSON(w, http.StatusOK, SpendResponse{At: timeJSON(now), Budgets: out})
}

// storeLedger returns a ledger of budgets loaded from the store's hourly
// rollups: what a gateway starting now would enforce.
func (a *API) storeLedger(ctx context.Context, budgets []store.Budget, now time.Time) (*limits.Ledger, error) {
	l := limits.NewLedger(func() time.Time { return now })
	lbs := make([]limits.Budget, 0, len(budgets))
	for _, b := range budgets {
		lb, err := b.Limits()
		if err != nil {
			return nil, apierror.Gateway(err, "budget %s cannot be enforced", b.ID)
		}
		lbs = append(lbs, lb)
	}
	err := l.Load(lbs, func(b limits.Budget, since time.Time) (limits.Amount, error) {
		micros, tokens, err := a.st.SpendSince(ctx, string(b.Scope.Kind), b.Scope.ID, since)
		return limits.Amount{Micros: micros, Tokens: tokens}, err
	})
	return l, err
}
