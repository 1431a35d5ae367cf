package config

import (
	"bytes"
	"fmt"
)

// LookupEnv reads an environment variable, as os.LookupEnv does. Tests pass
// a map-backed function so that they never depend on the real environment.
type LookupEnv func(name string) (value string, ok bool)

// expansion is the result of expanding ${VAR} references in a config file.
type expansion struct {
	text []byte
	// shifts records, per 1-based line, where expansions changed the length
	// of the line, so that a column reported by the YAML parser on the
	// expanded text can be mapped back to the column in the file.
	shifts map[int][]shift
	// problems are unset variables and malformed references.
	problems []Problem
}

// shift is one expansion on a line, in 1-based columns: the reference
// occupied [origFrom, origTo) in the file and its replacement occupies
// [from, to) in the expanded line.
type shift struct {
	origFrom, origTo, from, to int
}

// column maps a 1-based column on an expanded line back to the file. A
// column inside a replacement maps to the start of its reference.
func (e *expansion) column(line, col int) int {
	delta := 0
	for _, s := range e.shifts[line] {
		if col < s.from {
			break
		}
		if col < s.to {
			return s.origFrom
		}
		delta = s.to - s.origTo
	}
	return col - delta
}

// note records an expansion for column mapping.
func (e *expansion) note(line int, s shift) {
	e.shifts[line] = append(e.shifts[line], s)
}

// expandEnv expands environment references in a config file before it is
// parsed as YAML. The rules:
//
//   - ${VAR} is the value of VAR; it is an error when VAR is unset (set but
//     empty is allowed: the field's own validation then decides).
//   - ${VAR:-default} is the value of VAR, or default when VAR is unset or
//     empty. The default runs to the first '}' and is not itself expanded.
//   - $$ is a literal $. Any other $ is left as it is.
//   - Comments are not expanded, so a commented-out line may mention an
//     unset variable. A '#' starts a comment at the start of a line or after
//     a space or tab, outside quotes (a '#' in a block scalar after a space
//     is therefore also treated as a comment start).
//   - A value containing a line break is an error: it would shift every
//     later line number and could inject YAML structure.
//
// The value is inserted as text, so a value that may contain YAML syntax
// (": ", " #", a leading '*' or '&') should be quoted in the file:
// secret: "${KEY}".
func expandEnv(data []byte, lookup LookupEnv, source string) *expansion {
	e := &expansion{shifts: map[int][]shift{}}
	out := make([]byte, 0, len(data)+len(data)/8)
	line := 1
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		var raw []byte
		if end < 0 {
			raw, data = data, nil
		} else {
			raw, data = data[:end+1], data[end+1:]
		}
		out = e.expandLine(out, raw, line, lookup, source)
		line++
	}
	e.text = out
	return e
}

// expandLine appends the expansion of one line (with its line break, if any)
// to out.
func (e *expansion) expandLine(out, raw []byte, line int, lookup LookupEnv, source string) []byte {
	lineOut := len(out)
	var quote byte          // the open quote character, or 0
	var prevByte byte = ' ' // the start of a line counts as whitespace
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case quote == '"' && c == '\\' && i+1 < len(raw):
			out = append(out, c, raw[i+1])
			prevByte = raw[i+1]
			i += 2
			continue
		case quote != 0 && c == quote:
			if quote == '\'' && i+1 < len(raw) && raw[i+1] == '\'' {
				out = append(out, c, c)
				i += 2
				continue
			}
			quote = 0
		case quote == 0 && (c == '"' || c == '\'') && isQuoteStart(prevByte):
			quote = c
		case quote == 0 && c == '#' && (prevByte == ' ' || prevByte == '\t'):
			// A comment: the rest of the line is copied untouched.
			return append(out, raw[i:]...)
		case c == '$' && i+1 < len(raw) && raw[i+1] == '$':
			from := len(out) - lineOut + 1
			out = append(out, '$')
			e.note(line, shift{origFrom: i + 1, origTo: i + 3, from: from, to: from + 1})
			prevByte = '$'
			i += 2
			continue
		case c == '$' && i+1 < len(raw) && raw[i+1] == '{':
			closing := bytes.IndexByte(raw[i:], '}')
			if closing < 0 {
				e.problems = append(e.problems, Problem{
					Source: source, Line: line, Column: i + 1,
					Message: "unterminated ${ (write $$ for a literal $)",
				})
				return append(out, raw[i:]...)
			}
			ref := string(raw[i+2 : i+closing])
			value, problem, unset := resolveRef(ref, lookup)
			if problem != "" {
				e.problems = append(e.problems, Problem{
					Source: source, Line: line, Column: i + 1, Message: problem, Unset: unset,
				})
			}
			from := len(out) - lineOut + 1
			out = append(out, value...)
			e.note(line, shift{origFrom: i + 1, origTo: i + closing + 2, from: from, to: len(out) - lineOut + 1})
			prevByte = '}'
			i += closing + 1
			continue
		}
		out = append(out, c)
		prevByte = c
		i++
	}
	return out
}

// isQuoteStart reports whether a quote after b opens a quoted scalar rather
// than being part of a plain one (as in "don't").
func isQuoteStart(b byte) bool {
	switch b {
	case ' ', '\t', '[', '{', ',', ':', '-', '?':
		return true
	}
	return false
}

// resolveRef resolves the inside of a ${...} reference. It returns the value
// and, for a bad or unset reference, a problem message; unset names a
// variable that is not set.
func resolveRef(ref string, lookup LookupEnv) (value, problem, unset string) {
	name, def, hasDefault := ref, "", false
	for i := 0; i+1 < len(ref); i++ {
		if ref[i] == ':' && ref[i+1] == '-' {
			name, def, hasDefault = ref[:i], ref[i+2:], true
			break
		}
	}
	if !validEnvName(name) {
		return "", fmt.Sprintf("${%s}: %q is not a variable name (letters, digits and _, not starting with a digit; only ${VAR} and ${VAR:-default} are supported)", ref, name), ""
	}
	value, ok := lookup(name)
	switch {
	case hasDefault && value == "":
		value = def
	case !ok:
		return "", fmt.Sprintf("environment variable %s is not set (write ${%s:-default} to make it optional)", name, name), name
	}
	if bytes.ContainsAny([]byte(value), "\r\n") {
		return "", fmt.Sprintf("environment variable %s contains a line break, which cannot be expanded into YAML", name), ""
	}
	return value, "", ""
}

// validEnvName reports whether s is a portable environment variable name.
func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
