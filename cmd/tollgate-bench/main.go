// Command tollgate-bench measures what the gateway adds to a model call. It
// builds release binaries of the Bedrock simulator, the gateway and itself,
// starts the simulator, a bare Go reverse proxy (this binary's hidden `proxy`
// subcommand) and `tollgate serve` (SQLite, a virtual key with a budget and a
// rate limit, metering and default logging on) as separate processes on
// loopback, and drives the three targets with the same Bedrock InvokeModel
// request, interleaved in short slices so that noise on a shared machine hits
// them alike. It prints Markdown tables: latency percentiles per target, what
// the gateway adds over the simulator and over the bare proxy, CPU time per
// call from each process' own accounting, memory, and the usage rows the
// gateway persisted.
//
//	go run ./cmd/tollgate-bench                 # the figures in docs/benchmarks.md
//	go run ./cmd/tollgate-bench --size small    # a smoke run of a few seconds
//
// Run it with --help for the flags.
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
		fmt.Fprintln(os.Stderr, "tollgate-bench:", err)
		os.Exit(1)
	}
}

// run dispatches the hidden proxy subcommand and otherwise runs the
// benchmark: the Markdown report goes to stdout, progress to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "proxy" {
		return runProxy(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "replicas" {
		return runReplicas(ctx, args[1:], stdout, stderr)
	}
	opts, err := parseFlags(args, stdout, stderr)
	if err != nil || opts == nil {
		return err
	}
	rep, err := bench(ctx, *opts, stderr)
	if err != nil {
		return err
	}
	return rep.writeMarkdown(stdout)
}
