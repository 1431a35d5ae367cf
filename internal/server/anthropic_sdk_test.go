package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

func sdkClient(h *testutil.Harness, opts ...option.RequestOption) anthropic.Client {
	base := []option.RequestOption{
		option.WithBaseURL(h.URL),
		option.WithAPIKey(testKey),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(20 * time.Second),
	}
	return anthropic.NewClient(append(base, opts...)...)
}

func userText(text string) []anthropic.MessageParam {
	return []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))}
}

func TestSDKMessageJSON(t *testing.T) {
	h := newHarness(t)
	c := sdkClient(h)
	msg, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5-20250929",
		MaxTokens: 100,
		Messages:  userText("say hello [[sim:text Hi there, gateway.]] [[sim:usage in=11 out=7 cw5m=100 cw1h=50 cr=30]]"),
	})
	if err != nil {
		t.Fatalf("Messages.New: %v", err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "Hi there, gateway." {
		t.Errorf("content = %+v, want one text block %q", msg.Content, "Hi there, gateway.")
	}
	u := msg.Usage
	if u.InputTokens != 11 || u.OutputTokens != 7 || u.CacheReadInputTokens != 30 || u.CacheCreationInputTokens != 150 {
		t.Errorf("usage = in %d out %d cr %d cw %d, want 11 7 30 150", u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens)
	}
	reqs := h.Sim.Requests()
	if len(reqs) != 1 {
		t.Fatalf("simulator saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.ModelID != "global.anthropic.claude-sonnet-4-5-20250929-v1:0" || r.Op != "InvokeModel" {
		t.Errorf("upstream call = %s %s, want InvokeModel global.anthropic.claude-sonnet-4-5-20250929-v1:0", r.Op, r.ModelID)
	}
	for _, f := range []string{"model", "stream"} {
		if gjson.GetBytes(r.Body, f).Exists() {
			t.Errorf("upstream body still has %q: %s", f, r.Body)
		}
	}
	if v := gjson.GetBytes(r.Body, "anthropic_version").String(); v != "bedrock-2023-05-31" {
		t.Errorf("anthropic_version = %q, want bedrock-2023-05-31", v)
	}
	if r.Header.Get("x-api-key") != "" || strings.Contains(r.Header.Get("Authorization"), testKey) {
		t.Errorf("client key leaked upstream: %v", r.Header)
	}
}

func TestSDKStreaming(t *testing.T) {
	h := newHarness(t)
	c := sdkClient(h)
	stream := c.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model:     "claude-haiku-4-5",
		MaxTokens: 100,
		Messages:  userText("[[sim:text one two three four five six]] [[sim:usage in=5 out=6 cw5m=0 cw1h=0 cr=40]]"),
	})
	var acc anthropic.Message
	events := 0
	for stream.Next() {
		events++
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatalf("Accumulate: %v", err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(acc.Content) != 1 || acc.Content[0].Text != "one two three four five six" {
		t.Errorf("content = %+v", acc.Content)
	}
	if events < 6 {
		t.Errorf("got %d events, want the text split over several deltas", events)
	}
	if acc.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("stop reason = %q", acc.StopReason)
	}
	if acc.Usage.InputTokens != 5 || acc.Usage.OutputTokens != 6 || acc.Usage.CacheReadInputTokens != 40 {
		t.Errorf("usage = %+v", acc.Usage)
	}
	if got := h.Sim.Requests()[0].Op; got != "InvokeModelWithResponseStream" {
		t.Errorf("upstream op = %s", got)
	}
}

func TestSDKToolUseRoundTrip(t *testing.T) {
	h := newHarness(t)
	c := sdkClient(h)
	tools := []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
		Name:        "Bash",
		Description: anthropic.String("run a command"),
		InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"command": map[string]any{"type": "string"}}},
	}}}
	params := anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 200,
		Tools:     tools,
		Messages:  userText(`run it [[sim:tool Bash {"command":"echo hi"}]]`),
	}
	stream := c.Messages.NewStreaming(context.Background(), params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if acc.StopReason != anthropic.StopReasonToolUse {
		t.Fatalf("stop reason = %q, want tool_use", acc.StopReason)
	}
	var toolID string
	for _, b := range acc.Content {
		if b.Type == "tool_use" {
			toolID = b.ID
			var in map[string]string
			if err := json.Unmarshal(b.Input, &in); err != nil || in["command"] != "echo hi" || b.Name != "Bash" {
				t.Errorf("tool_use = %s %s (%v), want Bash {command: echo hi}", b.Name, b.Input, err)
			}
		}
	}
	if toolID == "" {
		t.Fatalf("no tool_use block in %+v", acc.Content)
	}
	params.Messages = append(params.Messages, acc.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(toolID, "hi", false)))
	final, err := c.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatalf("second turn: %v", err)
	}
	if len(final.Content) == 0 || !strings.Contains(final.Content[0].Text, "hi") {
		t.Errorf("final answer = %+v, want the tool result echoed", final.Content)
	}
}

