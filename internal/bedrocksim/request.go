package bedrocksim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// BedrockAnthropicVersion is the only anthropic_version Bedrock accepts.
const BedrockAnthropicVersion = "bedrock-2023-05-31"

var (
	// claudeModelID matches foundation-model and inference-profile ids of
	// Claude: an optional geography prefix, then anthropic.claude-...
	claudeModelID = regexp.MustCompile(`^(?:(global|us|eu|apac|jp|au|us-gov)\.)?anthropic\.(claude-[a-z0-9.-]+?)(?:-v\d+(?::\d+)?)?$`)
	// modelARN matches the ARN forms Bedrock accepts as a model id.
	modelARN = regexp.MustCompile(`^arn:aws(?:-[a-z-]+)?:bedrock:[a-z0-9-]*:\d*:(foundation-model|inference-profile|application-inference-profile|provisioned-model|custom-model|imported-model|custom-model-deployment)/(.+)$`)
)

// fallbackModelName is reported for ARNs that do not name a Claude model,
// such as application inference profiles.
const fallbackModelName = "claude-sonnet-4-5-20250929"

// modelInfo is what the simulator derives from a model id.
type modelInfo struct {
	ID      string // as decoded from the path
	Name    string // Anthropic name reported in "model", e.g. claude-sonnet-4-5-20250929
	Profile bool   // inference-profile id or any ARN: CountTokens refuses it
}

// parseModelID accepts the ids Bedrock would accept for Claude and rejects
// the rest with Bedrock's message.
func parseModelID(id string) (modelInfo, error) {
	if m := claudeModelID.FindStringSubmatch(id); m != nil {
		return modelInfo{ID: id, Name: m[2], Profile: m[1] != ""}, nil
	}
	if m := modelARN.FindStringSubmatch(id); m != nil {
		info := modelInfo{ID: id, Name: fallbackModelName, Profile: true}
		if cm := claudeModelID.FindStringSubmatch(m[2]); cm != nil {
			info.Name = cm[2]
		}
		return info, nil
	}
	return modelInfo{}, validationError("The provided model identifier is invalid.")
}

// invokeRequest is an InvokeModel body, validated. Content stays raw JSON so
// that usage estimates do not depend on how the sim would re-encode it.
type invokeRequest struct {
	Fields        map[string]json.RawMessage
	MaxTokens     int
	System        json.RawMessage
	Tools         []json.RawMessage
	Messages      []message
	Betas         []string
	StopSequences []string
}

type message struct {
	Role    string
	Content json.RawMessage
	Blocks  []json.RawMessage // nil when Content is a string
	Text    string            // Content when it is a string
}

// block is the part of a content block the simulator looks at.
type block struct {
	Type         string          `json:"type"`
	Text         string          `json:"text"`
	Thinking     *string         `json:"thinking"`
	Signature    *string         `json:"signature"`
	Content      json.RawMessage `json:"content"` // tool_result
	CacheControl *cacheControl   `json:"cache_control"`
}

type cacheControl struct {
	Type string `json:"type"`
	TTL  string `json:"ttl"`
}

// validateOptions selects the checks parseInvokeBody runs.
type validateOptions struct {
	RejectBetas  []string
	RejectFields []string
	HeaderBetas  []string // from the anthropic-beta HTTP header
	Signatures   bool     // verify thinking signatures
	ThinkingKey  []byte
}

