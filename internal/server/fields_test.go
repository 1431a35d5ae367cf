package server

import (
	"strconv"
	"testing"

	"github.com/tidwall/gjson"
)

func FuzzMaxTokens(f *testing.F) {
	for _, s := range []string{"1", "32000", "128000", "1000000", "1000001", "0", "-1", "1.5", "32000.0", "1e3", "9223372036854775807",
		"-9223372036854775808", "99999999999999999999", `"100"`, "null", "true"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v := gjson.Get(`{"max_tokens":`+raw+`}`, "max_tokens")
		n, err := maxTokens(v)
		if err != nil {
			return
		}
		if n < 1 || n > MaxOutputTokens {
			t.Fatalf("maxTokens(%q) = %d, outside 1..%d", raw, n, MaxOutputTokens)
		}
		if want, perr := strconv.ParseInt(v.Raw, 10, 64); perr != nil || want != n {
			t.Fatalf("maxTokens(%q) = %d; the literal %q is %d, %v", raw, n, v.Raw, want, perr)
		}
	})
}

func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"claude-sonnet-4-5", "claude\x00", "caf\xe9", "café", "\u0085", "a\tb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkText("f", s) != nil {
			return
		}
		// What passes is safe to store and to export: UTF-8 with no byte
		// below 0x20 and no DEL.
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] == 0x7f {
				t.Fatalf("checkText admitted %q with byte %#x", s, s[i])
			}
		}
		if truncated := truncate(s, 7); checkText("f", truncated) != nil {
			t.Fatalf("truncate(%q, 7) = %q is no longer clean text", s, truncated)
		}
	})
}
