package anthropic

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxSSELine bounds one SSE line, and the data of one event. A Messages event carries at most one
// content delta, but a tool_use input or a signature can be long; 8 MiB leaves
// ample room while keeping a hostile upstream from growing the buffer forever.
const MaxSSELine = 8 << 20

// ErrLineTooLong is returned by SSEReader when a line exceeds MaxSSELine.
var ErrLineTooLong = errors.New("anthropic: SSE line too long")

// SSEReader parses a text/event-stream body into Events. It follows the
// WHATWG rules the Anthropic API relies on: "event:" sets the type, "data:"
// lines are joined with newlines, a blank line dispatches, lines starting with
// ":" are comments. An event without an "event:" line takes its type from the
// JSON "type" field of its data.
type SSEReader struct {
	r *bufio.Reader
}

// sseBufferSize is the SSEReader's read buffer: several events of a busy
// stream per read, and small, since every open stream holds one; a longer
// line is assembled from pieces.
const sseBufferSize = 4 << 10

// NewSSEReader returns a reader over r.
func NewSSEReader(r io.Reader) *SSEReader {
	return &SSEReader{r: bufio.NewReaderSize(r, sseBufferSize)}
}

// Next returns the next event. It returns io.EOF after the last complete
// event, and io.ErrUnexpectedEOF if the body ends inside an event.
func (s *SSEReader) Next() (Event, error) {
	var (
		ev      Event
		data    []byte
		hasData bool
		started bool
	)
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && started {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if !hasData {
				// A blank line with nothing buffered (or only an event
				// name) dispatches nothing.
				ev, started = Event{}, false
				continue
			}
			ev.Data = data
			if ev.Type == "" {
				ev.Type = EventTypeOf(data)
			}
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		started = true
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Type = InternType(value)
		case "data":
			if len(data)+len(value) >= MaxSSELine {
				// One event is bounded like one line, however many data
				// lines it is split over.
				return Event{}, ErrLineTooLong
			}
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		}
	}
}

// Ready reports whether the next event is already read whole from the
// connection — a blank line ends it in the buffer — so that Next returns
// it without waiting; see bedrock.FrameReader.Ready.
func (s *SSEReader) Ready() bool {
	b, _ := s.r.Peek(s.r.Buffered())
	return bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\r\n\r\n")) || bytes.Contains(b, []byte("\r\r"))
}

// readLine returns the next line without its end. A line that fits in the
// read buffer is returned in place, valid until the next read: Next copies
// what it keeps (the data, by appending it; the type, by InternType).
func (s *SSEReader) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := s.r.ReadLine()
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return line, nil
			}
			return nil, err
		}
		if !isPrefix && line == nil {
			return chunk, nil // the whole line fit in the buffer
		}
		line = append(line, chunk...)
		if len(line) > MaxSSELine {
			return nil, ErrLineTooLong
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// AppendSSE appends the SSE framing of one event to dst: an "event:" line, a
// "data:" line and the blank line that dispatches it. Compact JSON is one
// line; data that holds newlines (pretty-printed JSON from some upstream) is
// split over several "data:" lines, which a reader joins back.
func AppendSSE(dst []byte, ev Event) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, ev.Type...)
	data := ev.Data
	for {
		line, rest, more := bytes.Cut(data, []byte("\n"))
		dst = append(dst, "\ndata: "...)
		dst = append(dst, bytes.TrimSuffix(line, []byte("\r"))...)
		if !more {
			break
		}
		data = rest
	}
	dst = append(dst, "\n\n"...)
	return dst
}

// WriteSSE writes one event in SSE framing to w.
func WriteSSE(w io.Writer, ev Event) error {
	buf := AppendSSE(make([]byte, 0, len(ev.Data)+len(ev.Type)+16), ev)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("anthropic: write SSE event: %w", err)
	}
	return nil
}