// parseInvokeBody validates body the way Bedrock validates a Claude request
// and returns it parsed. Errors are ValidationException apiErrors.
func parseInvokeBody(body []byte, vo validateOptions) (*invokeRequest, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		if json.Valid(body) {
			return nil, malformed("#: expected type: JSONObject, found: " + jsonKind(bytes.TrimSpace(body)))
		}
		return nil, malformed("expected a JSON object: " + jsonErrText(err))
	}
	req := &invokeRequest{Fields: fields}

	for _, key := range []string{"anthropic_version", "max_tokens", "messages"} {
		if _, ok := fields[key]; !ok {
			return nil, malformed("#: required key [" + key + "] not found")
		}
	}
	var version string
	if json.Unmarshal(fields["anthropic_version"], &version) != nil || version != BedrockAnthropicVersion {
		return nil, malformed("#/anthropic_version: " + string(fields["anthropic_version"]) + " is not a valid enum value")
	}
	for _, key := range []string{"model", "stream"} {
		if _, ok := fields[key]; ok {
			return nil, validationError("%s: Extra inputs are not permitted", key)
		}
	}
	if err := rejectFields(body, fields, vo.RejectFields); err != nil {
		return nil, err
	}
	if raw, ok := fields["anthropic_beta"]; ok {
		if json.Unmarshal(raw, &req.Betas) != nil {
			return nil, malformed("#/anthropic_beta: expected type: JSONArray of strings, found: " + jsonKind(raw))
		}
	}
	for _, b := range append(append([]string(nil), req.Betas...), vo.HeaderBetas...) {
		for _, r := range vo.RejectBetas {
			if b == r {
				return nil, validationError("invalid beta flag")
			}
		}
	}

	var mt json.Number
	dec := json.NewDecoder(bytes.NewReader(fields["max_tokens"]))
	dec.UseNumber()
	if dec.Decode(&mt) != nil {
		return nil, validationError("max_tokens: Input should be a valid integer")
	}
	n, err := strconv.Atoi(mt.String())
	if err != nil {
		return nil, validationError("max_tokens: Input should be a valid integer")
	}
	if n < 1 {
		return nil, validationError("max_tokens: Input should be greater than or equal to 1")
	}
	req.MaxTokens = n
	if err := checkThinking(fields["thinking"], n); err != nil {
		return nil, err
	}

	if raw, ok := fields["system"]; ok && !isNull(raw) {
		if raw[0] != '"' && raw[0] != '[' {
			return nil, validationError("system: Input should be a valid string or a list of text blocks")
		}
		req.System = raw
	}
	if raw, ok := fields["tools"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &req.Tools) != nil {
			return nil, validationError("tools: Input should be a valid list")
		}
	}
	if raw, ok := fields["stop_sequences"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &req.StopSequences) != nil {
			return nil, validationError("stop_sequences: Input should be a valid list of strings")
		}
	}
	if err := req.parseMessages(fields["messages"], vo); err != nil {
		return nil, err
	}
	return req, nil
}

