package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/auth/bearer"
	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// bedrockClient is the official AWS SDK client pointed at the gateway's
// Bedrock front door, authenticating with the gateway key as a bearer token
// (what AWS_BEARER_TOKEN_BEDROCK does).
func bedrockClient(h *testutil.Harness) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:                  "us-east-1",
		BaseEndpoint:            aws.String(h.URL),
		BearerAuthTokenProvider: bearer.StaticTokenProvider{Token: bearer.Token{Value: testKey}},
		AuthSchemePreference:    []string{"httpBearerAuth"},
		RetryMaxAttempts:        1,
		HTTPClient:              sdkDoer{h.Server.Client()},
	})
}

// sdkDoer works around a client-side race between smithy-go and net/http
// (see internal/bedrocksim/helpers_test.go): smithy-go closes the request
// body when response headers arrive, its WriteTo then reports io.EOF, and the
// transport closes a connection whose response stream is still arriving.
// Hiding WriteTo makes the extra read a harmless EOF.
type sdkDoer struct{ c *http.Client }

type noWriterTo struct{ io.ReadCloser }

func (d sdkDoer) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = noWriterTo{r.Body}
	}
	return d.c.Do(r)
}

func invokeBody(text string, extra string) []byte {
	b := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":` + jsonString(text) + `}]` + extra + `}`
	return []byte(b)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestBedrockDoorInvoke(t *testing.T) {
	h := newHarness(t, testutil.WithTLS())
	c := bedrockClient(h)
	out, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId:     aws.String("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
		ContentType: aws.String("application/json"),
		Body:        invokeBody("hi [[sim:text from bedrock door]] [[sim:usage in=3 out=4 cw5m=0 cw1h=0 cr=0]]", `,"anthropic_beta":["interleaved-thinking-2025-05-14"]`),
	})
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	if got := gjson.GetBytes(out.Body, "content.0.text").String(); got != "from bedrock door" {
		t.Errorf("text = %q; body %s", got, out.Body)
	}
	if gjson.GetBytes(out.Body, "usage.output_tokens").Int() != 4 {
		t.Errorf("usage = %s", gjson.GetBytes(out.Body, "usage").Raw)
	}
	status, hdr, _ := h.Post(t, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke",
		string(invokeBody("[[sim:usage in=3 out=4 cw5m=0 cw1h=0 cr=0]]", "")), map[string]string{"x-api-key": testKey})
	if status != 200 || hdr.Get("X-Amzn-Bedrock-Input-Token-Count") != "3" || hdr.Get("X-Amzn-Bedrock-Output-Token-Count") != "4" ||
		hdr.Get("x-amzn-RequestId") == "" {
		t.Errorf("invoke headers = %v", hdr)
	}
	r := h.Sim.Requests()[0]
	// The client's us. profile is mapped to the operator's choice (global).
	if r.ModelID != "global.anthropic.claude-sonnet-4-5-20250929-v1:0" {
		t.Errorf("upstream model = %s", r.ModelID)
	}
	if betas := gjson.GetBytes(r.Body, "anthropic_beta").Raw; betas != `["interleaved-thinking-2025-05-14"]` {
		t.Errorf("upstream anthropic_beta = %s", betas)
	}
}

func TestBedrockDoorStream(t *testing.T) {
	h := newHarness(t, testutil.WithTLS())
	c := bedrockClient(h)
	out, err := c.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId:     aws.String("claude-haiku-4-5-20251001"),
		ContentType: aws.String("application/json"),
		Body:        invokeBody(`[[sim:text streamed through the door]] [[sim:tool Bash {"command":"echo hi"}]]`, ""),
	})
	if err != nil {
		t.Fatalf("InvokeModelWithResponseStream: %v", err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var text, toolJSON strings.Builder
	var types []string
	for ev := range stream.Events() {
		chunk, ok := ev.(*brtypes.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("unexpected stream member %T", ev)
		}
		data := chunk.Value.Bytes
		types = append(types, gjson.GetBytes(data, "type").String())
		text.WriteString(gjson.GetBytes(data, "delta.text").String())
		toolJSON.WriteString(gjson.GetBytes(data, "delta.partial_json").String())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if text.String() != "streamed through the door" {
		t.Errorf("text = %q", text.String())
	}
	if !gjson.Valid(toolJSON.String()) || gjson.Get(toolJSON.String(), "command").String() != "echo hi" {
		t.Errorf("tool input = %q", toolJSON.String())
	}
	if types[0] != "message_start" || types[len(types)-1] != "message_stop" {
		t.Errorf("event types = %v", types)
	}
}

func TestBedrockDoorCountTokens(t *testing.T) {
	h := newHarness(t, testutil.WithTLS())
	c := bedrockClient(h)
	out, err := c.CountTokens(context.Background(), &bedrockruntime.CountTokensInput{
		ModelId: aws.String("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
		Input:   &brtypes.CountTokensInputMemberInvokeModel{Value: brtypes.InvokeModelTokensRequest{Body: invokeBody(strings.Repeat("word ", 100), "")}},
	})
	if err != nil {
		t.Fatalf("CountTokens: %v", err)
	}
	if aws.ToInt32(out.InputTokens) < 100 {
		t.Errorf("inputTokens = %d", aws.ToInt32(out.InputTokens))
	}
}

func TestBedrockDoorErrors(t *testing.T) {
	h := newHarness(t, testutil.WithTLS(), testutil.WithoutRetries())
	c := bedrockClient(h)
	_, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
		Body:    invokeBody("[[sim:throttle 9]]", ""),
	})
	var te *brtypes.ThrottlingException
	if !errors.As(err, &te) {
		t.Errorf("throttled invoke: err = %v, want ThrottlingException", err)
	}
	_, err = c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
		Body:    invokeBody("[[sim:validation]]", ""),
	})
	var ve *brtypes.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf("invalid invoke: err = %v, want ValidationException", err)
	}

	out, err := c.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
		Body:    invokeBody("[[sim:text a b c d e]] [[sim:midstream-error]]", ""),
	})
	if err != nil {
		t.Fatalf("stream start: %v", err)
	}
	stream := out.GetStream()
	for range stream.Events() {
	}
	if stream.Err() == nil {
		t.Error("mid-stream exception was not surfaced to the SDK")
	}
	stream.Close()
}
