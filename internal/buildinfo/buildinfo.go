// Package buildinfo says which build of Tollgate is running, for
// `tollgate version`, the tollgate_build_info metric and User-Agent headers.
//
// Release builds stamp the version, commit and date with -ldflags -X, and
// those win. Every other build — `go build` in a checkout, `go install
// …@v1.2.3`, a container built without build arguments — still knows a good
// deal about itself from the Go toolchain (runtime/debug.ReadBuildInfo): the
// module version and, when built from a VCS checkout, the commit, its time and
// whether the tree had uncommitted changes. Reporting "dev" for all of them
// would make an incident's first question, "what exactly is running?",
// unanswerable.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Dev is the version of a build that knows nothing better about itself.
const Dev = "dev"

// revisionLen is how much of a commit hash is shown: 12 hex digits, as in Go
// pseudo-versions, unique in any repository of this size.
const revisionLen = 12

// Info identifies a build. Empty strings are unknown.
type Info struct {
	// Version is a release tag (v1.2.3), a Go pseudo-version
	// (v0.0.0-20260102150405-abcdef123456), whatever the release process
	// stamped (git describe), or Dev.
	Version string
	// Revision is the VCS commit, shortened to 12 hex digits.
	Revision string
	// Time is when that commit was made (vcs.time, RFC 3339), or the build
	// date a release process stamped.
	Time string
	// Modified is set when the binary was built from a tree with
	// uncommitted changes, so Revision alone does not describe it.
	Modified bool
	// GoVersion is the toolchain that built the binary, e.g. go1.26.8.
	GoVersion string
}

// Read returns the running binary's Info: stamped fields (from -ldflags)
// where set, the toolchain's build information elsewhere.
func Read(stamped Info) Info {
	bi, _ := debug.ReadBuildInfo()
	return Resolve(stamped, bi)
}

// Resolve merges what the release process stamped with what the toolchain
// recorded (bi may be nil). A stamped field wins over the recorded one;
// "dev" as a stamped version counts as unstamped, because that is the
// placeholder a build without -ldflags carries. The modified flag is taken
// from the toolchain only when the revision is too: a stamped revision says
// nothing about the tree the toolchain saw.
func Resolve(stamped Info, bi *debug.BuildInfo) Info {
	out := stamped
	if out.Version == Dev {
		out.Version = ""
	}
	out.GoVersion = runtime.Version()
	if bi != nil {
		if bi.GoVersion != "" {
			out.GoVersion = bi.GoVersion
		}
		if v := bi.Main.Version; out.Version == "" && v != "" && v != "(devel)" {
			out.Version = v
		}
		var rev, when string
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if out.Revision == "" && rev != "" {
			out.Revision, out.Modified = rev, modified
		}
		if out.Time == "" {
			out.Time = when
		}
	}
	if len(out.Revision) > revisionLen {
		out.Revision = out.Revision[:revisionLen]
	}
	if out.Version == "" {
		out.Version = Dev
	}
	return out
}

// String is the one-line summary `tollgate version` prints after the name:
// "v1.2.3 (commit abcdef123456, modified, 2026-01-02T15:04:05Z, go1.26.8)".
func (i Info) String() string {
	parts := []string{"commit " + or(i.Revision, "unknown")}
	if i.Modified {
		parts = append(parts, "modified")
	}
	if i.Time != "" {
		parts = append(parts, i.Time)
	}
	parts = append(parts, i.GoVersion)
	return fmt.Sprintf("%s (%s)", i.Version, strings.Join(parts, ", "))
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
