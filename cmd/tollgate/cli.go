package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// subcommand is one verb of a command group such as `tollgate keys`.
type subcommand struct {
	name  string
	usage string // arguments and flags, for the group's usage text
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// dispatch runs the subcommand args[0] of group, or prints the group's usage.
func dispatch(ctx context.Context, group, about string, subs []subcommand, args []string, stdout, stderr io.Writer) error {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "%s\n\nUsage:\n", about)
		for _, s := range subs {
			fmt.Fprintf(w, "  tollgate %s %s %s\n", group, s.name, s.usage)
		}
		fmt.Fprintf(w, "\nEvery command takes --url (default $TOLLGATE_URL, else %s) and --admin-key\n(default $TOLLGATE_ADMIN_KEY). Run \"tollgate %s COMMAND --help\" for its flags.\n", defaultGatewayURL, group)
	}
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("%s: no command given", group)
	}
	switch args[0] {
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("%s: unknown command %q", group, args[0])
}

// newFlagSet returns a FlagSet whose usage shows the command line first.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tollgate %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags wherever they appear among the positional
// arguments, so that `tollgate users create alice --email a@example.com`
// works as well as the flags-first order the flag package expects.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagErr turns -h/--help, which the flag package reports as an error after
// printing the usage, into success.
func flagErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// wantArgs checks the number of positional arguments.
func wantArgs(cmd string, pos []string, names ...string) error {
	if len(pos) == len(names) {
		return nil
	}
	return fmt.Errorf("%s takes %d argument(s): %s; got %d", cmd, len(names), strings.Join(names, " "), len(pos))
}

// splitList splits "a, b,c" into its non-empty, trimmed items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// table writes aligned columns: text on the left, numbers on the right —
// which text/tabwriter cannot mix in one table.
type table struct {
	head  []string
	right []bool
	rows  [][]string
}

func newTable(head ...string) *table {
	t := &table{right: make([]bool, len(head))}
	for i, h := range head {
		// A leading '>' marks a right-aligned (numeric) column.
		if rest, ok := strings.CutPrefix(h, ">"); ok {
			h, t.right[i] = rest, true
		}
		t.head = append(t.head, h)
	}
	return t
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) error {
	width := make([]int, len(t.head))
	for _, row := range append([][]string{t.head}, t.rows...) {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, row := range append([][]string{t.head}, t.rows...) {
		var line strings.Builder
		for i, c := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if t.right[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// count formats an integer with thousands separators: 1234567 → "1,234,567".
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// cost formats micro-USD spent for a table: two decimals from a dollar up,
// four below, so that a few cents of usage do not read as $0.00.
func cost(micros int64) string {
	sign := ""
	if micros < 0 {
		sign, micros = "-", -micros
	}
	if micros >= 1_000_000 {
		cents := (micros + 5_000) / 10_000
		return fmt.Sprintf("%s%s.%02d", sign, count(cents/100), cents%100)
	}
	tenths := (micros + 50) / 100 // units of $0.0001
	if tenths >= 10_000 {
		return sign + "1.00"
	}
	if tenths == 0 {
		if micros == 0 {
			return "0.00"
		}
		return "<0.0001"
	}
	return fmt.Sprintf("%s0.%04d", sign, tenths)
}

// dollars is cost with a dollar sign: "$0.0117", "<$0.0001".
func dollars(micros int64) string {
	c := cost(micros)
	if rest, ok := strings.CutPrefix(c, "<"); ok {
		return "<$" + rest
	}
	if rest, ok := strings.CutPrefix(c, "-"); ok {
		return "-$" + rest
	}
	return "$" + c
}

// dollarsDown is dollars rounded down, for what is left of a budget: $49.9996
// left shows as $49.99, never as the $50.00 it would round to.
func dollarsDown(micros int64) string {
	if micros >= 1_000_000 {
		return dollars(micros - micros%10_000)
	}
	return dollars(micros - micros%100)
}

// money formats a configured amount (a budget limit) exactly, with at least
// two decimals: 50000000 → "$50.00", 1234500 → "$1.2345".
func money(micros int64) string {
	sign := ""
	if micros < 0 {
		sign, micros = "-", -micros
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", micros%1_000_000), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return fmt.Sprintf("%s$%s.%s", sign, count(micros/1_000_000), frac)
}

// writeFields writes "label:  value" lines with the values aligned.
func writeFields(w io.Writer, fields [][2]string) error {
	width := 0
	for _, f := range fields {
		width = max(width, utf8.RuneCountInString(f[0]))
	}
	var b strings.Builder
	for _, f := range fields {
		fmt.Fprintf(&b, "%-*s  %s\n", width+1, f[0]+":", f[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
