package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/tokens"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name.golden, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func TestCells(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"alice", 5},
		{"山田太郎", 8},
		{"ｶﾀｶﾅ", 4},       // halfwidth katakana: one cell each
		{"ＡＢ", 4},         // fullwidth Latin
		{"café", 4},       // precomposed é
		{"cafe\u0301", 4}, // e and a combining acute accent
		{"한국어", 6},
		{"tg-abc…", 7},
	} {
		if got := cells(c.in); got != c.want {
			t.Errorf("cells(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestTableCJK: columns after Japanese, Chinese and Korean names line up
// in a terminal, where each of their characters takes two cells.
func TestTableCJK(t *testing.T) {
	var b strings.Builder
	resp := admin.UsageResponse{By: "user", Rows: []admin.UsageRow{
		{Name: "山田太郎", Requests: 12, Counts: tokens.Counts{Input: 12345, Output: 678}, TotalTokens: 13023, CostUSDMicros: 1_234_567},
		{Name: "alice", Requests: 3, Counts: tokens.Counts{Input: 100, Output: 20}, TotalTokens: 120, CostUSDMicros: 4_000},
		{Name: "李小龍", Requests: 1, Counts: tokens.Counts{Input: 7, Output: 1}, TotalTokens: 8, CostUSDMicros: 50},
		{Name: "김민준", Requests: 2, Counts: tokens.Counts{Input: 9, Output: 2}, TotalTokens: 11, CostUSDMicros: 0},
	}}
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	resp.Since, resp.Until = &since, &since
	if err := writeUsage(&b, resp, ""); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n")
	writeFields(&b, [][2]string{{"名前", "山田太郎"}, {"alias", "yamada"}})
	golden(t, "table_cjk", b.String())
	// Every line of the table is as wide as its header line.
	lines := strings.Split(b.String(), "\n")[1:6]
	for _, l := range lines[1:] {
		if cells(l) != cells(lines[0]) {
			t.Errorf("line %q is %d cells, the header %d", l, cells(l), cells(lines[0]))
		}
	}
}
