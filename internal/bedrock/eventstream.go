// Package bedrock holds the Bedrock Runtime wire format: AWS event-stream
// frames carrying Anthropic events, model-id path escaping, the request body
// transform from the Anthropic Messages shape, and the mapping of Bedrock
// exceptions to Anthropic error types. It performs no I/O of its own beyond
// reading and writing frames.
package bedrock

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

// ContentType is the media type of an InvokeModelWithResponseStream body.
// Claude Code refuses a 200 stream that carries any other type.
const ContentType = "application/vnd.amazon.eventstream"

// Frame is one decoded event-stream message, reduced to what the gateway
// needs. For a chunk, Event holds the Anthropic event carried in its base64
// "bytes" field. For an exception or error frame, ExceptionType names it
// (throttlingException, ...) and Message holds its text.
type Frame struct {
	MessageType   string // "event", "exception" or "error"
	EventType     string // ":event-type" of an event frame, normally "chunk"
	ExceptionType string // ":exception-type" or ":error-code"
	Message       string // exception/error text
	Payload       []byte // the raw frame payload
	Event         anthropic.Event
}

// ErrBadChunk is returned when a chunk frame's payload is not the JSON object
// with a base64 "bytes" field that Bedrock sends.
var ErrBadChunk = errors.New("bedrock: malformed chunk payload")

// FrameReader decodes an event-stream body frame by frame. The underlying
// decoder checks both CRCs and the SDK's size limits.
type FrameReader struct {
	r   io.Reader
	dec *eventstream.Decoder
	buf []byte
}

// NewFrameReader returns a FrameReader over r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: r, dec: eventstream.NewDecoder()}
}

// Next returns the next frame, or io.EOF at a clean end of the stream.
func (fr *FrameReader) Next() (Frame, error) {
	msg, err := fr.dec.Decode(fr.r, fr.buf[:0])
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Frame{}, io.EOF
		}
		return Frame{}, fmt.Errorf("bedrock: decode event stream: %w", err)
	}
	fr.buf = msg.Payload[:0]
	f := Frame{
		MessageType: headerString(msg.Headers, ":message-type"),
		Payload:     append([]byte(nil), msg.Payload...),
	}
	switch f.MessageType {
	case "event":
		f.EventType = headerString(msg.Headers, ":event-type")
		if f.EventType != "chunk" {
			return f, nil
		}
		b64 := gjson.GetBytes(f.Payload, "bytes")
		if b64.Type != gjson.String {
			return f, ErrBadChunk
		}
		data, err := base64.StdEncoding.DecodeString(b64.Str)
		if err != nil {
			return f, fmt.Errorf("%w: %v", ErrBadChunk, err)
		}
		f.Event = anthropic.Event{Type: gjson.GetBytes(data, "type").String(), Data: data}
	case "exception":
		f.ExceptionType = headerString(msg.Headers, ":exception-type")
		f.Message = gjson.GetBytes(f.Payload, "message").String()
		if f.Message == "" {
			f.Message = gjson.GetBytes(f.Payload, "Message").String()
		}
	case "error":
		f.ExceptionType = headerString(msg.Headers, ":error-code")
		f.Message = headerString(msg.Headers, ":error-message")
	}
	return f, nil
}

func headerString(hs eventstream.Headers, name string) string {
	v := hs.Get(name)
	if v == nil {
		return ""
	}
	return v.String()
}

// FrameWriter encodes Anthropic events as Bedrock chunk frames, and errors as
// exception frames, recomputing both CRCs for every frame.
type FrameWriter struct {
	w   io.Writer
	enc *eventstream.Encoder
	buf []byte
}

// NewFrameWriter returns a FrameWriter over w.
func NewFrameWriter(w io.Writer) *FrameWriter {
	return &FrameWriter{w: w, enc: eventstream.NewEncoder()}
}

// WriteEvent writes ev as a chunk frame: {"bytes":"<base64 of ev.Data>"}.
func (fw *FrameWriter) WriteEvent(ev anthropic.Event) error {
	n := base64.StdEncoding.EncodedLen(len(ev.Data))
	buf := fw.buf[:0]
	buf = append(buf, `{"bytes":"`...)
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	base64.StdEncoding.Encode(buf[start:], ev.Data)
	buf = append(buf, `"}`...)
	fw.buf = buf
	msg := eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue("chunk")},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
		Payload: buf,
	}
	if err := fw.enc.Encode(fw.w, msg); err != nil {
		return fmt.Errorf("bedrock: encode chunk: %w", err)
	}
	return nil
}

// WriteException writes an exception frame such as Bedrock sends mid-stream,
// e.g. excType "throttlingException" with payload {"message": msg}.
func (fw *FrameWriter) WriteException(excType, message string) error {
	payload := ErrorBody(message)
	msg := eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":exception-type", Value: eventstream.StringValue(excType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("exception")},
		},
		Payload: payload,
	}
	if err := fw.enc.Encode(fw.w, msg); err != nil {
		return fmt.Errorf("bedrock: encode exception: %w", err)
	}
	return nil
}
