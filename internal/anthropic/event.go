// Package anthropic holds the parts of the Anthropic Messages wire format that
// the gateway reads or writes itself: stream events, the SSE framing, error
// bodies and usage. Request bodies are never decoded into structs here; they
// travel as raw JSON so that unknown fields and thinking signatures pass
// through byte-exact.
package anthropic

import (
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Event is one Anthropic stream event: its type (message_start,
// content_block_delta, ping, error, ...) and the raw JSON of its data line,
// which repeats the type in a "type" field. Data is never re-serialised by the
// gateway unless a front door must translate it.
type Event struct {
	Type string
	Data []byte
}

// Stream event types the gateway inspects. Unknown types are relayed as they
// are.
const (
	EventMessageStart      = "message_start"
	EventContentBlockStart = "content_block_start"
	EventContentBlockDelta = "content_block_delta"
	EventContentBlockStop  = "content_block_stop"
	EventMessageDelta      = "message_delta"
	EventMessageStop       = "message_stop"
	EventPing              = "ping"
	EventError             = "error"
)

// PingData is the data line of a keep-alive ping event.
var PingData = []byte(`{"type":"ping"}`)

// InternType returns the event type named by b, as one of the constants
// above when it is one, so that reading an event allocates nothing for its
// type; other types are copied.
func InternType(b []byte) string {
	switch string(b) {
	case EventContentBlockDelta:
		return EventContentBlockDelta
	case EventContentBlockStart:
		return EventContentBlockStart
	case EventContentBlockStop:
		return EventContentBlockStop
	case EventMessageStart:
		return EventMessageStart
	case EventMessageDelta:
		return EventMessageDelta
	case EventMessageStop:
		return EventMessageStop
	case EventPing:
		return EventPing
	case EventError:
		return EventError
	}
	return string(b)
}

// EventTypeOf returns the "type" field of an event's JSON data, interned
// like InternType. gjson reads a view of data, which nothing keeps.
func EventTypeOf(data []byte) string {
	if len(data) == 0 {
		return ""
	}
	v := gjson.Get(unsafe.String(&data[0], len(data)), "type")
	if v.Type != gjson.String {
		return strings.Clone(v.String()) // may be a view of data
	}
	return InternType(unsafe.Slice(unsafe.StringData(v.Str), len(v.Str)))
}
