package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/apierror"
)

// TestOpenAIDoorWriteError: every gateway error answers in OpenAI's shape,
// with the status OpenAI's SDKs map to the right exception, the code they
// expose, and the parameter a refusal names.
func TestOpenAIDoorWriteError(t *testing.T) {
	upstream := func(status int, typ, msg string) *apierror.Error {
		return &apierror.Error{Status: status, Type: typ, Origin: apierror.OriginUpstream, Message: msg,
			UpstreamBody: []byte(`{"type":"error","error":{"type":"x","message":"anthropic body"}}`)}
	}
	tests := []struct {
		name   string
		err    *apierror.Error
		status int
		body   string
	}{
		{"bad key", apierror.Client(401, apierror.TypeAuthentication, "invalid API key"), 401,
			`{"error":{"message":"invalid API key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`},
		{"refused parameter", apierror.Client(400, apierror.TypeInvalidRequest, "temperature: Claude accepts 0 to 1"), 400,
			`{"error":{"message":"temperature: Claude accepts 0 to 1","type":"invalid_request_error","param":"temperature","code":null}}`},
		{"body message without a parameter", apierror.Client(400, apierror.TypeInvalidRequest, "request body is not valid JSON"), 400,
			`{"error":{"message":"request body is not valid JSON","type":"invalid_request_error","param":null,"code":null}}`},
		{"rate limit", apierror.Client(429, apierror.TypeRateLimit, "over budget"), 429,
			`{"error":{"message":"over budget","type":"rate_limit_exceeded","param":null,"code":"rate_limit_exceeded"}}`},
		{"upstream overloaded", upstream(529, apierror.TypeOverloaded, "Overloaded"), 503,
			`{"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}}`},
		{"upstream refusal keeps its message, not its body", upstream(400, apierror.TypeInvalidRequest, "prompt is too long"), 400,
			`{"error":{"message":"prompt is too long","type":"invalid_request_error","param":null,"code":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			openaiDoor{}.writeError(w, "req_1", tt.err)
			if w.Code != tt.status || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("writeError = %d %q, want %d application/json", w.Code, w.Header().Get("Content-Type"), tt.status)
			}
			if diff := cmp.Diff(tt.body, w.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsOpenAIClient(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   bool
	}{
		{"openai-go", map[string]string{"User-Agent": "OpenAI/Go 3.103.0"}, true},
		{"openai node", map[string]string{"User-Agent": "OpenAI/JS 6.49.0"}, true},
		{"claude code", map[string]string{"User-Agent": "claude-cli/2.1.197 (external, cli)", "anthropic-version": "2023-06-01"}, false},
		{"anthropic version wins", map[string]string{"User-Agent": "OpenAI/Go 3", "anthropic-version": "2023-06-01"}, false},
		{"curl", map[string]string{"User-Agent": "curl/8.5.0"}, false},
		{"nothing", nil, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
		for k, v := range tt.header {
			r.Header.Set(k, v)
		}
		if got := isOpenAIClient(r); got != tt.want {
			t.Errorf("isOpenAIClient(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
