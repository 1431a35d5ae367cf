package faulttest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the test reads the replicas' database

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/testutil"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.BuildCleanup()
	os.Exit(code)
}

const (
	simKey   = "fault-sim-key"
	adminKey = "tga-faulttest-admin-key-0123456789abcdef"
)

// deployment is a Bedrock simulator and replicas of `tollgate serve` on one
// PostgreSQL.
type deployment struct {
	t        *testing.T
	bin, dsn string
	simURL   string
	settings string // the replicas: and usage: tuning, YAML
	replicas []*testutil.Process
	clients  []*http.Client
}

// newDeployment starts the simulator; replicas start with addReplica.
func newDeployment(t *testing.T, dsn, settings string) *deployment {
	t.Helper()
	sim := httptest.NewServer(bedrocksim.New(bedrocksim.Options{APIKey: simKey}))
	t.Cleanup(sim.Close)
	return &deployment{t: t, bin: testutil.BuildTollgate(t), dsn: dsn, simURL: sim.URL, settings: settings}
}

// addReplica starts one more `tollgate serve` with its own data directory
// (spill and quarantine files) on the shared database.
func (d *deployment) addReplica() *testutil.Process {
	t := d.t
	t.Helper()
	i := len(d.replicas)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %[1]s
database: %[2]q
usage:
  spill_path: %[1]s/usage-spill.jsonl
  quarantine_path: %[1]s/usage-quarantine.jsonl
%[4]s
metrics:
  listen: ""
log:
  level: warn
server:
  ping_interval: -1s
providers:
  bedrock:
    type: bedrock
    region: us-east-1
    endpoint: %[3]s
    api_key_env: FAULTTEST_SIM_KEY
`, dir, d.dsn, d.simURL, d.settings)
	path := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartProcess(t, fmt.Sprintf("replica%d", i), []string{d.bin, "serve", "--config", path},
		[]string{"TOLLGATE_ADMIN_KEY=" + adminKey, "FAULTTEST_SIM_KEY=" + simKey})
	d.replicas = append(d.replicas, p)
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	t.Cleanup(c.CloseIdleConnections)
	d.clients = append(d.clients, c)
	return p
}

// createKey creates a virtual key with a monthly USD budget through the
// first replica's admin API, and returns its secret and the key and budget
// ids.
func (d *deployment) createKey(alias string, limitMicros int64) (secret, keyID, budgetID string) {
	t := d.t
	t.Helper()
	body, _ := json.Marshal(map[string]any{"alias": alias, "budget_usd": fmt.Sprintf("%.6f", float64(limitMicros)/1e6), "period": "month"})
	req, _ := http.NewRequest(http.MethodPost, d.replicas[0].URL+"/admin/keys", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /admin/keys = %d %s", resp.StatusCode, raw)
	}
	var out struct {
		Secret string `json:"secret"`
		Key    struct {
			ID string `json:"id"`
		} `json:"key"`
		Budget struct {
			ID string `json:"id"`
		} `json:"budget"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Secret == "" || out.Key.ID == "" || out.Budget.ID == "" {
		t.Fatalf("POST /admin/keys: %v: %s", err, raw)
	}
	return out.Secret, out.Key.ID, out.Budget.ID
}

// answer is what a client got for one call.
type answer struct {
	replica int
	client  int    // which client sent it, -1 for none; a client's calls are sequential
	status  int    // 0: no answer (transport error)
	id      string // x-request-id
	body    string
	err     error
	at      time.Time // when the answer (or the error) arrived
}

