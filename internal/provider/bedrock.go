package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/bedrock"
	"github.com/tollgate-gw/tollgate/internal/redact"
)

// BedrockOptions configure a Bedrock provider.
type BedrockOptions struct {
	Name     string
	Region   string
	Endpoint string // empty: https://bedrock-runtime.{region}.amazonaws.com
	// Credentials signs requests with SigV4. Ignored when APIKey is set.
	// Nil: resolved once from the default AWS chain (or Profile).
	Credentials aws.CredentialsProvider
	Profile     string
	// APIKey is a Bedrock API key, sent as a bearer token instead of SigV4.
	APIKey    string
	Transport TransportOptions
	Logger    *slog.Logger
}

// Bedrock calls the Bedrock Runtime InvokeModel APIs with raw HTTP, so that
// the request body stays the client's bytes (only patched) and never goes
// through SDK types.
type Bedrock struct {
	name     string
	region   string
	endpoint *url.URL
	creds    aws.CredentialsProvider
	apiKey   string
	signer   *v4.Signer
	client   *http.Client
	timeouts TransportOptions
	log      *slog.Logger

	// countUnsupported remembers model ids for which CountTokens answered
	// that it cannot count, so we go straight to the estimate next time.
	countUnsupported sync.Map
}

// NewBedrock builds a Bedrock provider. Credentials from the default chain are
// loaded here, once; aws.CredentialsCache refreshes them before expiry, so the
// request path never resolves credentials.
func NewBedrock(ctx context.Context, o BedrockOptions) (*Bedrock, error) {
	if o.Region == "" {
		return nil, errors.New("bedrock: region is required")
	}
	o.Transport.applyDefaults()
	ep := o.Endpoint
	if ep == "" {
		ep = "https://bedrock-runtime." + o.Region + ".amazonaws.com"
	}
	u, err := url.Parse(ep)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("bedrock: endpoint %q is not an absolute URL", ep)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	b := &Bedrock{
		name:     o.Name,
		region:   o.Region,
		endpoint: u,
		apiKey:   o.APIKey,
		signer:   v4.NewSigner(),
		client:   &http.Client{Transport: NewTransport(o.Transport)},
		timeouts: o.Transport,
		log:      log,
	}
	if b.apiKey == "" {
		b.creds = o.Credentials
		if b.creds == nil {
			opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(o.Region)}
			if o.Profile != "" {
				opts = append(opts, awsconfig.WithSharedConfigProfile(o.Profile))
			}
			cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
			if err != nil {
				return nil, fmt.Errorf("bedrock: load AWS config: %w", err)
			}
			b.creds = cfg.Credentials
		}
		if _, ok := b.creds.(*aws.CredentialsCache); !ok && b.creds != nil {
			b.creds = aws.NewCredentialsCache(b.creds)
		}
	}
	return b, nil
}

// Name implements Provider.
func (b *Bedrock) Name() string { return b.name }

// Region returns the provider's region.
func (b *Bedrock) Region() string { return b.region }

// CheckCredentials resolves credentials once, so that a missing or broken
// AWS setup is reported at start rather than on the first request.
func (b *Bedrock) CheckCredentials(ctx context.Context) (string, error) {
	if b.apiKey != "" {
		return "api key", nil
	}
	c, err := b.creds.Retrieve(ctx)
	if err != nil {
		return "", err
	}
	return c.Source, nil
}

// Send implements Provider.
func (b *Bedrock) Send(ctx context.Context, call *Call) (*Response, error) {
	body, dropped, err := bedrock.TransformRequest(call.Body, call.Betas, bedrock.Rules{DropBetas: call.DropBetas, DropFields: call.DropFields})
	if err != nil {
		return nil, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%s", err.Error())
	}
	if len(dropped) > 0 {
		b.log.Debug("dropped betas for target", "model", call.Model, "betas", dropped)
	}
	op := "invoke"
	if call.Stream {
		op = "invoke-with-response-stream"
	}
	resp, err := b.do(ctx, call.Model, op, body, call.Header)
	if err != nil {
		return nil, err
	}
	reqID := resp.Header.Get("x-amzn-RequestId")
	if call.Stream {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, bedrock.ContentType) {
			resp.Body.Close()
			return nil, &apierror.Error{Status: http.StatusBadGateway, Type: apierror.TypeAPI, Origin: apierror.OriginUpstream,
				Message: fmt.Sprintf("Bedrock stream had content-type %q", ct), Retryable: true, UpstreamRequestID: reqID}
		}
		return &Response{Events: newBedrockStream(resp.Body), RequestID: reqID, DroppedBetas: dropped}, nil
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(resp.Body)
	if err != nil {
		if e, ok := errors.AsType[*apierror.Error](err); ok {
			e.UpstreamRequestID = reqID
			return nil, e // the body went silent: not retried
		}
		return nil, &apierror.Error{Status: http.StatusBadGateway, Type: apierror.TypeAPI, Origin: apierror.OriginUpstream,
			Message: "reading the Bedrock response failed", Retryable: true, UpstreamRequestID: reqID, Err: err}
	}
	return &Response{Body: msg, RequestID: reqID, DroppedBetas: dropped}, nil
}

