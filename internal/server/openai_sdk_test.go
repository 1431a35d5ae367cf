package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/testutil"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

type usageRecord = usage.Record

// The OpenAI door, driven through the gateway and the simulator by the
// official openai-go client.

func openaiClient(h *testutil.Harness, key string) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(h.URL+"/v1"),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(20*time.Second),
	)
}

func TestOpenAISDKChat(t *testing.T) {
	h := newHarness(t)
	c := openaiClient(h, testKey)
	var raw *http.Response
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "claude-sonnet-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."),
			openai.DeveloperMessage("Answer in English."),
			openai.UserMessage("hi [[sim:text Hello from Claude.]] [[sim:usage in=11 out=7 cw5m=100 cw1h=50 cr=30]]"),
		},
		MaxCompletionTokens: openai.Int(64),
		Temperature:         openai.Float(0.5),
		Stop:                openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"###"}},
		User:                openai.String("alice"),
	}, option.WithResponseInto(&raw))
	if err != nil {
		t.Fatalf("Chat.Completions.New: %v", err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != "Hello from Claude." || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("choices = %+v, want one, Hello from Claude., stop", resp.Choices)
	}
	if resp.Object != "chat.completion" || resp.Model != "claude-sonnet-4-5" || !strings.HasPrefix(resp.ID, "chatcmpl-") {
		t.Errorf("completion = %s %s %s", resp.Object, resp.Model, resp.ID)
	}
	u := resp.Usage
	if u.PromptTokens != 11+150+30 || u.CompletionTokens != 7 || u.TotalTokens != 198 || u.PromptTokensDetails.CachedTokens != 30 {
		t.Errorf("usage = %+v, want prompt 191 (11 + 150 written + 30 read), completion 7, cached 30", u)
	}
	if raw.Header.Get("x-request-id") == "" {
		t.Error("no x-request-id")
	}
	reqs := h.Sim.Requests()
	if len(reqs) != 1 {
		t.Fatalf("simulator saw %d requests, want 1", len(reqs))
	}
	b := reqs[0].Body
	if got := gjson.GetBytes(b, "system.#.text").String(); got != `["Be brief.","Answer in English."]` {
		t.Errorf("upstream system = %s", got)
	}
	if gjson.GetBytes(b, "max_tokens").Int() != 64 || gjson.GetBytes(b, "temperature").Float() != 0.5 ||
		gjson.GetBytes(b, "stop_sequences.0").String() != "###" || reqs[0].Op != "InvokeModel" {
		t.Errorf("upstream %s body = %s", reqs[0].Op, b)
	}
}

func TestOpenAISDKStreamingWithUsage(t *testing.T) {
	h := newHarness(t)
	c := openaiClient(h, testKey)
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "claude-haiku-4-5",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("[[sim:text one two three four]] [[sim:usage in=5 out=6 cw5m=0 cw1h=0 cr=40]]")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if chunks < 3 {
		t.Errorf("%d chunks, want the text in several", chunks)
	}
	if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != "one two three four" || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("accumulated = %+v", acc.Choices)
	}
	if u := acc.Usage; u.PromptTokens != 45 || u.CompletionTokens != 6 || u.PromptTokensDetails.CachedTokens != 40 {
		t.Errorf("usage = %+v, want prompt 45, completion 6, cached 40", u)
	}
	if r := h.Sim.Requests(); len(r) != 1 || r[0].Op != "InvokeModelWithResponseStream" || gjson.GetBytes(r[0].Body, "max_tokens").Int() != 4096 {
		t.Errorf("upstream = %+v", r)
	}
}

