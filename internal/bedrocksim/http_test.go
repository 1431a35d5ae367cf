package bedrocksim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/bedrock"
	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
)

func TestValidation(t *testing.T) {
	opts := bedrocksim.Options{
		AllowUnsigned: true,
		RejectBetas:   []string{"mcp-servers-2025-12-04"},
		RejectFields:  []string{"output_config", "tools.*.defer_loading"},
	}
	base := func(extra map[string]any, drop ...string) []byte {
		m := map[string]any{
			"anthropic_version": "bedrock-2023-05-31",
			"max_tokens":        10,
			"messages":          []any{map[string]any{"role": "user", "content": "Hi"}},
		}
		for k, v := range extra {
			m[k] = v
		}
		for _, k := range drop {
			delete(m, k)
		}
		return mustMarshal(m)
	}
	tests := []struct {
		name   string
		model  string
		body   []byte
		header map[string]string
		want   awsError // Message "" means status 200
	}{
		{name: "valid", body: base(nil), want: awsError{Status: 200}},
		{name: "system role message", body: base(map[string]any{"messages": []any{
			map[string]any{"role": "user", "content": "Hi"},
			map[string]any{"role": "system", "content": "Be brief."},
			map[string]any{"role": "user", "content": "Again"},
		}}), want: awsError{Status: 200}},
		{name: "accepted beta", body: base(map[string]any{"anthropic_beta": []string{"context-1m-2025-08-07"}}), want: awsError{Status: 200}},
		{name: "not json", body: []byte("{nope"), want: awsError{400, "ValidationException",
			"Malformed input request: expected a JSON object: invalid character 'n' looking for beginning of object key string, please reformat your input and try again."}},
		{name: "array", body: []byte(`[1]`), want: awsError{400, "ValidationException",
			"Malformed input request: #: expected type: JSONObject, found: JSONArray, please reformat your input and try again."}},
		{name: "no version", body: base(nil, "anthropic_version"), want: awsError{400, "ValidationException",
			"Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again."}},
		{name: "wrong version", body: base(map[string]any{"anthropic_version": "2023-06-01"}), want: awsError{400, "ValidationException",
			`Malformed input request: #/anthropic_version: "2023-06-01" is not a valid enum value, please reformat your input and try again.`}},
		{name: "no max_tokens", body: base(nil, "max_tokens"), want: awsError{400, "ValidationException",
			"Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again."}},
		{name: "no messages", body: base(nil, "messages"), want: awsError{400, "ValidationException",
			"Malformed input request: #: required key [messages] not found, please reformat your input and try again."}},
		{name: "model field", body: base(map[string]any{"model": "claude-sonnet-4-5"}), want: awsError{400, "ValidationException", "model: Extra inputs are not permitted"}},
		{name: "stream field", body: base(map[string]any{"stream": true}), want: awsError{400, "ValidationException", "stream: Extra inputs are not permitted"}},
		{name: "rejected field", body: base(map[string]any{"output_config": map[string]any{}}), want: awsError{400, "ValidationException", "output_config: Extra inputs are not permitted"}},
		{name: "rejected nested field", body: base(map[string]any{"tools": []any{
			map[string]any{"name": "a", "input_schema": map[string]any{}},
			map[string]any{"name": "b", "input_schema": map[string]any{}, "defer_loading": true},
		}}), want: awsError{400, "ValidationException", "tools.1.defer_loading: Extra inputs are not permitted"}},
		{name: "beta not array", body: base(map[string]any{"anthropic_beta": "x"}), want: awsError{400, "ValidationException",
			"Malformed input request: #/anthropic_beta: expected type: JSONArray of strings, found: String, please reformat your input and try again."}},
		{name: "rejected beta in body", body: base(map[string]any{"anthropic_beta": []string{"mcp-servers-2025-12-04"}}), want: awsError{400, "ValidationException", "invalid beta flag"}},
		{name: "rejected beta in header", body: base(nil), header: map[string]string{"anthropic-beta": "claude-code-20250219, mcp-servers-2025-12-04"},
			want: awsError{400, "ValidationException", "invalid beta flag"}},
		{name: "max_tokens 0", body: base(map[string]any{"max_tokens": 0}), want: awsError{400, "ValidationException", "max_tokens: Input should be greater than or equal to 1"}},
		{name: "bad role", body: base(map[string]any{"messages": []any{map[string]any{"role": "tool", "content": "x"}}}),
			want: awsError{400, "ValidationException", "messages.0.role: Input should be 'user', 'assistant' or 'system'"}},
		{name: "missing signature", body: base(map[string]any{"messages": []any{
			map[string]any{"role": "user", "content": "Hi"},
			map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "thinking", "thinking": "hm"}}},
			map[string]any{"role": "user", "content": "Go"},
		}}), want: awsError{400, "ValidationException", "messages.1.content.0.thinking.signature: Field required"}},
		{name: "thinking as Claude Code sends it", body: base(map[string]any{"max_tokens": 32000,
			"thinking": map[string]any{"type": "enabled", "budget_tokens": 31999}}), want: awsError{Status: 200}},
		{name: "thinking budget not below max_tokens", body: base(map[string]any{"max_tokens": 4096,
			"thinking": map[string]any{"type": "enabled", "budget_tokens": 31999}}), want: awsError{400, "ValidationException",
			"`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"}},
		{name: "thinking budget too small", body: base(map[string]any{"max_tokens": 4096,
			"thinking": map[string]any{"type": "enabled", "budget_tokens": 100}}), want: awsError{400, "ValidationException",
			"thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"}},
		{name: "invalid model id", model: "claude-haiku-4-5-20251001", body: base(nil), want: awsError{400, "ValidationException", "The provided model identifier is invalid."}},
		{name: "non-claude model id", model: "amazon.nova-pro-v1:0", body: base(nil), want: awsError{400, "ValidationException", "The provided model identifier is invalid."}},
		{name: "unknown marker", body: base(map[string]any{"messages": []any{map[string]any{"role": "user", "content": "[[sim:nope]]"}}}),
			want: awsError{400, "ValidationException", `bedrock-sim: marker [[sim:nope]]: unknown marker "nope"`}},
		{name: "too large", body: bytes.Repeat([]byte(" "), bedrocksim.MaxBodyBytes+1), want: awsError{413, "ValidationException",
			"Request body exceeds the maximum size of 20971520 bytes."}},
	}
	f := newFixture(t, opts)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model := tt.model
			if model == "" {
				model = sonnet
			}
			resp := rawDo(t, f.srv, "POST", "/model/"+model+"/invoke", tt.body, false, tt.header)
			got := awsError{Status: resp.StatusCode}
			if resp.StatusCode != 200 {
				got = readAWSError(t, resp)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("POST invoke (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthRaw(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	path := "/model/" + sonnet + "/invoke"
	body := userBody("Hi")
	send := func(t *testing.T, mutate func(*http.Request)) awsError {
		req, _ := http.NewRequestWithContext(ctxT(t), "POST", f.srv.URL+path, bytes.NewReader(body))
		mutate(req)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == 200 {
			return awsError{Status: 200}
		}
		return readAWSError(t, resp)
	}
	tests := []struct {
		name     string
		mutate   func(*http.Request)
		wantType string
		wantMsg  string // prefix
	}{
		{"signed", func(r *http.Request) {
			signRequest(t, r, body, "us-east-1", bedrocksim.DefaultSecretAccessKey, time.Now())
		}, "", ""},
		{"no auth", func(*http.Request) {}, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"expired", func(r *http.Request) {
			signRequest(t, r, body, "us-east-1", bedrocksim.DefaultSecretAccessKey, time.Now().Add(-10*time.Minute))
		}, "InvalidSignatureException", "Signature expired: "},
		{"future", func(r *http.Request) {
			signRequest(t, r, body, "us-east-1", bedrocksim.DefaultSecretAccessKey, time.Now().Add(10*time.Minute))
		}, "InvalidSignatureException", "Signature not yet current: "},
		{"body changed after signing", func(r *http.Request) {
			signRequest(t, r, userBody("other"), "us-east-1", bedrocksim.DefaultSecretAccessKey, time.Now())
		}, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided."},
		{"bearer without API key configured", func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") },
			"AccessDeniedException", "Authentication failed"},
		{"other scheme", func(r *http.Request) { r.Header.Set("Authorization", "Basic eDp5") }, "IncompleteSignatureException", "Authorization header requires"},
		{"no date", func(r *http.Request) {
			signRequest(t, r, body, "us-east-1", bedrocksim.DefaultSecretAccessKey, time.Now())
			r.Header.Del("X-Amz-Date")
		}, "IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := send(t, tt.mutate)
			if tt.wantType == "" {
				if got.Status != 200 {
					t.Fatalf("got %+v, want 200", got)
				}
				return
			}
			if got.Status != 403 || got.Type != tt.wantType || !strings.HasPrefix(got.Message, tt.wantMsg) {
				t.Errorf("got %+v, want 403 %s %q...", got, tt.wantType, tt.wantMsg)
			}
		})
	}

	// The mismatch message shows the canonical request, as AWS does, with
	// the path escaped once more than sent (":" sent raw becomes %3A).
	got := send(t, func(r *http.Request) { signRequest(t, r, body, "us-east-1", "wrong", time.Now()) })
	if !strings.Contains(got.Message, "\n/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke\n") {
		t.Errorf("mismatch message lacks the canonical path:\n%s", got.Message)
	}
}

// TestSigV4PathEscaping signs paths the ways real clients spell them: the
// Anthropic SDK keeps ":" raw and sends "/" as %2F, LiteLLM escapes both.
func TestSigV4PathEscaping(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	for _, p := range []string{
		"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke",
		"/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
		"/model/arn:aws:bedrock:eu-west-1:123:application-inference-profile%2Fabc/invoke",
		"/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123%3Aapplication-inference-profile%2Fabc/invoke",
	} {
		resp := rawDo(t, f.srv, "POST", p, userBody("Hi"), true, map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != 200 {
			t.Errorf("POST %s = %+v, want 200", p, readAWSError(t, resp))
		}
	}
	resp := rawDo(t, f.srv, "GET", "/inference-profiles?type=SYSTEM_DEFINED&maxResults=2", nil, true, nil)
	if resp.StatusCode != 200 {
		t.Errorf("signed GET with a query = %+v", readAWSError(t, resp))
	}
	var ids []string
	for _, r := range f.sim.Requests() {
		ids = append(ids, r.ModelID)
	}
	want := []string{sonnet, sonnet,
		"arn:aws:bedrock:eu-west-1:123:application-inference-profile/abc",
		"arn:aws:bedrock:eu-west-1:123:application-inference-profile/abc", ""}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("decoded model ids (-want +got):\n%s", diff)
	}
}

func TestAllowUnsigned(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{AllowUnsigned: true})
	resp := rawDo(t, f.srv, "POST", "/model/"+sonnet+"/invoke", userBody("Hi"), false, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("unsigned request = %+v", readAWSError(t, resp))
	}
	if got := f.sim.Requests()[0].Auth; got != "none" {
		t.Errorf("Auth = %q, want none", got)
	}
	// A request that does carry credentials is still checked.
	resp = rawDo(t, f.srv, "POST", "/model/"+sonnet+"/invoke", userBody("Hi"), false, map[string]string{"Authorization": "Bearer nope"})
	if resp.StatusCode != 403 {
		t.Errorf("bad bearer with AllowUnsigned = %d, want 403", resp.StatusCode)
	}
}

