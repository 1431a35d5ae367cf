package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// Dimensions of a usage query (UsageQuery.By).
const (
	ByKey     = "key"
	ByUser    = "user"
	ByTeam    = "team"
	ByModel   = "model"
	ByTag     = "tag"
	BySession = "session"
)

// Granularities of a usage query.
const (
	GranularityHour  = "hour"
	GranularityDay   = "day"
	GranularityTotal = "total"
)

// UsageQuery selects usage grouped by one dimension over a time range.
type UsageQuery struct {
	By  string // ByKey, ByUser, ByTeam, ByModel, ByTag or BySession
	Tag string // the tag name to group by when By is ByTag ("repo")

	// Since and Until bound the range [Since, Until); zero means unbounded.
	// Rollups are hourly, so both are effectively rounded down to the UTC
	// hour (an hour is included when it starts before Until); BySession reads
	// raw rows and is exact to the millisecond.
	Since, Until time.Time

	Granularity string // GranularityHour, GranularityDay or GranularityTotal (default)
	// Timezone is the IANA zone whose midnights bound GranularityDay buckets
	// (default UTC). Days are made of whole UTC hours, so in :30 zones a day
	// bucket is shifted by half an hour.
	Timezone string

	// Filters; "" matches everything. Key, user and team accept ids or
	// names; an id that no longer exists (a deleted key) still matches its
	// old usage. ByTag queries can filter by Model only: the tag rollup
	// carries no key, user or team.
	KeyID, UserID, TeamID, Model string
}

// UsageRow is one bucket of one group.
type UsageRow struct {
	Time  time.Time // bucket start; zero for GranularityTotal
	Group string    // key id, user id, team id, model, tag value or session id ("" = none)
	Name  string    // key alias, user or team name; "" when none or deleted

	Requests int64
	Errors   int64 // requests with an error origin or a status >= 400
	Unpriced int64 // requests whose model had no price

	Tokens     tokens.Counts
	CostMicros int64
	// Attempts is the upstream attempts the requests took: more than
	// Requests when some were retried or fell back. Rows stored before
	// migration 0010 count 0.
	Attempts int64
}

func (r *UsageRow) add(o *UsageRow) {
	r.Requests += o.Requests
	r.Errors += o.Errors
	r.Unpriced += o.Unpriced
	r.Attempts += o.Attempts
	r.Tokens.Add(o.Tokens)
	r.CostMicros += o.CostMicros
}

const sumCounters = `CAST(SUM(requests) AS BIGINT), CAST(SUM(errors) AS BIGINT), CAST(SUM(unpriced) AS BIGINT),
	CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT),
	CAST(SUM(cache_write_5m_tokens) AS BIGINT), CAST(SUM(cache_write_1h_tokens) AS BIGINT),
	CAST(SUM(cache_read_tokens) AS BIGINT), CAST(SUM(cost_micros) AS BIGINT), CAST(SUM(attempts) AS BIGINT)`

const sumRaw = `CAST(COUNT(*) AS BIGINT),
	CAST(SUM(CASE WHEN error_origin <> '' OR status >= 400 THEN 1 ELSE 0 END) AS BIGINT),
	CAST(SUM(CASE WHEN unpriced THEN 1 ELSE 0 END) AS BIGINT),
	CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT),
	CAST(SUM(cache_write_5m_tokens) AS BIGINT), CAST(SUM(cache_write_1h_tokens) AS BIGINT),
	CAST(SUM(cache_read_tokens) AS BIGINT), CAST(SUM(cost_micros) AS BIGINT), CAST(SUM(attempts) AS BIGINT)`