// CountTokens implements Provider. Bedrock's CountTokens rejects
// inference-profile ids and ARNs for many models, so the base foundation-model
// id is asked; when that fails too, a high-biased estimate is returned: an
// under-count breaks Claude Code's auto-compaction, an over-count only
// compacts a little early.
func (b *Bedrock) CountTokens(ctx context.Context, call *Call) (int64, error) {
	body := call.Body
	if !gjson.GetBytes(body, "max_tokens").Exists() {
		body, _ = sjson.SetBytes(body, "max_tokens", 1)
	}
	inv, _, err := bedrock.TransformRequest(body, call.Betas, bedrock.Rules{DropBetas: call.DropBetas, DropFields: call.DropFields})
	if err != nil {
		return 0, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%s", err.Error())
	}
	model := call.Model
	if base, ok := bedrock.BaseModelID(model); ok {
		model = base
	}
	if _, unsupported := b.countUnsupported.Load(model); !unsupported && !strings.HasPrefix(model, "arn:") {
		resp, err := b.do(ctx, model, "count-tokens", bedrock.CountTokensBody(inv), nil)
		if err == nil {
			defer resp.Body.Close()
			out, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if n := gjson.GetBytes(out, "inputTokens"); rerr == nil && n.Type == gjson.Number {
				return n.Int(), nil
			}
		} else {
			ae := apierror.From(err)
			if ctx.Err() != nil {
				return 0, err
			}
			// Remember only Bedrock's own word that the model cannot count;
			// anything else (throttling, a bad body, a cut connection) is
			// no reason to stop asking.
			if ae.ExceptionType == "ValidationException" || ae.ExceptionType == "ResourceNotFoundException" {
				b.countUnsupported.Store(model, true)
				b.log.Info("bedrock CountTokens unavailable for this model; estimating from now on", "model", model, "err", ae.Message)
			} else if ae.Retryable || ae.Origin != apierror.OriginUpstream {
				return 0, err
			}
		}
	}
	return EstimateTokens(inv), nil
}

// EstimateTokens is the fallback token count: one token per three bytes of the
// request JSON, rounded up. Claude tokenisers average about four bytes per
// token on English and code, so this errs high, as it must.
func EstimateTokens(body []byte) int64 {
	return int64(len(body)+2) / 3
}

