package anthropic

import "encoding/json"

// ErrorBody renders the Anthropic error envelope:
// {"type":"error","error":{"type":...,"message":...},"request_id":...}.
func ErrorBody(errType, message, requestID string) []byte {
	b, _ := json.Marshal(errorEnvelope{
		Type:      "error",
		Error:     errorDetail{Type: errType, Message: message},
		RequestID: requestID,
	})
	return b
}

// ErrorEventData renders the data of an in-stream "error" event, sent when a
// stream fails after its first byte: a second status line is impossible then.
func ErrorEventData(errType, message string) []byte {
	b, _ := json.Marshal(errorEnvelope{Type: "error", Error: errorDetail{Type: errType, Message: message}})
	return b
}

type errorEnvelope struct {
	Type      string      `json:"type"`
	Error     errorDetail `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

type errorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}
