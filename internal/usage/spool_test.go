package usage

import (
	"os"
	"path/filepath"
	"testing"
	"time"
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
		want := Record{RequestID: "req-appended", Time: time.Unix(1, 0).UTC(), Model: "m", OutputTokens: 9}
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
		if got.RequestID != want.RequestID || !got.Time.Equal(want.Time) || got.OutputTokens != 9 {
			t.Errorf("appended record read back as %+v", got)
		}
	})
}
