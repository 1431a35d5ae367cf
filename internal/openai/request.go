package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// DefaultMaxTokens is the max_tokens sent upstream when the client gives
// neither max_completion_tokens nor max_tokens. OpenAI's API has no such
// field to require, but Anthropic's does, and the gateway reserves budget
// for max_tokens: a fixed, modest value keeps that reservation small and the
// answer comfortably long. With reasoning_effort it is raised above the
// thinking budget (see thinkingBudget).
const DefaultMaxTokens = 4096

// JSONTool is the name of the tool through which a response_format of type
// json_schema is honoured: the schema becomes the tool's input schema, the
// tool is forced, and its input comes back as the message content. The
// client never sees the tool.
const JSONTool = "json_response"

// Error is a request the translation refuses. Param names the offending
// parameter, as OpenAI's error body does.
type Error struct {
	Param   string `json:"param"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Param + ": " + e.Message }

func refuse(param, format string, args ...any) *Error {
	return &Error{Param: param, Message: fmt.Sprintf(format, args...)}
}

// Request is a translated chat.completions request.
type Request struct {
	// Model is the model as the client named it: the gateway routes on
	// it, and the answer reports it.
	Model string
	// Body is the Anthropic Messages body.
	Body []byte
	// MaxTokens is the body's max_tokens, which sizes the budget
	// reservation.
	MaxTokens int64
	// Stream is true for stream: true.
	Stream bool
	// IncludeUsage is stream_options.include_usage: the stream ends with a
	// chunk that carries usage and no choices.
	IncludeUsage bool
	// User is the user field, recorded for attribution.
	User string
	// JSON is set when response_format json_schema is honoured through
	// JSONTool, so the answer must turn that tool call back into content.
	JSON bool
}

// ignoredFields are accepted and have no effect; docs/openai.md says why
// for each. Their values are not checked beyond being JSON.
var ignoredFields = map[string]bool{
	"seed":              true, // best effort even at OpenAI; Claude has no seed
	"service_tier":      true, // OpenAI's capacity tiers
	"store":             true, // OpenAI-side stored completions
	"metadata":          true, // belongs with store
	"prompt_cache_key":  true, // OpenAI's cache routing hint; Claude caching is explicit
	"safety_identifier": true, // OpenAI abuse monitoring
}

// request is the part of a chat.completions body the translation reads.
type request struct {
	Model               string          `json:"model"`
	Messages            []message       `json:"messages"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Stop                json.RawMessage `json:"stop"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stream              *bool           `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage *bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools             []tool          `json:"tools"`
	ToolChoice        json.RawMessage `json:"tool_choice"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls"`
	ResponseFormat    *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Schema      json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
	ReasoningEffort *string `json:"reasoning_effort"`
	User            *string `json:"user"`
}

type message struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []toolCall      `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

type toolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type tool struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
	CacheControl json.RawMessage `json:"cache_control"`
}

type part struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Refusal  string `json:"refusal"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
	CacheControl json.RawMessage `json:"cache_control"`
}

// The Anthropic body, in a fixed field order so that golden files are
// stable.
type anthRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int64           `json:"max_tokens"`
	System        []block         `json:"system,omitempty"`
	Messages      []anthMessage   `json:"messages"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	Tools         []anthTool      `json:"tools,omitempty"`
	ToolChoice    *anthToolChoice `json:"tool_choice,omitempty"`
	Thinking      *anthThinking   `json:"thinking,omitempty"`
}

type anthMessage struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

type block struct {
	Type         string          `json:"type"`
	Text         string          `json:"text,omitempty"`
	Source       *imageSource    `json:"source,omitempty"`
	ID           string          `json:"id,omitempty"`
	Name         string          `json:"name,omitempty"`
	Input        json.RawMessage `json:"input,omitempty"`
	ToolUseID    string          `json:"tool_use_id,omitempty"`
	Content      []block         `json:"content,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type imageSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type anthTool struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type anthToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type anthThinking struct {
	Type         string `json:"type"`
	BudgetTokens int64  `json:"budget_tokens"`
}