// TestSDKThinkingSignatureByteExact sends a thinking block back on the next
// turn; the simulator verifies its signature as Bedrock does, so any change
// to the block on the way through fails the call.
func TestSDKThinkingSignatureByteExact(t *testing.T) {
	h := newHarness(t)
	c := sdkClient(h)
	params := anthropic.MessageNewParams{
		Model:     "claude-opus-4-5",
		MaxTokens: 2000,
		Thinking:  anthropic.ThinkingConfigParamOfEnabled(1024),
		Messages:  userText(`[[sim:thinking Let me think about "quotes" and \ backslashes]] [[sim:text done]]`),
	}
	stream := c.Messages.NewStreaming(context.Background(), params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	var sig string
	for _, b := range acc.Content {
		if b.Type == "thinking" {
			sig = b.Signature
		}
	}
	if sig == "" {
		t.Fatalf("no signed thinking block in %+v", acc.Content)
	}
	params.Messages = append(params.Messages, acc.ToParam(), anthropic.NewUserMessage(anthropic.NewTextBlock("and now?")))
	if _, err := c.Messages.New(context.Background(), params); err != nil {
		t.Fatalf("turn with the thinking block sent back: %v", err)
	}
	// A tampered signature is rejected upstream and the error reaches the
	// client unchanged.
	params.Messages[1] = anthropic.NewAssistantMessage(anthropic.NewThinkingBlock(sig+"x", "Let me think"), anthropic.NewTextBlock("done"))
	_, err := c.Messages.New(context.Background(), params)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Error(), "Invalid signature in thinking block") {
		t.Fatalf("tampered signature: err = %v, want 400 Invalid signature in thinking block", err)
	}
}

func TestSDKCountTokens(t *testing.T) {
	h := newHarness(t)
	c := sdkClient(h)
	res, err := c.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model:    "claude-sonnet-4-5-20250929",
		Messages: userText(strings.Repeat("count these words please ", 50)),
	})
	if err != nil {
		t.Fatalf("CountTokens: %v", err)
	}
	reqs := h.Sim.Requests()
	if len(reqs) != 1 || reqs[0].Op != "CountTokens" || reqs[0].ModelID != "anthropic.claude-sonnet-4-5-20250929-v1:0" {
		t.Fatalf("upstream calls = %+v, want one count-tokens on the base model id", reqs)
	}
	if res.InputTokens < 200 {
		t.Errorf("input tokens = %d, want at least the ~250 the prompt holds", res.InputTokens)
	}
}

func TestSDKUpstreamErrors(t *testing.T) {
	tests := []struct {
		marker     string
		wantStatus int
		wantType   string
	}{
		{"[[sim:throttle 99]]", 429, "rate_limit_error"},
		{"[[sim:validation]]", 400, "invalid_request_error"},
		{"[[sim:denied]]", 403, "permission_error"},
		{"[[sim:unavailable 99]]", 529, "overloaded_error"},
		{"[[sim:internal 99]]", 500, "api_error"},
		{"[[sim:timeout 99]]", 408, "timeout_error"},
	}
	h := newHarness(t, testutil.WithoutRetries())
	c := sdkClient(h)
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.marker
			if stream {
				name += " stream"
			}
			t.Run(name, func(t *testing.T) {
				params := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 10, Messages: userText("x " + tt.marker)}
				var err error
				if stream {
					s := c.Messages.NewStreaming(context.Background(), params)
					for s.Next() {
					}
					err = s.Err()
				} else {
					_, err = c.Messages.New(context.Background(), params)
				}
				var apiErr *anthropic.Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("err = %v, want *anthropic.Error", err)
				}
				if apiErr.StatusCode != tt.wantStatus || string(apiErr.Type()) != tt.wantType {
					t.Errorf("error = %d %s, want %d %s", apiErr.StatusCode, apiErr.Type(), tt.wantStatus, tt.wantType)
				}
				if o := apiErr.Response.Header.Get("x-tollgate-error-origin"); o != "upstream" {
					t.Errorf("x-tollgate-error-origin = %q, want upstream", o)
				}
				if x := apiErr.Response.Header.Get("x-tollgate-upstream-error"); !strings.HasSuffix(x, "Exception") {
					t.Errorf("x-tollgate-upstream-error = %q, want the Bedrock exception name", x)
				}
				if apiErr.Response.Header.Get("x-request-id") == "" {
					t.Error("no x-request-id")
				}
			})
		}
	}
}

