package bedrocksim_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

// TestGolden pins the exact wire output for a seeded simulator with a
// frozen clock: ids, event order, delta boundaries, usage and metrics.
func TestGolden(t *testing.T) {
	frozen := time.Now()
	opts := bedrocksim.Options{Seed: 1, Now: func() time.Time { return frozen }}
	prompt := "Run it [[sim:thinking Plan: run echo.]] [[sim:text Sure, running it.]] " +
		`[[sim:tool Bash {"command":"echo héllo <x> & done","description":"Print a greeting"}]]`

	t.Run("stream", func(t *testing.T) {
		f := newFixture(t, opts)
		res, err := f.stream(t, sonnet, userBody(prompt))
		if err != nil || res.Err != nil {
			t.Fatal(err, res.Err)
		}
		golden(t, "stream_tool.jsonl", append(bytes.Join(toBytes(res.Events), []byte("\n")), '\n'))
	})
	t.Run("invoke", func(t *testing.T) {
		f := newFixture(t, opts)
		out, err := f.invoke(t, sonnet, userBody(prompt))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "invoke_tool.json", append(out.Body, '\n'))
	})
}

func toBytes[T ~[]byte](xs []T) [][]byte {
	out := make([][]byte, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