// Usage answers a usage query from the hourly rollups (BySession: from raw
// rows, so only within the raw-row retention). Rows come ordered by time,
// then group.
func (s *Store) Usage(ctx context.Context, q UsageQuery) ([]UsageRow, error) {
	if q.Granularity == "" {
		q.Granularity = GranularityTotal
	}
	switch q.Granularity {
	case GranularityHour, GranularityDay, GranularityTotal:
	default:
		return nil, invalid("unknown granularity %q: want hour, day or total", q.Granularity)
	}
	loc, err := LoadLocation(q.Timezone)
	if err != nil {
		return nil, err
	}
	since, until := int64(0), int64(math.MaxInt64)
	if !q.Since.IsZero() {
		since = max(0, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		until = q.Until.UnixMilli()
	}
	bucketed := q.Granularity != GranularityTotal

	var rows []UsageRow
	err = s.read(ctx, func(tx *sql.Tx) error {
		var err error
		for _, f := range []struct {
			kind string
			ref  *string
		}{{ScopeKey, &q.KeyID}, {ScopeUser, &q.UserID}, {ScopeTeam, &q.TeamID}} {
			if *f.ref == "" {
				continue
			}
			id, err := resolve(ctx, tx, f.kind, *f.ref)
			if err == nil {
				*f.ref = id
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		var query string
		var args []any
		switch q.By {
		case ByKey, ByUser, ByTeam, ByModel:
			// Whole UTC days are read from the daily rollup when the
			// buckets allow it (totals, or days in UTC); the hours before
			// the first and after the last whole day from the hourly one.
			group := map[string]string{ByKey: "key_id", ByUser: "user_id", ByTeam: "team_id", ByModel: "model"}[q.By]
			from, to := floorHour(since), until
			d0, d1 := wholeDays(from, to)
			daily := d0 < d1 && (q.Granularity == GranularityTotal || (q.Granularity == GranularityDay && loc == time.UTC))
			parts := [][3]any{{"usage_hourly", from, to}}
			if daily {
				parts = [][3]any{{"usage_hourly", from, d0}, {"usage_daily", d0, d1}, {"usage_hourly", d1, to}}
			}
			for _, p := range parts {
				table, lo, hi := p[0].(string), p[1].(int64), p[2].(int64)
				if lo >= hi {
					continue
				}
				col := "hour_ms"
				if table == "usage_daily" {
					col = "day_ms"
				}
				bucket := "CAST(0 AS BIGINT)"
				groupBy := group
				if bucketed {
					bucket, groupBy = col, col+", "+group
				}
				part, err := queryAll(ctx, tx, "usage query", scanUsageRow, `SELECT `+bucket+`, `+group+`, `+sumCounters+` FROM `+table+`
					WHERE `+col+` >= $1 AND `+col+` < $2 AND ($3 = '' OR key_id = $3) AND ($4 = '' OR user_id = $4)
					AND ($5 = '' OR team_id = $5) AND ($6 = '' OR model = $6) GROUP BY `+groupBy,
					lo, hi, q.KeyID, q.UserID, q.TeamID, q.Model)
				if err != nil {
					return err
				}
				rows = append(rows, part...)
			}
			if daily && !bucketed {
				rows = mergeGroups(rows)
			}
			return s.nameRows(ctx, tx, q.By, rows)
		case ByTag:
			if q.Tag == "" {
				return invalid("a usage query by tag needs the tag name")
			}
			if q.KeyID != "" || q.UserID != "" || q.TeamID != "" {
				return invalid("usage by tag can be filtered by model only")
			}
			bucket := "CAST(0 AS BIGINT)"
			groupBy := "tag_value"
			if bucketed {
				bucket, groupBy = "hour_ms", "hour_ms, tag_value"
			}
			query = `SELECT ` + bucket + `, tag_value, ` + sumCounters + ` FROM usage_tag_hourly
				WHERE hour_ms >= $1 AND hour_ms < $2 AND tag_key = $3 AND ($4 = '' OR model = $4) GROUP BY ` + groupBy
			args = []any{floorHour(since), until, q.Tag, q.Model}
		case BySession:
			bucket := "CAST(0 AS BIGINT)"
			groupBy := "session_id"
			if bucketed {
				bucket = "(ts_ms / 3600000) * 3600000"
				groupBy = bucket + ", session_id"
			}
			query = `SELECT ` + bucket + `, session_id, ` + sumRaw + ` FROM usage_records
				WHERE ts_ms >= $1 AND ts_ms < $2 AND session_id <> '' AND ($3 = '' OR key_id = $3)
				AND ($4 = '' OR user_id = $4) AND ($5 = '' OR team_id = $5) AND ($6 = '' OR model = $6)
				GROUP BY ` + groupBy
			args = []any{since, until, q.KeyID, q.UserID, q.TeamID, q.Model}
		default:
			return invalid("unknown usage dimension %q: want key, user, team, model, tag or session", q.By)
		}
		rows, err = queryAll(ctx, tx, "usage query", scanUsageRow, query, args...)
		if err != nil {
			return err
		}
		return s.nameRows(ctx, tx, q.By, rows)
	})
	if err != nil {
		return nil, err
	}
	if q.Granularity == GranularityDay {
		rows = foldDays(rows, loc)
	}
	slices.SortFunc(rows, func(a, b UsageRow) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Group, b.Group))
	})
	return rows, nil
}

