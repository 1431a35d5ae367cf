package usage

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// FuzzSpoolLoad feeds arbitrary bytes to Load, as a file torn by a crash or
// edited by hand would: it must never panic, and records appended after the
// damage must still be read back.
func FuzzSpoolLoad(f *testing.F) {
	f.Add([]byte(`{"record":{"RequestID":"req-1","Model":"claude-sonnet-4-5","InputTokens":3}}` + "\n"))
	f.Add([]byte(`{"record":{"RequestID":"req-1"`)) // torn line
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"record":{"Tags":{"a":"\u0000"},"Time":"2025-06-01T00:00:00Z"},"error":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "spill.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sp, err := OpenSpool(path, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		before, _, err := sp.Load()
		if err != nil {
			return // e.g. a line over the scanner's limit
		}
		// A torn last line must not swallow the next record: start it on a
		// line of its own.
		if len(data) > 0 && data[len(data)-1] != '\n' {
			if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
				t.Fatal(err)
			}
			sp, _ = OpenSpool(path, 1<<30)
		}
		want := Record{RequestID: "req-appended", Time: time.Unix(1, 0).UTC(), Model: "m", Tokens: tokens.Counts{Output: 9}}
		if n, err := sp.Append([]Record{want}, ""); n != 1 || err != nil {
			t.Fatalf("Append = %d, %v", n, err)
		}
		after, _, err := sp.Load()
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before)+1 {
			t.Fatalf("Load after Append: %d records, want %d", len(after), len(before)+1)
		}
		got := after[len(after)-1]
		if got.RequestID != want.RequestID || !got.Time.Equal(want.Time) || got.Tokens.Output != 9 {
			t.Errorf("appended record read back as %+v", got)
		}
	})
}

// TestSpoolLegacyTokens reads lines written before Record held its tokens as
// a tokens.Counts: their flat token fields must survive an upgrade.
func TestSpoolLegacyTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spill.jsonl")
	lines := `{"record":{"RequestID":"old","InputTokens":3,"OutputTokens":4,"CacheWrite5mTokens":5,"CacheWrite1hTokens":6,"CacheReadTokens":7}}` + "\n" +
		`{"record":{"RequestID":"new","Tokens":{"input_tokens":1,"cache_read_tokens":2}}}` + "\n"
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := OpenSpool(path, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	recs, bad, err := sp.Load()
	if err != nil || bad != 0 || len(recs) != 2 {
		t.Fatalf("Load = %d records, %d bad, %v; want 2, 0, nil", len(recs), bad, err)
	}
	want := []tokens.Counts{
		{Input: 3, Output: 4, CacheWrite5m: 5, CacheWrite1h: 6, CacheRead: 7},
		{Input: 1, CacheRead: 2},
	}
	for i, r := range recs {
		if r.Tokens != want[i] {
			t.Errorf("record %s tokens = %+v, want %+v", r.RequestID, r.Tokens, want[i])
		}
	}
}
