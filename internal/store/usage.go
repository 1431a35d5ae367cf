package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

const hourMS = int64(time.Hour / time.Millisecond)

// floorHour returns the start of the UTC hour containing unix ms v.
func floorHour(v int64) int64 {
	if v < 0 {
		return v - (hourMS+v%hourMS)%hourMS
	}
	return v - v%hourMS
}

const dayMS = 24 * hourMS

// floorDay returns the start of the UTC day containing unix ms v.
func floorDay(v int64) int64 {
	if v < 0 {
		return v - (dayMS+v%dayMS)%dayMS
	}
	return v - v%dayMS
}

// counters are the additive columns of the rollup tables.
type counters struct {
	requests, errors, unpriced int64
	tokens                     tokens.Counts
	cost                       int64
	attempts                   int64
}

func (c *counters) add(r *usage.Record) {
	c.requests++
	if r.ErrorOrigin != "" || r.Status >= 400 {
		c.errors++
	}
	if r.Unpriced {
		c.unpriced++
	}
	c.tokens.Add(r.Tokens)
	c.cost += r.CostMicros
	c.attempts += int64(r.Attempts)
}

func (c *counters) args() []any {
	return append(append([]any{c.requests, c.errors, c.unpriced}, tokenArgs(c.tokens)...), c.cost, c.attempts)
}

// tokenArgs are the token columns' arguments, in the order of the columns
// (input, output, cache_write_5m, cache_write_1h, cache_read) in every
// insert and upsert here and every sum in query.go.
func tokenArgs(t tokens.Counts) []any {
	return []any{t.Input, t.Output, t.CacheWrite5m, t.CacheWrite1h, t.CacheRead}
}

type hourKey struct {
	hour                   int64
	key, user, team, model string
}

type tagKey struct {
	hour              int64
	key, value, model string
}

const (
	usageCols = `request_id, ts_ms, key_id, key_alias, user_id, team_id, session_id, tags, model_requested, model,
		upstream_model, provider, region, door, stream, status, error_origin, latency_ms, ttft_ms, input_tokens,
		output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, cost_micros, unpriced, attempts`
	usageNCols  = 27
	counterCols = `requests, errors, unpriced, input_tokens, output_tokens, cache_write_5m_tokens,
		cache_write_1h_tokens, cache_read_tokens, cost_micros, attempts`
	counterUpdate = `requests = %[1]s.requests + excluded.requests, errors = %[1]s.errors + excluded.errors,
		unpriced = %[1]s.unpriced + excluded.unpriced, input_tokens = %[1]s.input_tokens + excluded.input_tokens,
		output_tokens = %[1]s.output_tokens + excluded.output_tokens,
		cache_write_5m_tokens = %[1]s.cache_write_5m_tokens + excluded.cache_write_5m_tokens,
		cache_write_1h_tokens = %[1]s.cache_write_1h_tokens + excluded.cache_write_1h_tokens,
		cache_read_tokens = %[1]s.cache_read_tokens + excluded.cache_read_tokens,
		cost_micros = %[1]s.cost_micros + excluded.cost_micros, attempts = %[1]s.attempts + excluded.attempts`
	// chunkRows bounds the rows of one multi-row INSERT: 200 × 27 = 5,400
	// parameters, well under SQLite's 32,766 and PostgreSQL's 65,535.
	chunkRows = 200
)

// The columns of a call's details, before the others in every usage row
// insert (see insertUsage): what the console's page of a call shows.
const (
	detailCols  = `error_message, upstream_request_id`
	detailNCols = 2
)