func TestUnknownOperation(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	for _, tc := range []struct{ method, path string }{
		{"POST", "/model/" + sonnet + "/converse"},
		{"GET", "/model/" + sonnet + "/invoke"},
		{"POST", "/v1/messages"},
	} {
		resp := rawDo(t, f.srv, tc.method, tc.path, nil, true, nil)
		if got := readAWSError(t, resp); got.Status != 404 || got.Type != "UnknownOperationException" {
			t.Errorf("%s %s = %+v, want 404 UnknownOperationException", tc.method, tc.path, got)
		}
	}
}

func TestStreamFraming(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{Seed: 7})
	resp := rawDo(t, f.srv, "POST", "/model/"+sonnet+"/invoke-with-response-stream", userBody("[[sim:text one two three four five]]"), true, nil)
	if ct := resp.Header.Get("Content-Type"); ct != bedrock.ContentType {
		t.Errorf("Content-Type = %q", ct)
	}
	if got := resp.Header.Get("X-Amzn-Bedrock-Content-Type"); got != "application/json" {
		t.Errorf("X-Amzn-Bedrock-Content-Type = %q", got)
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Error("no x-amzn-RequestId")
	}
	fr := bedrock.NewFrameReader(resp.Body)
	var types, texts []string
	for {
		fm, err := fr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var payload struct {
			Bytes []byte `json:"bytes"`
			P     string `json:"p"`
		}
		if err := json.Unmarshal(fm.Payload, &payload); err != nil {
			t.Fatal(err)
		}
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		if fm.MessageType != "event" || fm.EventType != "chunk" || payload.P == "" || !strings.HasPrefix(alphabet, payload.P) {
			t.Errorf("frame %s/%s p=%q", fm.MessageType, fm.EventType, payload.P)
		}
		types = append(types, fm.Event.Type)
		var d struct {
			Delta struct{ Text string } `json:"delta"`
		}
		_ = json.Unmarshal(fm.Event.Data, &d)
		if d.Delta.Text != "" {
			texts = append(texts, d.Delta.Text)
		}
	}
	wantTypes := []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta",
		"content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("event types (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"one two ", "three four ", "five"}, texts); diff != "" {
		t.Errorf("text deltas (-want +got):\n%s", diff)
	}
}

