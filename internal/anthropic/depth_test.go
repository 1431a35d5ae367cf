package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestCheckDepth(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		ok    bool
	}{
		{"empty", ``, 0, true},
		{"scalar", `1`, 0, true},
		{"flat object at limit", `{"a":1}`, 1, true},
		{"object over limit", `{"a":{}}`, 1, false},
		{"arrays at limit", `[[[]]]`, 3, true},
		{"arrays over limit", `[[[[]]]]`, 3, false},
		{"siblings do not add", `[[],[],[],{}]`, 2, true},
		{"brackets in strings ignored", `{"a":"[[[[{{{{"}`, 1, true},
		{"escaped quote keeps string open", `{"a":"\"[[[["}`, 1, true},
		{"escaped backslash ends escape", `{"a":"\\"}`, 1, true},
		{"escaped backslash then bracket", `["\\",[[]]]`, 2, false},
		{"unicode escapes", `{"a":"\u005b\u005b"}`, 1, true},
		{"unterminated string", `["[[[[`, 1, true},
		{"stray closers do not go negative", `]]]]][[`, 1, false},
		{"messages body", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","content":[{"type":"text","text":"x"}]}]}]}`, 7, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDepth([]byte(tt.in), tt.limit)
			if (err == nil) != tt.ok {
				t.Errorf("CheckDepth(%q, %d) = %v, want ok %v", tt.in, tt.limit, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrTooDeep) {
				t.Errorf("CheckDepth(%q, %d) = %v, want ErrTooDeep", tt.in, tt.limit, err)
			}
		})
	}
}

// TestCheckDepthLargeBody is the shape that crashed the gateway: millions
// of nested arrays. The scanner stops at the limit without recursing.
func TestCheckDepthLargeBody(t *testing.T) {
	body := bytes.Repeat([]byte("["), 4<<20)
	if err := CheckDepth(body, MaxDepth); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("CheckDepth(4 MiB of '[') = %v, want ErrTooDeep", err)
	}
	ok := append(bytes.Repeat([]byte("["), MaxDepth), bytes.Repeat([]byte("]"), MaxDepth)...)
	if err := CheckDepth(ok, MaxDepth); err != nil {
		t.Fatalf("CheckDepth(%d levels) = %v, want nil", MaxDepth, err)
	}
}

// jsonDepth is the nesting depth of valid JSON per encoding/json's
// tokenizer, which keeps its own stack rather than recursing.
func jsonDepth(in []byte) (int, bool) {
	dec := json.NewDecoder(bytes.NewReader(in))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return deepest, true
		}
		if err != nil {
			return 0, false
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '[' || d == '{' {
				depth++
				deepest = max(deepest, depth)
			} else {
				depth--
			}
		}
	}
}

func FuzzCheckDepth(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,{"b":"[{"}]}`, `"\\\"["`, `[[["\\"]]]`, `{"a":"\u005b"}`, `[`, `]`, `""`,
		`{"model":"claude","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`,
		strings.Repeat("[", 40) + strings.Repeat("]", 40),
	} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		limit = max(limit%64, 0)
		err := CheckDepth(in, limit)
		if err != nil && !errors.Is(err, ErrTooDeep) {
			t.Fatalf("CheckDepth = %v, not ErrTooDeep", err)
		}
		if !json.Valid(in) {
			return
		}
		depth, ok := jsonDepth(in)
		if !ok {
			t.Fatalf("json.Valid but the tokenizer failed on %q", in)
		}
		if got, want := err == nil, depth <= limit; got != want {
			t.Fatalf("CheckDepth(%q, %d) = %v; encoding/json depth %d", in, limit, err, depth)
		}
		// Within the bound, the recursive validator agrees with
		// encoding/json.
		if err == nil && !gjson.ValidBytes(in) {
			t.Fatalf("gjson.ValidBytes(%q) = false; encoding/json says valid", in)
		}
	})
}
