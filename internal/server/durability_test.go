package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/gateway"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

const callBody = `{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`

// readyDetails is the part of GET /readyz?verbose=1 the tests read.
type readyDetails struct {
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Details struct {
		Database struct {
			Reachable bool   `json:"reachable"`
			Error     string `json:"error"`
		} `json:"database"`
		Usage struct {
			Ready        bool   `json:"ready"`
			Backlog      int    `json:"backlog"`
			Written      int64  `json:"written"`
			FailedWrites int64  `json:"failed_writes"`
			Spilled      int64  `json:"spilled"`
			Quarantined  int64  `json:"quarantined"`
			Dropped      int64  `json:"dropped"`
			FailingSince string `json:"failing_since"`
			LastError    string `json:"last_error"`
		} `json:"usage_writer"`
	} `json:"details"`
}

func getDetails(t *testing.T, h *testutil.Harness) (int, readyDetails) {
	t.Helper()
	code, _, body := h.Do(t, "GET", "/readyz?verbose=1", "", nil)
	var d readyDetails
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("GET /readyz?verbose=1 = %d %s: %v", code, body, err)
	}
	return code, d
}

// waitFailing waits until the usage writer has seen a write fail: it writes
// every flush interval, on its own goroutine.
func waitFailing(t *testing.T, h *testutil.Harness) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for h.Gateway.Writer.Stats().FailingSince.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("the usage writer never failed: %+v", h.Gateway.Writer.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReadyzWhileDatabaseDown: keys and budgets are served from memory, and
// usage is spilled to disk, so a database that does not answer must not
// take the gateway out of its load balancer. The details say what is wrong.
func TestReadyzWhileDatabaseDown(t *testing.T) {
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) { c.Usage.FlushInterval = 20 * time.Millisecond }))
	if code, _, body := h.Do(t, "GET", "/readyz", "", nil); code != 200 {
		t.Fatalf("GET /readyz = %d %s before the outage", code, body)
	}
	h.Gateway.Store.Close() // the database stops answering
	if code, _, body := h.Post(t, "/v1/messages", callBody, nil); code != 200 {
		t.Fatalf("call with the database down = %d %s, want it served from memory", code, body)
	}
	waitFailing(t, h)
	if code, _, body := h.Do(t, "GET", "/readyz", "", nil); code != 200 {
		t.Errorf("GET /readyz = %d %s with the database down and the spill file writable, want 200", code, body)
	}
	code, d := getDetails(t, h)
	u := d.Details.Usage
	if code != 200 || d.Status != "ok" || d.Details.Database.Reachable || d.Details.Database.Error == "" ||
		!u.Ready || u.FailedWrites == 0 || u.FailingSince == "" || u.LastError == "" || u.Written != 0 {
		t.Errorf("GET /readyz?verbose=1 = %d %+v, want ok with the database unreachable and failed writes", code, d)
	}
}

