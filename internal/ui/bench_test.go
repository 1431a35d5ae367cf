package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/ui"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// benchRows is the size of the usage table the pages are measured on, and
// benchAudit the length of the audit log.
const (
	benchRows  = 1_000_000
	benchAudit = 100_000
)

// BenchmarkPages renders every console page on a SQLite store holding one
// million usage rows (100 users in 10 teams, a key each, 4 models, 20
// repository tags, spread over the last 60 days) and reports ms/page. The
// target is ≤ 200 ms for every page (docs/console.md has the figures).
//
//	go test ./internal/ui/ -run '^$' -bench Pages -benchtime 20x
//
// Seeding takes a minute; TOLLGATE_BENCH_UI_DB=/path/ui-bench.db keeps the
// seeded database for the next run.
func BenchmarkPages(b *testing.B) {
	ctx := context.Background()
	path := os.Getenv("TOLLGATE_BENCH_UI_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	st, err := store.Open(ctx, "sqlite://"+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	keyID, requestID := seed(b, st, now)
	if _, err := admin.Bootstrap(ctx, st, adminKey); err != nil {
		b.Fatal(err)
	}
	api := admin.New(st, admin.Options{})
	c, err := ui.New(ui.Options{Store: st, Admin: api})
	if err != nil {
		b.Fatal(err)
	}
	cookie := benchSignIn(b, c)
	pages := []string{
		"/ui/", "/ui/?by=user", "/ui/?by=team", "/ui/fragments/overview?by=model",
		"/ui/requests", "/ui/fragments/requests", "/ui/requests?errors=1", "/ui/requests/" + requestID,
		"/ui/keys", "/ui/keys/" + keyID, "/ui/users", "/ui/teams", "/ui/budgets", "/ui/limits",
		"/ui/usage", "/ui/usage?by=model&range=30d&granularity=day", "/ui/usage?by=team&range=7d&granularity=hour",
		"/ui/usage?by=tag&tag=repo&range=30d", "/ui/usage?by=key&range=90d", "/ui/usage?by=session&range=24h",
		"/ui/usage?by=user&range=7d&granularity=hour", "/ui/usage?by=key&range=90d&granularity=day",
		"/ui/usage.csv?by=user&range=30d&granularity=day",
		"/ui/models", "/ui/admins", "/ui/audit", "/ui/audit?cursor=" + strconv.Itoa(benchAudit/2), "/ui/audit?action=keys.",
		"/ui/audit?actor=user-042", "/ui/audit?target=key-007", "/ui/audit?since=2d&until=1d",
	}
	for _, p := range pages {
		b.Run(strings.TrimPrefix(p, "/ui/"), func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", p, nil)
				req.Host = "127.0.0.1"
				req.AddCookie(cookie)
				w := httptest.NewRecorder()
				c.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s = %d: %s", p, w.Code, w.Body.String())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}

func benchSignIn(b *testing.B, c *ui.Console) *http.Cookie {
	req := httptest.NewRequest("POST", "/ui/signin", strings.NewReader(url.Values{"admin_key": {adminKey}}.Encode()))
	req.Host = "127.0.0.1"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	c.ServeHTTP(w, req)
	for _, ck := range w.Result().Cookies() {
		if ck.Name == "tollgate_session" {
			return ck
		}
	}
	b.Fatalf("sign-in = %d, no session cookie", w.Code)
	return nil
}

// seed fills st with benchRows usage rows unless it already holds them,
// and returns a key id and a request id to render their pages.
func seed(b *testing.B, st *store.Store, now time.Time) (keyID, requestID string) {
	ctx := context.Background()
	keys, err := st.ListKeys(ctx, store.KeyFilter{})
	if err != nil {
		b.Fatal(err)
	}
	if len(keys) == 0 {
		var teams []store.Team
		for i := range 10 {
			t, err := st.CreateTeam(ctx, store.Team{Name: fmt.Sprintf("team-%02d", i)})
			if err != nil {
				b.Fatal(err)
			}
			teams = append(teams, t)
		}
		for i := range 100 {
			u, err := st.CreateUser(ctx, store.User{Name: fmt.Sprintf("user-%03d", i)})
			if err != nil {
				b.Fatal(err)
			}
			tm := teams[i%10]
			if err := st.AddMember(ctx, tm.ID, u.ID); err != nil {
				b.Fatal(err)
			}
			k, _, err := st.CreateKey(ctx, store.Key{Alias: fmt.Sprintf("key-%03d", i), UserID: u.ID, TeamID: tm.ID})
			if err != nil {
				b.Fatal(err)
			}
			limit := int64(100_000_000)
			if _, err := st.CreateBudget(ctx, store.Budget{ScopeKind: store.ScopeUser, ScopeID: u.ID, Period: store.PeriodMonth,
				Timezone: "UTC", LimitUSDMicros: &limit}); err != nil {
				b.Fatal(err)
			}
			keys = append(keys, k)
		}
		b.Logf("seeding %d usage rows", benchRows)
		start := time.Now()
		r := rand.New(rand.NewPCG(7, 11))
		models := []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "claude-sonnet-4"}
		span := 60 * 24 * time.Hour
		first := now.Add(-span)
		const batch = 5000
		recs := make([]usage.Record, batch)
		for i := 0; i < benchRows; i += batch {
			for j := range recs {
				n := i + j
				k := keys[r.IntN(len(keys))]
				m := models[r.IntN(len(models))]
				status, origin := 200, ""
				if r.IntN(100) == 0 {
					status, origin = 529, "upstream"
				}
				recs[j] = usage.Record{
					RequestID: fmt.Sprintf("req-%08d", n), Time: first.Add(time.Duration(n) * (span / benchRows)),
					KeyID: k.ID, KeyAlias: k.Alias, UserID: k.UserID, TeamID: k.TeamID, SessionID: fmt.Sprintf("s-%d", n/40),
					Tags:           map[string]string{"repo": fmt.Sprintf("org/app%02d", r.IntN(20))},
					ModelRequested: m, Model: m, UpstreamModel: "global.anthropic." + m, Provider: "bedrock", Region: "us-east-1",
					Door: "anthropic", Stream: true, Status: status, ErrorOrigin: origin, LatencyMs: 1200, TTFTMs: 300,
					Tokens:     tokens.Counts{Input: 1200, Output: 350, CacheRead: 40_000, CacheWrite5m: 2000},
					CostMicros: 23_456,
				}
			}
			if err := st.InsertUsage(ctx, recs); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("seeded in %s", time.Since(start).Round(time.Second))
	}
	seedAudit(b, st, keys, now)
	calls, err := st.RecentCalls(ctx, store.CallFilter{}, 1)
	if err != nil || len(calls) == 0 {
		b.Fatalf("no calls: %v", err)
	}
	return keys[0].ID, calls[0].RequestID
}

// seedAudit fills the audit log with benchAudit events over the last 60
// days, unless it already holds them: key changes by a hundred actors, one
// in ten through the console, each with a before and an after.
func seedAudit(b *testing.B, st *store.Store, keys []store.Key, now time.Time) {
	ctx := context.Background()
	last, err := st.ListAudit(ctx, store.AuditFilter{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	have := 0
	if len(last) > 0 {
		have = int(last[0].Seq)
	}
	if have >= benchAudit {
		return
	}
	b.Logf("seeding %d audit events", benchAudit-have)
	start := time.Now()
	span := 60 * 24 * time.Hour
	actions := []string{"keys.create", "keys.update", "budgets.update", "limits.update", "models.update"}
	for i := have; i < benchAudit; i++ {
		k := keys[i%len(keys)]
		via := "api"
		if i%10 == 0 {
			via = "console"
		}
		before := fmt.Sprintf(`{"key":{"id":%q,"alias":%q,"models":[],"disabled":false}}`, k.ID, k.Alias)
		after := fmt.Sprintf(`{"key":{"id":%q,"alias":%q,"models":["claude-sonnet-4-5"],"disabled":%t}}`, k.ID, k.Alias, i%3 == 0)
		if _, err := st.AppendAudit(ctx, store.AuditEvent{At: now.Add(-span + time.Duration(i)*(span/benchAudit)),
			ActorKind: "account", ActorID: fmt.Sprintf("adm_%03d", i%100), ActorName: fmt.Sprintf("user-%03d", i%100), ActorRole: "admin",
			Via: via, RemoteAddr: "127.0.0.1", Action: actions[i%len(actions)], TargetType: "key", TargetID: k.ID, TargetName: k.Alias,
			Before: json.RawMessage(before), After: json.RawMessage(after), RequestID: fmt.Sprintf("req_audit_%06d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded the audit log in %s", time.Since(start).Round(time.Second))
}
