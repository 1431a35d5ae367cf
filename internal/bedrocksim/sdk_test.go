package bedrocksim_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bedrocktypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/auth/bearer"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
)

type usageJSON struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	CacheCreation            struct {
		Ephemeral5m int `json:"ephemeral_5m_input_tokens"`
		Ephemeral1h int `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
	OutputTokens int `json:"output_tokens"`
}

type messageJSON struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Model        string          `json:"model"`
	Content      []contentJSON   `json:"content"`
	StopReason   string          `json:"stop_reason"`
	StopSequence *string         `json:"stop_sequence"`
	Usage        usageJSON       `json:"usage"`
	Extra        json.RawMessage `json:"-"`
}

type contentJSON struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Thinking  string          `json:"thinking,omitempty"`
	Signature string          `json:"signature,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

func decodeMessage(t *testing.T, b []byte) messageJSON {
	t.Helper()
	var m messageJSON
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func rawHeader(out *bedrockruntime.InvokeModelOutput) map[string]string {
	resp := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	h := map[string]string{}
	for _, k := range []string{"Content-Type", "X-Amzn-Bedrock-Input-Token-Count", "X-Amzn-Bedrock-Output-Token-Count",
		"X-Amzn-Bedrock-Cache-Read-Input-Token-Count", "X-Amzn-Bedrock-Cache-Write-Input-Token-Count"} {
		if v := resp.Header.Get(k); v != "" {
			h[k] = v
		}
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" || resp.Header.Get("X-Amzn-Bedrock-Invocation-Latency") == "" {
		panic("missing request id or latency header")
	}
	return h
}

func sign(text string) string {
	mac := hmac.New(sha256.New, []byte(bedrocksim.DefaultThinkingKey))
	mac.Write([]byte(text))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestInvokeModel(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	out, err := f.invoke(t, sonnet, userBody("Hi"))
	if err != nil {
		t.Fatal(err)
	}
	got := decodeMessage(t, out.Body)
	want := messageJSON{
		Type: "message", Role: "assistant", Model: sonnetName,
		Content:    []contentJSON{{Type: "text", Text: bedrocksim.DefaultReply}},
		StopReason: "end_turn",
		Usage:      usageJSON{InputTokens: tok(len(`"Hi"`)), OutputTokens: tok(len(bedrocksim.DefaultReply))},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(messageJSON{}, "ID")); diff != "" {
		t.Errorf("InvokeModel body (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got.ID, "msg_bdrk_01") || len(got.ID) != len("msg_bdrk_01")+22 {
		t.Errorf("id = %q, want msg_bdrk_01 + 22 chars", got.ID)
	}
	wantHdr := map[string]string{
		"Content-Type":                      "application/json",
		"X-Amzn-Bedrock-Input-Token-Count":  "1",
		"X-Amzn-Bedrock-Output-Token-Count": strconv.Itoa(tok(len(bedrocksim.DefaultReply))),
	}
	if diff := cmp.Diff(wantHdr, rawHeader(out)); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if aws.ToString(out.ContentType) != "application/json" {
		t.Errorf("ContentType = %q", aws.ToString(out.ContentType))
	}
}

const toolPrompt = `Please run it. [[sim:thinking Let me think about it]] [[sim:text Running it now.]] ` +
	`[[sim:tool Bash {"command": "echo hi", "note": "]] inside"}]]`

func TestInvokeModelWithResponseStream(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	res, err := f.stream(t, sonnet, userBody(toolPrompt))
	if err != nil {
		t.Fatal(err)
	}
	if res.Err != nil {
		t.Fatalf("stream Err() = %v", res.Err)
	}
	input := `{"command":"echo hi","note":"]] inside"}`
	wantBlocks := []streamBlock{
		{Type: "thinking", Thinking: "Let me think about it", Signature: sign("Let me think about it")},
		{Type: "text", Text: "Running it now."},
		{Type: "tool_use", Name: "Bash", Input: input, StartInput: json.RawMessage(`{}`)},
	}
	if diff := cmp.Diff(wantBlocks, res.Blocks, cmpopts.IgnoreFields(streamBlock{}, "ID")); diff != "" {
		t.Errorf("blocks (-want +got):\n%s", diff)
	}
	if id := res.Blocks[2].ID; !strings.HasPrefix(id, "toolu_sim_") {
		t.Errorf("tool id = %q, want toolu_sim_...", id)
	}
	for _, typ := range res.Types {
		if typ == "ping" {
			t.Error("stream carries a ping; Bedrock sends none")
		}
	}
	if first, last := res.Types[0], res.Types[len(res.Types)-1]; first != "message_start" || last != "message_stop" {
		t.Errorf("events run %s..%s, want message_start..message_stop", first, last)
	}
	// The signature comes as one signature_delta right before the block stops.
	var thinkingEvents []string
	for _, ev := range res.Events {
		var e struct {
			Type  string `json:"type"`
			Index int    `json:"index"`
			Delta struct {
				Type string `json:"type"`
			} `json:"delta"`
		}
		_ = json.Unmarshal(ev, &e)
		if e.Index == 0 && strings.HasPrefix(e.Type, "content_block") {
			thinkingEvents = append(thinkingEvents, strings.TrimPrefix(e.Type+"/"+e.Delta.Type, "content_block_"))
		}
	}
	if n := len(thinkingEvents); n < 4 || thinkingEvents[n-2] != "delta/signature_delta" || thinkingEvents[n-1] != "stop/" {
		t.Errorf("thinking block events = %v, want ... delta/signature_delta, stop/", thinkingEvents)
	}

	in := tok(len(mustMarshal(toolPrompt)))
	out := tok(len("Let me think about it")) + tok(len("Running it now.")) + tok(len(input))
	if res.StopReason != "tool_use" || res.Output != out {
		t.Errorf("message_delta = %s/%d, want tool_use/%d", res.StopReason, res.Output, out)
	}
	wantStart := map[string]any{
		"input_tokens": float64(in), "output_tokens": float64(1),
		"cache_creation_input_tokens": float64(0), "cache_read_input_tokens": float64(0),
		"cache_creation": map[string]any{"ephemeral_5m_input_tokens": float64(0), "ephemeral_1h_input_tokens": float64(0)},
	}
	if diff := cmp.Diff(wantStart, res.StartUsage); diff != "" {
		t.Errorf("message_start usage (-want +got):\n%s", diff)
	}
	wantMetrics := map[string]any{"inputTokenCount": float64(in), "outputTokenCount": float64(out)}
	if diff := cmp.Diff(wantMetrics, res.Metrics, cmpopts.IgnoreMapEntries(func(k string, _ any) bool {
		return k == "invocationLatency" || k == "firstByteLatency"
	})); diff != "" {
		t.Errorf("invocation metrics (-want +got):\n%s", diff)
	}
	for _, k := range []string{"invocationLatency", "firstByteLatency"} {
		if _, ok := res.Metrics[k]; !ok {
			t.Errorf("invocation metrics lack %s: %v", k, res.Metrics)
		}
	}
}

// TestThinkingRoundTrip sends the answer's thinking block back, as Claude
// Code does on the next turn: intact it passes, altered it is refused.
func TestThinkingRoundTrip(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	res, err := f.stream(t, sonnet, userBody(toolPrompt))
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	th, tool := res.Blocks[0], res.Blocks[2]
	next := func(signature string) []byte {
		return mustMarshal(map[string]any{
			"anthropic_version": "bedrock-2023-05-31",
			"max_tokens":        1024,
			"messages": []any{
				map[string]any{"role": "user", "content": toolPrompt},
				map[string]any{"role": "assistant", "content": []any{
					map[string]any{"type": "thinking", "thinking": th.Thinking, "signature": signature},
					map[string]any{"type": "redacted_thinking", "data": "opaque"},
					map[string]any{"type": "tool_use", "id": tool.ID, "name": tool.Name, "input": json.RawMessage(tool.Input)},
				}},
				map[string]any{"role": "user", "content": []any{
					map[string]any{"type": "tool_result", "tool_use_id": tool.ID, "content": "hi\n"},
				}},
			},
		})
	}
	out, err := f.invoke(t, sonnet, next(th.Signature))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeMessage(t, out.Body).Content; len(got) != 1 || got[0].Text != "Tool result: hi\n" {
		t.Errorf("reply to tool_result = %+v, want text %q", got, "Tool result: hi\n")
	}

	_, err = f.invoke(t, sonnet, next(th.Signature[:len(th.Signature)-4]+"AAA="))
	var ve *types.ValidationException
	if !errors.As(err, &ve) || aws.ToString(ve.Message) != "messages.1.content.0: Invalid signature in thinking block" {
		t.Errorf("tampered signature: err = %v, want ValidationException about the signature", err)
	}
}

func TestCountTokens(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	body := userBody("How many tokens is this?")
	count := func(model string) (*bedrockruntime.CountTokensOutput, error) {
		return f.client.CountTokens(ctxT(t), &bedrockruntime.CountTokensInput{
			ModelId: aws.String(model),
			Input:   &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{Body: body}},
		})
	}
	out, err := count(sonnetBase)
	if err != nil {
		t.Fatal(err)
	}
	if want := tok(len(mustMarshal("How many tokens is this?"))); aws.ToInt32(out.InputTokens) != int32(want) {
		t.Errorf("CountTokens = %d, want %d", aws.ToInt32(out.InputTokens), want)
	}
	for _, model := range []string{sonnet, "global." + sonnetBase, appARN} {
		_, err := count(model)
		var ve *types.ValidationException
		if !errors.As(err, &ve) || aws.ToString(ve.Message) != "The provided model doesn't support counting tokens." {
			t.Errorf("CountTokens(%s) err = %v, want ValidationException", model, err)
		}
	}
}

func TestARNModelID(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	out, err := f.invoke(t, appARN, userBody("Hi"))
	if err != nil {
		t.Fatal(err)
	}
	if m := decodeMessage(t, out.Body).Model; m == "" {
		t.Error("no model in answer")
	}
	res, err := f.stream(t, "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"+sonnet, userBody("Hi"))
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	reqs := f.sim.Requests()
	if len(reqs) != 2 {
		t.Fatalf("recorded %d requests, want 2", len(reqs))
	}
	if got := reqs[0]; got.ModelID != appARN || !strings.Contains(got.Path, "application-inference-profile%2Fabc123") || got.Auth != "sigv4" {
		t.Errorf("recorded ModelID=%q Path=%q Auth=%q, want the ARN, %%2F in the path, sigv4", got.ModelID, got.Path, got.Auth)
	}
	if got := reqs[1].Op; got != bedrocksim.OpInvokeModelWithResponseStream {
		t.Errorf("Op = %q", got)
	}
}

func apiErrorInfo(err error) (typ, code string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		typ, code = fmt.Sprintf("%T", ae), ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return typ, code, status
}

func TestFaultMarkersSurfaceAsTypedErrors(t *testing.T) {
	tests := []struct {
		marker   string
		wantType string
		status   int
	}{
		{"[[sim:throttle]]", "*types.ThrottlingException", 429},
		{"[[sim:validation]]", "*types.ValidationException", 400},
		{"[[sim:unavailable]]", "*types.ServiceUnavailableException", 503},
		{"[[sim:internal]]", "*types.InternalServerException", 500},
		{"[[sim:timeout]]", "*types.ModelTimeoutException", 408},
		{"[[sim:denied]]", "*types.AccessDeniedException", 403},
		{"[[sim:error ModelNotReadyException]]", "*types.ModelNotReadyException", 429},
		{"[[sim:error ServiceQuotaExceeded]]", "*types.ServiceQuotaExceededException", 400},
		{"[[sim:error ModelErrorException]]", "*types.ModelErrorException", 424},
		{"[[sim:midstream-error throttlingException]]", "*types.ThrottlingException", 429}, // on /invoke
		{"[[sim:tps x]]", "*types.ValidationException", 400},                               // bad marker
	}
	f := newFixture(t, bedrocksim.Options{})
	for _, tt := range tests {
		t.Run(tt.marker, func(t *testing.T) {
			_, err := f.invoke(t, sonnet, userBody("go "+tt.marker))
			if typ, _, status := apiErrorInfo(err); typ != tt.wantType || status != tt.status {
				t.Errorf("InvokeModel(%s) = %s %d (%v), want %s %d", tt.marker, typ, status, err, tt.wantType, tt.status)
			}
			if strings.HasPrefix(tt.marker, "[[sim:midstream") {
				return
			}
			_, err = f.stream(t, sonnet, userBody("go "+tt.marker))
			if typ, _, status := apiErrorInfo(err); typ != tt.wantType || status != tt.status {
				t.Errorf("InvokeModelWithResponseStream(%s) = %s %d (%v), want %s %d", tt.marker, typ, status, err, tt.wantType, tt.status)
			}
		})
	}
}

func TestMessageOverridesFaultText(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	_, err := f.invoke(t, sonnet, userBody("[[sim:validation prompt is too long: 250000 tokens > 200000 maximum]]"))
	var ve *types.ValidationException
	if !errors.As(err, &ve) || aws.ToString(ve.Message) != "prompt is too long: 250000 tokens > 200000 maximum" {
		t.Errorf("err = %v, want ValidationException with the marker's message", err)
	}
}

func TestMidstreamException(t *testing.T) {
	tests := []struct {
		arg      string
		wantType string
	}{
		{"", "*types.ModelStreamErrorException"},
		{"throttlingException", "*types.ThrottlingException"},
		{"ValidationException", "*types.ValidationException"},
		{"internalServer", "*types.InternalServerException"},
		{"serviceUnavailableException", "*types.ServiceUnavailableException"},
		{"modelTimeoutException", "*types.ModelTimeoutException"},
	}
	f := newFixture(t, bedrocksim.Options{})
	for _, tt := range tests {
		t.Run(tt.wantType, func(t *testing.T) {
			res, err := f.stream(t, sonnet, userBody("[[sim:midstream-error "+tt.arg+"]]"))
			if err != nil {
				t.Fatalf("stream did not start: %v", err)
			}
			var ae smithy.APIError
			if !errors.As(res.Err, &ae) || fmt.Sprintf("%T", ae) != tt.wantType {
				t.Fatalf("stream Err() = %T %v, want %s", res.Err, res.Err, tt.wantType)
			}
			if len(res.Blocks) != 1 || res.Blocks[0].Text != "Hello from " {
				t.Errorf("received %+v before the exception, want the first delta only", res.Blocks)
			}
			if n := len(res.Types); res.Types[n-1] != "content_block_delta" {
				t.Errorf("last event before the exception = %s", res.Types[n-1])
			}
		})
	}
}

func TestDrop(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	res, err := f.stream(t, sonnet, userBody("[[sim:drop]]"))
	if err != nil {
		t.Fatalf("stream did not start: %v", err)
	}
	// The SDK's decoder treats io.ErrUnexpectedEOF at a frame boundary as
	// a clean end, so Err() stays nil: only the missing message_stop tells
	// a truncated stream from a complete one.
	if got := res.Types; len(got) != 3 || got[2] != "content_block_delta" {
		t.Errorf("events before the cut = %v, want message_start, content_block_start, one delta", got)
	}
	resp := rawDo(t, f.srv, "POST", "/model/"+sonnet+"/invoke-with-response-stream", userBody("[[sim:drop]]"), true, nil)
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("raw read of a dropped stream: err = %v, want unexpected EOF", err)
	}
	if _, err := f.invoke(t, sonnet, userBody("[[sim:drop]]")); err == nil {
		t.Error("InvokeModel with a cut body succeeded")
	}
}

func TestAuthWithSDK(t *testing.T) {
	tests := []struct {
		name     string
		akid     string
		secret   string
		region   string
		wantCode string
	}{
		{"wrong secret", bedrocksim.DefaultAccessKeyID, "not-the-secret", "us-east-1", "InvalidSignatureException"},
		{"unknown key id", "AKIDOTHER", bedrocksim.DefaultSecretAccessKey, "us-east-1", "UnrecognizedClientException"},
		{"wrong region", bedrocksim.DefaultAccessKeyID, bedrocksim.DefaultSecretAccessKey, "eu-west-1", "InvalidSignatureException"},
	}
	f := newFixture(t, bedrocksim.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(f.srv, func(o *bedrockruntime.Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider(tt.akid, tt.secret, "")
				o.Region = tt.region
			})
			_, err := c.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{ModelId: aws.String(sonnet), Body: userBody("Hi")})
			if _, code, status := apiErrorInfo(err); code != tt.wantCode || status != 403 {
				t.Errorf("err = %v (%s %d), want %s 403", err, code, status, tt.wantCode)
			}
		})
	}
	t.Run("session token", func(t *testing.T) {
		g := newFixture(t, bedrocksim.Options{AccessKeyID: "ASIASIM", SecretAccessKey: "s3cret", SessionToken: "tok"})
		for _, tc := range []struct {
			token string
			ok    bool
		}{{"tok", true}, {"other", false}, {"", false}} {
			c := newClient(g.srv, func(o *bedrockruntime.Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider("ASIASIM", "s3cret", tc.token)
			})
			_, err := c.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{ModelId: aws.String(sonnet), Body: userBody("Hi")})
			if (err == nil) != tc.ok {
				t.Errorf("token %q: err = %v, want ok=%v", tc.token, err, tc.ok)
			}
		}
	})
}