// values returns "($1, …, $cols), (…)" for n rows of cols parameters. On
// SQLite it writes plain "?" instead: SQLite looks numbered parameters up in
// a list, so binding thousands of "$n" costs time quadratic in their number
// (a 500-row batch went from 20 ms to 480 ms), while "?" is numbered by
// position for free. Both mean the same here, as every parameter is used
// once, in order.
func (s *Store) values(n, cols int) string {
	var b strings.Builder
	b.Grow(n * cols * 5)
	p := 1
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			if s.engine == EngineSQLite {
				b.WriteByte('?')
				continue
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// InsertUsage writes a batch of usage records in one transaction: the raw
// rows, the hourly rollups per (key, user, team, model) and per (tag, model),
// and the keys' last_used_at. The rollups are aggregated in memory first, so
// a batch of 500 rows usually touches only a handful of rollup rows, and they
// are upserted in a fixed order, so concurrent batches on PostgreSQL cannot
// deadlock. Either all of the batch is stored or none of it.
//
// A record is stored once per request id: a record whose request id is
// already stored (a spool replayed after a crash that followed the commit,
// or the same record handed to two replicas' writers) is skipped, and so
// is a repeat within the batch, and only the rows actually inserted are
// added to the rollups. Rollups are increments (`+ excluded`), never
// recomputed from raw rows, so replicas writing at the same time each add
// their own rows exactly once. Records with an empty request id are always
// stored.
//
// A record with a zero Time is stored at the time of the call. Every text is
// cleaned first (see cleanRecord), so no client-supplied byte can make the
// database refuse the batch. An error caused by the records themselves (a
// value the engine still refuses) wraps usage.ErrRejected, so the writer
// isolates the record at fault instead of retrying the batch forever.
func (s *Store) InsertUsage(ctx context.Context, recs []usage.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := s.insertUsage(ctx, recs); err != nil {
		if isDataError(err) {
			return fmt.Errorf("%w: %w", usage.ErrRejected, err)
		}
		return err
	}
	return nil
}

func (s *Store) insertUsage(ctx context.Context, dirty []usage.Record) error {
	recs := make([]usage.Record, 0, len(dirty))
	seen := make(map[string]bool, len(dirty))
	for i := range dirty {
		r := cleanRecord(dirty[i])
		if r.RequestID != "" {
			if seen[r.RequestID] {
				continue
			}
			seen[r.RequestID] = true
		}
		recs = append(recs, r)
	}
	now := s.now().UnixMilli()
	ts := make([]int64, len(recs))
	raw := make([]any, 0, len(recs)*(usageNCols+detailNCols))
	for i := range recs {
		r := &recs[i]
		ts[i] = now
		if !r.Time.IsZero() {
			ts[i] = r.Time.UnixMilli()
		}
		raw = append(raw, r.ErrorMessage, r.UpstreamRequestID) // detailCols come first
		raw = append(raw, r.RequestID, ts[i], r.KeyID, r.KeyAlias, r.UserID, r.TeamID, r.SessionID,
			encodeJSON(nonNilMap(r.Tags)), r.ModelRequested, r.Model, r.UpstreamModel, r.Provider, r.Region, r.Door,
			r.Stream, int64(r.Status), r.ErrorOrigin, r.LatencyMs, r.TTFTMs)
		raw = append(raw, tokenArgs(r.Tokens)...)
		raw = append(raw, r.CostMicros, r.Unpriced, int64(r.Attempts))
	}

	return s.write(ctx, func(tx *sql.Tx) error {
		inserted, err := s.insertUsageRows(ctx, tx, raw)
		if err != nil {
			return fmt.Errorf("store: insert usage: %w", err)
		}
		hourly := map[hourKey]*counters{}
		daily := map[hourKey]*counters{} // hour is the UTC day here
		tagged := map[tagKey]*counters{}
		lastUsed := map[string]int64{}
		for i := range recs {
			r := &recs[i]
			if r.RequestID != "" && !inserted[r.RequestID] {
				continue // stored before: already in the rollups
			}
			hour := floorHour(ts[i])
			hk := hourKey{hour, r.KeyID, r.UserID, r.TeamID, r.Model}
			c := hourly[hk]
			if c == nil {
				c = &counters{}
				hourly[hk] = c
			}
			c.add(r)
			dk := hk
			dk.hour = floorDay(ts[i])
			if daily[dk] == nil {
				daily[dk] = &counters{}
			}
			daily[dk].add(r)
			for k, v := range r.Tags {
				tk := tagKey{hour, k, v, r.Model}
				c := tagged[tk]
				if c == nil {
					c = &counters{}
					tagged[tk] = c
				}
				c.add(r)
			}
			if r.KeyID != "" && ts[i] > lastUsed[r.KeyID] {
				lastUsed[r.KeyID] = ts[i]
			}
		}

		hourKeys := sortedKeys(hourly, func(a, b hourKey) int {
			return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.key, b.key), cmp.Compare(a.user, b.user),
				cmp.Compare(a.team, b.team), cmp.Compare(a.model, b.model))
		})
		tagKeys := sortedKeys(tagged, func(a, b tagKey) int {
			return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.key, b.key), cmp.Compare(a.value, b.value),
				cmp.Compare(a.model, b.model))
		})
		keyIDs := sortedKeys(lastUsed, strings.Compare)

		const hourlyCols = 5 + 10
		hourlyArgs := make([]any, 0, len(hourKeys)*hourlyCols)
		for _, k := range hourKeys {
			hourlyArgs = append(hourlyArgs, k.hour, k.key, k.user, k.team, k.model)
			hourlyArgs = append(hourlyArgs, hourly[k].args()...)
		}
		const tagCols = 4 + 10
		tagArgs := make([]any, 0, len(tagKeys)*tagCols)
		for _, k := range tagKeys {
			tagArgs = append(tagArgs, k.hour, k.key, k.value, k.model)
			tagArgs = append(tagArgs, tagged[k].args()...)
		}

		err = s.insertRows(ctx, tx, `INSERT INTO usage_hourly (hour_ms, key_id, user_id, team_id, model, `+counterCols+`)`,
			` ON CONFLICT (hour_ms, key_id, user_id, team_id, model) DO UPDATE SET `+fmt.Sprintf(counterUpdate, "usage_hourly"),
			hourlyCols, hourlyArgs)
		if err != nil {
			return fmt.Errorf("store: update hourly rollup: %w", err)
		}
		// The daily rollup is upserted in the same order as the hourly
		// one, so it cannot deadlock either.
		dayKeys := sortedKeys(daily, func(a, b hourKey) int {
			return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.key, b.key), cmp.Compare(a.user, b.user),
				cmp.Compare(a.team, b.team), cmp.Compare(a.model, b.model))
		})
		dailyArgs := make([]any, 0, len(dayKeys)*hourlyCols)
		for _, k := range dayKeys {
			dailyArgs = append(dailyArgs, k.hour, k.key, k.user, k.team, k.model)
			dailyArgs = append(dailyArgs, daily[k].args()...)
		}
		err = s.insertRows(ctx, tx, `INSERT INTO usage_daily (day_ms, key_id, user_id, team_id, model, `+counterCols+`)`,
			` ON CONFLICT (day_ms, key_id, user_id, team_id, model) DO UPDATE SET `+fmt.Sprintf(counterUpdate, "usage_daily"),
			hourlyCols, dailyArgs)
		if err != nil {
			return fmt.Errorf("store: update daily rollup: %w", err)
		}
		err = s.insertRows(ctx, tx, `INSERT INTO usage_tag_hourly (hour_ms, tag_key, tag_value, model, `+counterCols+`)`,
			` ON CONFLICT (hour_ms, tag_key, tag_value, model) DO UPDATE SET `+fmt.Sprintf(counterUpdate, "usage_tag_hourly"),
			tagCols, tagArgs)
		if err != nil {
			return fmt.Errorf("store: update tag rollup: %w", err)
		}
		for _, id := range keyIDs {
			if _, err := tx.ExecContext(ctx, `UPDATE keys SET last_used_at = $2
				WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`, id, lastUsed[id]); err != nil {
				return fmt.Errorf("store: update key last use: %w", err)
			}
		}
		return nil
	})
}