// ToAnthropic translates a chat.completions request body into an Anthropic
// Messages body. It refuses, with an *Error naming the parameter, anything
// it cannot translate faithfully.
func ToAnthropic(body []byte) (*Request, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, refuse("body", "not a JSON object: %v", err)
	}
	for k, v := range top {
		if err := checkField(k, v); err != nil {
			return nil, err
		}
	}
	var in request
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, refuse(jsonParam(err), "%v", jsonMessage(err))
	}
	if in.Model == "" {
		return nil, refuse("model", "field required (a string)")
	}
	out := anthRequest{Model: in.Model}
	req := &Request{Model: in.Model}

	if err := translateMessages(&out, in.Messages); err != nil {
		return nil, err
	}
	if err := translateSampling(&out, &in); err != nil {
		return nil, err
	}
	if in.Stream != nil && *in.Stream {
		out.Stream, req.Stream = true, true
		if in.StreamOptions != nil && in.StreamOptions.IncludeUsage != nil {
			req.IncludeUsage = *in.StreamOptions.IncludeUsage
		}
	} else if in.StreamOptions != nil {
		return nil, refuse("stream_options", "only allowed when stream is true")
	}
	if err := translateTools(&out, &in); err != nil {
		return nil, err
	}
	asJSON, err := translateResponseFormat(&out, &in)
	if err != nil {
		return nil, err
	}
	req.JSON = asJSON
	if err := translateLimits(&out, &in); err != nil {
		return nil, err
	}
	if in.User != nil {
		req.User = *in.User
	}
	b, err := marshal(out)
	if err != nil {
		return nil, refuse("body", "%v", err)
	}
	req.Body, req.MaxTokens = b, out.MaxTokens
	return req, nil
}

// checkField refuses top-level fields that are neither translated nor
// ignored, and values of refused-unless-default fields that would change
// the answer. A null is always taken as absent.
func checkField(k string, v json.RawMessage) error {
	if bytes.Equal(v, []byte("null")) || ignoredFields[k] {
		return nil
	}
	isDefault := func(defaults ...string) bool {
		var c bytes.Buffer
		if json.Compact(&c, v) != nil {
			return false
		}
		for _, d := range defaults {
			if c.String() == d {
				return true
			}
		}
		return false
	}
	switch k {
	case "model", "messages", "max_tokens", "max_completion_tokens", "stop", "temperature", "top_p",
		"stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls", "response_format",
		"reasoning_effort", "user":
		return nil
	case "n":
		if isDefault("1") {
			return nil
		}
		return refuse(k, "Claude returns one choice; only n=1 is supported")
	case "logprobs":
		if isDefault("false") {
			return nil
		}
		return refuse(k, "Claude does not return log probabilities")
	case "top_logprobs":
		return refuse(k, "Claude does not return log probabilities")
	case "presence_penalty", "frequency_penalty":
		if isDefault("0", "0.0") {
			return nil
		}
		return refuse(k, "Claude has no %s; only 0 is supported", k)
	case "logit_bias":
		if isDefault("{}") {
			return nil
		}
		return refuse(k, "Claude does not support logit bias")
	case "modalities":
		if isDefault(`["text"]`) {
			return nil
		}
		return refuse(k, `Claude answers in text only; only ["text"] is supported`)
	case "functions", "function_call":
		return refuse(k, "deprecated by OpenAI and not supported here; use tools and tool_choice")
	}
	if k == "" {
		k = `""`
	}
	return refuse(k, "unsupported parameter (docs/openai.md lists what this gateway translates, ignores and refuses)")
}

