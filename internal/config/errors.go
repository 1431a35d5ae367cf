package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Source names the file, as given to Load or Parse.
	Source string
	// Line and Column are 1-based; 0 when the problem has no place in the
	// file (a value that came from a default or the environment).
	Line, Column int
	// Path is the field, e.g. "models[2].targets[0].provider"; empty for
	// problems with the text itself (YAML syntax, ${VAR} expansion).
	Path string
	// Message says what is wrong and, where it helps, what would be right.
	Message string
	// Unset names the environment variable that a ${VAR} on this line
	// refers to and that is not set. `tollgate check`, run where the
	// deployment's secrets are not, reports these as warnings rather than
	// errors, and leaves out the problems with the empty value in their
	// place.
	Unset string
}

// String formats the problem as "source:line:col: path: message", leaving
// out the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.Source != "" {
		b.WriteString(p.Source)
		b.WriteByte(':')
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, "%d:", p.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError carries every problem found in a configuration, so that the
// CLI can print them all and the operator can fix the file in one pass.
// Decisions use errors.As; the message is the problems, one per line.
type ValidationError struct {
	Problems []Problem
}

// Error joins the problems, one per line, in file order.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by position; problems without one (values
// from defaults or the environment) keep their order and come last.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}
