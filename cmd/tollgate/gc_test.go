package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSoftLimit(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, content string
		want          int64
		ok            bool
	}{
		{"limit", "1073741824\n", 1073741824 / 5 * 4, true},
		{"no limit", "max\n", 0, false},
		{"garbage", "lots\n", 0, false},
		{"zero", "0\n", 0, false},
	} {
		p := filepath.Join(dir, tt.name)
		if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, ok := softLimit(p)
		if ok != tt.ok || (ok && got != 1073741824/5*4) {
			t.Errorf("%s: softLimit = %d, %v, want %v (80%% of the limit)", tt.name, got, ok, tt.ok)
		}
	}
	if _, ok := softLimit(filepath.Join(dir, "absent")); ok {
		t.Error("softLimit(no file) = ok, want none")
	}
}
