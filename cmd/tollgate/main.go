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
  tollgate version                                 print the version

Run "tollgate COMMAND --help" for a command's flags.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

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
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "tollgate", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
