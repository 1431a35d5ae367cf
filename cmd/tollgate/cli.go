package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

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
// which text/tabwriter cannot mix in one table. Widths are terminal cells,
// not runes, so that names in Japanese or Chinese (two cells a character)
// keep the columns after them aligned.
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
	widths := make([]int, len(t.head))
	for _, row := range append([][]string{t.head}, t.rows...) {
		for i, c := range row {
			widths[i] = max(widths[i], cells(c))
		}
	}
	var b strings.Builder
	for _, row := range append([][]string{t.head}, t.rows...) {
		var line strings.Builder
		for i, c := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-cells(c))
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
	w0 := 0
	for _, f := range fields {
		w0 = max(w0, cells(f[0]))
	}
	var b strings.Builder
	for _, f := range fields {
		fmt.Fprintf(&b, "%s:%s  %s\n", f[0], strings.Repeat(" ", w0-cells(f[0])), f[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cells is the width of s in a terminal: East Asian wide and fullwidth
// characters take two cells, combining marks and other zero-width
// characters none, everything else one.
func cells(s string) int {
	n := 0
	for _, r := range s {
		n += runeCells(r)
	}
	return n
}

func runeCells(r rune) int {
	switch {
	case r == 0x200B || r == 0x200C || r == 0x200D || r == 0xFEFF: // zero-width space, joiners, BOM
		return 0
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cc, unicode.Cf):
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}