// call sends one model call to replica i.
func (d *deployment) call(ctx context.Context, i int, secret, body string) answer {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.replicas[i].URL+"/v1/messages", strings.NewReader(body))
	req.Header.Set("x-api-key", secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.clients[i].Do(req)
	if err != nil {
		return answer{replica: i, client: -1, err: err, at: time.Now()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	a := answer{replica: i, client: -1, status: resp.StatusCode, id: resp.Header.Get("x-request-id"), body: string(raw), err: err, at: time.Now()}
	if err != nil {
		a.status = 0 // the body was cut: the client was not answered
	}
	return a
}

// waitAccepted polls every replica with the key until each admits a call
// (the key reaches the others through LISTEN/NOTIFY), and returns those
// calls' answers: they are charged like any other.
func (d *deployment) waitAccepted(secret, body string) []answer {
	t := d.t
	t.Helper()
	var out []answer
	for i := range d.replicas {
		deadline := time.Now().Add(10 * time.Second)
		for {
			a := d.call(context.Background(), i, secret, body)
			out = append(out, a)
			if a.status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d does not accept the new key: %d %.300s %v", i, a.status, a.body, a.err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out
}

// ledger collects answers from concurrent clients.
type ledger struct {
	mu  sync.Mutex
	all []answer
}

func (l *ledger) add(a ...answer) {
	l.mu.Lock()
	l.all = append(l.all, a...)
	l.mu.Unlock()
}

func (l *ledger) answers() []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]answer(nil), l.all...)
}

// row is a usage row as the database holds it.
type row struct {
	cost   int64
	status int
}

// usageRows reads the key's usage rows by request id, failing on a request
// id stored twice (which the unique index should make impossible).
func usageRows(t *testing.T, db *sql.DB, keyID string) map[string]row {
	t.Helper()
	rs, err := db.Query(`SELECT request_id, cost_micros, status FROM usage_records WHERE key_id = $1`, keyID)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]row{}
	for rs.Next() {
		var id string
		var r row
		if err := rs.Scan(&id, &r.cost, &r.status); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[id]; dup {
			t.Errorf("request %s has two usage rows", id)
		}
		out[id] = r
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRollup fails the test unless the key's hourly rollup counts exactly
// the requests and cost of its usage rows: a replayed or retried batch must
// not be added twice.
func checkRollup(t *testing.T, db *sql.DB, keyID string, rows map[string]row) {
	t.Helper()
	var requests, cost int64
	if err := db.QueryRow(`SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(cost_micros), 0) FROM usage_hourly WHERE key_id = $1`,
		keyID).Scan(&requests, &cost); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, r := range rows {
		want += r.cost
	}
	if requests != int64(len(rows)) || cost != want {
		t.Errorf("usage_hourly counts %d requests costing %d µUSD, want the rows' %d costing %d", requests, cost, len(rows), want)
	}
}

// settled is the budget's settled spend and its live leases in the store.
func settled(t *testing.T, db *sql.DB, budgetID string) (spent, leased int64) {
	t.Helper()
	if err := db.QueryRow(`SELECT COALESCE(SUM(spent_micros), 0) FROM budget_spend WHERE budget_id = $1`, budgetID).Scan(&spent); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COALESCE(SUM(leased_micros), 0) FROM budget_leases WHERE budget_id = $1`, budgetID).Scan(&leased); err != nil {
		t.Fatal(err)
	}
	return spent, leased
}

// exactCall returns a non-streaming call whose actual cost, as the
// simulator reports it, equals its worst case (the prompt bound, all
// written to the 1-hour cache, and max_tokens of output), and that cost:
// reservations then waste nothing, so a budget of n calls admits n.
func exactCall(t *testing.T, maxTokens int) (body string, cost int64) {
	t.Helper()
	const tmpl = `{"model":"claude-haiku-4-5","max_tokens":%d,"messages":[{"role":"user","content":"go [[sim:usage in=0 out=%d cw5m=0 cw1h=%d cr=0]]"}]}`
	body = fmt.Sprintf(tmpl, maxTokens, maxTokens, 100)
	bound := anthropic.PromptTokenBound([]byte(body))
	body = fmt.Sprintf(tmpl, maxTokens, maxTokens, bound)
	if got := anthropic.PromptTokenBound([]byte(body)); got != bound {
		t.Fatalf("prompt bound moved from %d to %d", bound, got)
	}
	prices, _ := usage.NewPrices(nil)
	price, _ := prices.Lookup("bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001")
	worst := usage.WorstCost(price, bound, int64(maxTokens))
	if actual := usage.Cost(price, tokens.Counts{CacheWrite1h: bound, Output: int64(maxTokens)}); actual != worst {
		t.Fatalf("actual %d != worst %d", actual, worst)
	}
	return body, worst
}

// openDB opens the deployment's database for the test's own queries.
func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return db
}