// TestReadyzWhenUsageIsLost: the database answers but refuses writes (a
// full disk) and the spill file cannot be written either: usage is being
// lost, so the gateway is not ready.
func TestReadyzWhenUsageIsLost(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	blocker := filepath.Join(t.TempDir(), "spill")
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) {
		c.Database = dsn
		c.Usage.FlushInterval = 20 * time.Millisecond
		c.Usage.QueueSize = 2 // one record is half the queue: spilled at the first failure
		c.Usage.SpillPath = filepath.Join(blocker, "usage-spill.jsonl")
	}))
	// The spill file's directory turns out to be a file: spilling fails.
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db := rawPostgres(t, dsn)
	for _, q := range []string{
		`CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$`,
		`CREATE TRIGGER disk_full BEFORE INSERT ON usage_records FOR EACH ROW EXECUTE FUNCTION disk_full()`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, body := h.Post(t, "/v1/messages", callBody, nil); code != 200 {
		t.Fatalf("call = %d %s", code, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for h.Gateway.Writer.Ready() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the writer never reported lost usage: %+v", h.Gateway.Writer.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _, body := h.Do(t, "GET", "/readyz", "", nil); code != 503 {
		t.Errorf("GET /readyz = %d %s while usage can be neither written nor spilled, want 503", code, body)
	}
	code, d := getDetails(t, h)
	u := d.Details.Usage
	if code != 503 || d.Status != "not_ready" || !strings.Contains(d.Reason, "spill") || !d.Details.Database.Reachable ||
		u.Ready || u.Backlog != 1 || u.Spilled != 0 || !strings.Contains(u.LastError, "not a directory") {
		t.Errorf("GET /readyz?verbose=1 = %d %+v, want not_ready with the database reachable and one record stuck", code, d)
	}
	// Let the record go so that the harness can close.
	if _, err := db.ExecContext(t.Context(), `DROP TRIGGER disk_full ON usage_records`); err != nil {
		t.Fatal(err)
	}
}

// TestUsageOfDirtyTextIsWritten: a request whose session id and tags carry
// bytes PostgreSQL's text type refuses is refused at the door, in the
// client's format, and does not block the writer: the calls around it are
// written. (The store cleans such text too, for rows from older gateways or
// other paths: see store's TestInsertUsageCleansText.)
func TestUsageOfDirtyTextIsWritten(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) { c.Database = dsn }))
	if code, _, body := h.Post(t, "/v1/messages", callBody, map[string]string{"x-claude-code-session-id": "sess-1"}); code != 200 {
		t.Fatalf("call = %d %s", code, body)
	}
	for _, hdr := range []map[string]string{
		{"x-claude-code-session-id": "sess-\xe9t\xe9"},
		{"x-tollgate-tags": "team=\xe9quipe"},
	} {
		if code, _, body := h.Post(t, "/v1/messages", callBody, hdr); code != 400 || !strings.Contains(string(body), "invalid_request_error") {
			t.Fatalf("call with %q = %d %s, want 400 invalid_request_error", hdr, code, body)
		}
	}
	if code, _, body := h.Post(t, "/v1/messages", callBody, map[string]string{"x-claude-code-session-id": "sess-2"}); code != 200 {
		t.Fatalf("call = %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Gateway.Close(ctx); err != nil {
		t.Fatalf("closing the gateway: %v", err)
	}
	st := h.Gateway.Writer.Stats()
	if st.Written != 2 || st.Quarantined != 0 || st.Spilled != 0 {
		t.Errorf("writer stats = %+v, want both calls written", st)
	}
	s, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Usage(context.Background(), store.UsageQuery{By: store.BySession})
	if err != nil {
		t.Fatal(err)
	}
	var sessions []string
	for _, r := range rows {
		sessions = append(sessions, r.Group)
	}
	slices.Sort(sessions)
	if !slices.Equal(sessions, []string{"sess-1", "sess-2"}) {
		t.Errorf("usage by session = %q, want both clean calls", sessions)
	}
}

// TestShutdownWithDatabaseDownSpillsAndReplays: SIGTERM while the database
// is down loses no usage: the queue is spilled to the data directory, and
// the next start writes it.
func TestShutdownWithDatabaseDownSpillsAndReplays(t *testing.T) {
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) { c.Usage.FlushInterval = time.Hour }))
	p := h.NewPrincipal(t, "sam", testutil.PrincipalSpec{KeyUSD: 100})
	h.Gateway.Store.Close() // the database goes down with usage queued
	const calls = 5
	for range calls {
		if code, _, body := h.Post(t, "/v1/messages", callBody, map[string]string{"x-api-key": p.Secret}); code != 200 {
			t.Fatalf("call = %d %s", code, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Gateway.Close(ctx); err != nil {
		t.Fatalf("closing the gateway with the database down: %v, want the usage spilled", err)
	}
	if st := h.Gateway.Writer.Stats(); st.Spilled != calls || st.Dropped != 0 {
		t.Fatalf("writer stats at shutdown = %+v, want %d spilled", st, calls)
	}
	if _, err := os.Stat(h.Config.Usage.SpillPath); err != nil {
		t.Fatalf("spill file: %v", err)
	}

	// The next start, with the database back.
	g, err := gateway.FromConfig(context.Background(), h.Config, slog.New(slog.DiscardHandler), gateway.BuildOptions{
		Credentials: map[string]aws.CredentialsProvider{
			"bedrock": credentials.NewStaticCredentialsProvider(bedrocksim.DefaultAccessKeyID, bedrocksim.DefaultSecretAccessKey, ""),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := g.Writer.Stats(); st.Replayed != calls {
		t.Errorf("writer stats after restart = %+v, want %d replayed", st, calls)
	}
	if _, err := os.Stat(h.Config.Usage.SpillPath); !os.IsNotExist(err) {
		t.Errorf("spill file after replay: %v, want it removed", err)
	}
	s, err := store.Open(context.Background(), h.Config.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Usage(context.Background(), store.UsageQuery{By: store.ByKey})
	if err != nil || len(rows) != 1 || rows[0].Requests != calls || rows[0].CostMicros == 0 {
		t.Errorf("usage after restart = %+v, %v, want the %d calls of sam's key", rows, err, calls)
	}
}

// rawPostgres opens the PostgreSQL database behind dsn directly, for what
// the store does not offer (triggers that simulate failures).
func rawPostgres(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