// scanUsageRow reads a row of the queries Usage builds: the bucket start (0
// when not bucketed), the group, then the counters.
func scanUsageRow(sc scanner) (UsageRow, error) {
	var r UsageRow
	var bucket int64
	if err := sc.Scan(&bucket, &r.Group, &r.Requests, &r.Errors, &r.Unpriced, &r.Tokens.Input, &r.Tokens.Output,
		&r.Tokens.CacheWrite5m, &r.Tokens.CacheWrite1h, &r.Tokens.CacheRead, &r.CostMicros, &r.Attempts); err != nil {
		return UsageRow{}, err
	}
	if bucket != 0 {
		r.Time = time.UnixMilli(bucket).UTC()
	}
	return r, nil
}

// nameRows fills in the key aliases and user and team names of rows.
func (s *Store) nameRows(ctx context.Context, tx *sql.Tx, by string, rows []UsageRow) error {
	query := map[string]string{
		ByKey:  `SELECT id, alias FROM keys`,
		ByUser: `SELECT id, name FROM users`,
		ByTeam: `SELECT id, name FROM teams`,
	}[by]
	if query == "" || len(rows) == 0 {
		return nil
	}
	names := map[string]string{}
	if err := pairs(ctx, tx, query, func(id, name string) { names[id] = name }); err != nil {
		return err
	}
	for i := range rows {
		rows[i].Name = names[rows[i].Group]
	}
	return nil
}

// wholeDays returns the UTC days [d0, d1) whose every hour an hourly query
// of [from, to) would include (an hour h is included when from <= h < to);
// d0 >= d1 when there is none.
func wholeDays(from, to int64) (d0, d1 int64) {
	if to == math.MaxInt64 || to <= from {
		return 0, 0
	}
	d0 = floorDay(from)
	if d0 < from {
		d0 += dayMS
	}
	// Day d is whole when its last hour, d+23h, is before to.
	last := to - 23*hourMS - 1
	if last < 0 {
		return 0, 0
	}
	d1 = floorDay(last) + dayMS
	return d0, d1
}

// mergeGroups sums rows of the same group (totals read from two rollups).
func mergeGroups(rows []UsageRow) []UsageRow {
	index := map[string]int{}
	out := rows[:0:0]
	for _, r := range rows {
		if i, ok := index[r.Group]; ok {
			out[i].add(&r)
			continue
		}
		index[r.Group] = len(out)
		out = append(out, r)
	}
	return out
}

// foldDays merges hourly rows into days starting at midnight in loc.
func foldDays(rows []UsageRow, loc *time.Location) []UsageRow {
	type k struct {
		day   int64
		group string
	}
	index := map[k]int{}
	var out []UsageRow
	for _, r := range rows {
		t := r.Time.In(loc)
		y, m, d := t.Date()
		day := time.Date(y, m, d, 0, 0, 0, 0, loc)
		key := k{day.UnixMilli(), r.Group}
		if i, ok := index[key]; ok {
			out[i].add(&r)
			continue
		}
		r.Time = day.UTC()
		index[key] = len(out)
		out = append(out, r)
	}
	return out
}