// insertUsageRows inserts the raw usage rows in args, skipping those whose
// request id is already stored (the unique index usage_records_request), and
// returns the request ids it inserted. On PostgreSQL the unique check
// waits for a concurrent transaction inserting the same request id, so of
// two replicas racing with one record exactly one inserts it.
func (s *Store) insertUsageRows(ctx context.Context, tx *sql.Tx, args []any) (map[string]bool, error) {
	const cols = usageNCols + detailNCols
	inserted := make(map[string]bool, len(args)/cols)
	for start := 0; start < len(args); start += chunkRows * cols {
		end := min(start+chunkRows*cols, len(args))
		q := `INSERT INTO usage_records (` + detailCols + `, ` + usageCols + `) VALUES ` + s.values((end-start)/cols, cols) +
			` ON CONFLICT DO NOTHING RETURNING request_id`
		rows, err := tx.QueryContext(ctx, q, args[start:end]...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			inserted[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return inserted, nil
}

// cleanText returns v as text every engine stores: invalid UTF-8 sequences
// become U+FFFD and NUL bytes are removed. PostgreSQL's text type refuses
// both (SQLSTATE 22021), and much of a usage row comes from the client (the
// model name, the session id, x-tollgate-tags): one such byte used to fail
// the whole batch, and with it every later one. SQLite would store the
// bytes, but the same row must read the same on both engines.
func cleanText(v string) string {
	if utf8.ValidString(v) && strings.IndexByte(v, 0) < 0 {
		return v // the common case: no allocation
	}
	return strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "")
}

// cleanRecord returns r with every text that reaches a usage row or a
// rollup passed through cleanText. It is the one place where the store
// makes usage text storable; the front doors reject such input too, but
// usage must be written even when something slips past them.
func cleanRecord(r usage.Record) usage.Record {
	for _, f := range []*string{&r.RequestID, &r.KeyID, &r.KeyAlias, &r.UserID, &r.TeamID, &r.SessionID,
		&r.ModelRequested, &r.Model, &r.UpstreamModel, &r.Provider, &r.Region, &r.Door, &r.ErrorOrigin,
		&r.ErrorMessage, &r.UpstreamRequestID} {
		*f = cleanText(*f)
	}
	if len(r.ErrorMessage) > usage.MaxErrorMessage {
		r.ErrorMessage = strings.ToValidUTF8(r.ErrorMessage[:usage.MaxErrorMessage], "")
	}
	if len(r.Tags) > 0 {
		tags := make(map[string]string, len(r.Tags))
		for k, v := range r.Tags {
			tags[cleanText(k)] = cleanText(v)
		}
		r.Tags = tags
	}
	return r
}

// isDataError reports whether err is the database refusing a value rather
// than failing to answer: a PostgreSQL data exception or integrity
// violation (SQLSTATE classes 22 and 23), or an SQLite constraint, type
// mismatch or too-big error. Retrying such a write can never succeed.
func isDataError(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG:
			return true
		}
	}
	return false
}

