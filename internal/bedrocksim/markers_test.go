package bedrocksim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
)

func TestParseMarkers(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []bedrocksim.Marker
	}{
		{"none", "just a prompt with [[brackets]] and [[sim", nil},
		{"text", "say [[sim:text Hello world]] ok", []bedrocksim.Marker{{Name: "text", Args: "Hello world", Offset: 4}}},
		{"no args", "[[sim:throttle]]", []bedrocksim.Marker{{Name: "throttle"}}},
		{"upper case name", "[[sim:Throttle 2]]", []bedrocksim.Marker{{Name: "throttle", Args: "2"}}},
		{"multi-line args", "[[sim:text a\nb ]]", []bedrocksim.Marker{{Name: "text", Args: "a\nb"}}},
		{"tool json with brackets", `[[sim:tool Write {"c":"]]"} ]][[sim:drop]]`, []bedrocksim.Marker{
			{Name: "tool", Args: `Write {"c":"]]"}`},
			{Name: "drop", Offset: 30},
		}},
		{"tool without input", "[[sim:tool Bash]]", []bedrocksim.Marker{{Name: "tool", Args: "Bash"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bedrocksim.ParseMarkers(tt.in)
			if err != nil {
				t.Fatalf("ParseMarkers(%q) error %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseMarkers(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestMarkerErrors(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{"[[sim:text open", "unterminated"},
		{"[[sim:]]", "missing name"},
		{"[[sim:text:x]]", "expected a space"},
		{`[[sim:tool Bash {"a":]]`, "not JSON"},
		{`[[sim:tool Bash {"a":1}`, "unterminated"},
		{"[[sim:explode]]", `unknown marker "explode"`},
		{"[[sim:tool Bash [1]]]", "must be a JSON object"},
		{"[[sim:tool b@d {}]]", "tool name"},
		{"[[sim:usage in=x]]", "key=N"},
		{"[[sim:usage foo=1]]", "unknown usage key"},
		{"[[sim:latency soon]]", "duration"},
		{"[[sim:tps -1]]", "tps"},
		{"[[sim:stop whenever]]", "unknown stop reason"},
		{"[[sim:throttle 0]]", "count must be >= 1"},
		{"[[sim:error Bogus]]", "unknown exception"},
		{"[[sim:midstream-error accessDenied]]", "not a stream exception"},
		{"[[sim:drop often]]", "optional count"},
		{"[[sim:slow-first-byte]]", "duration"},
		{"[[sim:stall soon]]", "optional count"},
	}
	for _, tt := range tests {
		ms, err := bedrocksim.ParseMarkers(tt.in)
		if err == nil {
			err = bedrocksim.CheckMarkers(ms)
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("markers %q: error %v, want one containing %q", tt.in, err, tt.wantErr)
		}
	}
}

// FuzzParseMarkers checks that the parser never panics, that every marker
// it returns starts where it says, and that parsing from that offset finds
// the same marker again.
func FuzzParseMarkers(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "markers", "*.txt"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata/markers: %v", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		ms, err := bedrocksim.ParseMarkers(text)
		_ = bedrocksim.CheckMarkers(ms)
		for i, m := range ms {
			if m.Name == "" || m.Name != strings.ToLower(m.Name) {
				t.Fatalf("marker %d has name %q", i, m.Name)
			}
			if !strings.HasPrefix(text[m.Offset:], "[[sim:") {
				t.Fatalf("marker %d offset %d does not point at [[sim:", i, m.Offset)
			}
			again, err2 := bedrocksim.ParseMarkers(text[m.Offset:])
			if len(again) == 0 {
				t.Fatalf("reparsing marker %d from its offset found nothing (%v)", i, err2)
			}
			again[0].Offset = m.Offset
			if again[0] != m {
				t.Fatalf("reparsed %+v, want %+v", again[0], m)
			}
		}
		_ = err
	})
}

// TestMarkerHelpCoversREADME keeps --help and the README in step with the
// vocabulary.
func TestMarkerHelpCoversREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"text", "thinking", "redacted-thinking", "tool", "stop", "usage", "latency", "tps",
		"throttle", "validation", "unavailable", "internal", "timeout", "denied", "error", "midstream-error", "drop", "slow-first-byte", "stall"} {
		marker := "[[sim:" + name
		if !strings.Contains(bedrocksim.MarkerHelp, marker) || !strings.Contains(string(readme), marker) {
			t.Errorf("%s... is missing from MarkerHelp or README.md", marker)
		}
	}
}