func (req *invokeRequest) parseMessages(raw json.RawMessage, vo validateOptions) error {
	var msgs []struct {
		Role    *string         `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &msgs) != nil {
		return malformed("#/messages: expected type: JSONArray, found: " + jsonKind(raw))
	}
	if len(msgs) == 0 {
		return validationError("messages: at least one message is required")
	}
	for i, m := range msgs {
		if m.Role == nil {
			return validationError("messages.%d.role: Field required", i)
		}
		switch *m.Role {
		case "user", "assistant", "system":
		default:
			return validationError("messages.%d.role: Input should be 'user', 'assistant' or 'system'", i)
		}
		msg := message{Role: *m.Role, Content: m.Content}
		switch {
		case len(m.Content) == 0 || isNull(m.Content):
			return validationError("messages.%d.content: Field required", i)
		case m.Content[0] == '"':
			_ = json.Unmarshal(m.Content, &msg.Text)
		case m.Content[0] == '[':
			if json.Unmarshal(m.Content, &msg.Blocks) != nil {
				return validationError("messages.%d.content: Input should be a valid list", i)
			}
			for j, rb := range msg.Blocks {
				var b block
				if json.Unmarshal(rb, &b) != nil || b.Type == "" {
					return validationError("messages.%d.content.%d: Input should be a valid content block with a type", i, j)
				}
				if vo.Signatures && b.Type == "thinking" {
					if b.Signature == nil {
						return validationError("messages.%d.content.%d.thinking.signature: Field required", i, j)
					}
					if b.Thinking == nil || !hmac.Equal([]byte(*b.Signature), []byte(signThinking(vo.ThinkingKey, *b.Thinking))) {
						return validationError("messages.%d.content.%d: Invalid signature in thinking block", i, j)
					}
				}
			}
		default:
			return validationError("messages.%d.content: Input should be a valid string or list", i)
		}
		req.Messages = append(req.Messages, msg)
	}
	return nil
}

// checkThinking applies the Anthropic API's rules for extended thinking
// that Bedrock passes on: a budget of at least 1024 tokens, below max_tokens.
// A gateway that lowers max_tokens without lowering the budget trips the
// second one.
func checkThinking(raw json.RawMessage, maxTokens int) error {
	if isNull(raw) {
		return nil
	}
	var th struct {
		Type         string `json:"type"`
		BudgetTokens *int   `json:"budget_tokens"`
	}
	if json.Unmarshal(raw, &th) != nil {
		return validationError("thinking: Input should be a valid dictionary or object")
	}
	if th.Type != "enabled" {
		return nil
	}
	if th.BudgetTokens == nil {
		return validationError("thinking.enabled.budget_tokens: Field required")
	}
	if *th.BudgetTokens < 1024 {
		return validationError("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
	}
	if maxTokens <= *th.BudgetTokens {
		return validationError("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
	}
	return nil
}

// signThinking is the signature the simulator gives a thinking text:
// base64(HMAC-SHA256(key, thinking)).
func signThinking(key []byte, thinking string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(thinking))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// rejectFields applies Options.RejectFields.
func rejectFields(body []byte, fields map[string]json.RawMessage, paths []string) error {
	var doc any // decoded lazily, only for dotted paths
	for _, p := range paths {
		if !strings.Contains(p, ".") {
			if _, ok := fields[p]; ok {
				return validationError("%s: Extra inputs are not permitted", p)
			}
			continue
		}
		if doc == nil {
			if err := json.Unmarshal(body, &doc); err != nil {
				return malformed(jsonErrText(err))
			}
		}
		if loc, ok := findPath(doc, strings.Split(p, "."), nil); ok {
			return validationError("%s: Extra inputs are not permitted", strings.Join(loc, "."))
		}
	}
	return nil
}

// findPath reports the first concrete location matching path in v, where
// "*" matches any array index or object key.
func findPath(v any, path, loc []string) ([]string, bool) {
	if len(path) == 0 {
		return loc, true
	}
	seg, rest := path[0], path[1:]
	switch t := v.(type) {
	case map[string]any:
		if seg != "*" {
			if c, ok := t[seg]; ok {
				return findPath(c, rest, append(loc, seg))
			}
			return nil, false
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if l, ok := findPath(t[k], rest, append(loc, k)); ok {
				return l, true
			}
		}
	case []any:
		for i, c := range t {
			if seg != "*" && seg != strconv.Itoa(i) {
				continue
			}
			if l, ok := findPath(c, rest, append(loc, strconv.Itoa(i))); ok {
				return l, true
			}
		}
	}
	return nil, false
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "JSONObject"
	case '[':
		return "JSONArray"
	case '"':
		return "String"
	case 't', 'f':
		return "Boolean"
	case 'n':
		return "Null"
	}
	return "Number"
}

func jsonErrText(err error) string {
	if err == nil {
		return "empty input"
	}
	return err.Error()
}

// lastUserMessage returns the last message with role user, or nil.
func (req *invokeRequest) lastUserMessage() *message {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			return &req.Messages[i]
		}
	}
	return nil
}

// promptText is the text markers are read from: the string content or the
// text blocks of the last user message, joined by newlines.
func (m *message) promptText() string {
	if m.Blocks == nil {
		return m.Text
	}
	var parts []string
	for _, rb := range m.Blocks {
		var b block
		if json.Unmarshal(rb, &b) == nil && b.Type == "text" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// firstToolResult returns the text of the first tool_result block, and
// whether there is one. Array content contributes its text blocks, joined
// by newlines.
func (m *message) firstToolResult() (string, bool) {
	for _, rb := range m.Blocks {
		var b block
		if json.Unmarshal(rb, &b) != nil || b.Type != "tool_result" {
			continue
		}
		if len(b.Content) == 0 || isNull(b.Content) {
			return "", true
		}
		var s string
		if json.Unmarshal(b.Content, &s) == nil {
			return s, true
		}
		var blocks []block
		_ = json.Unmarshal(b.Content, &blocks)
		var parts []string
		for _, cb := range blocks {
			if cb.Type == "text" {
				parts = append(parts, cb.Text)
			}
		}
		return strings.Join(parts, "\n"), true
	}
	return "", false
}
