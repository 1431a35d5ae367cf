// Package bedrock holds the Bedrock Runtime wire format: AWS event-stream
// frames carrying Anthropic events, model-id path escaping, the request body
// transform from the Anthropic Messages shape, and the mapping of Bedrock
// exceptions to Anthropic error types. It performs no I/O of its own beyond
// reading and writing frames.
package bedrock

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

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

// FrameReader decodes an event-stream body frame by frame, checking both
// CRCs. It reads through its own buffer: the SDK's decoder read a frame in
// five or more small reads (prelude, CRC, headers, payload, CRC), each a
// syscall on a real connection and, through the provider's idle-timeout
// body, a timer reset, and allocated every header name; one read here
// usually brings several frames, and a frame that fits in the buffer is
// decoded in place.
type FrameReader struct {
	r   *bufio.Reader
	buf []byte // a frame larger than r's buffer
}

// frameBufferSize is the FrameReader's read buffer. A Claude chunk frame is
// 150–600 bytes, so one read of a busy stream brings several; the buffer
// is also most of what an open stream costs in memory, so it stays small.
const frameBufferSize = 4 << 10

// MaxFrameLen bounds one event-stream frame. The largest Anthropic event a
// gateway relays is bounded by anthropic.MaxSSELine (8 MiB); base64 makes
// it 11 MiB. A hostile or broken upstream cannot make the reader allocate
// more than this.
const MaxFrameLen = 16 << 20

const (
	preludeLen = 12 // total length, headers length, prelude CRC
	minFrame   = preludeLen + 4
)

// NewFrameReader returns a FrameReader over r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, frameBufferSize)}
}

// Ready reports whether the next frame is already read whole from the
// connection, so that Next returns it without waiting. A relay uses it to
// leave the flush to the last of a run of frames that came in together;
// a frame only partly arrived is not ready, since its rest may be late.
func (fr *FrameReader) Ready() bool {
	n := fr.r.Buffered()
	if n < preludeLen {
		return false
	}
	prelude, _ := fr.r.Peek(preludeLen)
	return int(binary.BigEndian.Uint32(prelude)) <= n
}

// Next returns the next frame, or io.EOF at a clean end of the stream. The
// frame's Payload is valid until the next call; Event.Data is its own.
func (fr *FrameReader) Next() (Frame, error) {
	raw, err := fr.frame()
	if err != nil {
		return Frame{}, err
	}
	headersLen := binary.BigEndian.Uint32(raw[4:8])
	headers := raw[preludeLen : preludeLen+headersLen]
	f := Frame{Payload: raw[preludeLen+headersLen : len(raw)-4]}
	var msgType, evType, excType, errCode, errMsg []byte
	if err := eachStringHeader(headers, func(name, value []byte) {
		switch string(name) {
		case ":message-type":
			msgType = value
		case ":event-type":
			evType = value
		case ":exception-type":
			excType = value
		case ":error-code":
			errCode = value
		case ":error-message":
			errMsg = value
		}
	}); err != nil {
		return Frame{}, fmt.Errorf("bedrock: decode event stream: %w", err)
	}
	f.MessageType = internType(msgType)
	switch f.MessageType {
	case "event":
		f.EventType = internType(evType)
		if f.EventType != "chunk" {
			return f, nil
		}
		b64, ok := chunkBytes(f.Payload)
		if !ok {
			return f, ErrBadChunk
		}
		data := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
		n, err := base64.StdEncoding.Decode(data, b64)
		if err != nil {
			return f, fmt.Errorf("%w: %v", ErrBadChunk, err)
		}
		data = data[:n]
		f.Event = anthropic.Event{Type: anthropic.EventTypeOf(data), Data: data}
	case "exception":
		f.ExceptionType = string(excType)
		f.Message = gjson.GetBytes(f.Payload, "message").String()
		if f.Message == "" {
			f.Message = gjson.GetBytes(f.Payload, "Message").String()
		}
	case "error":
		f.ExceptionType = string(errCode)
		f.Message = string(errMsg)
	}
	return f, nil
}

// frame returns the next whole frame, CRCs checked: a view of the read
// buffer, consumed, when it fits there, else a copy in fr.buf.
func (fr *FrameReader) frame() ([]byte, error) {
	prelude, err := fr.r.Peek(preludeLen)
	if err != nil {
		if err == io.EOF && len(prelude) == 0 {
			return nil, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("bedrock: decode event stream: %w", err)
	}
	total := binary.BigEndian.Uint32(prelude[0:4])
	headersLen := binary.BigEndian.Uint32(prelude[4:8])
	if crc32.ChecksumIEEE(prelude[:8]) != binary.BigEndian.Uint32(prelude[8:12]) {
		return nil, errors.New("bedrock: decode event stream: prelude checksum mismatch")
	}
	if total < minFrame || total > MaxFrameLen || headersLen > total-minFrame {
		return nil, fmt.Errorf("bedrock: decode event stream: bad frame lengths %d/%d", total, headersLen)
	}
	var raw []byte
	if int(total) <= fr.r.Size() {
		raw, err = fr.r.Peek(int(total))
		if err == nil {
			_, _ = fr.r.Discard(int(total)) // raw stays valid until the next read
		}
	} else {
		if cap(fr.buf) < int(total) {
			fr.buf = make([]byte, total)
		}
		raw = fr.buf[:total]
		_, err = io.ReadFull(fr.r, raw)
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("bedrock: decode event stream: %w", err)
	}
	if crc32.ChecksumIEEE(raw[:total-4]) != binary.BigEndian.Uint32(raw[total-4:]) {
		return nil, errors.New("bedrock: decode event stream: message checksum mismatch")
	}
	return raw, nil
}

// eachStringHeader calls fn with every string header of an encoded header
// block, and checks that the block is well formed.
func eachStringHeader(b []byte, fn func(name, value []byte)) error {
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || len(b) < 1+n+1 {
			return errors.New("malformed header")
		}
		name := b[1 : 1+n]
		typ := b[1+n]
		b = b[2+n:]
		var size int
		switch typ {
		case 0, 1: // bool true, false
		case 2: // byte
			size = 1
		case 3: // int16
			size = 2
		case 4: // int32
			size = 4
		case 5, 8: // int64, timestamp
			size = 8
		case 9: // uuid
			size = 16
		case 6, 7: // bytes, string: 2-byte length, then the value
			if len(b) < 2 {
				return errors.New("malformed header")
			}
			l := int(binary.BigEndian.Uint16(b))
			if len(b) < 2+l {
				return errors.New("malformed header")
			}
			if typ == 7 {
				fn(name, b[2:2+l])
			}
			b = b[2+l:]
			continue
		default:
			return fmt.Errorf("unknown header type %d", typ)
		}
		if len(b) < size {
			return errors.New("malformed header")
		}
		b = b[size:]
	}
	return nil
}

