package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

func seed(f *testing.F, pattern string) {
	names, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzToAnthropic checks that any request body is either refused with an
// *Error or translated into a JSON object whose max_tokens is the one the
// budget reservation uses.
func FuzzToAnthropic(f *testing.F) {
	seed(f, "request/*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ToAnthropic(body)
		if err != nil {
			var te *Error
			if !errors.As(err, &te) || te.Param == "" {
				t.Fatalf("ToAnthropic error = %#v, want an *Error naming a parameter", err)
			}
			return
		}
		var out struct {
			MaxTokens int64             `json:"max_tokens"`
			Messages  []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(req.Body, &out); err != nil {
			t.Fatalf("translated body is not JSON: %v\n%s", err, req.Body)
		}
		if out.MaxTokens != req.MaxTokens || out.MaxTokens < 1 || len(out.Messages) == 0 {
			t.Fatalf("translated body max_tokens %d, Request.MaxTokens %d, %d messages", out.MaxTokens, req.MaxTokens, len(out.Messages))
		}
	})
}

// FuzzFromAnthropic checks that any upstream answer either fails to decode
// or becomes valid chat.completion JSON.
func FuzzFromAnthropic(f *testing.F) {
	seed(f, "response/*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := FromAnthropic(body, Answer{Model: "m", JSON: len(body)%2 == 0})
		if err == nil && !json.Valid(out) {
			t.Fatalf("FromAnthropic = %s, not JSON", out)
		}
	})
}

// FuzzStream feeds any event stream through the translation: every line it
// writes must be an SSE comment, a JSON data line or [DONE].
func FuzzStream(f *testing.F) {
	seed(f, "stream/*.sse")
	f.Fuzz(func(t *testing.T, sse []byte) {
		r := anthropic.NewSSEReader(bytesReader(sse))
		s := NewStream(Answer{Model: "m", JSON: len(sse)%2 == 0}, true)
		var out []byte
		for range 10000 {
			ev, err := r.Next()
			if err != nil {
				break
			}
			out = s.AppendEvent(out, ev)
		}
		checkSSE(t, out)
	})
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func checkSSE(t *testing.T, out []byte) {
	t.Helper()
	for _, frame := range bytes.Split(out, []byte("\n\n")) {
		switch {
		case len(frame) == 0, bytes.Equal(frame, []byte(": ping")), bytes.Equal(frame, []byte("data: [DONE]")):
		case bytes.HasPrefix(frame, []byte("data: ")) && json.Valid(frame[len("data: "):]):
		default:
			t.Fatalf("bad SSE frame %q", frame)
		}
	}
}
