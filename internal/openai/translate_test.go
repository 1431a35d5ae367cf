package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/<path>, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	path = filepath.Join("testdata", path)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func inputs(t *testing.T, dir, ext string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(names) == 0 {
		t.Fatalf("no testdata/%s/*%s: %v", dir, ext, err)
	}
	return names
}

// translated is the golden form of ToAnthropic's result: the Request's
// fields, then the Anthropic body, or the refusal.
type translated struct {
	Model        string          `json:"model,omitempty"`
	MaxTokens    int64           `json:"max_tokens,omitempty"`
	Stream       bool            `json:"stream,omitempty"`
	IncludeUsage bool            `json:"include_usage,omitempty"`
	User         string          `json:"user,omitempty"`
	JSON         bool            `json:"json,omitempty"`
	Body         json.RawMessage `json:"body,omitempty"`
	Error        *Error          `json:"error,omitempty"`
}

// TestToAnthropic translates each testdata/request/*.json and compares the
// result with its .golden file; inputs named refused_* must be refused.
func TestToAnthropic(t *testing.T) {
	for _, in := range inputs(t, "request", ".json") {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			req, err := ToAnthropic(body)
			var out translated
			var te *Error
			switch {
			case errors.As(err, &te):
				out.Error = te
			case err != nil:
				t.Fatalf("ToAnthropic = %v, want an *Error", err)
			default:
				out = translated{Model: req.Model, MaxTokens: req.MaxTokens, Stream: req.Stream,
					IncludeUsage: req.IncludeUsage, User: req.User, JSON: req.JSON, Body: req.Body}
				if got := gjsonInt(t, req.Body, "max_tokens"); got != req.MaxTokens {
					t.Errorf("body max_tokens = %d, want Request.MaxTokens %d", got, req.MaxTokens)
				}
			}
			if refused := strings.HasPrefix(name, "refused_"); refused != (out.Error != nil) {
				t.Errorf("ToAnthropic error = %v, want refused = %v", err, refused)
			}
			b, _ := json.Marshal(out)
			golden(t, filepath.Join("request", name+".golden"), indent(t, b))
		})
	}
}

func gjsonInt(t *testing.T, body []byte, field string) int64 {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var n int64
	json.Unmarshal(m[field], &n)
	return n
}

// answerFor is the Answer a test file's name implies: json_schema* answers
// a response_format json_schema request.
func answerFor(name string) Answer {
	return Answer{Model: "claude-sonnet-4-5", Created: 1700000000, JSON: strings.HasPrefix(name, "json_schema")}
}

// TestFromAnthropic translates each testdata/response/*.json, an Anthropic
// answer, into a chat.completion and compares it with its .golden file.
func TestFromAnthropic(t *testing.T) {
	for _, in := range inputs(t, "response", ".json") {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := FromAnthropic(body, answerFor(name))
			if err != nil {
				t.Fatalf("FromAnthropic = %v", err)
			}
			golden(t, filepath.Join("response", name+".golden"), indent(t, got))
		})
	}
}

// translateStream runs an Anthropic SSE stream through a Stream.
func translateStream(t testing.TB, sse []byte, a Answer, includeUsage bool) []byte {
	r := anthropic.NewSSEReader(bytes.NewReader(sse))
	s := NewStream(a, includeUsage)
	var out []byte
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading the Anthropic stream: %v", err)
		}
		out = s.AppendEvent(out, ev)
	}
}

// TestStream translates each testdata/stream/*.sse, an Anthropic event
// stream, into chat.completion.chunk SSE and compares it with its .golden
// file. Streams named *_no_usage are translated without include_usage.
func TestStream(t *testing.T) {
	for _, in := range inputs(t, "stream", ".sse") {
		name := strings.TrimSuffix(filepath.Base(in), ".sse")
		t.Run(name, func(t *testing.T) {
			sse, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := translateStream(t, sse, answerFor(name), !strings.HasSuffix(name, "_no_usage"))
			if !bytes.HasSuffix(got, []byte("data: [DONE]\n\n")) {
				t.Errorf("stream does not end with data: [DONE]")
			}
			golden(t, filepath.Join("stream", name+".golden"), got)
		})
	}
}

// TestStreamMatchesAnswer checks that a streamed answer, reassembled as a
// client does, says what the non-streamed translation of the same answer
// says: content, tool calls and finish reason.
func TestStreamMatchesAnswer(t *testing.T) {
	sse, err := os.ReadFile("testdata/stream/tools.sse")
	if err != nil {
		t.Fatal(err)
	}
	out := translateStream(t, sse, answerFor("tools"), true)
	var content string
	var finish string
	args := map[int]string{}
	var usage *Usage
	for _, line := range strings.Split(string(out), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []struct {
						Index    int `json:"index"`
						Function struct {
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *Usage `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		if c.Usage != nil {
			usage = c.Usage
		}
		for _, ch := range c.Choices {
			content += ch.Delta.Content
			for _, tc := range ch.Delta.ToolCalls {
				args[tc.Index] += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	want := map[int]string{0: `{"city": "Paris"}`, 1: `{"city":"Rome"}`}
	if content != "Both." || finish != "tool_calls" || !cmp.Equal(args, want) {
		t.Errorf("reassembled = %q, %q, %v; want Both., tool_calls, %v", content, finish, args, want)
	}
	if usage == nil || usage.PromptTokens != 80 || usage.CompletionTokens != 55 || usage.TotalTokens != 135 {
		t.Errorf("usage = %+v, want 80 + 55", usage)
	}
}

func TestFinishReason(t *testing.T) {
	tests := []struct {
		stop   string
		asJSON bool
		want   string
	}{
		{"end_turn", false, "stop"},
		{"stop_sequence", false, "stop"},
		{"max_tokens", false, "length"},
		{"model_context_window_exceeded", false, "length"},
		{"tool_use", false, "tool_calls"},
		{"tool_use", true, "stop"},
		{"refusal", false, "content_filter"},
		{"guardrail_intervened", false, "content_filter"},
		{"pause_turn", false, "stop"},
	}
	for _, tt := range tests {
		if got := FinishReason(tt.stop, tt.asJSON); got != tt.want {
			t.Errorf("FinishReason(%q, %v) = %q, want %q", tt.stop, tt.asJSON, got, tt.want)
		}
	}
}