func TestOpenAISDKToolRoundTrip(t *testing.T) {
	h := newHarness(t)
	c := openaiClient(h, testKey)
	params := openai.ChatCompletionNewParams{
		Model: "claude-sonnet-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(
			`weather? [[sim:tool get_weather {"city":"Paris"}]] [[sim:tool get_weather {"city":"Rome"}]]`)},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        "get_weather",
			Description: openai.String("Current weather in a city"),
			Parameters: shared.FunctionParameters{"type": "object",
				"properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}},
		})},
		ParallelToolCalls: openai.Bool(true),
	}
	stream := c.Chat.Completions.NewStreaming(context.Background(), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(acc.Choices) != 1 {
		t.Fatalf("choices = %+v", acc.Choices)
	}
	msg := acc.Choices[0].Message
	calls := msg.ToolCalls
	if acc.Choices[0].FinishReason != "tool_calls" || len(calls) != 2 ||
		calls[0].Function.Name != "get_weather" || calls[0].Function.Arguments != `{"city":"Paris"}` ||
		calls[1].Function.Arguments != `{"city":"Rome"}` || calls[0].ID == "" || calls[0].ID == calls[1].ID {
		t.Fatalf("tool calls = %+v, finish %q", calls, acc.Choices[0].FinishReason)
	}

	// Send the results back, as a client does.
	params.Messages = append(params.Messages, msg.ToParam(),
		openai.ToolMessage("18C", calls[0].ID), openai.ToolMessage("22C", calls[1].ID),
		openai.UserMessage("so? [[sim:text Rome is warmer.]]"))
	resp, err := c.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatalf("second turn: %v", err)
	}
	if resp.Choices[0].Message.Content != "Rome is warmer." || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("second turn = %+v", resp.Choices[0])
	}
	reqs := h.Sim.Requests()
	b := reqs[len(reqs)-1].Body
	if got := gjson.GetBytes(b, "messages.1.content.#.type").String(); got != `["text","tool_use","tool_use"]` {
		t.Errorf("assistant turn upstream = %s in %s", got, b)
	}
	last := gjson.GetBytes(b, "messages.2.content")
	if last.Get("0.type").Str != "tool_result" || last.Get("0.tool_use_id").Str != calls[0].ID ||
		last.Get("1.tool_use_id").Str != calls[1].ID || last.Get("2.type").Str != "text" {
		t.Errorf("tool results upstream = %s", last.Raw)
	}
}

