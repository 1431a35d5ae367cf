package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	vcs := func(rev, when, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: when},
			{Key: "vcs.modified", Value: modified},
		}
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name    string
		stamped Info
		bi      *debug.BuildInfo
		want    Info
	}{
		{
			name: "go build in a dirty checkout",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "2026-01-02T15:04:05Z", "true")},
			want: Info{Version: Dev, Revision: "0123456789ab", Time: "2026-01-02T15:04:05Z", Modified: true, GoVersion: "go1.26.8"},
		},
		{
			name:    "stamped dev is a placeholder",
			stamped: Info{Version: "dev"},
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20260102150405-0123456789ab+dirty"}, Settings: vcs(rev, "2026-01-02T15:04:05Z", "true")},
			want:    Info{Version: "v0.0.0-20260102150405-0123456789ab+dirty", Revision: "0123456789ab", Time: "2026-01-02T15:04:05Z", Modified: true, GoVersion: "go1.26.8"},
		},
		{
			name: "go install at a tag: module version, no VCS",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3", Sum: "h1:x"}},
			want: Info{Version: "v1.2.3", GoVersion: "go1.26.8"},
		},
		{
			name: "clean checkout",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: vcs(rev, "2026-01-02T15:04:05Z", "false")},
			want: Info{Version: "v1.2.3", Revision: "0123456789ab", Time: "2026-01-02T15:04:05Z", GoVersion: "go1.26.8"},
		},
		{
			name:    "ldflags stamp wins",
			stamped: Info{Version: "v2.0.0-rc.1", Revision: "fedcba987654", Time: "2026-03-04T05:06:07Z"},
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20260102150405-0123456789ab+dirty"}, Settings: vcs(rev, "2026-01-02T15:04:05Z", "true")},
			want:    Info{Version: "v2.0.0-rc.1", Revision: "fedcba987654", Time: "2026-03-04T05:06:07Z", GoVersion: "go1.26.8"},
		},
		{
			name:    "stamped version only: the toolchain fills the rest",
			stamped: Info{Version: "v2.0.0"},
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "2026-01-02T15:04:05Z", "false")},
			want:    Info{Version: "v2.0.0", Revision: "0123456789ab", Time: "2026-01-02T15:04:05Z", GoVersion: "go1.26.8"},
		},
		{
			name: "no build information",
			want: Info{Version: Dev, GoVersion: runtime.Version()},
		},
		{
			name: "(devel) without VCS",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: Dev, GoVersion: "go1.26.8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Resolve(tt.stamped, tt.bi)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resolve(%+v, …) (-want +got):\n%s", tt.stamped, diff)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		in   Info
		want string
	}{
		{Info{Version: "v1.2.3", Revision: "0123456789ab", Time: "2026-01-02T15:04:05Z", Modified: true, GoVersion: "go1.26.8"},
			"v1.2.3 (commit 0123456789ab, modified, 2026-01-02T15:04:05Z, go1.26.8)"},
		{Info{Version: Dev, GoVersion: "go1.26.8"}, "dev (commit unknown, go1.26.8)"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The test binary has build information; Read must not lose it.
func TestRead(t *testing.T) {
	got := Read(Info{Version: "v9.9.9"})
	if got.Version != "v9.9.9" || got.GoVersion == "" {
		t.Errorf("Read(stamped v9.9.9) = %+v, want the stamped version and a Go version", got)
	}
}
