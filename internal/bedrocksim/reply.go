package bedrocksim

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"unicode/utf8"
)

// outBlock is one content block of the answer.
type outBlock struct {
	Type      string // text, thinking, redacted_thinking, tool_use
	Text      string // text, or thinking
	Signature string // thinking
	ID, Name  string // tool_use
	Input     json.RawMessage
	Data      string // redacted_thinking
}

// payloadLen is the byte length the output estimate counts for a block:
// its text, its thinking, its compact input JSON, or its redacted data.
func (b outBlock) payloadLen() int {
	switch b.Type {
	case "tool_use":
		return len(b.Input)
	case "redacted_thinking":
		return len(b.Data)
	}
	return len(b.Text)
}

// reply is a planned answer, rendered either as one JSON message or as a
// stream of events.
type reply struct {
	ID         string
	Model      string
	Blocks     []outBlock
	StopReason string
	StopSeq    *string
	Usage      usage
}

// plan decides the content of the answer:
//
//   - the script's blocks in marker order; with none, one text block with
//     Options.Reply, or "Tool result: <text>" when the last user message
//     carries a tool_result; a tool block with no text block anywhere gets
//     "Calling <Name>." before it;
//   - blocks are emitted while their output tokens fit in max_tokens; the
//     first that does not fit is cut to the remaining tokens*4 bytes if it
//     is text or thinking (dropped otherwise), and generation stops with
//     stop_reason max_tokens and output_tokens = max_tokens;
//   - otherwise stop_reason is tool_use if a tool_use was emitted, else
//     end_turn; [[sim:stop]] overrides either, and output_tokens is
//     max(1, sum of tokens(payloadLen) over the blocks).
//
// Usage.Input and the cache fields are filled in by the caller.
func (s *Server) plan(rng *rand.Rand, model string, req *invokeRequest, sc *script) *reply {
	specs := sc.Blocks
	if len(specs) == 0 {
		text := s.opts.Reply
		if last := req.lastUserMessage(); last != nil {
			if tr, ok := last.firstToolResult(); ok {
				text = "Tool result: " + tr
			}
		}
		specs = []blockSpec{{Kind: "text", Text: text}}
	} else {
		specs = withToolPreamble(specs)
	}

	r := &reply{ID: "msg_bdrk_01" + randomID(rng, 22), Model: model}
	budget, out, truncated := req.MaxTokens, 0, false
	for _, sp := range specs {
		b := outBlock{Type: sp.Kind, Text: sp.Text, Name: sp.Name, Input: sp.Input}
		switch sp.Kind {
		case "tool_use":
			b.ID = "toolu_sim_01" + randomID(rng, 22)
		case "redacted_thinking":
			raw := make([]byte, 48)
			for i := range raw {
				raw[i] = byte(rng.UintN(256))
			}
			b.Data = base64.StdEncoding.EncodeToString(raw)
		}
		cost := tokens(b.payloadLen())
		if cost > budget {
			truncated = true
			if (b.Type == "text" || b.Type == "thinking") && budget > 0 {
				b.Text = truncateUTF8(b.Text, budget*4)
				r.Blocks = append(r.Blocks, s.finish(b))
			}
			break
		}
		budget -= cost
		out += cost
		r.Blocks = append(r.Blocks, s.finish(b))
	}

	switch {
	case sc.Stop != "":
		r.StopReason = sc.Stop
	case truncated:
		r.StopReason = "max_tokens"
	case hasToolUse(r.Blocks):
		r.StopReason = "tool_use"
	default:
		r.StopReason = "end_turn"
	}
	if r.StopReason == "stop_sequence" {
		switch {
		case sc.StopSeq != nil:
			r.StopSeq = sc.StopSeq
		case len(req.StopSequences) > 0:
			r.StopSeq = &req.StopSequences[0]
		}
	}
	if truncated {
		r.Usage.Output = req.MaxTokens
	} else {
		r.Usage.Output = max(1, out)
	}
	return r
}

// finish signs thinking blocks.
func (s *Server) finish(b outBlock) outBlock {
	if b.Type == "thinking" {
		b.Signature = signThinking(s.opts.ThinkingKey, b.Text)
	}
	return b
}

func withToolPreamble(specs []blockSpec) []blockSpec {
	first := -1
	for i, sp := range specs {
		switch sp.Kind {
		case "text":
			return specs
		case "tool_use":
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		return specs
	}
	out := make([]blockSpec, 0, len(specs)+1)
	out = append(out, specs[:first]...)
	out = append(out, blockSpec{Kind: "text", Text: "Calling " + specs[first].Name + "."})
	return append(out, specs[first:]...)
}

func hasToolUse(bs []outBlock) bool {
	for _, b := range bs {
		if b.Type == "tool_use" {
			return true
		}
	}
	return false
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomID(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base62[rng.IntN(len(base62))]
	}
	return string(b)
}
