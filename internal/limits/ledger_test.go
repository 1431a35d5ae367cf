package limits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	keyA  = Scope{KindKey, "k1"}
	userA = Scope{KindUser, "alice"}
	teamA = Scope{KindTeam, "acme"}
)

func fixedNow() time.Time { return time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC) }

func mustLoad(t testing.TB, l *Ledger, bs ...Budget) {
	t.Helper()
	if err := l.Load(bs, nil); err != nil {
		t.Fatal(err)
	}
}

func status(t testing.TB, l *Ledger, id string) BudgetStatus {
	t.Helper()
	st, ok := l.Status(id)
	if !ok {
		t.Fatalf("Status(%q): not found", id)
	}
	return st
}

// TestReserveConcurrentExactEstimates holds every reservation until all
// calls have tried: exactly limit/worst calls must get in, no more (the
// check-then-record bug) and no fewer (refusing while the budget still
// covers the call).
func TestReserveConcurrentExactEstimates(t *testing.T) {
	l := NewLedger(fixedNow)
	mustLoad(t, l, Budget{ID: "b", Scope: keyA, LimitMicros: 1_000_000, Period: Day})
	const calls, worst = 500, 7_000 // 142 fit
	var (
		wg       sync.WaitGroup
		admitted atomic.Int64
		mu       sync.Mutex
		held     []*Reservation
	)
	for range calls {
		wg.Go(func() {
			r, err := l.Reserve(context.Background(), []Scope{keyA}, Amount{Micros: worst})
			if err != nil {
				checkRefusal(t, err)
				return
			}
			admitted.Add(1)
			mu.Lock()
			held = append(held, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	if got, want := admitted.Load(), int64(1_000_000/worst); got != want {
		t.Errorf("admitted %d calls, want %d", got, want)
	}
	for _, r := range held {
		r.Settle(Amount{Micros: worst})
	}
	st := status(t, l, "b")
	if st.Spent.Micros != 142*worst || st.Reserved != (Amount{}) {
		t.Errorf("after settling: spent %d reserved %+v, want %d and nothing", st.Spent.Micros, st.Reserved, 142*worst)
	}
}

// checkRefusal verifies that a refusal was deserved: at the moment of the
// decision the budget could not cover the call's worst case.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	var ob *OverBudgetError
	if !errors.As(err, &ob) || !errors.Is(err, ErrOverBudget) {
		t.Errorf("Reserve error = %v, want an *OverBudgetError", err)
		return
	}
	if ob.Spent.Micros+ob.Reserved.Micros+ob.Requested.Micros <= ob.Limit.Micros &&
		(ob.Limit.Tokens == 0 || ob.Spent.Tokens+ob.Reserved.Tokens+ob.Requested.Tokens <= ob.Limit.Tokens) {
		t.Errorf("refused while the budget covered the call: %+v", ob)
	}
}

// TestReserveConcurrentSettle runs 500 calls that reserve, wait a little and
// settle with actual use that is sometimes above the estimate. Spend may
// exceed the limit only by the sum of those overruns.
func TestReserveConcurrentSettle(t *testing.T) {
	l := NewLedger(fixedNow)
	const limit = 1_000_000
	mustLoad(t, l,
		Budget{ID: "key", Scope: keyA, LimitMicros: limit, Period: Day},
		Budget{ID: "team", Scope: teamA, LimitTokens: 10_000_000, Period: Month},
	)
	var (
		wg                sync.WaitGroup
		overrun, charged  atomic.Int64
		admitted, refused atomic.Int64
	)
	for i := range 500 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			worst := Amount{Micros: 2_000 + rng.Int64N(20_000), Tokens: 1_000}
			r, err := l.Reserve(context.Background(), []Scope{keyA, teamA}, worst)
			if err != nil {
				refused.Add(1)
				checkRefusal(t, err)
				return
			}
			admitted.Add(1)
			time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
			actual := Amount{Micros: worst.Micros * (50 + rng.Int64N(70)) / 100, Tokens: 900}
			if rng.IntN(10) == 0 {
				r.Release()
				return
			}
			r.Settle(actual)
			r.Settle(actual) // idempotent
			charged.Add(actual.Micros)
			overrun.Add(max(actual.Micros-worst.Micros, 0))
		})
	}
	wg.Wait()
	st := status(t, l, "key")
	if st.Reserved != (Amount{}) {
		t.Errorf("reserved after all calls = %+v, want nothing", st.Reserved)
	}
	if st.Spent.Micros != charged.Load() {
		t.Errorf("spent %d, want the sum of settlements %d", st.Spent.Micros, charged.Load())
	}
	if st.Spent.Micros > limit+overrun.Load() {
		t.Errorf("spent %d > limit %d + overruns %d", st.Spent.Micros, limit, overrun.Load())
	}
	if refused.Load() == 0 {
		t.Errorf("no call was refused: the test did not fill the budget (admitted %d)", admitted.Load())
	}
	t.Logf("admitted %d, refused %d, spent %d, overrun %d", admitted.Load(), refused.Load(), st.Spent.Micros, overrun.Load())
}

