package bedrocksim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
)

const (
	sonnet     = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	sonnetBase = "anthropic.claude-sonnet-4-5-20250929-v1:0"
	sonnetName = "claude-sonnet-4-5-20250929"
	appARN     = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123"
)

// tok is the documented estimate: ceil(bytes/4).
func tok(n int) int { return (n + 3) / 4 }

type fixture struct {
	sim    *bedrocksim.Server
	srv    *httptest.Server
	client *bedrockruntime.Client
}

// newFixture serves a simulator with opts and returns an official
// bedrockruntime client for it, signing with the default credentials and
// never retrying.
func newFixture(t *testing.T, opts bedrocksim.Options, optFns ...func(*bedrockruntime.Options)) *fixture {
	t.Helper()
	sim := bedrocksim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &fixture{sim: sim, srv: srv, client: newClient(srv, optFns...)}
}

func newClient(srv *httptest.Server, optFns ...func(*bedrockruntime.Options)) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(bedrocksim.DefaultAccessKeyID, bedrocksim.DefaultSecretAccessKey, ""),
		HTTPClient:   sdkDoer{srv.Client()},
		Retryer:      aws.NopRetryer{},
	}, optFns...)
}

// sdkDoer works around a client-side race between smithy-go and net/http.
// smithy-go closes the request body as soon as the response headers arrive;
// its body's WriteTo then returns io.EOF (an error for WriteTo) to the
// extra read net/http makes after copying a body of known length, and the
// transport closes the connection under a response stream that is still
// arriving ("use of closed network connection"). On loopback this happens
// whenever the server flushes headers before the rest of a stream, as
// slow-first-byte and pacing do. Hiding WriteTo makes that read a plain,
// harmless EOF.
type sdkDoer struct{ c *http.Client }

type noWriterTo struct{ io.ReadCloser }

func (d sdkDoer) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = noWriterTo{r.Body}
	}
	return d.c.Do(r)
}

// userBody is an InvokeModel body with one user message.
func userBody(prompt string) []byte {
	return mustMarshal(map[string]any{
		"anthropic_version": "bedrock-2023-05-31",
		"max_tokens":        1024,
		"messages":          []any{map[string]any{"role": "user", "content": prompt}},
	})
}

func mustMarshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSpace(buf.Bytes())
}

// compactLen is the byte length the estimate counts for a JSON value.
func compactLen(v any) int { return len(mustMarshal(v)) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (f *fixture) invoke(t *testing.T, model string, body []byte) (*bedrockruntime.InvokeModelOutput, error) {
	t.Helper()
	return f.client.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(model), Body: body,
		ContentType: aws.String("application/json"), Accept: aws.String("application/json"),
	})
}

// streamResult is a stream reassembled from the Anthropic events it carried.
type streamResult struct {
	Types      []string
	Events     []json.RawMessage
	Blocks     []streamBlock
	StopReason string
	Output     int
	StartUsage map[string]any
	Metrics    map[string]any
	Err        error
}

type streamBlock struct {
	Type, Text, Thinking, Signature, ID, Name, Input string
	StartInput                                       json.RawMessage
	Data                                             string
}

// stream calls InvokeModelWithResponseStream and decodes every event through
// the SDK's event stream reader.
func (f *fixture) stream(t *testing.T, model string, body []byte) (*streamResult, error) {
	t.Helper()
	out, err := f.client.InvokeModelWithResponseStream(ctxT(t), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json"),
	})
	if err != nil {
		return nil, err
	}
	st := out.GetStream()
	defer st.Close()
	res := &streamResult{}
	for ev := range st.Events() {
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("unexpected stream member %T", ev)
		}
		res.add(t, chunk.Value.Bytes)
	}
	res.Err = st.Err()
	return res, nil
}

func (res *streamResult) add(t *testing.T, data []byte) {
	t.Helper()
	var ev struct {
		Type         string          `json:"type"`
		Index        int             `json:"index"`
		Message      json.RawMessage `json:"message"`
		ContentBlock json.RawMessage `json:"content_block"`
		Delta        struct {
			Type        string `json:"type"`
			Text        string `json:"text"`
			Thinking    string `json:"thinking"`
			Signature   string `json:"signature"`
			PartialJSON string `json:"partial_json"`
			StopReason  string `json:"stop_reason"`
		} `json:"delta"`
		Usage struct {
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
		Metrics map[string]any `json:"amazon-bedrock-invocationMetrics"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("event %s: %v", data, err)
	}
	res.Types = append(res.Types, ev.Type)
	res.Events = append(res.Events, append(json.RawMessage(nil), data...))
	switch ev.Type {
	case "message_start":
		var m struct {
			Usage map[string]any `json:"usage"`
		}
		_ = json.Unmarshal(ev.Message, &m)
		res.StartUsage = m.Usage
	case "content_block_start":
		var b struct {
			Type, ID, Name, Data string
			Input                json.RawMessage
		}
		_ = json.Unmarshal(ev.ContentBlock, &b)
		if ev.Index != len(res.Blocks) {
			t.Fatalf("content_block_start index %d, want %d", ev.Index, len(res.Blocks))
		}
		res.Blocks = append(res.Blocks, streamBlock{Type: b.Type, ID: b.ID, Name: b.Name, StartInput: b.Input, Data: b.Data})
	case "content_block_delta":
		b := &res.Blocks[ev.Index]
		switch ev.Delta.Type {
		case "text_delta":
			b.Text += ev.Delta.Text
		case "thinking_delta":
			b.Thinking += ev.Delta.Thinking
		case "signature_delta":
			b.Signature += ev.Delta.Signature
		case "input_json_delta":
			b.Input += ev.Delta.PartialJSON
		default:
			t.Fatalf("unknown delta %q", ev.Delta.Type)
		}
	case "message_delta":
		res.StopReason = ev.Delta.StopReason
		res.Output = ev.Usage.OutputTokens
	case "message_stop":
		res.Metrics = ev.Metrics
	}
}

// rawDo sends an HTTP request to the simulator, SigV4-signed with the
// default credentials unless sign is false.
func rawDo(t *testing.T, srv *httptest.Server, method, path string, body []byte, sign bool, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	req.URL.RawPath = path
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if sign {
		signRequest(t, req, body, "us-east-1", bedrocksim.DefaultSecretAccessKey, time.Now())
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func signRequest(t *testing.T, req *http.Request, body []byte, region, secret string, at time.Time) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: bedrocksim.DefaultAccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), "bedrock", region, at); err != nil {
		t.Fatal(err)
	}
}

// awsError is an AWS error response as the wire shows it.
type awsError struct {
	Status  int
	Type    string
	Message string
}

func readAWSError(t *testing.T, resp *http.Response) awsError {
	t.Helper()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	msg := body["message"]
	if msg == "" {
		msg = body["Message"]
	}
	return awsError{Status: resp.StatusCode, Type: resp.Header.Get("X-Amzn-ErrorType"), Message: msg}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