func TestRetryThenSucceed(t *testing.T) {
	h := newHarness(t)
	c := sdkClient(h)
	msg, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 10, Messages: userText("x [[sim:throttle 2]]"),
	})
	if err != nil {
		t.Fatalf("want success after retries, got %v", err)
	}
	if msg.Content[0].Text == "" {
		t.Error("empty answer")
	}
	if n := len(h.Sim.Requests()); n != 3 {
		t.Errorf("simulator saw %d requests, want 3 (2 throttled + 1 success)", n)
	}
}

func TestMidStreamErrorBecomesErrorEvent(t *testing.T) {
	h := newHarness(t)
	status, hdr, body := h.Post(t, "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"[[sim:text alpha beta gamma delta]] [[sim:midstream-error]]"}]}`, nil)
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d content-type %q, want 200 text/event-stream", status, hdr.Get("Content-Type"))
	}
	if !strings.Contains(body, "event: content_block_delta") || !strings.Contains(body, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":") {
		t.Errorf("stream body lacks a delta followed by an error event:\n%s", body)
	}
	if strings.Contains(body, "event: message_stop") {
		t.Errorf("stream with an error must not end with message_stop:\n%s", body)
	}
}

// TestDroppedStreamBecomesErrorEvent cuts the upstream connection mid-stream:
// the client gets an error event (so Claude Code retries without streaming),
// never a silently truncated answer.
func TestDroppedStreamBecomesErrorEvent(t *testing.T) {
	h := newHarness(t)
	_, _, body := h.Post(t, "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"[[sim:text alpha beta gamma delta]] [[sim:drop]]"}]}`, nil)
	if !strings.Contains(body, "event: error") || strings.Contains(body, "message_stop") {
		t.Errorf("want an error event and no message_stop, got:\n%s", body)
	}
}

func TestPingsOnQuietStream(t *testing.T) {
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) { c.Server.PingInterval = 20 * time.Millisecond }))
	_, _, body := h.Post(t, "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"[[sim:text a b c d]] [[sim:tps 8]]"}]}`, nil)
	if n := strings.Count(body, "event: ping\ndata: {\"type\":\"ping\"}\n\n"); n < 2 {
		t.Errorf("got %d pings on a slow stream, want several:\n%s", n, body)
	}
	if !strings.Contains(body, "event: message_stop") {
		t.Errorf("stream incomplete:\n%s", body)
	}
}

// TestCountTokensEstimateWhenUnsupported: for an application inference
// profile ARN, Bedrock cannot count; the gateway answers with an estimate
// that is never lower than the simulator's own count.
func TestCountTokensEstimateWhenUnsupported(t *testing.T) {
	h := newHarness(t)
	arn := "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123"
	prompt := strings.Repeat("estimate me please ", 80)
	status, _, body := h.Post(t, "/v1/messages/count_tokens", `{"model":"`+arn+`","messages":[{"role":"user","content":"`+prompt+`"}],"tools":[]}`, nil)
	if status != 200 {
		t.Fatalf("count_tokens = %d %s", status, body)
	}
	est := gjson.Get(body, "input_tokens").Int()
	// The simulator counts the base model id; ask it directly for the truth.
	status, _, body = h.Post(t, "/v1/messages/count_tokens", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"`+prompt+`"}],"tools":[]}`, nil)
	exact := gjson.Get(body, "input_tokens").Int()
	if status != 200 || exact == 0 {
		t.Fatalf("exact count = %d %s", status, body)
	}
	if est < exact {
		t.Errorf("estimate %d is lower than the real count %d; estimates must err high", est, exact)
	}
	for _, r := range h.Sim.Requests() {
		if strings.HasPrefix(r.ModelID, "arn:") {
			t.Errorf("gateway asked Bedrock to count an ARN it cannot count: %s", r.ModelID)
		}
	}
}