func TestReserveKeyUserTeam(t *testing.T) {
	l := NewLedger(fixedNow)
	mustLoad(t, l,
		Budget{ID: "key", Scope: keyA, LimitMicros: 10_000_000, Period: Day},
		Budget{ID: "user", Scope: userA, LimitMicros: 5_000_000, Period: Week},
		Budget{ID: "team", Scope: teamA, LimitMicros: 1_000_000, Period: Month, Location: mustZone(t, "Europe/Berlin")},
		Budget{ID: "team-tokens", Scope: teamA, LimitTokens: 50_000, Period: Total, ScopeName: "プラットフォーム"},
		Budget{ID: "other", Scope: Scope{KindKey, "k2"}, LimitMicros: 1, Period: Day},
	)
	all := []Scope{keyA, userA, teamA}
	r, err := l.Reserve(context.Background(), all, Amount{Micros: 600_000, Tokens: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"key", "user", "team", "team-tokens"} {
		if got := status(t, l, id).Reserved; got != (Amount{600_000, 10_000}) {
			t.Errorf("%s reserved %+v, want {600000 10000}", id, got)
		}
	}
	if got := status(t, l, "other").Reserved; got != (Amount{}) {
		t.Errorf("unrelated budget reserved %+v", got)
	}

	// The team budget is the tightest: 600k held, 500k more does not fit.
	_, err = l.Reserve(context.Background(), all, Amount{Micros: 500_000})
	var ob *OverBudgetError
	if !errors.As(err, &ob) || ob.Budget.ID != "team" || ob.Unit != "usd" {
		t.Fatalf("Reserve = %v, want a refusal by budget team", err)
	}
	wantMsg := `over budget: budget "acme monthly" (team) has $0.40 left of $1.00 this period (resets 2026-03-31T22:00Z); this call could cost up to $0.50`
	if ob.Error() != wantMsg {
		t.Errorf("Error() =\n%s\nwant\n%s", ob.Error(), wantMsg)
	}
	// Nothing was held by the refused call.
	if got := status(t, l, "key").Reserved.Micros; got != 600_000 {
		t.Errorf("key reserved %d after a refusal, want 600000", got)
	}
	// The key alone still has room.
	r2, err := l.Reserve(context.Background(), []Scope{keyA}, Amount{Micros: 500_000})
	if err != nil {
		t.Fatal(err)
	}
	r2.Release()

	r.Settle(Amount{Micros: 400_000, Tokens: 45_000})
	for _, id := range []string{"key", "user", "team"} {
		if got := status(t, l, id).Spent.Micros; got != 400_000 {
			t.Errorf("%s spent %d, want 400000", id, got)
		}
	}
	// Tokens: 45k of 50k used; a 6k-token call is refused by the Total
	// budget, which never resets.
	_, err = l.Reserve(context.Background(), all, Amount{Micros: 1, Tokens: 6_000})
	if !errors.As(err, &ob) || ob.Budget.ID != "team-tokens" || ob.Unit != "tokens" || !ob.ResetAt.IsZero() {
		t.Fatalf("Reserve = %v, want a refusal by team-tokens", err)
	}
	// With its scope's name, the message names the team, not its id; with
	// the caller's key alias, the key too.
	ob2 := *ob
	ob2.KeyName = "alice-laptop"
	if want := `over budget: budget "プラットフォーム total" (team) of key "alice-laptop" has 5000 tokens left of 50000 (it never resets); this call could use up to 6000 tokens`; ob2.Error() != want {
		t.Errorf("Error() = %s, want %s", ob2.Error(), want)
	}
	if want := `over budget: budget "プラットフォーム total" (team) has 5000 tokens left of 50000 (it never resets); this call could use up to 6000 tokens`; ob.Error() != want {
		t.Errorf("Error() = %s, want %s", ob.Error(), want)
	}

	rem, ok := l.Remaining(context.Background(), all)
	if !ok || rem.Budget.ID != "team-tokens" || rem.Remaining.Tokens != 5_000 || rem.Remaining.Micros != -1 {
		t.Errorf("Remaining = %+v, %v; want team-tokens with 5000 tokens left", rem, ok)
	}
	if _, ok := l.Remaining(context.Background(), []Scope{{KindKey, "nobody"}}); ok {
		t.Error("Remaining of an unbudgeted scope reported a budget")
	}
}

func TestReserveNoBudget(t *testing.T) {
	l := NewLedger(fixedNow)
	r, err := l.Reserve(context.Background(), []Scope{keyA}, Amount{Micros: 1 << 40})
	if err != nil || r == nil {
		t.Fatalf("Reserve with no budget = %v, %v", r, err)
	}
	r.Settle(Amount{Micros: 5})
	var nilRes *Reservation
	nilRes.Settle(Amount{}) // must not panic
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestPeriodBounds(t *testing.T) {
	berlin, ny := mustZone(t, "Europe/Berlin"), mustZone(t, "America/New_York")
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name       string
		b          Budget
		at         string
		start, end string
	}{
		{"utc day", Budget{Period: Day}, "2026-03-10T12:00:00Z", "2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z"},
		{"berlin day before spring DST (23h)", Budget{Period: Day, Location: berlin}, "2026-03-29T12:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"},
		{"berlin day after DST", Budget{Period: Day, Location: berlin}, "2026-03-29T22:00:00Z", "2026-03-29T22:00:00Z", "2026-03-30T22:00:00Z"},
		{"berlin month across DST", Budget{Period: Month, Location: berlin}, "2026-03-31T21:59:59Z", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z"},
		{"berlin week (Monday)", Budget{Period: Week, Location: berlin}, "2026-03-29T21:00:00Z", "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z"},
		{"new york fall-back day (25h)", Budget{Period: Day, Location: ny}, "2026-11-01T06:30:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"},
		{"new york week across fall-back", Budget{Period: Week, Location: ny}, "2026-11-01T12:00:00Z", "2026-10-26T04:00:00Z", "2026-11-02T05:00:00Z"},
		{"new york sunday is end of week", Budget{Period: Week, Location: ny}, "2026-11-02T04:59:59Z", "2026-10-26T04:00:00Z", "2026-11-02T05:00:00Z"},
		{"new york month", Budget{Period: Month, Location: ny}, "2026-12-31T23:00:00Z", "2026-12-01T05:00:00Z", "2027-01-01T05:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end := tt.b.PeriodBounds(utc(tt.at))
			if !start.Equal(utc(tt.start)) || !end.Equal(utc(tt.end)) {
				t.Errorf("PeriodBounds(%s) = %s, %s; want %s, %s", tt.at, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), tt.start, tt.end)
			}
		})
	}
	if s, e := (&Budget{Period: Total}).PeriodBounds(utc("2026-01-01T00:00:00Z")); !s.IsZero() || !e.IsZero() {
		t.Errorf("Total bounds = %v, %v; want zero", s, e)
	}
}

