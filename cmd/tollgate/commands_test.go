package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestEveryCommandIsDocumented walks the command tree: every command has a
// description, every command that runs has an example, and every flag says
// what it is for, so that --help, the man pages and completion are never
// bare.
func TestEveryCommandIsDocumented(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || strings.HasPrefix(c.CommandPath(), "tollgate completion") {
			return
		}
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c.Short == "" {
				t.Errorf("%s has no description (Short)", c.CommandPath())
			}
			if !c.HasSubCommands() && c.Example == "" {
				t.Errorf("%s has no example", c.CommandPath())
			}
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if f.Usage == "" {
					t.Errorf("%s --%s has no usage text", c.CommandPath(), f.Name)
				}
			})
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}

// TestHelp: every command's --help prints its description, flags and
// example on stdout and succeeds — not the flag package's bare dump.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--help"}, {"demo", "--help"}, {"check", "--help"}, {"keys", "create", "--help"},
		{"budgets", "update", "-h"}, {"help", "limits"}, {"doctor", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, _, err := cli(t, args...)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			wantContains(t, strings.Join(args, " "), out, "Usage:", "Flags:")
			if args[0] != "help" && !strings.Contains(out, "Examples:") {
				t.Errorf("%v lacks an example:\n%s", args, out)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"keys", "frobnicate"}, `unknown command "frobnicate" for "tollgate keys"`},
		{[]string{"keys", "show"}, "takes 1 argument(s): ALIAS|ID; got 0"},
		{[]string{"serve", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"keys"}, "keys: no command given"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, stderr, err := cli(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
			if !strings.Contains(stderr, "Usage:") {
				t.Errorf("stderr lacks the usage:\n%s", stderr)
			}
		})
	}
}

func TestCompletionAndMan(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out := mustCLI(t, "completion", shell)
		if !strings.Contains(out, "tollgate") || len(out) < 1000 {
			t.Errorf("completion %s = %d bytes:\n%.300s", shell, len(out), out)
		}
	}
	dir := t.TempDir()
	mustCLI(t, "man", "--dir", dir)
	for _, page := range []string{"tollgate.1", "tollgate-keys-create.1", "tollgate-budgets-update.1", "tollgate-serve.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Errorf("man: %v", err)
			continue
		}
		if !regexp.MustCompile(`(?m)^\.SH EXAMPLE`).Match(b) && page != "tollgate.1" {
			t.Errorf("%s has no EXAMPLE section", page)
		}
	}
}
