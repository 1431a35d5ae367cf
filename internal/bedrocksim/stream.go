package bedrocksim

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/tollgate-gw/tollgate/internal/bedrock"
)

// Delta sizes: text and thinking go out wordsPerDelta words at a time, tool
// input jsonBytesPerDelta bytes at a time (never splitting a rune).
const (
	wordsPerDelta     = 2
	jsonBytesPerDelta = 16
)

// paddingAlphabet is what Bedrock's "p" padding field is cut from: a prefix
// of random length.
const paddingAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// streamWriter writes chunk frames the way Bedrock does, one flush per
// frame.
type streamWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc *eventstream.Encoder
	rng *mrand.Rand
}

type chunkPayload struct {
	Bytes []byte `json:"bytes"` // base64 in JSON
	P     string `json:"p"`
}

// event writes v, one Anthropic stream event, as a chunk frame:
// {"bytes":"<base64 of the event JSON>","p":"abc..."}.
func (sw *streamWriter) event(v any) error {
	payload := mustJSON(chunkPayload{
		Bytes: mustJSON(v),
		P:     paddingAlphabet[:1+sw.rng.IntN(len(paddingAlphabet))],
	})
	msg := eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue("chunk")},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
		Payload: payload,
	}
	if err := sw.enc.Encode(sw.w, msg); err != nil {
		return fmt.Errorf("bedrocksim: write chunk: %w", err)
	}
	return sw.rc.Flush()
}

func (sw *streamWriter) exception(name, message string) error {
	if err := bedrock.NewFrameWriter(sw.w).WriteException(name, message); err != nil {
		return err
	}
	return sw.rc.Flush()
}

// Stream event shapes.

type deltaEvent struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
	Delta any    `json:"delta"`
}

type blockStartEvent struct {
	Type         string `json:"type"`
	Index        int    `json:"index"`
	ContentBlock any    `json:"content_block"`
}

type indexEvent struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

type messageStartEvent struct {
	Type    string     `json:"type"`
	Message messageOut `json:"message"`
}

