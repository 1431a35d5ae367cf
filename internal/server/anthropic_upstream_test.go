package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// fakeAnthropic is an in-test stand-in for the Anthropic API that records
// what the gateway sends it.
type fakeAnthropic struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	path   string
	header http.Header
	body   []byte
}

const upstreamRateLimitBody = `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your organization's rate limit of 50 requests per minute."},"request_id":"req_upstream_1"}`

func (f *fakeAnthropic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{r.URL.Path, r.Header.Clone(), body})
	f.mu.Unlock()
	w.Header().Set("request-id", "req_upstream_1")
	w.Header().Set("anthropic-ratelimit-requests-remaining", "49")
	switch {
	case strings.Contains(string(body), "[[fake:429]]"):
		w.Header().Set("retry-after", "30")
		w.Header().Set("x-should-retry", "false")
		w.WriteHeader(429)
		io.WriteString(w, upstreamRateLimitBody)
	case r.URL.Path == "/v1/messages/count_tokens":
		io.WriteString(w, `{"input_tokens":42}`)
	case gjson.GetBytes(body, "stream").Bool():
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n"+
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"+
			"event: ping\ndata: {\"type\": \"ping\"}\n\n"+
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"direct\"}}\n\n"+
			"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"+
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":2}}\n\n"+
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	default:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"direct"}],"model":"claude-sonnet-4-5-20250929","stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":2}}`)
	}
}

func (f *fakeAnthropic) last() recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

func newAnthropicHarness(t *testing.T) (*testutil.Harness, *fakeAnthropic) {
	fake := &fakeAnthropic{}
	up := httptest.NewServer(fake)
	t.Cleanup(up.Close)
	t.Setenv("TEST_UPSTREAM_ANTHROPIC_KEY", "sk-ant-server-key")
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) {
		c.Providers["anthropic"] = config.Provider{Type: config.ProviderAnthropic, BaseURL: up.URL, APIKeyEnv: "TEST_UPSTREAM_ANTHROPIC_KEY"}
		c.Models = append(c.Models, config.Model{
			Name:    "claude-direct",
			Targets: []config.Target{{Provider: "anthropic", Model: "claude-sonnet-4-5-20250929", Rules: config.Rules{DropBetas: []string{"dropped-beta-2099-01-01"}}}},
		})
	}))
	return h, fake
}

func TestAnthropicUpstreamPassThrough(t *testing.T) {
	h, fake := newAnthropicHarness(t)
	body := `{"model":"claude-direct","max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"system","content":"mid"}],"future_field":{"x":[1, 2]},"context_management":{"edits":[]}}`
	status, hdr, resp := h.Post(t, "/v1/messages?beta=true", body, map[string]string{
		"anthropic-beta":           "claude-code-20250219,dropped-beta-2099-01-01,context-management-2025-06-27",
		"x-claude-code-session-id": "sess-1",
	})
	if status != 200 || gjson.Get(resp, "content.0.text").String() != "direct" {
		t.Fatalf("status %d body %s", status, resp)
	}
	if hdr.Get("anthropic-ratelimit-requests-remaining") != "49" {
		t.Errorf("rate-limit header not passed back: %v", hdr)
	}
	got := fake.last()
	if got.header.Get("x-api-key") != "sk-ant-server-key" || got.header.Get("Authorization") != "" {
		t.Errorf("upstream auth = x-api-key %q Authorization %q, want the server key only", got.header.Get("x-api-key"), got.header.Get("Authorization"))
	}
	if got.header.Get("anthropic-version") != "2023-06-01" {
		t.Errorf("anthropic-version = %q", got.header.Get("anthropic-version"))
	}
	if b := got.header.Get("anthropic-beta"); b != "claude-code-20250219,context-management-2025-06-27" {
		t.Errorf("anthropic-beta = %q, want the client's list minus the target's dropped beta", b)
	}
	if got.header.Get("x-claude-code-session-id") != "sess-1" {
		t.Error("session header not forwarded")
	}
	want := strings.Replace(body, `"claude-direct"`, `"claude-sonnet-4-5-20250929"`, 1)
	if string(got.body) != want {
		t.Errorf("upstream body =\n%s\nwant (model mapped, rest byte-exact)\n%s", got.body, want)
	}
}

func TestAnthropicUpstreamStreamAndErrors(t *testing.T) {
	h, fake := newAnthropicHarness(t)
	c := sdkClient(h)
	s := c.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{Model: "claude-direct", MaxTokens: 10, Messages: userText("hi")})
	var acc anthropic.Message
	for s.Next() {
		acc.Accumulate(s.Current())
	}
	if err := s.Err(); err != nil || acc.Content[0].Text != "direct" || acc.Usage.OutputTokens != 2 {
		t.Fatalf("stream: err %v, message %+v", err, acc)
	}
	if !gjson.GetBytes(fake.last().body, "stream").Bool() {
		t.Error("stream flag not sent upstream")
	}

	n, err := c.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{Model: "claude-direct", Messages: userText("hi")})
	if err != nil || n.InputTokens != 42 {
		t.Fatalf("count tokens = %v, %v", n, err)
	}

	_, err = c.Messages.New(context.Background(), anthropic.MessageNewParams{Model: "claude-direct", MaxTokens: 10, Messages: userText("[[fake:429]]")})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Fatalf("err = %v, want 429", err)
	}
	if !strings.Contains(apiErr.Error(), upstreamRateLimitBody) {
		t.Errorf("upstream error body not passed through unchanged: %s", apiErr.Error())
	}
	if apiErr.Response.Header.Get("retry-after") != "30" || apiErr.Response.Header.Get("x-should-retry") != "false" {
		t.Errorf("retry headers = %v", apiErr.Response.Header)
	}
	if apiErr.Response.Header.Get("x-tollgate-error-origin") != "upstream" {
		t.Error("origin header missing")
	}
}
