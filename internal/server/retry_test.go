package server_test

import (
	"fmt"
	"testing"
)

// TestModelTimeoutNotRetried: Bedrock answers ModelTimeoutException only
// after waiting out its whole model timeout, so the gateway passes it on
// after one attempt instead of paying that wait three times.
func TestModelTimeoutNotRetried(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		name, path string
		stream     bool
	}{
		{"anthropic", "/v1/messages", false},
		{"anthropic stream", "/v1/messages", true},
		{"bedrock", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", false},
		{"bedrock stream", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h.Sim.Reset()
			body := fmt.Sprintf(`{"model":"claude-sonnet-4-5","max_tokens":10,"stream":%v,"messages":[{"role":"user","content":"x [[sim:timeout 99]]"}]}`, tt.stream)
			if tt.path != "/v1/messages" {
				body = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"x [[sim:timeout 99]]"}]}`
			}
			status, hdr, resp := h.Post(t, tt.path, body, nil)
			if status != 408 {
				t.Errorf("status = %d, want 408 (body %.300s)", status, resp)
			}
			if o := hdr.Get("x-tollgate-error-origin"); o != "upstream" {
				t.Errorf("x-tollgate-error-origin = %q, want upstream", o)
			}
			if n := len(h.Sim.Requests()); n != 1 {
				t.Errorf("simulator saw %d requests, want exactly 1 (no retry of a model timeout)", n)
			}
		})
	}
}
