package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// runNode runs node/<script> <scenario> from the installed Node directory
// against g, with an environment built from scratch, and returns the JSON
// line it printed.
func runNode(t *testing.T, g *gateway, script, scenario, key, session string) gjson.Result {
	t.Helper()
	dir := requireEnv(t, "TOLLGATE_TEST_NODE_DIR")
	headers, _ := json.Marshal(map[string]string{
		accessHeader:               accessSecret,
		"x-tollgate-tags":          requestTags,
		"x-claude-code-session-id": session,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, script), scenario)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TOLLGATE_URL=" + g.URL,
		"TOLLGATE_KEY=" + key,
		"TOLLGATE_HEADERS=" + string(headers),
	}
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("node %s %s: %v\nstdout: %s\nstderr: %s", script, scenario, err, stdout.String(), stderr.String())
	out := strings.TrimSpace(stdout.String())
	if err != nil || !gjson.Valid(out) {
		t.Fatalf("node %s %s failed: %v", script, scenario, err)
	}
	return gjson.Parse(out)
}

// TestNodeSDKs runs the official Node SDKs through both front doors: a
// streaming call and a (non-streaming) tool-use round trip each.
func TestNodeSDKs(t *testing.T) {
	requireEnv(t, "TOLLGATE_TEST_NODE_DIR")
	tests := []struct {
		script, door string
	}{
		{"anthropic.mjs", "anthropic"},
		{"bedrock.mjs", "bedrock"},
	}
	for _, tt := range tests {
		t.Run(tt.door+"/stream", func(t *testing.T) {
			t.Parallel()
			g := newGateway(t)
			p := g.NewPrincipal(t, "judy", testutil.PrincipalSpec{})
			session := "node-" + tt.door + "-stream"
			out := runNode(t, g, tt.script, "stream", p.Secret, session)
			events := out.Get("events").Array()
			if out.Get("text").Str != simReply || len(events) < 4 ||
				events[0].Str != "message_start" || events[len(events)-1].Str != "message_stop" ||
				out.Get("stop_reason").Str != "end_turn" || out.Get("usage.output_tokens").Int() <= 0 {
				t.Errorf("stream = %s, want %q in a complete stream (message_start … message_stop), end_turn, output tokens", out.Raw, simReply)
			}
			calls, recs := g.settle(t)
			if len(calls) != 1 || !calls[0].Stream || calls[0].Session != session {
				t.Errorf("calls = %+v, want one streaming call in session %s", calls, session)
			}
			wantRows(t, calls, recs, 1, tt.door, p)
		})
		t.Run(tt.door+"/tool", func(t *testing.T) {
			t.Parallel()
			g := newGateway(t)
			p := g.NewPrincipal(t, "kim", testutil.PrincipalSpec{})
			session := "node-" + tt.door + "-tool"
			out := runNode(t, g, tt.script, "tool", p.Secret, session)
			if out.Get("first.stop_reason").Str != "tool_use" || out.Get("first.tool.name").Str != "get_weather" ||
				out.Get("first.tool.input.city").Str != "Paris" || out.Get("first.tool.id").Str == "" {
				t.Errorf("first answer = %s, want a get_weather tool_use with input city Paris", out.Get("first").Raw)
			}
			if out.Get("second.text").Str != "Tool result: 18C and sunny" || out.Get("second.stop_reason").Str != "end_turn" {
				t.Errorf("second answer = %s, want the answer to the tool result", out.Get("second").Raw)
			}
			calls, recs := g.settle(t)
			if len(calls) != 2 || calls[0].Stream || calls[1].Stream || calls[0].Session != session {
				t.Errorf("calls = %+v, want two non-streaming calls in session %s", calls, session)
			}
			wantRows(t, calls, recs, 2, tt.door, p)
		})
	}
}

// TestNodeAWSSDK runs the AWS SDK for JavaScript v3 BedrockRuntimeClient
// with its default request handler through the Bedrock door. That handler
// speaks HTTP/2 with prior knowledge (h2c) to an http:// endpoint; a gateway
// that spoke only HTTP/1.1 fails it with ERR_HTTP2_ERROR before any call.
func TestNodeAWSSDK(t *testing.T) {
	requireEnv(t, "TOLLGATE_TEST_NODE_DIR")
	for _, scenario := range []string{"invoke", "stream"} {
		t.Run(scenario, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t)
			p := g.NewPrincipal(t, "lee", testutil.PrincipalSpec{})
			session := "node-aws-sdk-" + scenario
			out := runNode(t, g, "aws-sdk.mjs", scenario, p.Secret, session)
			if got := out.Get("handler").Str; got != "NodeHttp2Handler" {
				t.Errorf("request handler = %q, want the default NodeHttp2Handler", got)
			}
			if out.Get("text").Str != simReply || out.Get("stop_reason").Str != "end_turn" || out.Get("usage.output_tokens").Int() <= 0 {
				t.Errorf("%s = %s, want %q, end_turn, output tokens", scenario, out.Raw, simReply)
			}
			if scenario == "stream" {
				events := out.Get("events").Array()
				if len(events) < 4 || events[0].Str != "message_start" || events[len(events)-1].Str != "message_stop" {
					t.Errorf("events = %s, want a complete stream (message_start … message_stop)", out.Get("events").Raw)
				}
			}
			calls, recs := g.settle(t)
			if len(calls) != 1 || calls[0].Stream != (scenario == "stream") || calls[0].Session != session || calls[0].Status != http.StatusOK {
				t.Errorf("calls = %+v, want one %s call in session %s answered 200", calls, scenario, session)
			}
			wantRows(t, calls, recs, 1, "bedrock", p)
		})
	}
}