// sleepUntil advances the bubble's clock to at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// TestResetAtBoundary drives the clock across the DST-shortened day in
// Berlin and the DST-lengthened day in New York: spend survives until the
// last nanosecond of the local day and is gone at local midnight.
func TestResetAtBoundary(t *testing.T) {
	tests := []struct {
		zone     string
		spendAt  string // during the DST day
		boundary string // next local midnight, UTC
	}{
		{"Europe/Berlin", "2026-03-29T01:30:00+01:00", "2026-03-29T22:00:00Z"},
		{"America/New_York", "2026-11-01T01:30:00-05:00", "2026-11-02T05:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				spendAt, _ := time.Parse(time.RFC3339, tt.spendAt)
				boundary, _ := time.Parse(time.RFC3339, tt.boundary)
				sleepUntil(spendAt)
				l := NewLedger(nil)
				var fired []int
				l.OnThreshold = func(b Budget, pct int) { fired = append(fired, pct) }
				mustLoad(t, l, Budget{ID: "d", Scope: keyA, LimitMicros: 100, Period: Day,
					Location: mustZone(t, tt.zone), Thresholds: []int{50, 100}})

				r, err := l.Reserve(context.Background(), []Scope{keyA}, Amount{Micros: 60})
				if err != nil {
					t.Fatal(err)
				}
				r.Settle(Amount{Micros: 60})
				if st := status(t, l, "d"); !st.ResetAt.Equal(boundary) {
					t.Errorf("ResetAt = %s, want %s", st.ResetAt.UTC(), boundary)
				}
				// A call starting just before midnight and settling after it is
				// charged to the old day.
				sleepUntil(boundary.Add(-time.Second))
				late, err := l.Reserve(context.Background(), []Scope{keyA}, Amount{Micros: 40})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := l.Reserve(context.Background(), []Scope{keyA}, Amount{Micros: 1}); !errors.Is(err, ErrOverBudget) {
					t.Fatalf("Reserve in a full day = %v, want ErrOverBudget", err)
				}
				sleepUntil(boundary.Add(-time.Nanosecond))
				if st := status(t, l, "d"); st.Spent.Micros != 60 || st.Reserved.Micros != 40 {
					t.Errorf("1ns before midnight: %+v, want spent 60 reserved 40", st)
				}
				sleepUntil(boundary)
				st := status(t, l, "d")
				if st.Spent != (Amount{}) || st.Reserved != (Amount{}) || !st.PeriodStart.Equal(boundary) {
					t.Errorf("at midnight: %+v, want a fresh period starting %s", st, boundary)
				}
				late.Settle(Amount{Micros: 40})
				if st := status(t, l, "d"); st.Spent != (Amount{}) {
					t.Errorf("late settlement charged the new day: %+v", st)
				}
				r, err = l.Reserve(context.Background(), []Scope{keyA}, Amount{Micros: 100})
				if err != nil {
					t.Fatalf("full budget in the new day refused: %v", err)
				}
				r.Settle(Amount{Micros: 100})
				if want := []int{50, 50, 100}; !slices.Equal(fired, want) {
					t.Errorf("thresholds fired %v, want %v (once per period)", fired, want)
				}
			})
		})
	}
}

