package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// TestClientErrors checks that bad input gets a clear 4xx in Anthropic or AWS
// format, with origin client, and never reaches the upstream.
func TestClientErrors(t *testing.T) {
	h := newHarness(t)
	big := `{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[{"role":"user","content":"` + strings.Repeat("x", 33<<20) + `"}]}`
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		hdr        map[string]string
		wantStatus int
		wantType   string // Anthropic error type, or AWS X-Amzn-ErrorType on /model routes
		noRetry    bool
	}{
		{"malformed JSON", "POST", "/v1/messages", `{"model":`, nil, 400, "invalid_request_error", false},
		{"not an object", "POST", "/v1/messages", `[1,2]`, nil, 400, "invalid_request_error", false},
		{"bad UTF-8", "POST", "/v1/messages", "{\"model\":\"\xff\"}", nil, 400, "invalid_request_error", false},
		{"empty body", "POST", "/v1/messages", ``, nil, 400, "invalid_request_error", false},
		{"missing model", "POST", "/v1/messages", `{"max_tokens":1,"messages":[]}`, nil, 400, "invalid_request_error", false},
		{"model not a string", "POST", "/v1/messages", `{"model":5,"max_tokens":1,"messages":[]}`, nil, 400, "invalid_request_error", false},
		{"missing max_tokens", "POST", "/v1/messages", `{"model":"claude-sonnet-4-5","messages":[]}`, nil, 400, "invalid_request_error", false},
		{"stream not bool", "POST", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":1,"stream":"yes","messages":[]}`, nil, 400, "invalid_request_error", false},
		{"unknown model", "POST", "/v1/messages", `{"model":"gpt-4o","max_tokens":1,"messages":[]}`, nil, 404, "not_found_error", false},
		{"oversized body", "POST", "/v1/messages", big, nil, 413, "request_too_large", false},
		{"wrong content type", "POST", "/v1/messages", `{}`, map[string]string{"Content-Type": "text/plain"}, 415, "invalid_request_error", false},
		{"wrong method", "GET", "/v1/messages", ``, nil, 405, "invalid_request_error", false},
		{"unknown path", "POST", "/v2/whatever", `{}`, nil, 404, "not_found_error", false},
		{"bad key", "POST", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[]}`, map[string]string{"x-api-key": "nope"}, 401, "authentication_error", true},
		{"missing key", "POST", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[]}`, map[string]string{"x-api-key": ""}, 401, "authentication_error", true},
		{"count_tokens malformed", "POST", "/v1/messages/count_tokens", `{"model":"claude-sonnet-4-5"}`, nil, 400, "invalid_request_error", false},
		{"bedrock malformed", "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", `{"messages":`, nil, 400, "ValidationException", false},
		{"bedrock bad beta array", "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", `{"anthropic_beta":"x","messages":[],"max_tokens":1}`, nil, 400, "ValidationException", false},
		{"bedrock unknown model", "POST", "/model/meta.llama3/invoke", `{"messages":[],"max_tokens":1}`, nil, 404, "ResourceNotFoundException", false},
		{"bedrock wrong method", "GET", "/model/x/invoke", ``, nil, 405, "ValidationException", false},
		{"bedrock sigv4 instead of key", "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", `{"messages":[],"max_tokens":1}`,
			map[string]string{"x-api-key": "", "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00"}, 401, "AccessDeniedException", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := h.Do(t, tt.method, tt.path, tt.body, tt.hdr)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %.300s)", status, tt.wantStatus, body)
			}
			if strings.HasPrefix(tt.path, "/model/") {
				if got := hdr.Get("X-Amzn-ErrorType"); got != tt.wantType {
					t.Errorf("X-Amzn-ErrorType = %q, want %q", got, tt.wantType)
				}
				if gjson.Get(body, "message").String() == "" {
					t.Errorf("AWS error body has no message: %s", body)
				}
			} else {
				if gjson.Get(body, "type").String() != "error" || gjson.Get(body, "error.type").String() != tt.wantType {
					t.Errorf("body = %.300s, want Anthropic error of type %s", body, tt.wantType)
				}
				if gjson.Get(body, "error.message").String() == "" || gjson.Get(body, "request_id").String() != hdr.Get("x-request-id") {
					t.Errorf("body = %.300s, want a message and request_id %s", body, hdr.Get("x-request-id"))
				}
			}
			if got := hdr.Get("x-tollgate-error-origin"); got != "client" {
				t.Errorf("x-tollgate-error-origin = %q, want client", got)
			}
			if hdr.Get("x-request-id") == "" {
				t.Error("no x-request-id")
			}
			if tt.noRetry && hdr.Get("x-should-retry") != "false" {
				t.Errorf("x-should-retry = %q, want false", hdr.Get("x-should-retry"))
			}
		})
	}
	if n := len(h.Sim.Requests()); n != 0 {
		t.Errorf("bad requests reached the upstream %d times", n)
	}
}

