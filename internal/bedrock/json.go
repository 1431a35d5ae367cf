package bedrock

import "encoding/json"

// jsonMessage renders the {"message": "..."} body that Bedrock uses for
// exceptions, both as HTTP error bodies and as exception frame payloads.
func jsonMessage(message string) ([]byte, error) {
	return json.Marshal(struct {
		Message string `json:"message"`
	}{message})
}