func TestLoadKeepsState(t *testing.T) {
	l := NewLedger(fixedNow)
	seeded := map[string]int{}
	spent := func(b Budget, start time.Time) (Amount, error) {
		seeded[b.ID]++
		return Amount{Micros: 100}, nil
	}
	base := []Budget{
		{ID: "a", Scope: keyA, LimitMicros: 1_000, Period: Day},
		{ID: "b", Scope: userA, LimitMicros: 1_000, Period: Day},
		{ID: "gone", Scope: teamA, LimitMicros: 1_000, Period: Day},
	}
	if err := l.Load(base, spent); err != nil {
		t.Fatal(err)
	}
	r, err := l.Reserve(context.Background(), []Scope{keyA, userA, teamA}, Amount{Micros: 300})
	if err != nil {
		t.Fatal(err)
	}
	next := []Budget{
		{ID: "a", Scope: keyA, LimitMicros: 2_000, Period: Day}, // new limit: keeps state
		{ID: "b", Scope: userA, LimitMicros: 1_000, Period: Month},
		{ID: "new", Scope: teamA, LimitMicros: 1_000, Period: Day},
	}
	if err := l.Load(next, spent); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"a": 1, "b": 2, "gone": 1, "new": 1}, seeded); diff != "" {
		t.Errorf("spend read from the store (-want +got):\n%s", diff)
	}
	if st := status(t, l, "a"); st.Reserved.Micros != 300 || st.Spent.Micros != 100 || st.Budget.LimitMicros != 2_000 {
		t.Errorf("kept budget after reload: %+v", st)
	}
	if st := status(t, l, "b"); st.Reserved.Micros != 0 || st.Spent.Micros != 100 {
		t.Errorf("re-periodised budget: %+v, want reseeded", st)
	}
	if _, ok := l.Status("gone"); ok {
		t.Error("removed budget still reported")
	}
	r.Settle(Amount{Micros: 250})
	if st := status(t, l, "a"); st.Reserved.Micros != 0 || st.Spent.Micros != 350 {
		t.Errorf("settled across a reload: %+v, want spent 350, nothing reserved", st)
	}
	if st := status(t, l, "new"); st.Spent.Micros != 100 {
		t.Errorf("new budget charged by an older reservation: %+v", st)
	}

	// A failing reload changes nothing.
	failing := func(Budget, time.Time) (Amount, error) { return Amount{}, errors.New("db down") }
	if err := l.Load([]Budget{{ID: "x", Scope: keyA, Period: Day}}, failing); err == nil || !strings.Contains(err.Error(), "db down") {
		t.Fatalf("Load with a failing store = %v", err)
	}
	if len(l.Statuses()) != 3 {
		t.Errorf("failed Load changed the budget set: %+v", l.Statuses())
	}
	for _, bad := range [][]Budget{
		{{ID: "", Scope: keyA}},
		{{ID: "n", Scope: keyA, LimitMicros: -1}},
		{{ID: "d", Scope: keyA}, {ID: "d", Scope: userA}},
	} {
		if err := l.Load(bad, nil); err == nil {
			t.Errorf("Load(%+v) succeeded", bad)
		}
	}
}

