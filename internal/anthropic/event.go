// Package anthropic holds the parts of the Anthropic Messages wire format that
// the gateway reads or writes itself: stream events, the SSE framing, error
// bodies and usage. Request bodies are never decoded into structs here; they
// travel as raw JSON so that unknown fields and thinking signatures pass
// through byte-exact.
package anthropic

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