// insertRows runs `insert VALUES (…), … onConflict` for the rows in args,
// cols parameters a row, chunkRows rows per statement.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, insert, onConflict string, cols int, args []any) error {
	for start := 0; start < len(args); start += chunkRows * cols {
		end := min(start+chunkRows*cols, len(args))
		q := insert + ` VALUES ` + s.values((end-start)/cols, cols) + onConflict
		if _, err := tx.ExecContext(ctx, q, args[start:end]...); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[K comparable, V any](m map[K]V, cmp func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp)
	return keys
}

// purgeChunk bounds the rows one PurgeUsage transaction deletes, so the
// usage writer is never blocked behind one huge delete.
const purgeChunk = 5000

// purgeLockID is the pg_try_advisory_lock key a replica holds while it
// purges usage rows ("purgeusg" in ASCII).
const purgeLockID = 0x7075726765757367

// ErrPurgeBusy is returned by PurgeUsage when another replica is purging
// the same PostgreSQL database; the caller skips this round.
var ErrPurgeBusy = errors.New("store: another replica is purging usage rows")

// PurgeUsage deletes raw usage rows older than before, in chunks, and
// returns how many it deleted. Rollups are kept: charts and budgets never
// need raw rows.
//
// On PostgreSQL every replica runs the hourly purge, but only one at a time
// does the work: the purge holds a session advisory lock (purgeLockID) on
// its own connection for its whole run, and a replica that cannot take it
// at once returns ErrPurgeBusy instead of repeating the same deletes. The
// lock is released with the connection, so a replica that dies mid-purge
// never blocks the others. On SQLite the single writer serialises purges.
func (s *Store) PurgeUsage(ctx context.Context, before time.Time) (int64, error) {
	if s.engine != EnginePostgres {
		return purgeUsage(ctx, s.w, before)
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: purge usage: connect: %w", err)
	}
	defer conn.Close()
	var locked bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, int64(purgeLockID)).Scan(&locked); err != nil {
		return 0, fmt.Errorf("store: purge usage: lock: %w", err)
	}
	if !locked {
		return 0, ErrPurgeBusy
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(purgeLockID))
	return purgeUsage(ctx, conn, before)
}