// newBearerFixture serves the simulator over TLS (the SDK sends bearer
// tokens only over HTTPS) and returns a client that authenticates with the
// Bedrock API key key.
func newBearerFixture(t *testing.T, opts bedrocksim.Options, key string) *fixture {
	t.Helper()
	sim := bedrocksim.New(opts)
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	c := newClient(srv, func(o *bedrockruntime.Options) {
		o.BearerAuthTokenProvider = bearer.StaticTokenProvider{Token: bearer.Token{Value: key}}
		o.AuthSchemePreference = []string{"httpBearerAuth"}
	})
	return &fixture{sim: sim, srv: srv, client: c}
}

func TestBearerAPIKey(t *testing.T) {
	opts := bedrocksim.Options{APIKey: "ABSKc2ltdWxhdG9y"}
	f := newBearerFixture(t, opts, "ABSKc2ltdWxhdG9y")
	if _, err := f.invoke(t, sonnet, userBody("Hi")); err != nil {
		t.Fatal(err)
	}
	got := f.sim.Requests()[0]
	if got.Auth != "bearer" || got.Header.Get("Authorization") != "Bearer ABSKc2ltdWxhdG9y" {
		t.Errorf("recorded Auth=%q Authorization=%q, want a bearer request", got.Auth, got.Header.Get("Authorization"))
	}

	bad := newBearerFixture(t, opts, "ABSKwrong")
	_, err := bad.invoke(t, sonnet, userBody("Hi"))
	var ad *types.AccessDeniedException
	if !errors.As(err, &ad) || !strings.Contains(aws.ToString(ad.Message), "API Key is valid") {
		t.Errorf("wrong key: err = %v, want AccessDeniedException about the API key", err)
	}
}

