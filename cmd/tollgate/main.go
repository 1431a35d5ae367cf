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

const usage = `Tollgate — an LLM gateway for Claude Code on AWS Bedrock and the Anthropic API.

Usage:
  tollgate serve [--config FILE] [--listen ADDR]   run the gateway (config also from TOLLGATE_CONFIG)
  tollgate demo  [--listen ADDR]                   run the gateway against a built-in Bedrock simulator
  tollgate check [--config FILE]                   validate a config file and print what it would serve
  tollgate version                                 print the version, commit, date and Go version

Administration (over the admin API at $TOLLGATE_URL with $TOLLGATE_ADMIN_KEY):
  tollgate keys create|list|show|revoke|delete     virtual keys, their secret shown once
  tollgate users create|list|delete                users that own keys and budgets
  tollgate teams create|list|add-member|…|delete   teams of users
  tollgate budgets create|list|delete              USD/token budgets per day, week, month, total
  tollgate limits create|list|delete               rate limits: requests/min, tokens/min, concurrent
  tollgate usage [--by user|team|key|model|tag|session] [--follow]
                                                   usage and cost as a table, --csv, --json; live with --follow
  tollgate spend                                   budgets: spent, remaining, when they reset

Diagnostics:
  tollgate doctor [--model NAME] [--verbose]       check each hop of a Claude Code call from here
  tollgate healthcheck [--url URL]                 GET a health URL, exit 0 on 2xx (containers)

Run "tollgate COMMAND --help" for a command's flags.
`

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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "check":
		return runCheck(ctx, args[1:], stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], stdout, stderr)
	case "users":
		return runUsers(ctx, args[1:], stdout, stderr)
	case "teams":
		return runTeams(ctx, args[1:], stdout, stderr)
	case "budgets":
		return runBudgets(ctx, args[1:], stdout, stderr)
	case "limits":
		return runLimits(ctx, args[1:], stdout, stderr)
	case "usage":
		return runUsage(ctx, args[1:], stdout, stderr)
	case "spend":
		return runSpend(ctx, args[1:], stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		printVersion(stdout, build)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

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