// execer is what purgeUsage needs of a *sql.DB or *sql.Conn.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func purgeUsage(ctx context.Context, db execer, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := db.ExecContext(ctx, `DELETE FROM usage_records WHERE id IN
			(SELECT id FROM usage_records WHERE ts_ms < $1 ORDER BY ts_ms LIMIT $2)`, before.UnixMilli(), purgeChunk)
		if err != nil {
			return total, fmt.Errorf("store: purge usage: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: purge usage: %w", err)
		}
		total += n
		if n < purgeChunk {
			return total, nil
		}
	}
}

var scopeColumn = map[string]string{ScopeKey: "key_id", ScopeUser: "user_id", ScopeTeam: "team_id"}

// SpendSince returns the cost in micro-USD and the tokens (all kinds) that a
// key, user or team (by id) has used since since, read from the hourly
// rollups. It initialises budget counters at start and after reloads.
//
// Rollups are hourly, so since is rounded down to the start of its UTC
// hour. Period starts in zones with a whole-hour offset are exact; in zones
// offset by :30 or :45 (India, Nepal, parts of Australia) up to 45 minutes of
// the previous period are counted too: the error is on the side of refusing
// early, never of overspending.
func (s *Store) SpendSince(ctx context.Context, scopeKind, scopeID string, since time.Time) (micros, tokens int64, err error) {
	return spendSince(ctx, s.r, scopeKind, scopeID, since)
}

func spendSince(ctx context.Context, q queryer, scopeKind, scopeID string, since time.Time) (micros, tokens int64, err error) {
	col, ok := scopeColumn[scopeKind]
	if !ok {
		return 0, 0, invalid("unknown scope %q: want key, user or team", scopeKind)
	}
	if scopeID == "" {
		return 0, 0, invalid("empty %s id", scopeKind)
	}
	err = q.QueryRowContext(ctx, `SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT),
		CAST(COALESCE(SUM(input_tokens + output_tokens + cache_write_5m_tokens + cache_write_1h_tokens + cache_read_tokens), 0) AS BIGINT)
		FROM usage_hourly WHERE `+col+` = $1 AND hour_ms >= $2`, scopeID, floorHour(since.UnixMilli())).Scan(&micros, &tokens)
	if err != nil {
		return 0, 0, fmt.Errorf("store: spend of %s %s: %w", scopeKind, scopeID, err)
	}
	return micros, tokens, nil
}