// TestLoadDuringReservations reloads the same budgets continuously while
// calls reserve and settle: no spend may be forgotten and no reservation
// leaked.
func TestLoadDuringReservations(t *testing.T) {
	l := NewLedger(fixedNow)
	budgets := []Budget{
		{ID: "key", Scope: keyA, LimitMicros: 1 << 40, Period: Day},
		{ID: "team", Scope: teamA, LimitTokens: 1 << 40, Period: Month},
	}
	mustLoad(t, l, budgets...)
	stop := make(chan struct{})
	var loads sync.WaitGroup
	loads.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			bs := slices.Clone(budgets)
			bs[0].LimitMicros += int64(i % 7) // a limit change keeps state
			if err := l.Load(bs, func(Budget, time.Time) (Amount, error) { return Amount{}, errors.New("must not be read") }); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			for range 20 {
				r, err := l.Reserve(context.Background(), []Scope{keyA, teamA}, Amount{Micros: 10, Tokens: 10})
				if err != nil {
					t.Error(err)
					return
				}
				r.Settle(Amount{Micros: 3, Tokens: 5})
			}
		})
	}
	wg.Wait()
	close(stop)
	loads.Wait()
	if st := status(t, l, "key"); st.Spent.Micros != 200*20*3 || st.Reserved != (Amount{}) {
		t.Errorf("key: %+v, want spent %d and nothing reserved", st, 200*20*3)
	}
	if st := status(t, l, "team"); st.Spent.Tokens != 200*20*5 || st.Reserved != (Amount{}) {
		t.Errorf("team: %+v, want spent %d tokens and nothing reserved", st, 200*20*5)
	}
}

func TestThresholds(t *testing.T) {
	l := NewLedger(fixedNow)
	type hit struct {
		id  string
		pct int
	}
	var (
		mu   sync.Mutex
		hits []hit
	)
	l.OnThreshold = func(b Budget, pct int) {
		mu.Lock()
		hits = append(hits, hit{b.ID, pct})
		mu.Unlock()
	}
	// 60% already spent when loaded: 50 is not announced again.
	err := l.Load([]Budget{{ID: "t", Scope: keyA, LimitMicros: 1_000, Period: Month, Thresholds: []int{80, 50, 100}}},
		func(Budget, time.Time) (Amount, error) { return Amount{Micros: 600}, nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, actual := range []int64{100, 100, 100, 100, 500} {
		r, err := l.Reserve(context.Background(), []Scope{keyA}, Amount{})
		if err != nil {
			t.Fatal(err)
		}
		r.Settle(Amount{Micros: actual})
	}
	if diff := cmp.Diff([]hit{{"t", 80}, {"t", 100}}, hits, cmp.AllowUnexported(hit{})); diff != "" {
		t.Errorf("thresholds (-want +got):\n%s", diff)
	}
	st := status(t, l, "t")
	if st.Percent != 150 || !slices.Equal(st.Crossed, []int{50, 80, 100}) || st.Remaining.Micros != 0 {
		t.Errorf("status = %+v", st)
	}
}

func TestStatuses(t *testing.T) {
	l := NewLedger(fixedNow)
	mustLoad(t, l,
		Budget{ID: "z", Scope: keyA, LimitTokens: 10, Period: Total},
		Budget{ID: "a", Scope: userA, LimitMicros: 10, Period: Day},
	)
	var ids []string
	for _, st := range l.Statuses() {
		ids = append(ids, st.Budget.ID)
	}
	if !slices.Equal(ids, []string{"a", "z"}) {
		t.Errorf("Statuses order = %v", ids)
	}
}

func BenchmarkReserveSettle(b *testing.B) {
	huge := int64(1) << 60
	setup := func(b *testing.B, n int) (*Ledger, []Scope) {
		l := NewLedger(nil)
		scopes := []Scope{keyA, userA, teamA}[:n]
		var bs []Budget
		for i, s := range scopes {
			bs = append(bs, Budget{ID: fmt.Sprint(i), Scope: s, LimitMicros: huge, Period: Day})
		}
		mustLoad(b, l, bs...)
		return l, scopes
	}
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("single/budgets=%d", n), func(b *testing.B) {
			l, scopes := setup(b, n)
			b.ReportAllocs()
			for b.Loop() {
				r, err := l.Reserve(context.Background(), scopes, Amount{Micros: 10})
				if err != nil {
					b.Fatal(err)
				}
				r.Settle(Amount{Micros: 5})
			}
		})
		b.Run(fmt.Sprintf("parallel/budgets=%d", n), func(b *testing.B) {
			l, scopes := setup(b, n)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r, err := l.Reserve(context.Background(), scopes, Amount{Micros: 10})
					if err != nil {
						b.Fatal(err)
					}
					r.Settle(Amount{Micros: 5})
				}
			})
		})
	}
	// Each goroutine its own key and user, one shared team: the usual shape
	// of real traffic, where per-budget locks let unrelated keys proceed in
	// parallel.
	b.Run("parallel/budgets=3/own-key", func(b *testing.B) {
		l := NewLedger(nil)
		var bs []Budget
		for i := range 64 {
			bs = append(bs,
				Budget{ID: fmt.Sprint("k", i), Scope: Scope{KindKey, fmt.Sprint(i)}, LimitMicros: huge, Period: Day},
				Budget{ID: fmt.Sprint("u", i), Scope: Scope{KindUser, fmt.Sprint(i)}, LimitMicros: huge, Period: Week})
		}
		bs = append(bs, Budget{ID: "team", Scope: teamA, LimitMicros: huge, Period: Month})
		mustLoad(b, l, bs...)
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := fmt.Sprint(next.Add(1) % 64)
			scopes := []Scope{{KindKey, i}, {KindUser, i}, teamA}
			for pb.Next() {
				r, err := l.Reserve(context.Background(), scopes, Amount{Micros: 10})
				if err != nil {
					b.Fatal(err)
				}
				r.Settle(Amount{Micros: 5})
			}
		})
	})
}