func TestOpenAISDKErrors(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name      string
		key       string
		params    openai.ChatCompletionNewParams
		status    int
		code      string
		param     string
		wantInMsg string
	}{
		{"bad key", "sk-wrong", openai.ChatCompletionNewParams{Model: "claude-haiku-4-5",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, 401, "invalid_api_key", "", "invalid API key"},
		{"unsupported n", testKey, openai.ChatCompletionNewParams{Model: "claude-haiku-4-5", N: openai.Int(2),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, 400, "", "n", "only n=1"},
		{"json_object", testKey, openai.ChatCompletionNewParams{Model: "claude-haiku-4-5",
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
			Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, 400, "", "response_format", "json_schema"},
		{"unknown model", testKey, openai.ChatCompletionNewParams{Model: "gpt-4o",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, 404, "model_not_found", "", "not configured"},
		{"upstream refusal", testKey, openai.ChatCompletionNewParams{Model: "claude-haiku-4-5",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi [[sim:validation prompt is too long]]")}}, 400, "", "", "prompt is too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw *http.Response
			c := openaiClient(h, tt.key)
			_, err := c.Chat.Completions.New(context.Background(), tt.params, option.WithResponseInto(&raw))
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *openai.Error", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Code != tt.code || apiErr.Param != tt.param || !strings.Contains(apiErr.Message, tt.wantInMsg) {
				t.Errorf("error = %d code %q param %q %q, want %d code %q param %q containing %q",
					apiErr.StatusCode, apiErr.Code, apiErr.Param, apiErr.Message, tt.status, tt.code, tt.param, tt.wantInMsg)
			}
			if raw.Header.Get("x-request-id") == "" || raw.Header.Get("x-tollgate-error-origin") == "" {
				t.Errorf("headers = %v, want x-request-id and x-tollgate-error-origin", raw.Header)
			}
		})
	}
}

// TestOpenAIModels: an OpenAI client gets OpenAI's list shape from GET
// /v1/models; anyone else, Claude Code included, keeps the Anthropic one.
func TestOpenAIModels(t *testing.T) {
	h := newHarness(t)
	c, bad := openaiClient(h, testKey), openaiClient(h, "sk-wrong")
	page, err := c.Models.List(context.Background())
	if err != nil {
		t.Fatalf("Models.List: %v", err)
	}
	if len(page.Data) == 0 || page.Data[0].Object != "model" || page.Data[0].OwnedBy != "anthropic" {
		t.Errorf("models = %+v", page.Data)
	}
	_, err = bad.Models.List(context.Background())
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" {
		t.Errorf("bad key: err = %v, want a 401 invalid_api_key", err)
	}
	status, _, body := h.Do(t, http.MethodGet, "/v1/models", "", map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01", "User-Agent": "OpenAI/Go 3"})
	if status != 200 || !gjson.Get(body, "has_more").Exists() || gjson.Get(body, "object").Exists() {
		t.Errorf("with anthropic-version: %d %s, want the Anthropic shape", status, body)
	}
}

// TestOpenAIUsageMatchesAnthropic: the same upstream answer, asked for on
// the Anthropic door and on the OpenAI door, streamed and not, gives usage
// records with the same token kinds and cost; only the door differs, and
// the OpenAI user lands in the tags.
func TestOpenAIUsageMatchesAnthropic(t *testing.T) {
	h := newHarness(t)
	feed, cancel := h.Gateway.Writer.Subscribe()
	defer cancel()
	const marker = "[[sim:text Same answer.]] [[sim:usage in=11 out=7 cw5m=100 cw1h=50 cr=30]]"
	for _, stream := range []bool{false, true} {
		s := "false"
		if stream {
			s = "true"
		}
		status, _, body := h.Post(t, "/v1/messages",
			`{"model":"claude-sonnet-4-5","max_tokens":64,"stream":`+s+`,"messages":[{"role":"user","content":"hi `+marker+`"}]}`,
			map[string]string{"x-api-key": testKey})
		if status != 200 {
			t.Fatalf("anthropic door: %d %s", status, body)
		}
		want := nextRecord(t, feed)
		status, _, body = h.Post(t, "/v1/chat/completions",
			`{"model":"claude-sonnet-4-5","max_tokens":64,"stream":`+s+`,"user":"alice","messages":[{"role":"user","content":"hi `+marker+`"}]}`,
			map[string]string{"Authorization": "Bearer " + testKey})
		if status != 200 {
			t.Fatalf("openai door: %d %s", status, body)
		}
		got := nextRecord(t, feed)
		if got.Door != "openai" || want.Door != "anthropic" || got.Tags["user"] != "alice" {
			t.Errorf("stream %v: doors %q, %q, tags %v; want openai, anthropic, user=alice", stream, got.Door, want.Door, got.Tags)
		}
		type metered struct {
			Tokens           tokens.Counts
			Cost             int64
			Unpriced, Stream bool
			Model, Upstream  string
		}
		m := func(r usageRecord) metered {
			return metered{r.Tokens, r.CostMicros, r.Unpriced, r.Stream, r.Model, r.UpstreamModel}
		}
		if m(got) != m(want) || m(got).Cost == 0 {
			t.Errorf("stream %v: openai door metered %+v, anthropic door %+v", stream, m(got), m(want))
		}
	}
}

// TestOpenAISDKStreamError: an upstream failure after the stream started
// reaches the client as an in-stream error, which openai-go raises.
func TestOpenAISDKStreamError(t *testing.T) {
	h := newHarness(t)
	c := openaiClient(h, testKey)
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "claude-haiku-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("[[sim:text one two three]] [[sim:midstream-error]]")},
	})
	var text string
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			text += ch.Delta.Content
		}
	}
	err := stream.Err()
	if err == nil || !strings.Contains(err.Error(), "server_error") {
		t.Errorf("stream error = %v, want the in-stream server_error", err)
	}
	if text == "" {
		t.Errorf("no text before the error")
	}
}

