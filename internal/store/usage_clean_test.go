package store_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// dirty is text a client can put in a usage row: a NUL (in a JSON model
// name), a byte that is not UTF-8 (%ff in a Bedrock model id, Latin-1 in a
// header). PostgreSQL's text type refuses both (SQLSTATE 22021).
const dirty = "claude-sonnet-4-5\x00\xff\xe9"

// openDSN opens a fresh store of the engine the subtest runs on and returns
// its DSN too, for raw SQL.
func openDSN(t *testing.T) (*store.Store, string) {
	t.Helper()
	dsn := storetest.SQLiteDSN(t)
	if strings.HasSuffix(t.Name(), store.EnginePostgres) {
		dsn = storetest.PostgresDSN(t)
	}
	s, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

func TestInsertUsageCleansText(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		r := usage.Record{RequestID: "req-" + dirty, Time: base, KeyID: dirty, KeyAlias: dirty, UserID: dirty,
			TeamID: dirty, SessionID: dirty, Tags: map[string]string{"repo\x00\xff": dirty}, ModelRequested: dirty,
			Model: dirty, UpstreamModel: dirty, Provider: dirty, Region: dirty, Door: dirty, ErrorOrigin: dirty,
			Status: 200, Tokens: tokens.Counts{Input: 10}, CostMicros: 7}
		good := usage.Record{RequestID: "req-good", Time: base, Model: "claude-haiku-4-5", Tokens: tokens.Counts{Input: 1}}
		if err := s.InsertUsage(ctx, []usage.Record{good, r}); err != nil {
			t.Fatalf("InsertUsage with NUL and invalid UTF-8: %v", err)
		}
		const clean = "claude-sonnet-4-5\uFFFD" // NUL removed, the run of bad bytes one U+FFFD
		rows, err := s.Usage(ctx, store.UsageQuery{By: store.ByModel})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, row := range rows {
			got[row.Group] = row.Requests
		}
		if len(got) != 2 || got[clean] != 1 || got["claude-haiku-4-5"] != 1 {
			t.Errorf("usage by model = %v, want one request each of %q and claude-haiku-4-5", got, clean)
		}
		tags, err := s.Usage(ctx, store.UsageQuery{By: store.ByTag, Tag: "repo\uFFFD"})
		if err != nil || len(tags) != 1 || tags[0].Group != clean {
			t.Errorf("usage by tag = %+v, %v, want the cleaned tag value %q", tags, err, clean)
		}
		sessions, err := s.Usage(ctx, store.UsageQuery{By: store.BySession})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, row := range sessions {
			found = found || row.Group == clean
		}
		if !found {
			t.Errorf("usage by session = %+v, want the cleaned session %q", sessions, clean)
		}
	})
}

// poison makes the database refuse any usage row whose model is "poison",
// as PostgreSQL refuses a NUL byte, through a trigger: a value that no
// cleaning removes, to test what happens when the store still refuses one.
func poison(t *testing.T, dsn string) {
	t.Helper()
	db := rawDB(t, dsn)
	stmts := []string{`CREATE TRIGGER poison BEFORE INSERT ON usage_records WHEN NEW.model = 'poison'
		BEGIN SELECT RAISE(ABORT, 'poisoned row'); END`}
	if !strings.HasPrefix(dsn, "sqlite://") {
		stmts = []string{
			`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
				IF NEW.model = 'poison' THEN RAISE EXCEPTION 'poisoned row' USING ERRCODE = '22021'; END IF;
				RETURN NEW; END $$`,
			`CREATE TRIGGER poison BEFORE INSERT ON usage_records FOR EACH ROW EXECUTE FUNCTION poison()`,
		}
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestWriterIsolatesRejectedRow runs the usage writer against a real
// database that refuses one record of a batch: every other record is
// written, the refused one is quarantined and counted, and the writer goes
// on writing.
func TestWriterIsolatesRejectedRow(t *testing.T) {
	storetest.Run(t, func(t *testing.T, _ storetest.Opener) {
		s, dsn := openDSN(t)
		poison(t, dsn)
		q, err := usage.OpenSpool(filepath.Join(t.TempDir(), "quarantine.jsonl"), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		w := usage.NewWriter(s, usage.WriterOptions{BatchSize: 50, FlushInterval: time.Hour, Quarantine: q,
			RetryBackoff: time.Millisecond, Logger: quiet()})
		for i := range 40 {
			r := usage.Record{RequestID: "req-" + string(rune('a'+i%26)) + string(rune('0'+i/26)), Time: base,
				Model: "claude-haiku-4-5", Tokens: tokens.Counts{Input: 1}, CostMicros: 10}
			if i == 17 {
				r.Model, r.RequestID = "poison", "req-poison"
			}
			w.Add(r)
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := w.Close(cctx); err != nil {
			t.Fatalf("Close: %v (the rejected row blocked the batch)", err)
		}
		st := w.Stats()
		if st.Written != 39 || st.Quarantined != 1 || st.Dropped != 0 {
			t.Errorf("Stats = %+v, want 39 written, 1 quarantined", st)
		}
		rows, err := s.Usage(ctx, store.UsageQuery{By: store.ByModel})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Group != "claude-haiku-4-5" || rows[0].Requests != 39 || rows[0].CostMicros != 390 {
			t.Errorf("usage = %+v, want the 39 good rows in the rollup", rows)
		}
		held, _, err := q.Load()
		if err != nil || len(held) != 1 || held[0].RequestID != "req-poison" {
			t.Errorf("quarantine = %+v, %v, want req-poison", held, err)
		}
	})
}

// TestWriterWritesDirtyText is the tester's reproduction: a record with a
// NUL and invalid UTF-8 among good ones. Its row and every other are
// written, none is quarantined.
func TestWriterWritesDirtyText(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		s := open(t)
		w := usage.NewWriter(s, usage.WriterOptions{FlushInterval: time.Hour, Logger: quiet()})
		for i := range 10 {
			r := usage.Record{RequestID: "req-" + string(rune('a'+i)), Time: base, Model: "claude-haiku-4-5", Tokens: tokens.Counts{Input: 1}}
			if i == 4 {
				r.Model, r.SessionID, r.Tags = dirty, dirty, map[string]string{"team": "\xe9quipe"}
			}
			w.Add(r)
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := w.Close(cctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if st := w.Stats(); st.Written != 10 || st.Quarantined != 0 {
			t.Errorf("Stats = %+v, want all 10 written", st)
		}
	})
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