func translateSampling(out *anthRequest, in *request) error {
	if t := in.Temperature; t != nil {
		if *t < 0 || *t > 1 {
			return refuse("temperature", "Claude accepts 0 to 1, got %v (OpenAI's range is 0 to 2; it is not rescaled)", *t)
		}
		out.Temperature = t
	}
	if p := in.TopP; p != nil {
		if *p < 0 || *p > 1 {
			return refuse("top_p", "must be between 0 and 1, got %v", *p)
		}
		out.TopP = p
	}
	if len(in.Stop) > 0 && !bytes.Equal(in.Stop, []byte("null")) {
		var one string
		if err := json.Unmarshal(in.Stop, &one); err == nil {
			out.StopSequences = []string{one}
		} else if err := json.Unmarshal(in.Stop, &out.StopSequences); err != nil {
			return refuse("stop", "must be a string or an array of strings")
		}
		for i, s := range out.StopSequences {
			if strings.TrimSpace(s) == "" {
				return refuse(fmt.Sprintf("stop[%d]", i), "Claude refuses empty or whitespace-only stop sequences")
			}
		}
	}
	return nil
}

// thinkingBudget maps reasoning_effort to an extended-thinking budget.
// Claude's smallest budget is 1024 tokens, so minimal and low share it.
func thinkingBudget(effort string) (int64, error) {
	switch effort {
	case "none":
		return 0, nil
	case "minimal", "low":
		return 1024, nil
	case "medium":
		return 2048, nil
	case "high":
		return 4096, nil
	}
	return 0, refuse("reasoning_effort", "must be none, minimal, low, medium or high, got %q", effort)
}

// translateLimits sets max_tokens and thinking. max_completion_tokens wins
// over the deprecated max_tokens, as at OpenAI. Anthropic counts thinking
// inside max_tokens and requires max_tokens above the thinking budget; a
// default max_tokens is raised to fit, an explicit one that cannot fit is
// refused rather than quietly enlarged.
func translateLimits(out *anthRequest, in *request) error {
	param, n := "", int64(0)
	switch {
	case in.MaxCompletionTokens != nil:
		param, n = "max_completion_tokens", *in.MaxCompletionTokens
	case in.MaxTokens != nil:
		param, n = "max_tokens", *in.MaxTokens
	}
	if param != "" && n < 1 {
		return refuse(param, "must be at least 1, got %d", n)
	}
	var budget int64
	if in.ReasoningEffort != nil {
		b, err := thinkingBudget(*in.ReasoningEffort)
		if err != nil {
			return err
		}
		budget = b
	}
	if budget > 0 {
		if out.ToolChoice != nil && (out.ToolChoice.Type == "any" || out.ToolChoice.Type == "tool") {
			return refuse("reasoning_effort", "Claude cannot think while a tool call is forced (tool_choice required or a named function, or response_format json_schema)")
		}
		out.Thinking = &anthThinking{Type: "enabled", BudgetTokens: budget}
	}
	switch {
	case param == "":
		n = DefaultMaxTokens + budget
	case budget > 0 && n <= budget:
		return refuse(param, "must exceed the thinking budget of %d tokens that reasoning_effort %q maps to, got %d", budget, *in.ReasoningEffort, n)
	}
	out.MaxTokens = n
	return nil
}