type stopDelta struct {
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

type outputUsage struct {
	OutputTokens int `json:"output_tokens"`
}

type messageDeltaEvent struct {
	Type  string      `json:"type"`
	Delta stopDelta   `json:"delta"`
	Usage outputUsage `json:"usage"`
}

type messageStopEvent struct {
	Type    string            `json:"type"`
	Metrics invocationMetrics `json:"amazon-bedrock-invocationMetrics"`
}

type textDelta struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type thinkingDelta struct {
	Type     string `json:"type"`
	Thinking string `json:"thinking"`
}

type signatureDelta struct {
	Type      string `json:"type"`
	Signature string `json:"signature"`
}

type inputJSONDelta struct {
	Type        string `json:"type"`
	PartialJSON string `json:"partial_json"`
}

type invocationMetrics struct {
	InputTokenCount           int   `json:"inputTokenCount"`
	OutputTokenCount          int   `json:"outputTokenCount"`
	InvocationLatency         int64 `json:"invocationLatency"`
	FirstByteLatency          int64 `json:"firstByteLatency"`
	CacheReadInputTokenCount  int   `json:"cacheReadInputTokenCount,omitempty"`
	CacheWriteInputTokenCount int   `json:"cacheWriteInputTokenCount,omitempty"`
}

// errStreamStopped ends a stream after an exception frame.
var errStreamStopped = errors.New("bedrocksim: stream stopped by fault")

// invokeStream answers InvokeModelWithResponseStream. Errors found before
// the stream starts are HTTP errors; later faults are exception frames or a
// cut connection.
func (s *Server) invokeStream(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.prepare(r, c)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if sleep(ctx, p.latency) != nil {
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", bedrock.ContentType)
	h.Set("X-Amzn-Bedrock-Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder(), rng: c.rng}
	if p.fault != nil && p.fault.Kind == faultStall {
		if sw.rc.Flush() == nil {
			<-ctx.Done() // hold the stream, silent, until the client leaves
		}
		return nil
	}
	if p.fault != nil && p.fault.Kind == faultSlow {
		if sw.rc.Flush() != nil || sleep(ctx, p.fault.Delay) != nil {
			return nil
		}
	}
	if err := s.writeStream(sw, r, c, p); err != nil && !errors.Is(err, errStreamStopped) {
		s.log.Debug("bedrocksim: stream ended early", "err", err)
	}
	return nil
}

func (s *Server) writeStream(sw *streamWriter, r *http.Request, c *call, p *prepared) error {
	rp := p.reply
	firstByte := time.Duration(-1)
	emit := func(v any) error {
		if firstByte < 0 {
			firstByte = s.opts.Now().Sub(c.start)
		}
		return sw.event(v)
	}
	fired := false
	// afterFirstDelta applies a mid-stream fault once, after the first
	// delta (or before message_delta when the answer has no delta).
	afterFirstDelta := func() error {
		if fired || p.fault == nil {
			return nil
		}
		fired = true
		switch p.fault.Kind {
		case faultMidstream:
			if err := sw.exception(p.fault.Exc.StreamName, p.fault.message()); err != nil {
				return err
			}
			return errStreamStopped
		case faultDrop:
			panic(http.ErrAbortHandler) // cut the connection, no final frame
		}
		return nil
	}
	delta := func(i int, piece string, d any) error {
		if p.tps > 0 {
			wait := time.Duration(float64(tokens(len(piece))) / p.tps * float64(time.Second))
			if err := sleep(r.Context(), wait); err != nil {
				return err
			}
		}
		if err := emit(deltaEvent{Type: "content_block_delta", Index: i, Delta: d}); err != nil {
			return err
		}
		return afterFirstDelta()
	}

	if err := emit(messageStartEvent{Type: "message_start", Message: messageJSON(rp, false)}); err != nil {
		return err
	}
	for i, b := range rp.Blocks {
		if err := emit(blockStartEvent{Type: "content_block_start", Index: i, ContentBlock: blockJSON(b, false)}); err != nil {
			return err
		}
		switch b.Type {
		case "text":
			for _, piece := range splitWords(b.Text, wordsPerDelta) {
				if err := delta(i, piece, textDelta{Type: "text_delta", Text: piece}); err != nil {
					return err
				}
			}
		case "thinking":
			for _, piece := range splitWords(b.Text, wordsPerDelta) {
				if err := delta(i, piece, thinkingDelta{Type: "thinking_delta", Thinking: piece}); err != nil {
					return err
				}
			}
			if err := delta(i, "", signatureDelta{Type: "signature_delta", Signature: b.Signature}); err != nil {
				return err
			}
		case "tool_use":
			// Like the Anthropic API, the first input_json_delta is empty.
			for _, piece := range append([]string{""}, splitBytes(string(b.Input), jsonBytesPerDelta)...) {
				if err := delta(i, piece, inputJSONDelta{Type: "input_json_delta", PartialJSON: piece}); err != nil {
					return err
				}
			}
		}
		if err := emit(indexEvent{Type: "content_block_stop", Index: i}); err != nil {
			return err
		}
	}
	if err := afterFirstDelta(); err != nil {
		return err
	}
	if err := emit(messageDeltaEvent{
		Type:  "message_delta",
		Delta: stopDelta{StopReason: rp.StopReason, StopSequence: rp.StopSeq},
		Usage: outputUsage{OutputTokens: rp.Usage.Output},
	}); err != nil {
		return err
	}
	u := rp.Usage
	return emit(messageStopEvent{
		Type: "message_stop",
		Metrics: invocationMetrics{
			InputTokenCount:           u.Input,
			OutputTokenCount:          u.Output,
			InvocationLatency:         s.opts.Now().Sub(c.start).Milliseconds(),
			FirstByteLatency:          firstByte.Milliseconds(),
			CacheReadInputTokenCount:  u.CacheRead,
			CacheWriteInputTokenCount: u.cacheWrite(),
		},
	})
}

// splitWords cuts s into pieces of per words, each keeping its trailing
// white space, so that joining the pieces gives s back.
func splitWords(s string, per int) []string {
	var out []string
	start, words := 0, 0
	for i := 1; i < len(s); i++ {
		if !isSpace(s[i]) && isSpace(s[i-1]) {
			if words++; words == per {
				out = append(out, s[start:i])
				start, words = i, 0
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// splitBytes cuts s into pieces of about n bytes, never inside a rune.
func splitBytes(s string, n int) []string {
	var out []string
	for len(s) > 0 {
		k := min(n, len(s))
		for k < len(s) && !utf8.RuneStart(s[k]) {
			k++
		}
		out = append(out, s[:k])
		s = s[k:]
	}
	return out
}