func TestTransientFaults(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	body := userBody("retry me [[sim:throttle 2]]")
	for i, want := range []string{"ThrottlingException", "ThrottlingException", ""} {
		_, err := f.invoke(t, sonnet, body)
		if _, code, _ := apiErrorInfo(err); code != want || (want == "" && err != nil) {
			t.Errorf("attempt %d: err = %v, want %q", i+1, err, want)
		}
	}
	// Faults chain: each takes its count in turn.
	chain := userBody("[[sim:throttle 1]] [[sim:unavailable 1]]")
	for i, want := range []string{"ThrottlingException", "ServiceUnavailableException", ""} {
		_, err := f.stream(t, sonnet, chain)
		if _, code, _ := apiErrorInfo(err); code != want {
			t.Errorf("chain attempt %d: err = %v, want %q", i+1, err, want)
		}
	}

	// The SDK's own retries count too: three attempts, one call.
	f.sim.Reset()
	retrying := newClient(f.srv, func(o *bedrockruntime.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	})
	if _, err := retrying.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{ModelId: aws.String(sonnet), Body: body}); err != nil {
		t.Fatalf("with retries: %v", err)
	}
	var statuses []int
	for _, r := range f.sim.Requests() {
		statuses = append(statuses, r.Status)
	}
	if diff := cmp.Diff([]int{429, 429, 200}, statuses); diff != "" {
		t.Errorf("statuses after Reset (-want +got):\n%s", diff)
	}
}