// TestReserveSaturates: amounts near the int64 limit must never wrap a
// sum negative and so admit a call the budget cannot cover, nor make a
// settled budget look empty.
func TestReserveSaturates(t *testing.T) {
	const huge = math.MaxInt64
	tests := []struct {
		name  string
		first Amount // reserved and held before the second
		worst Amount
	}{
		{"tokens wrap", Amount{Tokens: 10}, Amount{Tokens: huge}},
		{"micros wrap", Amount{Micros: 10}, Amount{Micros: huge}},
		{"both wrap", Amount{1000, 1000}, Amount{huge, huge}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLedger(fixedNow)
			mustLoad(t, l, Budget{ID: "b", Scope: keyA, LimitMicros: huge - 5, LimitTokens: huge - 5, Thresholds: []int{50}})
			if _, err := l.Reserve(context.Background(), []Scope{keyA}, tt.first); err != nil {
				t.Fatalf("Reserve(%+v) = %v, want admitted", tt.first, err)
			}
			if _, err := l.Reserve(context.Background(), []Scope{keyA}, tt.worst); err == nil {
				t.Fatalf("Reserve(%+v) after %+v admitted; want over budget", tt.worst, tt.first)
			}
		})
	}

	l := NewLedger(fixedNow)
	var crossed []int
	l.OnThreshold = func(_ Budget, pct int) { crossed = append(crossed, pct) }
	mustLoad(t, l, Budget{ID: "b", Scope: keyA, LimitTokens: 1000, Thresholds: []int{50, 100}})
	r, err := l.Reserve(context.Background(), []Scope{keyA}, Amount{Tokens: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.Settle(Amount{Micros: huge, Tokens: huge}) // an absurd usage report is charged, saturated
	st := status(t, l, "b")
	if st.Spent.Tokens != huge || st.Remaining.Tokens != 0 || st.Percent <= 100 {
		t.Errorf("after a huge settle: spent %d, remaining %d, percent %d; want saturated, 0, > 100", st.Spent.Tokens, st.Remaining.Tokens, st.Percent)
	}
	if !slices.Equal(crossed, []int{50, 100}) {
		t.Errorf("thresholds crossed = %v, want [50 100]", crossed)
	}
	r2, err := l.Reserve(context.Background(), []Scope{keyA}, Amount{})
	if err == nil {
		r2.Release()
		t.Error("a budget spent to saturation still admits calls")
	}
}
