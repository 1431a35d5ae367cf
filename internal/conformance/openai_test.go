package conformance

import (
	"testing"

	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// TestNodeOpenAISDK runs the openai npm package through the OpenAI door:
// a completion, a stream with usage, a tool round trip (the tool call
// streamed) and a bad key. Every model call is metered on door "openai".
func TestNodeOpenAISDK(t *testing.T) {
	requireEnv(t, "TOLLGATE_TEST_NODE_DIR")
	tests := []struct {
		scenario    string
		calls, rows int
	}{
		{"chat", 1, 1},
		{"stream", 1, 1},
		{"tool", 2, 2},
		{"badkey", 1, 0}, // refused before admission: no usage row
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t)
			p := g.NewPrincipal(t, "olga", testutil.PrincipalSpec{})
			session := "node-openai-" + tt.scenario
			out := runNode(t, g, "openai.mjs", tt.scenario, p.Secret, session)
			switch tt.scenario {
			case "chat":
				if out.Get("object").Str != "chat.completion" || out.Get("text").Str != simReply || out.Get("finish_reason").Str != "stop" ||
					out.Get("usage.prompt_tokens").Int() <= 0 || out.Get("usage.completion_tokens").Int() <= 0 {
					t.Errorf("chat = %s, want %q, stop, usage", out.Raw, simReply)
				}
			case "stream":
				if out.Get("text").Str != simReply || out.Get("finish_reason").Str != "stop" || out.Get("chunks").Int() < 3 ||
					out.Get("usage.completion_tokens").Int() <= 0 || out.Get("usage_chunk_choices").Int() != 0 ||
					!out.Get("usage.prompt_tokens_details.cached_tokens").Exists() {
					t.Errorf("stream = %s, want %q over several chunks, stop, and a last chunk with usage and no choices", out.Raw, simReply)
				}
			case "tool":
				if out.Get("first.finish_reason").Str != "tool_calls" || out.Get("first.tool.name").Str != "get_weather" ||
					out.Get("first.tool.arguments.city").Str != "Paris" || out.Get("first.tool.id").Str == "" {
					t.Errorf("first answer = %s, want a get_weather call with city Paris", out.Get("first").Raw)
				}
				if out.Get("second.text").Str != "Tool result: 18C and sunny" || out.Get("second.finish_reason").Str != "stop" {
					t.Errorf("second answer = %s, want the answer to the tool result", out.Get("second").Raw)
				}
			case "badkey":
				if out.Get("class").Str != "AuthenticationError" || out.Get("status").Int() != 401 || out.Get("code").Str != "invalid_api_key" ||
					out.Get("request_id").Str == "" || out.Get("origin").Str != "client" {
					t.Errorf("bad key = %s, want an AuthenticationError 401 invalid_api_key with the request id and origin client", out.Raw)
				}
			}
			calls, recs := g.settle(t)
			if len(calls) != tt.calls {
				t.Fatalf("calls = %+v, want %d", calls, tt.calls)
			}
			if tt.rows == 0 && len(recs) != 0 {
				t.Errorf("usage rows = %+v, want none", recs)
			} else if tt.rows > 0 {
				wantRows(t, calls, recs, tt.rows, "openai", p)
			}
		})
	}
}
