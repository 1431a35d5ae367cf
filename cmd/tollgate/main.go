// Command tollgate is the Tollgate LLM gateway: it serves Claude Code and other
// Anthropic, Bedrock and OpenAI clients, and calls Claude on AWS Bedrock or the
// Anthropic API on their behalf.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tollgate-gw/tollgate/internal/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tollgate:", err)
		os.Exit(1)
	}
}

// version, commit and date are stamped by release builds:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD) -X main.date=$(date -u +%FT%TZ)"
//
// Left as they are, the toolchain's build information fills them in (see
// internal/buildinfo), so `go install …@v1.2.3` and a plain `go build` in a
// checkout still say what they are.
var (
	version = buildinfo.Dev
	commit  = ""
	date    = ""
)

// build is what this binary knows about itself.
var build = buildinfo.Read(buildinfo.Info{Version: version, Revision: commit, Time: date})

// printVersion prints the build's identity, one fact per line after the
// first, for bug reports: "tollgate v1.2.3" and then commit, date and Go
// version. Unknown facts say so rather than disappear.
func printVersion(w io.Writer, b buildinfo.Info) {
	rev := b.Revision
	switch {
	case rev == "":
		rev = "unknown"
	case b.Modified:
		rev += " (modified: built with uncommitted changes)"
	}
	date := b.Time
	if date == "" {
		date = "unknown"
	}
	fmt.Fprintf(w, "tollgate %s\ncommit:  %s\ndate:    %s\ngo:      %s\n", b.Version, rev, date, b.GoVersion)
}