func TestUnauthenticatedProbes(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/", "/api/hello"} {
		status, _, _ := h.Do(t, http.MethodHead, path, "", map[string]string{"x-api-key": ""})
		if status != http.StatusOK {
			t.Errorf("HEAD %s = %d, want 200", path, status)
		}
	}
	status, _, body := h.Do(t, http.MethodGet, "/inference-profiles?type=SYSTEM_DEFINED", "", map[string]string{"x-api-key": ""})
	if status != 200 || !gjson.Get(body, "inferenceProfileSummaries.#(inferenceProfileId==\"global.anthropic.claude-sonnet-4-5-20250929-v1:0\")").Exists() {
		t.Errorf("GET /inference-profiles = %d %.500s", status, body)
	}
}

func TestModelsList(t *testing.T) {
	h := newHarness(t)
	status, _, body := h.Do(t, http.MethodGet, "/v1/models?limit=1000", "", map[string]string{"Authorization": "Bearer " + testKey, "x-api-key": ""})
	if status != 200 {
		t.Fatalf("GET /v1/models = %d %s", status, body)
	}
	ids := map[string]bool{}
	for _, m := range gjson.Get(body, "data").Array() {
		if m.Get("type").String() != "model" || m.Get("display_name").String() == "" || m.Get("created_at").String() == "" {
			t.Errorf("bad model entry %s", m.Raw)
		}
		ids[m.Get("id").String()] = true
	}
	for _, want := range []string{"claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"} {
		if !ids[want] {
			t.Errorf("/v1/models lacks %s: %s", want, body)
		}
	}
	status, _, body = h.Do(t, http.MethodGet, "/v1/models?limit=1", "", nil)
	if status != 200 || len(gjson.Get(body, "data").Array()) != 1 || !gjson.Get(body, "has_more").Bool() {
		t.Errorf("GET /v1/models?limit=1 = %d %s", status, body)
	}
}

// TestHostileBetaHeader: a huge anthropic-beta header is refused at once,
// before the body is read or the key checked against anything costly.
func TestHostileBetaHeader(t *testing.T) {
	h := newHarness(t)
	// Under the header limit: too many values.
	hostile := strings.Repeat("b,", 20000)
	start := time.Now()
	status, _, body := h.Post(t, "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[]}`, map[string]string{"anthropic-beta": hostile})
	if status != 400 || !strings.Contains(body, "anthropic-beta") {
		t.Errorf("status %d body %.200s, want 400 naming anthropic-beta", status, body)
	}
	// Over it: the whole header block is refused, in the door's format.
	status, _, body = h.Post(t, "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[]}`, map[string]string{"anthropic-beta": strings.Repeat("b,", 200000)})
	if status != 431 || !strings.Contains(body, "invalid_request_error") || !strings.Contains(body, "headers") {
		t.Errorf("status %d body %.200s, want 431 invalid_request_error naming the headers", status, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusal took %v", d)
	}
	var betas []string
	for i := 0; i < 100; i++ {
		betas = append(betas, fmt.Sprintf("%q", fmt.Sprintf("beta-%d", i)))
	}
	many := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"anthropic_beta":[` + strings.Join(betas, ",") + `]}`
	status, _, body = h.Post(t, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", many, nil)
	if status != 400 || !strings.Contains(body, "anthropic_beta") {
		t.Errorf("body with 100 distinct betas = %d %s, want 400 naming anthropic_beta", status, body)
	}
	if n := len(h.Sim.Requests()); n != 0 {
		t.Errorf("%d hostile requests reached the upstream", n)
	}
}