// TestOpenAISDKStructuredAndReasoning: response_format json_schema comes
// back as content, and reasoning_effort turns on thinking, whose text comes
// back as reasoning_content.
func TestOpenAISDKStructuredAndReasoning(t *testing.T) {
	h := newHarness(t)
	c := openaiClient(h, testKey)
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "claude-sonnet-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(`a city [[sim:tool json_response {"name":"Lyon"}]]`)},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "city",
				Schema: map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}}},
		}},
	})
	if err != nil {
		t.Fatalf("json_schema: %v", err)
	}
	if got := resp.Choices[0]; got.Message.Content != `{"name":"Lyon"}` || got.FinishReason != "stop" || len(got.Message.ToolCalls) != 0 {
		t.Errorf("json_schema answer = %+v, want the JSON as content, stop", got)
	}
	up := h.Sim.Requests()[0].Body
	if gjson.GetBytes(up, "tool_choice.name").Str != "json_response" || gjson.GetBytes(up, "tools.0.input_schema.type").Str != "object" {
		t.Errorf("upstream = %s, want a forced json_response tool", up)
	}

	resp, err = c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:           "claude-sonnet-4-5",
		Messages:        []openai.ChatCompletionMessageParamUnion{openai.UserMessage(`think [[sim:thinking Let me see.]] [[sim:text 42]]`)},
		ReasoningEffort: shared.ReasoningEffortMedium,
	})
	if err != nil {
		t.Fatalf("reasoning_effort: %v", err)
	}
	msg := resp.Choices[0].Message
	if msg.Content != "42" || !strings.Contains(msg.JSON.ExtraFields["reasoning_content"].Raw(), "Let me see.") {
		t.Errorf("reasoning answer = %q, extra %v", msg.Content, msg.JSON.ExtraFields)
	}
	up = h.Sim.Requests()[1].Body
	if gjson.GetBytes(up, "thinking.budget_tokens").Int() != 2048 || gjson.GetBytes(up, "max_tokens").Int() != 4096+2048 {
		t.Errorf("upstream = %s, want thinking 2048 within max_tokens 6144", up)
	}
}

// TestOpenAIBudgetAndAllowlist: budgets and model allowlists hold on the
// OpenAI door, answered in OpenAI's shape, without the Anthropic door's
// spend headers.
func TestOpenAIBudgetAndAllowlist(t *testing.T) {
	h := newHarness(t)
	poor := h.NewPrincipal(t, "poor", testutil.PrincipalSpec{KeyUSD: 0.000001})
	narrow := h.NewPrincipal(t, "narrow", testutil.PrincipalSpec{Models: []string{"claude-haiku-4-5"}})
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	tests := []struct {
		name, key, model string
		status           int
		code             string
	}{
		{"over budget", poor.Secret, "claude-sonnet-4-5", 429, "rate_limit_exceeded"},
		{"model not allowed", narrow.Secret, "claude-sonnet-4-5", 403, "permission_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openaiClient(h, tt.key)
			var raw *http.Response
			_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: tt.model, Messages: msgs},
				option.WithResponseInto(&raw))
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status || apiErr.Code != tt.code {
				t.Fatalf("err = %v, want %d %s", err, tt.status, tt.code)
			}
			for k := range raw.Header {
				if strings.HasPrefix(strings.ToLower(k), "anthropic-ratelimit-unified") {
					t.Errorf("spend header %s on the OpenAI door", k)
				}
			}
		})
	}
	if n := len(h.Sim.Requests()); n != 0 {
		t.Errorf("simulator saw %d requests, want none", n)
	}
	c := openaiClient(h, narrow.Secret)
	if _, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "claude-haiku-4-5", Messages: msgs}); err != nil {
		t.Errorf("allowed model: %v", err)
	}
}
