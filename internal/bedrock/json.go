package bedrock

import "encoding/json"

// ErrorBody renders the {"message": "..."} body Bedrock uses for exceptions,
// both as HTTP error bodies and as exception frame payloads.
func ErrorBody(message string) []byte {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{message})
	return b
}