func translateTools(out *anthRequest, in *request) error {
	for i, t := range in.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" || t.Function == nil {
			return refuse(p+".type", "only function tools are supported, got %q", t.Type)
		}
		if t.Function.Name == "" {
			return refuse(p+".function.name", "field required")
		}
		schema := t.Function.Parameters
		if len(schema) == 0 || bytes.Equal(schema, []byte("null")) {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out.Tools = append(out.Tools, anthTool{Name: t.Function.Name, Description: t.Function.Description,
			InputSchema: schema, CacheControl: t.CacheControl})
	}
	tc := in.ToolChoice
	if len(tc) > 0 && !bytes.Equal(tc, []byte("null")) {
		var s string
		if err := json.Unmarshal(tc, &s); err == nil {
			switch s {
			case "auto":
				out.ToolChoice = &anthToolChoice{Type: "auto"}
			case "required":
				out.ToolChoice = &anthToolChoice{Type: "any"}
			case "none":
				out.ToolChoice = &anthToolChoice{Type: "none"}
			default:
				return refuse("tool_choice", "must be auto, required, none or a function, got %q", s)
			}
		} else {
			var named struct {
				Type     string `json:"type"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if json.Unmarshal(tc, &named) != nil || named.Type != "function" || named.Function.Name == "" {
				return refuse("tool_choice", `must be auto, required, none or {"type":"function","function":{"name":...}}`)
			}
			out.ToolChoice = &anthToolChoice{Type: "tool", Name: named.Function.Name}
		}
	}
	if out.ToolChoice != nil && len(out.Tools) == 0 {
		// Anthropic refuses a tool_choice without tools. Without tools,
		// auto and none mean what no tool_choice means; the others name
		// a call that cannot be made, which OpenAI refuses too.
		if t := out.ToolChoice.Type; t != "auto" && t != "none" {
			return refuse("tool_choice", "requires tools")
		}
		out.ToolChoice = nil
	}
	if p := in.ParallelToolCalls; p != nil && !*p && len(out.Tools) > 0 {
		if out.ToolChoice == nil {
			out.ToolChoice = &anthToolChoice{Type: "auto"}
		}
		if out.ToolChoice.Type != "none" {
			out.ToolChoice.DisableParallelToolUse = true
		}
	}
	return nil
}

// translateResponseFormat honours json_schema through a forced tool whose
// input schema is the requested schema. json_object has no schema to force,
// and Claude has no JSON mode, so it is refused rather than hoped for.
func translateResponseFormat(out *anthRequest, in *request) (bool, error) {
	rf := in.ResponseFormat
	if rf == nil {
		return false, nil
	}
	switch rf.Type {
	case "text":
		return false, nil
	case "json_object":
		return false, refuse("response_format", `type json_object is not supported: Claude has no JSON mode; send type json_schema with a schema (honoured through a forced tool call)`)
	case "json_schema":
	default:
		return false, refuse("response_format.type", "must be text or json_schema, got %q", rf.Type)
	}
	js := rf.JSONSchema
	if js == nil || len(js.Schema) == 0 {
		return false, refuse("response_format.json_schema.schema", "field required")
	}
	var root struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(js.Schema, &root) != nil || root.Type != "object" {
		return false, refuse("response_format.json_schema.schema", `must be a JSON schema whose root has "type":"object" (Claude's tool input schemas are objects)`)
	}
	if len(out.Tools) > 0 || out.ToolChoice != nil {
		return false, refuse("response_format", "json_schema cannot be combined with tools or tool_choice here: it is honoured through a forced tool call")
	}
	desc := js.Description
	if desc == "" {
		desc = "Respond with the answer as this tool's input."
	}
	out.Tools = []anthTool{{Name: JSONTool, Description: desc, InputSchema: js.Schema}}
	out.ToolChoice = &anthToolChoice{Type: "tool", Name: JSONTool}
	return true, nil
}

// translateMessages hoists system and developer messages into system, turns
// tool messages into tool_result blocks, and merges consecutive messages of
// one Anthropic role, since Anthropic wants the results of one turn's tool
// calls together in the next user message.
func translateMessages(out *anthRequest, msgs []message) error {
	if len(msgs) == 0 {
		return refuse("messages", "field required (a non-empty array)")
	}
	add := func(role string, blocks []block) {
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
			out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
			return
		}
		out.Messages = append(out.Messages, anthMessage{Role: role, Content: blocks})
	}
	for i, m := range msgs {
		p := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer":
			blocks, err := content(p+".content", m.Content, false)
			if err != nil {
				return err
			}
			out.System = append(out.System, blocks...)
		case "user":
			blocks, err := content(p+".content", m.Content, true)
			if err != nil {
				return err
			}
			if len(blocks) == 0 {
				return refuse(p+".content", "must not be empty")
			}
			add("user", blocks)
		case "assistant":
			blocks, err := content(p+".content", m.Content, false)
			if err != nil {
				return err
			}
			for j, tc := range m.ToolCalls {
				q := fmt.Sprintf("%s.tool_calls[%d]", p, j)
				if tc.ID == "" || tc.Function.Name == "" {
					return refuse(q, "id and function.name are required")
				}
				input, err := arguments(tc.Function.Arguments)
				if err != nil {
					return refuse(q+".function.arguments", "%v", err)
				}
				blocks = append(blocks, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
			}
			if len(blocks) == 0 {
				return refuse(p, "an assistant message needs content or tool_calls")
			}
			add("assistant", blocks)
		case "tool":
			if m.ToolCallID == "" {
				return refuse(p+".tool_call_id", "field required")
			}
			inner, err := content(p+".content", m.Content, false)
			if err != nil {
				return err
			}
			add("user", []block{{Type: "tool_result", ToolUseID: m.ToolCallID, Content: inner}})
		case "function":
			return refuse(p+".role", "function messages are deprecated and not supported; use tool messages")
		default:
			return refuse(p+".role", "must be system, developer, user, assistant or tool, got %q", m.Role)
		}
	}
	if len(out.Messages) == 0 {
		return refuse("messages", "at least one user or assistant message is required")
	}
	return nil
}

// content reads a message's content — a string, an array of parts, or
// null — as Anthropic blocks. Empty text is dropped: Anthropic refuses
// empty text blocks, and OpenAI clients send "" beside tool calls.
func content(param string, raw json.RawMessage, images bool) ([]block, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: s}}, nil
	}
	var parts []part
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, refuse(param, "must be a string or an array of content parts")
	}
	var out []block
	for j, pt := range parts {
		q := fmt.Sprintf("%s[%d]", param, j)
		switch {
		case pt.Type == "text":
			if pt.Text != "" {
				out = append(out, block{Type: "text", Text: pt.Text, CacheControl: pt.CacheControl})
			}
		case pt.Type == "refusal":
			if pt.Refusal != "" {
				out = append(out, block{Type: "text", Text: pt.Refusal})
			}
		case pt.Type == "image_url" && images:
			if pt.ImageURL == nil {
				return nil, refuse(q+".image_url", "field required")
			}
			src, err := image(pt.ImageURL.URL)
			if err != nil {
				return nil, refuse(q+".image_url.url", "%v", err)
			}
			out = append(out, block{Type: "image", Source: src, CacheControl: pt.CacheControl})
		default:
			return nil, refuse(q+".type", "content part type %q is not supported here", pt.Type)
		}
	}
	return out, nil
}

