package store

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCleanText checks that whatever a client sends, the text that reaches
// a usage row is valid UTF-8 without NUL, and that clean text is kept as is.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", "claude-sonnet-4-5", "claude-sonnet-4-5\x00", "model\xff", "\xe9quipe", "a\x00\xff\x00b", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := cleanText(in)
		if !utf8.ValidString(out) || strings.IndexByte(out, 0) >= 0 {
			t.Errorf("cleanText(%q) = %q, want valid UTF-8 without NUL", in, out)
		}
		if utf8.ValidString(in) && strings.IndexByte(in, 0) < 0 && out != in {
			t.Errorf("cleanText(%q) = %q, want it unchanged", in, out)
		}
		if again := cleanText(out); again != out {
			t.Errorf("cleanText is not idempotent: %q then %q", out, again)
		}
	})
}
