package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// TestDailyRollupAgreesWithHourly: totals and UTC day buckets, which read
// whole days from the daily rollup, equal the sums of the hourly buckets
// of the same range, for ranges that start and end mid-day, on day
// boundaries, and within one day.
func TestDailyRollupAgreesWithHourly(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		s := open(t)
		base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		r := rand.New(rand.NewPCG(3, 4))
		var recs []usage.Record
		for i := range 400 {
			recs = append(recs, usage.Record{RequestID: fmt.Sprintf("r%d", i),
				Time:  base.Add(time.Duration(r.IntN(6*24*60)) * time.Minute),
				KeyID: fmt.Sprintf("k%d", i%3), UserID: fmt.Sprintf("u%d", i%4), Model: []string{"m1", "m2"}[i%2],
				Status: 200, Tokens: tokens.Counts{Input: int64(r.IntN(100)), Output: 7}, CostMicros: int64(r.IntN(1000))})
		}
		for i := 0; i < len(recs); i += 100 {
			if err := s.InsertUsage(ctx, recs[i:i+100]); err != nil {
				t.Fatal(err)
			}
		}
		for _, rg := range [][2]time.Duration{
			{0, 6 * 24 * time.Hour}, {90 * time.Minute, 5*24*time.Hour + 7*time.Hour}, {24 * time.Hour, 3 * 24 * time.Hour},
			{25 * time.Hour, 26 * time.Hour}, {23 * time.Hour, 48 * time.Hour}, {0, 24*time.Hour - time.Millisecond},
		} {
			since, until := base.Add(rg[0]), base.Add(rg[1])
			for _, by := range []string{store.ByUser, store.ByModel} {
				q := store.UsageQuery{By: by, Since: since, Until: until}
				q.Granularity = store.GranularityHour
				hourly, err := s.Usage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				wantTotal := map[string][2]int64{}
				wantDay := map[string][2]int64{}
				for _, h := range hourly {
					w := wantTotal[h.Group]
					wantTotal[h.Group] = [2]int64{w[0] + h.Requests, w[1] + h.CostMicros}
					k := h.Time.Truncate(24*time.Hour).Format(time.DateOnly) + "/" + h.Group
					d := wantDay[k]
					wantDay[k] = [2]int64{d[0] + h.Requests, d[1] + h.CostMicros}
				}
				q.Granularity = store.GranularityTotal
				total, err := s.Usage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				gotTotal := map[string][2]int64{}
				for _, row := range total {
					gotTotal[row.Group] = [2]int64{row.Requests, row.CostMicros}
				}
				if diff := cmp.Diff(wantTotal, gotTotal); diff != "" {
					t.Errorf("by %s %v..%v: totals differ from the hourly sums (-want +got):\n%s", by, rg[0], rg[1], diff)
				}
				q.Granularity = store.GranularityDay
				days, err := s.Usage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				gotDay := map[string][2]int64{}
				for _, row := range days {
					gotDay[row.Time.Format(time.DateOnly)+"/"+row.Group] = [2]int64{row.Requests, row.CostMicros}
				}
				if diff := cmp.Diff(wantDay, gotDay); diff != "" {
					t.Errorf("by %s %v..%v: days differ from the hourly sums (-want +got):\n%s", by, rg[0], rg[1], diff)
				}
			}
		}
	})
}