func TestDefaultFault(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{Fault: "unavailable 1"})
	_, err := f.invoke(t, sonnet, userBody("Hi"))
	if _, code, _ := apiErrorInfo(err); code != "ServiceUnavailableException" {
		t.Errorf("first call: %v, want ServiceUnavailableException", err)
	}
	if _, err := f.invoke(t, sonnet, userBody("Hi")); err != nil {
		t.Errorf("second call: %v", err)
	}
	// A marker fault replaces the default.
	_, err = f.invoke(t, sonnet, userBody("[[sim:denied]]"))
	if _, code, _ := apiErrorInfo(err); code != "AccessDeniedException" {
		t.Errorf("marker call: %v, want AccessDeniedException", err)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestPromptCache(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	// Bearer auth: the fake clock may move far from the SDK's signing time.
	f := newBearerFixture(t, bedrocksim.Options{APIKey: "k", Now: clock.Now}, "k")

	system := []any{
		map[string]any{"type": "text", "text": strings.Repeat("You are a careful assistant. ", 20)},
		map[string]any{"type": "text", "text": "Project rules.", "cache_control": map[string]any{"type": "ephemeral", "ttl": "1h"}},
	}
	turn1 := map[string]any{"role": "user", "content": []any{
		map[string]any{"type": "text", "text": "First question", "cache_control": map[string]any{"type": "ephemeral"}},
	}}
	body := func(msgs ...any) []byte {
		return mustMarshal(map[string]any{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "system": system, "messages": msgs})
	}
	sys0, sys1 := compactLen(system[0]), compactLen(system[1])
	m1 := compactLen(turn1["content"].([]any)[0])
	p1 := tok(sys0 + sys1)      // first breakpoint (1h)
	p2 := tok(sys0 + sys1 + m1) // second breakpoint (5m)

	type u struct{ In, W5, W1, R int }
	call := func() u {
		out, err := f.invoke(t, sonnet, body(turn1))
		if err != nil {
			t.Fatal(err)
		}
		m := decodeMessage(t, out.Body).Usage
		if m.CacheCreationInputTokens != m.CacheCreation.Ephemeral5m+m.CacheCreation.Ephemeral1h {
			t.Errorf("cache_creation_input_tokens %d != 5m+1h", m.CacheCreationInputTokens)
		}
		return u{m.InputTokens, m.CacheCreation.Ephemeral5m, m.CacheCreation.Ephemeral1h, m.CacheReadInputTokens}
	}
	steps := []struct {
		name    string
		advance time.Duration
		want    u
	}{
		{"first write", 0, u{In: 0, W1: p1, W5: p2 - p1}},
		{"read both", time.Minute, u{R: p2}},
		{"5m expired, 1h read", 6 * time.Minute, u{R: p1, W5: p2 - p1}},
		{"all expired", 2 * time.Hour, u{W1: p1, W5: p2 - p1}},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		if got := call(); got != st.want {
			t.Errorf("%s: usage = %+v, want %+v", st.name, got, st.want)
		}
	}

	// A longer conversation reads the cached prefix and writes the rest.
	turn2 := map[string]any{"role": "assistant", "content": "Answer."}
	turn3 := map[string]any{"role": "user", "content": []any{
		map[string]any{"type": "text", "text": "Second question", "cache_control": map[string]any{"type": "ephemeral"}},
	}}
	res, err := f.stream(t, sonnet, body(turn1, turn2, turn3))
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	p3 := tok(sys0 + sys1 + m1 + compactLen("Answer.") + compactLen(turn3["content"].([]any)[0]))
	wantMetrics := map[string]any{
		"inputTokenCount": float64(0), "outputTokenCount": float64(tok(len(bedrocksim.DefaultReply))),
		"cacheReadInputTokenCount": float64(p2), "cacheWriteInputTokenCount": float64(p3 - p2),
		"invocationLatency": float64(0), "firstByteLatency": float64(0),
	}
	if diff := cmp.Diff(wantMetrics, res.Metrics); diff != "" {
		t.Errorf("stream metrics (-want +got):\n%s", diff)
	}
}

func TestUsageMarkerAndMaxTokens(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	out, err := f.invoke(t, sonnet, userBody("[[sim:usage in=10 out=20 cw5m=30 cw1h=5 cr=40]]"))
	if err != nil {
		t.Fatal(err)
	}
	got := decodeMessage(t, out.Body).Usage
	if got.InputTokens != 10 || got.OutputTokens != 20 || got.CacheCreation.Ephemeral5m != 30 ||
		got.CacheCreation.Ephemeral1h != 5 || got.CacheCreationInputTokens != 35 || got.CacheReadInputTokens != 40 {
		t.Errorf("forced usage = %+v", got)
	}
	h := rawHeader(out)
	if h["X-Amzn-Bedrock-Cache-Read-Input-Token-Count"] != "40" || h["X-Amzn-Bedrock-Cache-Write-Input-Token-Count"] != "35" {
		t.Errorf("cache headers = %v", h)
	}

	body := mustMarshal(map[string]any{
		"anthropic_version": "bedrock-2023-05-31", "max_tokens": 3,
		"messages": []any{map[string]any{"role": "user", "content": "[[sim:text one two three four five six]] [[sim:tool Bash {}]]"}},
	})
	res, err := f.stream(t, sonnet, body)
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	if len(res.Blocks) != 1 || res.Blocks[0].Text != "one two thre" || res.StopReason != "max_tokens" || res.Output != 3 {
		t.Errorf("truncated stream = %+v stop=%s out=%d, want text %q, max_tokens, 3", res.Blocks, res.StopReason, res.Output, "one two thre")
	}
}

func TestInferenceProfiles(t *testing.T) {
	f := newFixture(t, bedrocksim.Options{})
	c := bedrock.New(bedrock.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(f.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(bedrocksim.DefaultAccessKeyID, bedrocksim.DefaultSecretAccessKey, ""),
		HTTPClient:   sdkDoer{f.srv.Client()},
		Retryer:      aws.NopRetryer{},
	})
	var all []bedrocktypes.InferenceProfileSummary
	pages := bedrock.NewListInferenceProfilesPaginator(c, &bedrock.ListInferenceProfilesInput{
		TypeEquals: bedrocktypes.InferenceProfileTypeSystemDefined, MaxResults: aws.Int32(2),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.InferenceProfileSummaries...)
	}
	if len(all) < 6 {
		t.Fatalf("listed %d profiles, want us. and global. Claude profiles", len(all))
	}
	var found *bedrocktypes.InferenceProfileSummary
	for i := range all {
		if aws.ToString(all[i].InferenceProfileId) == sonnet {
			found = &all[i]
		}
	}
	if found == nil {
		t.Fatalf("no %s among %d profiles", sonnet, len(all))
	}
	if found.Status != bedrocktypes.InferenceProfileStatusActive || found.Type != bedrocktypes.InferenceProfileTypeSystemDefined ||
		found.CreatedAt == nil || len(found.Models) != 3 ||
		aws.ToString(found.InferenceProfileArn) != "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"+sonnet {
		t.Errorf("profile = %+v", *found)
	}

	for _, id := range []string{sonnet, aws.ToString(found.InferenceProfileArn)} {
		got, err := c.GetInferenceProfile(ctxT(t), &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(id)})
		if err != nil {
			t.Fatalf("GetInferenceProfile(%s): %v", id, err)
		}
		if aws.ToString(got.InferenceProfileId) != sonnet || aws.ToString(got.InferenceProfileName) != "US Anthropic Claude Sonnet 4.5" {
			t.Errorf("GetInferenceProfile(%s) = %s %q", id, aws.ToString(got.InferenceProfileId), aws.ToString(got.InferenceProfileName))
		}
	}
	_, err := c.GetInferenceProfile(ctxT(t), &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String("us.anthropic.nope")})
	var nf *bedrocktypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown profile: err = %v, want ResourceNotFoundException", err)
	}
}
