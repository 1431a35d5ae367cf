// Package provider sends calls to upstream model providers — Bedrock and the
// Anthropic API — and returns their answers as Anthropic Messages: a JSON
// body, or a stream of Anthropic events. Translation to and from each
// upstream's wire format happens here and nowhere else on the way out.
package provider

import (
	"context"
	"io"
	"net/http"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

// Call is one request to an upstream, in the gateway's internal shape.
type Call struct {
	// Model is the upstream model id (Bedrock id or Anthropic model name).
	Model string
	// Body is an Anthropic Messages (or count_tokens) request body, raw. It
	// may still hold "model" and "stream"; providers set or remove them.
	Body []byte
	// Stream selects a streaming call.
	Stream bool
	// Betas are the anthropic-beta values of the call, in order, already
	// merged from header and body.
	Betas []string
	// Header carries client headers worth forwarding to an Anthropic-format
	// upstream (anthropic-version, x-claude-code-*). Providers never forward
	// client credentials.
	Header http.Header
	// DropBetas and DropFields are the target's rules.
	DropBetas  []string
	DropFields []string
}

// Response is an upstream's successful answer. Exactly one of Body and
// Events is set.
type Response struct {
	// Body is the Message JSON of a non-streaming call.
	Body []byte
	// Events is the event stream of a streaming call. The caller must Close
	// it.
	Events EventStream
	// RequestID is the upstream's request id, for logs.
	RequestID string
	// Header holds upstream response headers to pass to the client
	// (anthropic-ratelimit-*, retry-after on success is not expected).
	Header http.Header
	// DroppedBetas lists betas removed by the target's rules, for the log.
	DroppedBetas []string
}

// EventStream yields Anthropic events. Next returns io.EOF at the end of a
// complete stream, an *apierror.Error for an upstream error event or
// exception, and io.ErrUnexpectedEOF or a transport error when the
// connection is cut.
type EventStream interface {
	Next() (anthropic.Event, error)
	Close() error
}

// Provider is one upstream deployment.
type Provider interface {
	// Name is the provider's configured name.
	Name() string
	// Send performs a Messages call. Errors are *apierror.Error values whose
	// Retryable field says whether another attempt may succeed.
	Send(ctx context.Context, call *Call) (*Response, error)
	// CountTokens counts the input tokens of a count_tokens body.
	CountTokens(ctx context.Context, call *Call) (int64, error)
}

// BedrockEvents reads an InvokeModelWithResponseStream body (AWS event
// stream) as Anthropic events, as a Bedrock provider's Send does. It is
// exported for benchmarks and tests that feed recorded streams through the
// relay without an upstream.
func BedrockEvents(body io.ReadCloser) EventStream { return newBedrockStream(body) }

// SSEEvents reads an Anthropic Messages SSE body as events, as an Anthropic
// provider's Send does; see BedrockEvents.
func SSEEvents(body io.ReadCloser) EventStream { return newSSEStream(body) }
