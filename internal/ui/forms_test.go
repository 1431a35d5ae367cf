package ui

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTags(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"", map[string]string{}, false},
		{"repo=org/app", map[string]string{"repo": "org/app"}, false},
		{" repo = a , pr=42,", map[string]string{"repo": "a", "pr": "42"}, false},
		{"repo=a=b", map[string]string{"repo": "a=b"}, false},
		{"novalue", nil, true},
		{"=x", nil, true},
	} {
		got, err := parseTags(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseTags(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !cmp.Equal(got, tc.want) {
			t.Errorf("parseTags(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzFormParsers: the form parsers never panic, and what parseTags
// accepts has no empty names and no separators left in names.
func FuzzFormParsers(f *testing.F) {
	for _, s := range []string{"", "a=b", "a=b,c=d", "50, 80, 100", ",,=,", "x=1=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range splitList(s) {
			if v == "" || strings.Contains(v, ",") {
				t.Errorf("splitList(%q) has %q", s, v)
			}
		}
		if tags, err := parseTags(s); err == nil {
			for k := range tags {
				if k == "" || strings.ContainsAny(k, ",=") {
					t.Errorf("parseTags(%q) has name %q", s, k)
				}
			}
		}
		_, _ = parseInts("thresholds", s)
	})
}
