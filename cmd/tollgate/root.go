package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"

	"github.com/tollgate-gw/tollgate/internal/adminclient"
)

// The command tree is one cobra tree, so that --help, shell completion and
// the man pages are generated from the same descriptions, flags and
// examples and cannot drift from what the commands accept.

// usageError is a mistake on the command line (an unknown command or flag,
// a missing argument): run prints the command's usage after it, which an
// error from the gateway would only bury.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usageErrorf(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// run executes the command line args, writing to stdout and stderr. It is
// main without os.Exit, so that tests run the whole CLI.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-v") {
		printVersion(stdout, build)
		return nil
	}
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintf(stderr, "%s\n", strings.TrimRight(cmd.UsageString(), "\n"))
	}
	return explain(err)
}

// explain adds to an admin API error what the person at the terminal can
// do about it.
func explain(err error) error {
	var unreachable *adminclient.UnreachableError
	if errors.As(err, &unreachable) {
		return fmt.Errorf("cannot reach the gateway at %s: %s; check TOLLGATE_URL (or --url)", unreachable.Base, netReason(unreachable.Err))
	}
	var apiErr *adminclient.Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized {
		return fmt.Errorf("%w; check TOLLGATE_ADMIN_KEY or --admin-key (or TOLLGATE_ADMIN_USER and TOLLGATE_ADMIN_PASSWORD)", err)
	}
	return err
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tollgate",
		Short: "An LLM gateway for Claude Code on AWS Bedrock and the Anthropic API",
		Long: `Tollgate is an LLM gateway for Claude Code on AWS Bedrock and the Anthropic API:
virtual keys, budgets, rate limits and usage metering in front of Claude.

The binary serves the gateway (serve, demo) and administers a running one over
its admin API (keys, users, teams, budgets, limits, models, usage, spend) at
$TOLLGATE_URL with $TOLLGATE_ADMIN_KEY.`,
		Example: `  tollgate demo                       # try it against a built-in Bedrock simulator
  tollgate serve --config tollgate.yaml
  tollgate keys create --alias ci --budget-usd 50 --period month
  tollgate completion bash > /etc/bash_completion.d/tollgate`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return errors.New("no command given")
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddGroup(
		&cobra.Group{ID: "gateway", Title: "Gateway:"},
		&cobra.Group{ID: "admin", Title: "Administration (admin API at $TOLLGATE_URL with $TOLLGATE_ADMIN_KEY):"},
		&cobra.Group{ID: "diag", Title: "Diagnostics:"},
	)
	for _, c := range []*cobra.Command{newServeCmd(), newDemoCmd(), newCheckCmd()} {
		c.GroupID = "gateway"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newKeysCmd(), newUsersCmd(), newTeamsCmd(), newBudgetsCmd(), newLimitsCmd(), newModelsCmd(), newUsageCmd(), newSpendCmd(), newAdminsCmd(), newTokensCmd(), newAuditCmd()} {
		c.GroupID = "admin"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newDoctorCmd(), newHealthcheckCmd()} {
		c.GroupID = "diag"
		root.AddCommand(c)
	}
	root.AddCommand(newVersionCmd(), newManCmd())
	return root
}

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return usageErrorf("%s takes no arguments; got %q", cmd.CommandPath(), args)
	}
	return nil
}

// exactArgs wants one positional argument per name, e.g. exactArgs("TEAM",
// "USER"), and says which are missing.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		return usageErrorf("%s takes %d argument(s): %s; got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
	}
}

// newGroup returns a command such as `tollgate keys` that only holds
// subcommands: alone it prints its usage and fails, with an unknown
// subcommand it says so.
func newGroup(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return fmt.Errorf("%s: no command given", cmd.Name())
		},
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit, date and Go version",
		Long:    "Print the build's identity, for bug reports. --version and -v do the same.",
		Example: "  tollgate version",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			printVersion(cmd.OutOrStdout(), build)
			return nil
		},
	}
}

func newManCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "man",
		Short: "Write man pages for every command into a directory",
		Long: `Write a man page (section 1) for tollgate and each of its commands into
--dir, from the same descriptions, flags and examples as --help.`,
		Example: "  tollgate man --dir /usr/local/share/man/man1",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // reproducible pages: no generation date
			header := &doc.GenManHeader{Title: "TOLLGATE", Section: "1", Source: "Tollgate " + build.Version, Manual: "Tollgate Manual"}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote man pages to %s\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "man", "directory to write the pages (tollgate.1, tollgate-keys-create.1, …) into")
	return cmd
}

// adminFlags are the flags every admin command shares, persistent on each
// admin command group: `tollgate keys list --url https://llm.example.com`.
type adminFlags struct {
	url  string
	key  string
	user string
}

func (f *adminFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "gateway URL (default $TOLLGATE_URL, else "+defaultGatewayURL+")")
	fs.StringVar(&f.key, "admin-key", "", "admin key or scoped admin token (default $TOLLGATE_ADMIN_KEY)")
	fs.StringVar(&f.user, "admin-user", "", "sign in as this admin account, with the password in $TOLLGATE_ADMIN_PASSWORD (default $TOLLGATE_ADMIN_USER)")
}

// jsonFlag adds --json to a command that can print the admin API's JSON
// answer instead of a table.
func jsonFlag(cmd *cobra.Command) *bool {
	return cmd.Flags().Bool("json", false, "print the admin API's JSON answer instead of a table")
}

// printJSON writes an admin API answer, decoded into the admin package's
// types, as indented JSON: the same fields the gateway sent.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
