package faulttest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// TestPostgresRestartedMidLoad: two `tollgate serve` replicas on a private
// PostgreSQL cluster (the shared test server must never be restarted) are
// under load from six clients while the cluster is stopped (fast), left down
// for two seconds and started again. Every call is answered: served from the
// leases in hand, or refused with 503 (fail closed) when a replica needs a
// lease the database cannot grant — never left hanging. Once the replicas
// have stopped gracefully, the database holds exactly one usage row for
// every call answered 200 (the writers retried or spilled and replayed
// their batches), and the budget's settled spend equals the sum of those
// rows: no charge lost, none counted twice.
func TestPostgresRestartedMidLoad(t *testing.T) {
	// The PostgreSQL suites are switched on together (and `go test ./...`
	// stays self-contained), though this one runs its own cluster.
	storetest.PostgresURL(t)
	pg := testutil.StartPostgres(t)
	// Leases of 2 % of what is left (not the default 10 %) run out during
	// the outage, so that both answers to it happen: calls served from the
	// lease in hand, and calls refused once it is spent.
	d := newDeployment(t, pg.DSN, `  flush_interval: 200ms
replicas:
  lease_share_percent: 2
  flush_interval: 200ms`)
	for range 2 {
		d.addReplica()
	}
	db := openDB(t, pg.DSN)
	body, cost := exactCall(t, 20)
	limit := 50_000 * cost // more than the run spends; leases of about 1,000 calls
	secret, keyID, budgetID := d.createKey("restart", limit)
	var l ledger
	l.add(d.waitAccepted(secret, body)...)

	var (
		ok, refused atomic.Int64
		wg          sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 6 {
		r := i % 2
		wg.Go(func() {
			for ctx.Err() == nil {
				a := d.call(context.Background(), r, secret, body)
				a.client = i
				l.add(a)
				switch {
				case a.status == http.StatusOK:
					ok.Add(1)
				case a.status == http.StatusServiceUnavailable:
					if refused.Add(1) == 1 {
						t.Logf("the first 503, replica %d at %v: %.400s", r, a.at.Format(time.StampMilli), a.body)
					}
					time.Sleep(20 * time.Millisecond) // as a client backing off would
				case a.status == 0 && errors.Is(a.err, context.DeadlineExceeded):
					t.Errorf("replica %d left a call hanging: %v", r, a.err)
					cancel()
					return
				default:
					t.Errorf("replica %d: %d %.300s %v", r, a.status, a.body, a.err)
					cancel()
					return
				}
			}
		})
	}
	// waitOK waits until n more calls have been answered 200.
	waitOK := func(what string, n int64) {
		t.Helper()
		target := ok.Load() + n
		deadline := time.Now().Add(30 * time.Second)
		for ok.Load() < target && ctx.Err() == nil {
			if time.Now().After(deadline) {
				cancel()
				wg.Wait()
				t.Fatalf("%s: only %d of %d calls answered within 30s", what, ok.Load(), target)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOK("before the restart", 300)
	pg.Stop(t)
	down := ok.Load()
	t.Logf("database stopped at %v", time.Now().Format(time.StampMilli))
	time.Sleep(2 * time.Second)
	servedDown, refusedDown := ok.Load()-down, refused.Load()
	pg.Start(t)
	refusedStarting := refused.Load() // while the cluster started
	waitOK("after the restart", 300)
	cancel()
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("database down 2s: %d calls served from leases in hand, %d refused with 503 (%d more while it started, %d once it accepted connections again); %d answered 200 in all",
		servedDown, refusedDown, refusedStarting-refusedDown, refused.Load()-refusedStarting, ok.Load())

	for i, p := range d.replicas {
		if err := p.Stop(); err != nil {
			t.Errorf("stopping replica %d: %v", i, err)
		}
	}
	rows := usageRows(t, db, keyID)
	checkRollup(t, db, keyID, rows)
	var answered, missing, unavailable int
	seen := map[string]bool{}
	for _, a := range l.answers() {
		seen[a.id] = true
		switch a.status {
		case http.StatusOK:
			answered++
			if _, stored := rows[a.id]; !stored {
				missing++
				if missing <= 5 {
					t.Errorf("request %s (replica %d, %v) was answered 200 but has no usage row", a.id, a.replica, a.at.Format(time.StampMilli))
				}
			}
		case http.StatusServiceUnavailable:
			unavailable++
			if !strings.Contains(a.body, "unavailable") && !strings.Contains(a.body, "database") {
				t.Errorf("a 503 that does not say why: %.300s", a.body)
			}
		}
	}
	var total int64
	for id, r := range rows {
		total += r.cost
		if !seen[id] {
			t.Errorf("usage row %s belongs to no call a client was answered", id)
		}
	}
	spent, leased := settled(t, db, budgetID)
	t.Logf("%d calls answered 200, %d refused with 503; %d rows (%d missing), costing %d µUSD (%d calls × %d); budget_spend %d, live leases %d",
		answered, unavailable, len(rows), missing, total, total/cost, cost, spent, leased)
	if spent != total {
		t.Errorf("budget_spend = %d µUSD, want the sum of the usage rows %d", spent, total)
	}
	if spent > limit {
		t.Errorf("budget_spend %d µUSD exceeds the limit %d", spent, limit)
	}
	if leased != 0 {
		t.Errorf("live leases %d µUSD after every replica stopped gracefully, want 0 (given back)", leased)
	}
}
