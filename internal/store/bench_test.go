package store_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// BenchmarkInsertUsage measures the usage writer's path into the store:
// batches of 500 realistic rows (20 keys, 3 models, tags on most rows, all
// within a few hours, as the batched writer sees them). The rows/s metric is
// the number to compare with the ≥ 20,000 rows/s target on SQLite.
//
//	go test ./internal/store/ -run '^$' -bench InsertUsage -benchtime 200x
func BenchmarkInsertUsage(b *testing.B) {
	b.Run(store.EngineSQLite, func(b *testing.B) { benchInsert(b, storetest.OpenSQLite(b)) })
	b.Run(store.EnginePostgres, func(b *testing.B) {
		storetest.PostgresURL(b)
		benchInsert(b, storetest.OpenPostgres(b))
	})
}

func benchInsert(b *testing.B, s *store.Store) {
	const batch = 500
	var keys []store.Key
	for i := range 20 {
		k, _ := mustKey(b, s, store.Key{Alias: fmt.Sprintf("key-%d", i)})
		keys = append(keys, k)
	}
	r := rand.New(rand.NewPCG(1, 2))
	models := []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"}
	start := time.Now().Truncate(time.Hour)
	recs := make([]usage.Record, batch)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		for j := range recs {
			k := keys[r.IntN(len(keys))]
			recs[j] = usage.Record{
				RequestID: fmt.Sprintf("req-%d", i), Time: start.Add(time.Duration(i) * time.Millisecond),
				KeyID: k.ID, KeyAlias: k.Alias, UserID: "usr_bench", SessionID: fmt.Sprintf("s-%d", i/50),
				Tags:           map[string]string{"repo": fmt.Sprintf("org/app%d", r.IntN(5)), "ci": "true"},
				ModelRequested: models[i%3], Model: models[i%3], UpstreamModel: "us.anthropic." + models[i%3],
				Provider: "bedrock", Region: "us-east-1", Door: "anthropic", Stream: true, Status: 200,
				LatencyMs: 1200, TTFTMs: 300, Tokens: tokens.Counts{Input: 1200, Output: 350, CacheRead: 40_000, CacheWrite5m: 2000}, CostMicros: 23_456,
			}
			i++
		}
		if err := s.InsertUsage(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}
