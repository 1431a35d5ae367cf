package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/bedrock"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

const bedrockModelPath = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/"

// stallCall is one call to an upstream that sends its headers and then
// nothing: the stream before its first event, or the non-streaming body
// half-way.
type stallCall struct {
	name   string
	path   string
	body   string
	stream bool
}

func stallCalls(marker string) []stallCall {
	anth := func(stream bool) string {
		return fmt.Sprintf(`{"model":"claude-sonnet-4-5","max_tokens":100,"stream":%v,"messages":[{"role":"user","content":"x %s"}]}`, stream, marker)
	}
	br := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"x ` + marker + `"}]}`
	return []stallCall{
		{"anthropic stream", "/v1/messages", anth(true), true},
		{"anthropic", "/v1/messages", anth(false), false},
		{"bedrock stream", bedrockModelPath + "invoke-with-response-stream", br, true},
		{"bedrock", bedrockModelPath + "invoke", br, false},
	}
}

// stallHarness is a gateway whose Bedrock provider gives up on 300 ms of
// silence, with a key limited to one call at a time and a budget, so that a
// leaked concurrency slot or reservation shows.
func stallHarness(t *testing.T, ping time.Duration) (*testutil.Harness, testutil.Principal) {
	t.Helper()
	h := newHarness(t, testutil.WithConfig(func(c *config.Config) {
		p := c.Providers["bedrock"]
		p.ReadIdleTimeout = 300 * time.Millisecond
		c.Providers["bedrock"] = p
		c.Server.PingInterval = ping
	}))
	return h, h.NewPrincipal(t, "stall", testutil.PrincipalSpec{KeyUSD: 100, KeyLimit: &store.Limit{Concurrent: 1}})
}

// checkReleased asserts that the stalled call gave back its reservation and
// its concurrency slot: nothing is reserved, and the same key (limited to one
// call at a time) gets an answer straight away.
func checkReleased(t *testing.T, h *testutil.Harness, p testutil.Principal) {
	t.Helper()
	st, found := h.Gateway.Accounts.Ledger.Remaining(context.Background(), []limits.Scope{{Kind: "key", ID: p.KeyID}})
	if !found || st.Reserved.Micros != 0 {
		t.Errorf("ledger after the stalled call: %+v, want nothing reserved", st)
	}
	status, _, body := h.Post(t, "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
		map[string]string{"x-api-key": p.Secret})
	if status != 200 {
		t.Errorf("next call on the same key: status %d (%.200s), want 200: the concurrency slot leaked", status, body)
	}
}

// TestUpstreamStallBeforeAnswer: an upstream that sends headers and then
// nothing — before the first stream event, or half-way through a
// non-streaming body — is given up after the read idle timeout. With the
// client's stream not yet started (pings off), the client gets a clean
// timeout error in its door's format with origin upstream, and the call's
// reservation and concurrency slot are released. The stall is not retried.
func TestUpstreamStallBeforeAnswer(t *testing.T) {
	h, p := stallHarness(t, -1)
	for _, tt := range stallCalls("[[sim:stall]]") {
		t.Run(tt.name, func(t *testing.T) {
			h.Sim.Reset()
			status, hdr, body := h.Post(t, tt.path, tt.body, map[string]string{"x-api-key": p.Secret})
			if strings.HasPrefix(tt.path, "/model/") {
				if status != 408 || hdr.Get("X-Amzn-ErrorType") != "ModelTimeoutException" || gjson.Get(body, "message").String() == "" {
					t.Errorf("answer = %d %s %s, want 408 ModelTimeoutException with a message", status, hdr.Get("X-Amzn-ErrorType"), body)
				}
			} else if status != 504 || gjson.Get(body, "error.type").String() != "timeout_error" {
				t.Errorf("answer = %d %s, want 504 timeout_error", status, body)
			}
			if o := hdr.Get("x-tollgate-error-origin"); o != "upstream" {
				t.Errorf("x-tollgate-error-origin = %q, want upstream", o)
			}
			if hdr.Get("x-request-id") == "" {
				t.Error("no x-request-id")
			}
			if n := len(h.Sim.Requests()); n != 1 {
				t.Errorf("simulator saw %d requests, want 1 (a stall is not retried)", n)
			}
			checkReleased(t, h, p)
		})
	}
}

// TestUpstreamStallAfterPings: with pings on, a stream whose upstream is
// silent for the ping interval before its first event starts the client's
// stream, so the client hears pings instead of nothing; when the read idle
// timeout then fires the stream ends with an in-stream timeout error, and
// the call is released.
func TestUpstreamStallAfterPings(t *testing.T) {
	h, p := stallHarness(t, 50*time.Millisecond)
	for _, tt := range stallCalls("[[sim:stall]]") {
		if !tt.stream {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := h.Post(t, tt.path, tt.body, map[string]string{"x-api-key": p.Secret})
			if status != 200 {
				t.Fatalf("status = %d (%.300s), want 200: the stream starts with pings", status, body)
			}
			types, errType := streamEvents(t, tt.path, body)
			if len(types) == 0 || types[0] != "ping" {
				t.Errorf("events = %v, want pings first", types)
			}
			if errType != "timeout_error" && errType != "modelTimeoutException" {
				t.Errorf("events = %v, error %q; want the stream to end with a timeout error", types, errType)
			}
			checkReleased(t, h, p)
		})
	}
}

// TestStreamStartsWithPingsThenAnswers: an upstream slower than the ping
// interval before its first event, but within the idle timeout, is relayed
// whole after the pings.
func TestStreamStartsWithPingsThenAnswers(t *testing.T) {
	h, p := stallHarness(t, 20*time.Millisecond)
	status, _, body := h.Post(t, "/v1/messages",
		`{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"[[sim:slow-first-byte 150ms]] [[sim:text hello there]]"}]}`,
		map[string]string{"x-api-key": p.Secret})
	types, errType := streamEvents(t, "/v1/messages", body)
	if status != 200 || errType != "" || len(types) == 0 || types[0] != "ping" || types[len(types)-1] != "message_stop" {
		t.Errorf("answer = %d, events %v, error %q; want pings, then the whole answer", status, types, errType)
	}
}

// streamEvents returns the event types of an SSE or AWS event-stream body,
// and the type of its error event or exception, if any.
func streamEvents(t *testing.T, path, body string) (types []string, errType string) {
	t.Helper()
	if !strings.HasPrefix(path, "/model/") {
		for _, line := range strings.Split(body, "\n") {
			if typ, ok := strings.CutPrefix(line, "event: "); ok {
				types = append(types, typ)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok && gjson.Get(data, "type").String() == "error" {
				errType = gjson.Get(data, "error.type").String()
			}
		}
		return types, errType
	}
	fr := bedrock.NewFrameReader(bytes.NewReader([]byte(body)))
	for {
		f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return types, errType
		}
		if err != nil {
			t.Fatalf("reading the event stream: %v", err)
		}
		switch f.MessageType {
		case "event":
			types = append(types, f.Event.Type)
		case "exception":
			errType = f.ExceptionType
		}
	}
}
