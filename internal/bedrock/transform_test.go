package bedrock

import (
	"flag"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestTransformRequest(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		betas       []string
		rules       Rules
		want        string
		wantDropped []string
	}{
		{
			name:  "model and stream removed, version and betas added, rest byte-exact",
			body:  `{"model":"claude-sonnet-4-5","messages":[{"role":"system","content":"x"},{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"c2ln\/+="}]}],"max_tokens":5,"unknown_field":{"a":[1, 2]},"stream":true}`,
			betas: []string{"interleaved-thinking-2025-05-14"},
			want:  `{"messages":[{"role":"system","content":"x"},{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"c2ln\/+="}]}],"max_tokens":5,"unknown_field":{"a":[1, 2]},"anthropic_beta":["interleaved-thinking-2025-05-14"],"anthropic_version":"bedrock-2023-05-31"}`,
		},
		{
			name:        "header and body betas merged, rules drop betas and fields",
			body:        `{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["tool-search-tool-2025-10-19","context-management-2025-06-27"],"messages":[],"max_tokens":1,"context_management":{"edits":[]}}`,
			betas:       []string{"claude-code-20250219", "tool-search-tool-2025-10-19"},
			rules:       Rules{DropBetas: []string{"context-management-2025-06-27"}, DropFields: []string{"context_management"}},
			want:        `{"anthropic_version":"bedrock-2023-05-31","messages":[],"max_tokens":1,"anthropic_beta":["claude-code-20250219","tool-search-tool-2025-10-19"]}`,
			wantDropped: []string{"context-management-2025-06-27"},
		},
		{
			name: "no betas, wrong version replaced",
			body: `{"anthropic_version":"2023-06-01","messages":[],"max_tokens":1}`,
			want: `{"anthropic_version":"bedrock-2023-05-31","messages":[],"max_tokens":1}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dropped, err := TransformRequest([]byte(tt.body), tt.betas, tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("TransformRequest() =\n%s\nwant\n%s", got, tt.want)
			}
			if diff := cmp.Diff(tt.wantDropped, dropped); diff != "" {
				t.Errorf("dropped mismatch (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{`[]`, `"x"`, ``} { // not objects; validity is the caller's check
		if _, _, err := TransformRequest([]byte(bad), nil, Rules{}); err == nil {
			t.Errorf("TransformRequest(%q) succeeded, want error", bad)
		}
	}
}

func TestInvokeURL(t *testing.T) {
	ep, _ := url.Parse("https://bedrock-runtime.eu-west-1.amazonaws.com")
	tests := []struct{ id, op, want string }{
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "invoke", "https://bedrock-runtime.eu-west-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke"},
		{"arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc123", "invoke-with-response-stream",
			"https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile%2Fabc123/invoke-with-response-stream"},
	}
	for _, tt := range tests {
		if got := InvokeURL(ep, tt.id, tt.op).String(); got != tt.want {
			t.Errorf("InvokeURL(%q, %q) = %s, want %s", tt.id, tt.op, got, tt.want)
		}
	}
}

func TestUpstreamError(t *testing.T) {
	tests := []struct {
		excType   string
		status    int
		wantHTTP  int
		wantType  string
		retryable bool
	}{
		{"ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", 429, 429, "rate_limit_error", true},
		{"throttlingException", 0, 429, "rate_limit_error", true},
		{"ValidationException", 400, 400, "invalid_request_error", false},
		{"AccessDeniedException", 403, 403, "permission_error", false},
		{"ResourceNotFoundException", 404, 404, "not_found_error", false},
		{"modelStreamErrorException", 0, 502, "api_error", false},
		{"ModelTimeoutException", 408, 408, "timeout_error", false},
		{"ServiceUnavailableException", 503, 529, "overloaded_error", true},
		{"InternalServerException", 500, 500, "api_error", true},
		{"aws.protocols#SomethingNew", 502, 502, "api_error", true},
	}
	for _, tt := range tests {
		e := UpstreamError(tt.excType, tt.status, "the text")
		if e.Status != tt.wantHTTP || e.Type != tt.wantType || e.Retryable != tt.retryable || e.Message != "the text" {
			t.Errorf("UpstreamError(%q, %d) = %d %s retryable=%v %q, want %d %s retryable=%v",
				tt.excType, tt.status, e.Status, e.Type, e.Retryable, e.Message, tt.wantHTTP, tt.wantType, tt.retryable)
		}
	}
}

// FuzzTransformRequest: for any JSON object and beta header, the InvokeModel
// body is valid JSON, has no model or stream, has Bedrock's anthropic_version,
// and keeps every other top-level field byte for byte.
func FuzzTransformRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}],"max_tokens":5}`), "claude-code-20250219,interleaved-thinking-2025-05-14")
	f.Add([]byte(`{"anthropic_beta":["a","b"],"messages":[],"x":{"y":[1,2,{"z":null}]},"thinking":{"type":"enabled","signature":"a\/b"}}`), "a")
	f.Add([]byte(`{"model.x":1,"a*b":2}`), "")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		if !gjson.ValidBytes(body) || !gjson.ParseBytes(body).IsObject() {
			return
		}
		var set anthropic.BetaSet
		if set.AddHeader([]string{header}) != nil {
			return
		}
		out, _, err := TransformRequest(body, set.List(), Rules{DropFields: []string{"x"}})
		if err != nil {
			return // e.g. too many betas in the body
		}
		if !gjson.ValidBytes(out) {
			t.Fatalf("invalid JSON out of %q: %q", body, out)
		}
		res := gjson.ParseBytes(out)
		if res.Get("model").Exists() || res.Get("stream").Exists() || res.Get("x").Exists() || res.Get("anthropic_version").String() != AnthropicVersion {
			t.Fatalf("TransformRequest(%q) = %q", body, out)
		}
		gjson.ParseBytes(body).ForEach(func(k, v gjson.Result) bool {
			switch k.String() {
			case "model", "stream", "x", "anthropic_beta", "anthropic_version":
				return true
			}
			if got := res.Get(anthropic.FieldPath(k.String())); got.Raw != v.Raw && k.String() != "" {
				// Duplicate keys are the one case where "the" value is
				// ambiguous; skip them.
				if strings.Count(string(body), `"`+k.String()+`"`) == 1 {
					t.Fatalf("field %q changed: %q -> %q", k.String(), v.Raw, got.Raw)
				}
			}
			return true
		})
	})
}