// internType returns the header values every frame carries as constants,
// so that decoding a chunk allocates nothing for them.
func internType(b []byte) string {
	switch string(b) {
	case "event":
		return "event"
	case "chunk":
		return "chunk"
	case "exception":
		return "exception"
	case "error":
		return "error"
	}
	return string(b)
}

// chunkBytes returns the base64 "bytes" field of a chunk payload. Bedrock
// sends {"bytes":"…","p":"…"}, base64 has neither quotes nor escapes, so
// that shape is read in place; anything else goes through a JSON parser.
func chunkBytes(payload []byte) ([]byte, bool) {
	const prefix = `{"bytes":"`
	if rest, ok := bytes.CutPrefix(payload, []byte(prefix)); ok {
		if i := bytes.IndexByte(rest, '"'); i >= 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			return rest[:i], true
		}
	}
	v := gjson.GetBytes(payload, "bytes")
	if v.Type != gjson.String {
		return nil, false
	}
	return []byte(v.Str), true
}

// FrameWriter encodes Anthropic events as Bedrock chunk frames, and errors as
// exception frames, recomputing both CRCs for every frame. Each frame is
// built in one reused buffer and goes out in one Write; the chunk headers,
// the same on every frame, are encoded once.
type FrameWriter struct {
	w   io.Writer
	buf []byte
}

// NewFrameWriter returns a FrameWriter over w.
func NewFrameWriter(w io.Writer) *FrameWriter {
	return &FrameWriter{w: w}
}

// chunkHeaders is the encoded header block of every chunk frame, in the
// order Bedrock sends it.
var chunkHeaders = appendStringHeaders(nil,
	":event-type", "chunk",
	":content-type", "application/json",
	":message-type", "event")

// WriteEvent writes ev as a chunk frame: {"bytes":"<base64 of ev.Data>"}.
func (fw *FrameWriter) WriteEvent(ev anthropic.Event) error {
	buf := append(fw.buf[:0], make([]byte, preludeLen)...)
	buf = append(buf, chunkHeaders...)
	buf = append(buf, `{"bytes":"`...)
	buf = base64.StdEncoding.AppendEncode(buf, ev.Data)
	buf = append(buf, `"}`...)
	fw.buf = finishFrame(buf, len(chunkHeaders))
	if _, err := fw.w.Write(fw.buf); err != nil {
		return fmt.Errorf("bedrock: encode chunk: %w", err)
	}
	return nil
}

// WriteException writes an exception frame such as Bedrock sends mid-stream,
// e.g. excType "throttlingException" with payload {"message": msg}.
func (fw *FrameWriter) WriteException(excType, message string) error {
	buf := append(fw.buf[:0], make([]byte, preludeLen)...)
	buf = appendStringHeaders(buf,
		":exception-type", excType,
		":content-type", "application/json",
		":message-type", "exception")
	headersLen := len(buf) - preludeLen
	buf = append(buf, ErrorBody(message)...)
	fw.buf = finishFrame(buf, headersLen)
	if _, err := fw.w.Write(fw.buf); err != nil {
		return fmt.Errorf("bedrock: encode exception: %w", err)
	}
	return nil
}

// appendStringHeaders appends name, value pairs as string headers.
func appendStringHeaders(dst []byte, kv ...string) []byte {
	for i := 0; i+1 < len(kv); i += 2 {
		dst = append(dst, byte(len(kv[i])))
		dst = append(dst, kv[i]...)
		dst = append(dst, 7) // string
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(kv[i+1])))
		dst = append(dst, kv[i+1]...)
	}
	return dst
}

// finishFrame fills in the prelude of a frame whose headers and payload
// follow preludeLen reserved bytes, and appends the message CRC.
func finishFrame(buf []byte, headersLen int) []byte {
	binary.BigEndian.PutUint32(buf[0:4], uint32(len(buf)+4))
	binary.BigEndian.PutUint32(buf[4:8], uint32(headersLen))
	binary.BigEndian.PutUint32(buf[8:12], crc32.ChecksumIEEE(buf[:8]))
	return binary.BigEndian.AppendUint32(buf, crc32.ChecksumIEEE(buf))
}