// do sends one signed request and turns non-2xx answers into errors.
func (b *Bedrock) do(ctx context.Context, model, op string, body []byte, clientHeader http.Header) (*http.Response, error) {
	u := bedrock.InvokeURL(b.endpoint, model, op)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, apierror.Gateway(err, "building the Bedrock request failed")
	}
	req.URL = u
	req.Header.Set("Content-Type", "application/json")
	if op == "invoke-with-response-stream" {
		req.Header.Set("X-Amzn-Bedrock-Accept", "application/json")
		req.Header.Set("Accept", bedrock.ContentType)
	} else {
		req.Header.Set("Accept", "application/json")
	}
	for _, h := range forwardBedrockHeaders {
		if v := clientHeader.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if b.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+b.apiKey)
	} else {
		creds, err := b.creds.Retrieve(ctx)
		if err != nil {
			return nil, apierror.Gateway(err, "the gateway has no usable AWS credentials for Bedrock; the gateway log has the details")
		}
		sum := sha256.Sum256(body)
		if err := b.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "bedrock", b.region, time.Now()); err != nil {
			return nil, apierror.Gateway(err, "signing the Bedrock request failed")
		}
	}
	resp, err := doTimed(b.client, req, b.timeouts, op == "invoke-with-response-stream", "Bedrock")
	if err != nil {
		return nil, transportError("Bedrock", ctx, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	msg := gjson.GetBytes(raw, "message").String()
	if msg == "" {
		msg = gjson.GetBytes(raw, "Message").String()
	}
	if msg == "" {
		msg = strings.TrimSpace(string(raw))
	}
	e := bedrock.UpstreamError(resp.Header.Get("X-Amzn-ErrorType"), resp.StatusCode, msg)
	e.UpstreamRequestID = resp.Header.Get("x-amzn-RequestId")
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra > 0 {
		e.RetryAfter = time.Duration(ra) * time.Second
	}
	return nil, e
}

// forwardBedrockHeaders are client headers that select Bedrock features and
// are safe to pass on (and are signed with the request).
var forwardBedrockHeaders = []string{
	"X-Amzn-Bedrock-GuardrailIdentifier",
	"X-Amzn-Bedrock-GuardrailVersion",
	"X-Amzn-Bedrock-Trace",
	"X-Amzn-Bedrock-PerformanceConfig-Latency",
	"X-Amzn-Bedrock-Service-Tier",
}

// transportError classifies a failed round trip: the client leaving, a
// timeout (never retried: the upstream may have generated, and billed, the
// answer), or an unreachable upstream (retried: nothing was generated).
func transportError(upstream string, ctx context.Context, err error) *apierror.Error {
	switch {
	case ctx.Err() != nil:
		return &apierror.Error{Status: 499, Type: apierror.TypeAPI, Origin: apierror.OriginClient, Message: "client went away", Err: err}
	case errors.Is(err, errHeaderTimeout):
		return &apierror.Error{Status: http.StatusGatewayTimeout, Type: apierror.TypeTimeout, Origin: apierror.OriginUpstream,
			Message: upstream + " did not answer in time (" + err.Error() + ")", Err: err}
	}
	return &apierror.Error{Status: http.StatusBadGateway, Type: apierror.TypeAPI, Origin: apierror.OriginUpstream,
		Message: upstream + " could not be reached: " + trimURLError(err), Retryable: true, Err: err}
}

func trimURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// bedrockStream adapts an event-stream body to EventStream.
type bedrockStream struct {
	body io.ReadCloser
	fr   *bedrock.FrameReader
}

func newBedrockStream(body io.ReadCloser) *bedrockStream {
	return &bedrockStream{body: body, fr: bedrock.NewFrameReader(body)}
}

func (s *bedrockStream) Next() (anthropic.Event, error) {
	for {
		f, err := s.fr.Next()
		if err != nil {
			if err == io.EOF {
				return anthropic.Event{}, io.EOF
			}
			if e, ok := errors.AsType[*apierror.Error](err); ok {
				return anthropic.Event{}, e // the body went silent
			}
			if errors.Is(err, bedrock.ErrBadChunk) {
				return anthropic.Event{}, &apierror.Error{Status: http.StatusBadGateway, Type: apierror.TypeAPI,
					Origin: apierror.OriginUpstream, Message: "Bedrock sent a malformed stream chunk", Err: err}
			}
			return anthropic.Event{}, fmt.Errorf("%w: %v", io.ErrUnexpectedEOF, err)
		}
		switch f.MessageType {
		case "event":
			if f.EventType != "chunk" {
				continue
			}
			if f.Event.Type == anthropic.EventError {
				return anthropic.Event{}, errorFromEvent(f.Event.Data)
			}
			return f.Event, nil
		case "exception", "error":
			return anthropic.Event{}, bedrock.UpstreamError(f.ExceptionType, 0, f.Message)
		}
	}
}

func (s *bedrockStream) Close() error { return s.body.Close() }

// Ready reports whether the next frame has arrived whole; see
// bedrock.FrameReader.Ready.
func (s *bedrockStream) Ready() bool { return s.fr.Ready() }

// errorFromEvent turns an Anthropic "error" stream event into an error. The
// event is relayed as it came, minus any credential it quotes (redact).
func errorFromEvent(data []byte) *apierror.Error {
	data = redact.JSON(data)
	typ := gjson.GetBytes(data, "error.type").String()
	if typ == "" {
		typ = apierror.TypeAPI
	}
	status := http.StatusInternalServerError
	retryable := true
	switch typ {
	case apierror.TypeOverloaded:
		status = 529
	case apierror.TypeRateLimit:
		status = http.StatusTooManyRequests
	case apierror.TypeInvalidRequest:
		status, retryable = http.StatusBadRequest, false
	}
	return &apierror.Error{Status: status, Type: typ, Origin: apierror.OriginUpstream,
		Message: gjson.GetBytes(data, "error.message").String(), Retryable: retryable, UpstreamBody: data}
}
