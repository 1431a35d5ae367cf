package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/redact"
)

// AnthropicOptions configure an Anthropic API provider.
type AnthropicOptions struct {
	Name      string
	BaseURL   string // default https://api.anthropic.com
	APIKey    string // the server's key; client keys are never forwarded
	Transport TransportOptions
}

// Anthropic passes calls through to the Anthropic API with the server's key.
// Headers and body are open lists there: anthropic-version, anthropic-beta and
// every body field travel as the client sent them.
type Anthropic struct {
	name     string
	base     string
	apiKey   string
	client   *http.Client
	timeouts TransportOptions
}

// NewAnthropic builds an Anthropic API provider.
func NewAnthropic(o AnthropicOptions) (*Anthropic, error) {
	o.Transport.applyDefaults()
	base := o.BaseURL
	if base == "" {
		base = "https://api.anthropic.com"
	}
	if u, err := url.Parse(base); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("anthropic: base URL %q is not an absolute URL", base)
	}
	return &Anthropic{
		name:     o.Name,
		base:     strings.TrimSuffix(base, "/"),
		apiKey:   o.APIKey,
		client:   &http.Client{Transport: NewTransport(o.Transport)},
		timeouts: o.Transport,
	}, nil
}

// Name implements Provider.
func (a *Anthropic) Name() string { return a.name }

// forwardAnthropicHeaders are client headers passed to the Anthropic API.
// anthropic-beta is rebuilt from Call.Betas after the target's rules.
var forwardAnthropicHeaders = []string{
	"anthropic-version",
	"x-claude-code-session-id",
	"x-claude-code-agent-id",
	"x-claude-code-parent-agent-id",
	"x-app",
}

// Send implements Provider.
func (a *Anthropic) Send(ctx context.Context, call *Call) (*Response, error) {
	body, dropped, err := a.prepare(call)
	if err != nil {
		return nil, err
	}
	if call.Stream {
		body, _ = sjson.SetBytes(body, "stream", true)
	} else if gjson.GetBytes(body, "stream").Exists() {
		body, _ = sjson.DeleteBytes(body, "stream")
	}
	resp, err := a.do(ctx, "/v1/messages", body, call)
	if err != nil {
		return nil, err
	}
	out := &Response{RequestID: resp.Header.Get("request-id"), Header: passHeaders(resp.Header), DroppedBetas: dropped}
	if call.Stream {
		out.Events = newSSEStream(resp.Body)
		return out, nil
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(resp.Body)
	if err != nil {
		if e, ok := errors.AsType[*apierror.Error](err); ok {
			e.UpstreamRequestID = out.RequestID
			return nil, e // the body went silent: not retried
		}
		return nil, &apierror.Error{Status: http.StatusBadGateway, Type: apierror.TypeAPI, Origin: apierror.OriginUpstream,
			Message: "reading the Anthropic response failed", Retryable: true, UpstreamRequestID: out.RequestID, Err: err}
	}
	out.Body = msg
	return out, nil
}

// CountTokens implements Provider.
func (a *Anthropic) CountTokens(ctx context.Context, call *Call) (int64, error) {
	body, _, err := a.prepare(call)
	if err != nil {
		return 0, err
	}
	resp, err := a.do(ctx, "/v1/messages/count_tokens", body, call)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	n := gjson.GetBytes(raw, "input_tokens")
	if err != nil || n.Type != gjson.Number {
		return 0, &apierror.Error{Status: http.StatusBadGateway, Type: apierror.TypeAPI, Origin: apierror.OriginUpstream,
			Message: "the Anthropic API sent an unreadable count_tokens answer", Err: err}
	}
	return n.Int(), nil
}

// prepare sets the upstream model, removes Bedrock-only fields a Bedrock-mode
// client may have sent, and applies the target's field rules.
func (a *Anthropic) prepare(call *Call) ([]byte, []string, error) {
	body, err := sjson.SetBytes(call.Body, "model", call.Model)
	if err != nil {
		return nil, nil, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "request body must be a JSON object")
	}
	for _, f := range append([]string{"anthropic_version", "anthropic_beta"}, call.DropFields...) {
		if k := anthropic.FieldPath(f); gjson.GetBytes(body, k).Exists() {
			body, _ = sjson.DeleteBytes(body, k)
		}
	}
	_, dropped := anthropic.FilterBetas(call.Betas, call.DropBetas)
	return body, dropped, nil
}

func (a *Anthropic) do(ctx context.Context, path string, body []byte, call *Call) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, apierror.Gateway(err, "building the Anthropic request failed")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", a.apiKey)
	for _, h := range forwardAnthropicHeaders {
		if v := call.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if req.Header.Get("anthropic-version") == "" {
		req.Header.Set("anthropic-version", "2023-06-01")
	}
	if betas, _ := anthropic.FilterBetas(call.Betas, call.DropBetas); len(betas) > 0 {
		req.Header.Set("anthropic-beta", strings.Join(betas, ","))
	}
	resp, err := doTimed(a.client, req, a.timeouts, call.Stream && path == "/v1/messages", "the Anthropic API")
	if err != nil {
		return nil, transportError("the Anthropic API", ctx, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	// The body is relayed as it came (UpstreamBody) and its message logged,
	// so any credential it quotes goes first.
	raw = redact.JSON(raw)
	e := &apierror.Error{
		Status:            resp.StatusCode,
		Type:              gjson.GetBytes(raw, "error.type").String(),
		Message:           gjson.GetBytes(raw, "error.message").String(),
		Origin:            apierror.OriginUpstream,
		UpstreamRequestID: resp.Header.Get("request-id"),
		Retryable:         resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
	}
	if e.Type == "" {
		e.Type = apierror.TypeForStatus(resp.StatusCode)
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(raw))
	} else {
		e.UpstreamBody = raw
	}
	if v := resp.Header.Get("x-should-retry"); v != "" {
		b := v == "true"
		e.ShouldRetry = &b
		e.Retryable = e.Retryable && b
	}
	if ra, err := strconv.Atoi(resp.Header.Get("retry-after")); err == nil && ra > 0 {
		e.RetryAfter = time.Duration(ra) * time.Second
	}
	return nil, e
}

// passHeaders selects upstream response headers that clients read.
func passHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "anthropic-ratelimit-") {
			out[k] = v
		}
	}
	return out
}

// sseStream adapts an SSE body to EventStream.
type sseStream struct {
	body io.ReadCloser
	r    *anthropic.SSEReader
}

func newSSEStream(body io.ReadCloser) *sseStream {
	return &sseStream{body: body, r: anthropic.NewSSEReader(body)}
}

func (s *sseStream) Next() (anthropic.Event, error) {
	ev, err := s.r.Next()
	if err != nil {
		return ev, err
	}
	if ev.Type == anthropic.EventError {
		return anthropic.Event{}, errorFromEvent(ev.Data)
	}
	return ev, nil
}

func (s *sseStream) Close() error { return s.body.Close() }

// Ready reports whether the next event has arrived whole; see
// anthropic.SSEReader.Ready.
func (s *sseStream) Ready() bool { return s.r.Ready() }