func TestLatencyMarkers(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	for _, marker := range []string{"[[sim:latency 30ms]]", "[[sim:slow-first-byte 30ms]]"} {
		res, err := f.stream(t, sonnet, userBody(marker+" [[sim:tps 100000]]"))
		if err != nil || res.Err != nil {
			t.Fatal(marker, err, res.Err)
		}
		// Timers never fire early, so this lower bound is safe.
		if fb := res.Metrics["firstByteLatency"].(float64); fb < 30 || res.Metrics["invocationLatency"].(float64) < fb {
			t.Errorf("%s: metrics %v, want firstByteLatency >= 30 <= invocationLatency", marker, res.Metrics)
		}
	}
}

func TestClientGoneDuringPacing(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{TokensPerSecond: 1})
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", f.srv.URL+"/model/"+sonnet+"/invoke-with-response-stream", bytes.NewReader(userBody("Hi")))
	signRequest(t, req, userBody("Hi"), "us-east-1", bedrocksim.DefaultSecretAccessKey, time.Now())
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	// httptest.Server.Close (cleanup) waits for the handler: it must
	// notice the client left instead of pacing for seconds.
}

func TestRecordedRequests(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{MaxRecorded: 3, AllowUnsigned: true})
	for i := range 5 {
		rawDo(t, f.srv, "POST", "/model/"+sonnet+"/invoke", userBody(strings.Repeat("x", i)), false, map[string]string{"X-Test": "t"})
	}
	reqs := f.sim.Requests()
	if len(reqs) != 3 {
		t.Fatalf("recorded %d, want 3", len(reqs))
	}
	for i, r := range reqs {
		want := userBody(strings.Repeat("x", i+2))
		if !bytes.Equal(r.Body, want) || r.Status != 200 || r.Op != bedrocksim.OpInvokeModel || r.Header.Get("X-Test") != "t" || r.ModelID != sonnet {
			t.Errorf("request %d = %+v", i, r)
		}
	}
	reqs[0].Body[0] = 'Z'
	reqs[0].Header.Set("X-Test", "changed")
	if again := f.sim.Requests()[0]; again.Body[0] == 'Z' || again.Header.Get("X-Test") != "t" {
		t.Error("Requests returns shared slices")
	}
	f.sim.Reset()
	if n := len(f.sim.Requests()); n != 0 {
		t.Errorf("after Reset: %d requests", n)
	}
}

func TestInvalidDefaultFault(t *testing.T) {
	opts := bedrocksim.Options{Fault: "explode"}
	if err := opts.Validate(); err == nil {
		t.Error("Validate accepted fault \"explode\"")
	}
	srv := httptest.NewServer(bedrocksim.New(bedrocksim.Options{Fault: "explode", AllowUnsigned: true}))
	defer srv.Close()
	resp := rawDo(t, srv, "POST", "/model/"+sonnet+"/invoke", userBody("Hi"), false, nil)
	if got := readAWSError(t, resp); got.Status != 500 || !strings.Contains(got.Message, "explode") {
		t.Errorf("got %+v, want a 500 naming the bad fault", got)
	}
}
