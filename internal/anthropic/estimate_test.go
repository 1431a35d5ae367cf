package anthropic

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPromptTokenBound(t *testing.T) {
	text := `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hello"}]}`
	img := func(src string) string {
		return `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":` + src + `}]}]}`
	}
	doc := func(src string) string {
		return `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document","source":` + src + `}]}]}`
	}
	inToolResult := `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}},{"type":"image","source":{"type":"url","url":"https://x"}}]}]}]}`
	escaped := `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"\u0069mage","source":{"type":"file","file_id":"f"}}]}]}`
	tools := `{"model":"m","max_tokens":1,"tools":[{"name":"t","input_schema":{"type":"object"}}],"messages":[]}`
	emptyTools := `{"model":"m","max_tokens":1,"tools":[],"messages":[]}`
	systemImg := `{"model":"m","max_tokens":1,"system":[{"type":"image","source":{"type":"url","url":"u"}}],"messages":[]}`
	huge := `{"messages":"` + strings.Repeat("x", MaxPromptTokens) + `"}`
	manyDocs := `{"messages":[{"role":"user","content":[` + strings.Repeat(`{"type":"document","source":{"type":"url","url":"u"}},`, 5) + `{"type":"text","text":"x"}]}]}`
	tests := []struct {
		name string
		body string
		want int64
	}{
		{"text is its bytes", text, int64(len(text))},
		{"image by URL", img(`{"type":"url","url":"https://example.com/a.png"}`), int64(len(img(`{"type":"url","url":"https://example.com/a.png"}`))) + ImageTokens},
		{"image by file_id", img(`{"type":"file","file_id":"file_1"}`), int64(len(img(`{"type":"file","file_id":"file_1"}`))) + ImageTokens},
		{"images inside a tool result", inToolResult, int64(len(inToolResult)) + 2*ImageTokens},
		{"escaped type is still an image", escaped, int64(len(escaped)) + ImageTokens},
		{"PDF by URL", doc(`{"type":"url","url":"https://example.com/a.pdf"}`), int64(len(doc(`{"type":"url","url":"https://example.com/a.pdf"}`))) + DocumentTokens},
		{"plain-text document is its bytes", doc(`{"type":"text","media_type":"text/plain","data":"hi"}`), int64(len(doc(`{"type":"text","media_type":"text/plain","data":"hi"}`)))},
		{"tools add the tool-use overhead", tools, int64(len(tools)) + ToolUseTokens},
		{"no tools, no overhead", emptyTools, int64(len(emptyTools))},
		{"system blocks count", systemImg, int64(len(systemImg)) + ImageTokens},
		{"capped at the largest context window", huge, MaxPromptTokens},
		{"allowances capped too", manyDocs, MaxPromptTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PromptTokenBound([]byte(tt.body)); got != tt.want {
				t.Errorf("PromptTokenBound(%.80s…) = %d, want %d", tt.body, got, tt.want)
			}
		})
	}
}

func FuzzPromptTokenBound(f *testing.F) {
	f.Add([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]}`))
	f.Add([]byte(`{"tools":[{}],"system":"s","messages":[{"content":[{"type":"document","source":{"type":"content","content":[{"type":"image"}]}}]}]}`))
	f.Add([]byte(`{"messages":[[[[{"type":"image"}]]]]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if CheckDepth(body, MaxDepth) != nil || !json.Valid(body) {
			return
		}
		got := PromptTokenBound(body)
		if got < min(int64(len(body)), MaxPromptTokens) || got > MaxPromptTokens {
			t.Fatalf("PromptTokenBound(%q) = %d, want between min(len %d, max) and %d", body, got, len(body), MaxPromptTokens)
		}
		if est := PromptTokenEstimate(body); est < 0 || est > got {
			t.Fatalf("PromptTokenEstimate(%q) = %d, want between 0 and the bound %d", body, est, got)
		}
	})
}

// TestPromptTokenEstimate: realistic counts, well below the bound for text
// and far below it for a PDF, never above it.
func TestPromptTokenEstimate(t *testing.T) {
	text := []byte(`{"model":"m","max_tokens":32000,"messages":[{"role":"user","content":"` + strings.Repeat("word ", 3000) + `"}]}`)
	pdf := []byte(`{"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"` + strings.Repeat("QUJD", 25_000) + `"}}]}]}`)
	tests := []struct {
		name     string
		body     []byte
		min, max int64
	}{
		{"15 KB of text", text, 4_000, 6_000},
		{"a 100 KB PDF", pdf, 3_000, 10_000},
		{"say hi", []byte(`{"messages":[{"role":"user","content":"say hi"}]}`), 1, 30},
	}
	for _, tt := range tests {
		got, bound := PromptTokenEstimate(tt.body), PromptTokenBound(tt.body)
		if got < tt.min || got > tt.max || got > bound {
			t.Errorf("%s: PromptTokenEstimate = %d (bound %d), want %d to %d", tt.name, got, bound, tt.min, tt.max)
		}
	}
}
