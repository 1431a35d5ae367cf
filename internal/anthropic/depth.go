package anthropic

import (
	"errors"
	"fmt"
)

// MaxDepth is the deepest nesting of arrays and objects the gateway accepts
// in a request body. The JSON code that reads bodies (gjson's validator and
// lookups) recurses once per level, so an unbounded depth lets a 12 MB body
// of "[[[[..." exhaust the goroutine stack and kill the process, and a 6 MB
// one grow it to hundreds of megabytes. Real Messages bodies are shallow:
// body → messages → message → content → block → tool input or schema is six
// levels, and the JSON inside tool inputs and input_schema rarely adds more
// than a dozen. 256 is far above anything a client sends, and small enough
// that the recursive parsers that run after the check use a few kilobytes of
// stack.
const MaxDepth = 256

// ErrTooDeep is returned by CheckDepth for a body that nests deeper than
// the limit.
var ErrTooDeep = errors.New("anthropic: JSON nests too deep")

// CheckDepth returns an error wrapping ErrTooDeep if body nests arrays and
// objects more than limit levels deep. It does not validate the JSON: it is
// the cheap, iterative guard that must run before any recursive parser sees
// untrusted input. Brackets inside strings do not count; a backslash inside
// a string escapes the next byte, so \" does not end the string. On invalid
// JSON the count is still an upper bound of what a parser would recurse
// through, because a parser can only descend at a bracket outside a string.
func CheckDepth(body []byte, limit int) error {
	depth := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '"':
			// Skip the string: find the closing quote, stepping over
			// escapes.
			for i++; i < len(body); i++ {
				if c := body[i]; c == '\\' {
					i++
				} else if c == '"' {
					break
				}
			}
		case '[', '{':
			depth++
			if depth > limit {
				return fmt.Errorf("%w: more than %d levels of arrays and objects at byte %d", ErrTooDeep, limit, i)
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}
