package openai

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

// Answer is what a translated answer needs besides the Anthropic one.
type Answer struct {
	// Model is reported as the client named it, not as it was routed, so
	// that clients comparing the two are not surprised.
	Model string
	// Created is the Unix time the answer reports.
	Created int64
	// JSON is Request.JSON: a JSONTool call is the answer's content.
	JSON bool
}

// Usage is chat.completions usage. prompt_tokens counts every input token,
// cached or not, as OpenAI's does; Anthropic's kinds are carried alongside
// under their own names so that a client can price them exactly.
type Usage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

// UsageOf converts Anthropic usage, whose input_tokens exclude cache reads
// and writes.
func UsageOf(u anthropic.Usage) Usage {
	var out Usage
	out.PromptTokens = u.Prompt()
	out.CompletionTokens = u.Output
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	out.PromptTokensDetails.CachedTokens = u.CacheRead
	out.CacheCreationInputTokens = u.CacheWrite()
	out.CacheReadInputTokens = u.CacheRead
	return out
}

// FinishReason maps an Anthropic stop reason. An unknown reason maps to
// stop: the answer did end, and the raw reason is in the gateway's log.
func FinishReason(stop string, asJSON bool) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		if asJSON {
			return "stop"
		}
		return "tool_calls"
	case "refusal", "guardrail_intervened":
		return "content_filter"
	}
	return "stop"
}

type completion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	Usage   Usage    `json:"usage"`
}

type choice struct {
	Index        int             `json:"index"`
	Message      responseMessage `json:"message"`
	Logprobs     *struct{}       `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

type responseMessage struct {
	Role             string         `json:"role"`
	Content          *string        `json:"content"`
	ReasoningContent string         `json:"reasoning_content,omitempty"`
	Refusal          *string        `json:"refusal"`
	ToolCalls        []toolCallJSON `json:"tool_calls,omitempty"`
}

type toolCallJSON struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type anthMessageOut struct {
	ID      string `json:"id"`
	Content []struct {
		Type     string          `json:"type"`
		Text     string          `json:"text"`
		Thinking string          `json:"thinking"`
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Input    json.RawMessage `json:"input"`
	} `json:"content"`
	StopReason string `json:"stop_reason"`
}

// completionID is the chat.completion id for an Anthropic message id, so
// that the two can be matched in logs.
func completionID(msgID string) string {
	return "chatcmpl-" + strings.TrimPrefix(msgID, "msg_")
}

// FromAnthropic translates a non-streamed Anthropic Messages answer into a
// chat.completion.
func FromAnthropic(body []byte, a Answer) ([]byte, error) {
	var m anthMessageOut
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("openai: decode the upstream answer: %w", err)
	}
	msg := responseMessage{Role: "assistant"}
	var text, thinking strings.Builder
	for _, c := range m.Content {
		switch c.Type {
		case "text":
			// With json_schema the content is the tool's input alone:
			// text around a forced tool call ("I'll call …") would make
			// it unparseable.
			if !a.JSON {
				text.WriteString(c.Text)
			}
		case "thinking":
			thinking.WriteString(c.Thinking)
		case "tool_use":
			args := string(c.Input)
			if args == "" {
				args = "{}"
			}
			if a.JSON && c.Name == JSONTool {
				text.WriteString(args)
				continue
			}
			var tc toolCallJSON
			tc.ID, tc.Type = c.ID, "function"
			tc.Function.Name, tc.Function.Arguments = c.Name, args
			msg.ToolCalls = append(msg.ToolCalls, tc)
		}
	}
	if text.Len() > 0 || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	msg.ReasoningContent = thinking.String()
	out := completion{
		ID: completionID(m.ID), Object: "chat.completion", Created: a.Created, Model: a.Model,
		Choices: []choice{{Message: msg, FinishReason: FinishReason(m.StopReason, a.JSON)}},
		Usage:   UsageOf(anthropic.UsageFromMessage(body)),
	}
	return marshal(out)
}

// ErrorBody is an error in OpenAI's shape. code is the machine-readable
// reason OpenAI's SDKs expose, or "".
func ErrorBody(typ, code, param, message string) []byte {
	type inner struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	e := inner{Message: message, Type: typ}
	if param != "" {
		e.Param = &param
	}
	if code != "" {
		e.Code = &code
	}
	b, _ := marshal(struct {
		Error inner `json:"error"`
	}{e})
	return b
}
