package openai

import (
	"encoding/json"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

// Stream translates one Anthropic event stream into chat.completion.chunk
// SSE. It is fed the events in order and keeps what the chunks need across
// them: the message id, which Anthropic content block is which tool call,
// and the usage seen so far. It ends the stream with a finish chunk, the
// usage chunk when the client asked for it, and "data: [DONE]".
type Stream struct {
	a            Answer
	includeUsage bool
	id           string
	kinds        map[int64]blockKind
	tools        map[int64]int // Anthropic block index -> OpenAI tool call index
	usage        anthropic.Usage
	finished     bool
}

type blockKind int

const (
	kindOther blockKind = iota
	kindText
	kindThinking
	kindTool
	kindJSON // JSONTool's input, streamed as content
)

// NewStream starts the translation of one stream.
func NewStream(a Answer, includeUsage bool) *Stream {
	return &Stream{a: a, includeUsage: includeUsage, kinds: map[int64]blockKind{}, tools: map[int64]int{}}
}

type chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *Usage        `json:"usage,omitempty"`
}

type chunkChoice struct {
	Index        int       `json:"index"`
	Delta        delta     `json:"delta"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type delta struct {
	Role             string         `json:"role,omitempty"`
	Content          *string        `json:"content,omitempty"`
	ReasoningContent string         `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallJSON `json:"tool_calls,omitempty"`
}

// AppendEvent appends the SSE lines ev translates to, if any, to dst.
// Events the translation has no use for (content_block_stop, signatures,
// unknown types) append nothing; a ping appends an SSE comment, which
// OpenAI's SDKs skip, so that keep-alives still reach the connection.
func (s *Stream) AppendEvent(dst []byte, ev anthropic.Event) []byte {
	s.usage.ObserveEvent(ev)
	switch ev.Type {
	case anthropic.EventPing:
		return append(dst, ": ping\n\n"...)
	case anthropic.EventMessageStart:
		var m struct {
			Message struct {
				ID string `json:"id"`
			} `json:"message"`
		}
		json.Unmarshal(ev.Data, &m)
		s.id = completionID(m.Message.ID)
		empty := ""
		return s.appendChunk(dst, delta{Role: "assistant", Content: &empty}, nil)
	case anthropic.EventContentBlockStart:
		var b struct {
			Index        int64 `json:"index"`
			ContentBlock struct {
				Type string `json:"type"`
				ID   string `json:"id"`
				Name string `json:"name"`
				Text string `json:"text"`
			} `json:"content_block"`
		}
		if json.Unmarshal(ev.Data, &b) != nil {
			return dst
		}
		switch cb := b.ContentBlock; cb.Type {
		case "text":
			if s.a.JSON {
				return dst // see FromAnthropic: the content is the JSON alone
			}
			s.kinds[b.Index] = kindText
			if cb.Text != "" {
				return s.appendChunk(dst, delta{Content: &cb.Text}, nil)
			}
		case "thinking":
			s.kinds[b.Index] = kindThinking
		case "tool_use":
			if s.a.JSON && cb.Name == JSONTool {
				s.kinds[b.Index] = kindJSON
				return dst
			}
			s.kinds[b.Index] = kindTool
			i := len(s.tools)
			s.tools[b.Index] = i
			tc := toolCallJSON{Index: &i, ID: cb.ID, Type: "function"}
			tc.Function.Name = cb.Name
			return s.appendChunk(dst, delta{ToolCalls: []toolCallJSON{tc}}, nil)
		}
		return dst
	case anthropic.EventContentBlockDelta:
		var d struct {
			Index int64 `json:"index"`
			Delta struct {
				Type        string `json:"type"`
				Text        string `json:"text"`
				Thinking    string `json:"thinking"`
				PartialJSON string `json:"partial_json"`
			} `json:"delta"`
		}
		if json.Unmarshal(ev.Data, &d) != nil {
			return dst
		}
		switch s.kinds[d.Index] {
		case kindText:
			if d.Delta.Text != "" {
				return s.appendChunk(dst, delta{Content: &d.Delta.Text}, nil)
			}
		case kindThinking:
			if d.Delta.Thinking != "" {
				return s.appendChunk(dst, delta{ReasoningContent: d.Delta.Thinking}, nil)
			}
		case kindJSON:
			if d.Delta.PartialJSON != "" {
				return s.appendChunk(dst, delta{Content: &d.Delta.PartialJSON}, nil)
			}
		case kindTool:
			if d.Delta.PartialJSON != "" {
				i := s.tools[d.Index]
				tc := toolCallJSON{Index: &i}
				tc.Function.Arguments = d.Delta.PartialJSON
				return s.appendChunk(dst, delta{ToolCalls: []toolCallJSON{tc}}, nil)
			}
		}
		return dst
	case anthropic.EventMessageDelta:
		if s.usage.StopReason == "" || s.finished {
			return dst
		}
		s.finished = true
		fr := FinishReason(s.usage.StopReason, s.a.JSON)
		return s.appendChunk(dst, delta{}, &fr)
	case anthropic.EventMessageStop:
		if !s.finished {
			s.finished = true
			fr := FinishReason(s.usage.StopReason, s.a.JSON)
			dst = s.appendChunk(dst, delta{}, &fr)
		}
		if s.includeUsage {
			u := UsageOf(s.usage)
			dst = s.appendRaw(dst, chunk{ID: s.id, Object: "chat.completion.chunk", Created: s.a.Created,
				Model: s.a.Model, Choices: []chunkChoice{}, Usage: &u})
		}
		return append(dst, "data: [DONE]\n\n"...)
	}
	return dst
}

func (s *Stream) appendChunk(dst []byte, d delta, finish *string) []byte {
	return s.appendRaw(dst, chunk{ID: s.id, Object: "chat.completion.chunk", Created: s.a.Created, Model: s.a.Model,
		Choices: []chunkChoice{{Delta: d, FinishReason: finish}}})
}

func (s *Stream) appendRaw(dst []byte, c chunk) []byte {
	b, err := marshal(c)
	if err != nil {
		return dst
	}
	dst = append(dst, "data: "...)
	dst = append(dst, b...)
	return append(dst, "\n\n"...)
}

// AppendError appends an in-stream error: OpenAI's SDKs end a stream with
// an error when a data line carries an "error" object.
func AppendError(dst []byte, typ, code, message string) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, ErrorBody(typ, code, "", message)...)
	return append(dst, "\n\n"...)
}