// image turns an image URL into an Anthropic image source: a base64 data
// URI into a base64 source, an http(s) URL into a url source.
func image(u string) (*imageSource, error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mediaType, isB64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isB64 || mediaType == "" {
			return nil, fmt.Errorf("data URIs must be base64: data:<media type>;base64,<data>")
		}
		if _, err := base64.StdEncoding.DecodeString(data); err != nil {
			return nil, fmt.Errorf("data URI is not valid base64")
		}
		return &imageSource{Type: "base64", MediaType: mediaType, Data: data}, nil
	}
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return &imageSource{Type: "url", URL: u}, nil
	}
	return nil, fmt.Errorf("must be an http(s) URL or a base64 data URI")
}

// arguments parses a tool call's arguments, a JSON string in OpenAI's
// shape, into the input object Anthropic wants. An empty string is an
// empty object: some clients send it for tools without parameters.
func arguments(s string) (json.RawMessage, error) {
	if strings.TrimSpace(s) == "" {
		return json.RawMessage("{}"), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("must be a JSON object encoded as a string")
	}
	var c bytes.Buffer
	json.Compact(&c, []byte(s))
	return c.Bytes(), nil
}

// marshal encodes without HTML escaping, so that text passes through as the
// client wrote it.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonParam and jsonMessage describe a type mismatch the way the rest of
// the errors do: the field, then what is wrong.
func jsonParam(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
		return te.Field
	}
	return "body"
}

func jsonMessage(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("must be %s, got a JSON %s", kind(te.Type.Kind().String()), te.Value)
	}
	return err.Error()
}

func kind(k string) string {
	switch k {
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64":
		return "an integer"
	case "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a value of another type"
	}
	return "a " + k
}
