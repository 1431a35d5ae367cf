package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/metrics"
	"github.com/tollgate-gw/tollgate/internal/openai"
	"github.com/tollgate-gw/tollgate/internal/router"
)

// The OpenAI front door serves POST /v1/chat/completions for OpenAI clients
// (the openai SDKs, and the many tools built on them) with Claude behind it.
// The request is translated to an Anthropic Messages body on the way in
// (internal/openai) and then takes the Anthropic door's path exactly —
// routing, keys, budgets, rate limits, dispatch, metering — and the answer
// is translated back on the way out. Metering reads the Anthropic answer
// before translation, so usage rows carry the same token kinds and cost as
// on the Anthropic door.

// openaiDoor speaks OpenAI Chat Completions: OpenAI error JSON and
// chat.completion.chunk SSE ending in "data: [DONE]". The route's value is
// the zero one; decode returns a copy that carries what this call's answer
// needs (the model name as asked, include_usage, a json_schema response
// format), which replaces it as the call's door.
type openaiDoor struct {
	answer       openai.Answer
	includeUsage bool
}

func (openaiDoor) name() metrics.Door { return metrics.DoorOpenAI }

// tellsSpend is false: OpenAI clients read no anthropic-ratelimit-* headers
// and would take the billing_error cap answer for a plain 400.
func (openaiDoor) tellsSpend() bool { return false }

// header sets nothing: the adapter's x-request-id is the header OpenAI's
// SDKs already report as the request id.
func (openaiDoor) header(http.Header, string) {}

func (openaiDoor) checkContentType(r *http.Request) error {
	return anthropicDoor{}.checkContentType(r)
}

// decode reads POST /v1/chat/completions and translates it. The user field
// is recorded as the usage row's "user" tag, and not sent upstream.
func (openaiDoor) decode(o op, r *http.Request, read func() ([]byte, error), _ *anthropic.BetaSet) (callSpec, error) {
	body, err := read()
	if err != nil {
		return callSpec{}, err
	}
	req, err := openai.ToAnthropic(body)
	if err != nil {
		var te *openai.Error
		if errors.As(err, &te) {
			return callSpec{}, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%s: %s", te.Param, te.Message)
		}
		return callSpec{}, err
	}
	if err := checkModelName("model", req.Model); err != nil {
		return callSpec{}, err
	}
	if req.MaxTokens > MaxOutputTokens {
		return callSpec{}, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"max_completion_tokens: %d is more than any Claude model can produce (at most %d)", req.MaxTokens, MaxOutputTokens)
	}
	spec := callSpec{model: req.Model, maxTokens: req.MaxTokens, body: req.Body, stream: req.Stream,
		door: openaiDoor{answer: openai.Answer{Model: req.Model, Created: time.Now().Unix(), JSON: req.JSON},
			includeUsage: req.IncludeUsage}}
	if req.User != "" {
		if err := checkText("user", req.User); err != nil {
			return callSpec{}, err
		}
		spec.tags = map[string]string{"user": truncate(req.User, 256)}
	}
	return spec, nil
}

func (openaiDoor) answerHeader(http.Header, anthropic.Usage) {}

// writeAnswer translates a non-streamed Anthropic answer.
func (d openaiDoor) writeAnswer(w http.ResponseWriter, body []byte) error {
	out, err := openai.FromAnthropic(body, d.answer)
	if err != nil {
		return apierror.Gateway(err, "translating the upstream answer failed")
	}
	_, err = w.Write(out)
	return err
}

// writeCount is never called: the OpenAI API has no token-count route.
func (openaiDoor) writeCount(http.ResponseWriter, int64) error {
	return apierror.Client(http.StatusNotFound, apierror.TypeNotFound, "token counting is not served on the OpenAI door")
}

// writeError answers in OpenAI's error shape. Upstream error bodies are
// Anthropic's or Bedrock's, which OpenAI clients cannot read, so only their
// message is kept. 529 (Anthropic's overloaded) becomes 503, which OpenAI's
// SDKs retry like any 5xx.
func (openaiDoor) writeError(w http.ResponseWriter, _ string, e *apierror.Error) {
	status := e.Status
	if status == 529 {
		status = http.StatusServiceUnavailable
	}
	typ, code := openaiErrorType(e)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(openai.ErrorBody(typ, code, errorParam(e), e.Message))
}

// openaiErrorType names an error as OpenAI's API would: its error types,
// and the codes its SDKs and clients branch on.
func openaiErrorType(e *apierror.Error) (typ, code string) {
	switch e.Type {
	case apierror.TypeAuthentication:
		return "invalid_request_error", "invalid_api_key"
	case apierror.TypePermission:
		return "invalid_request_error", "permission_denied"
	case apierror.TypeNotFound:
		return "invalid_request_error", "model_not_found"
	case apierror.TypeRateLimit:
		return "rate_limit_exceeded", "rate_limit_exceeded"
	case apierror.TypeInvalidRequest, apierror.TypeRequestTooLarge:
		return "invalid_request_error", ""
	}
	return "server_error", ""
}

// errorParam recovers the parameter a refusal names: the door's and the
// translation's messages start "<param>: ".
func errorParam(e *apierror.Error) string {
	if e.Status != http.StatusBadRequest || e.Origin != apierror.OriginClient {
		return ""
	}
	p, _, ok := strings.Cut(e.Message, ": ")
	if !ok || strings.ContainsAny(p, " \"") {
		return ""
	}
	return p
}

func (d openaiDoor) streamWriter(w http.ResponseWriter) eventWriter {
	return &chunkWriter{w: w, s: openai.NewStream(d.answer, d.includeUsage), buf: make([]byte, 0, 4096)}
}

// chunkWriter writes an Anthropic event stream as chat.completion.chunk SSE.
type chunkWriter struct {
	w   http.ResponseWriter
	s   *openai.Stream
	buf []byte
}

func (c *chunkWriter) header(h http.Header) {
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

func (c *chunkWriter) writeEvent(ev anthropic.Event) error {
	c.buf = c.s.AppendEvent(c.buf[:0], ev)
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.w.Write(c.buf)
	return err
}

func (c *chunkWriter) writeError(e *apierror.Error) error {
	typ, code := openaiErrorType(e)
	_, err := c.w.Write(openai.AppendError(nil, typ, code, e.Message))
	return err
}

// isOpenAIClient reports whether a GET /v1/models comes from an OpenAI
// client, which wants OpenAI's list shape: its User-Agent starts with
// "OpenAI/" (the openai SDKs: "OpenAI/Go", "OpenAI/JS", "OpenAI/Python")
// and it sends no anthropic-version header, which every Anthropic SDK and
// Claude Code send. Anything else gets the Anthropic shape, so Claude Code's
// model discovery never changes.
func isOpenAIClient(r *http.Request) bool {
	return r.Header.Get("anthropic-version") == "" && strings.HasPrefix(r.UserAgent(), "OpenAI/")
}

// openaiModelJSON is one model in OpenAI's shape.
type openaiModelJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func toOpenAIModel(m router.ModelInfo) openaiModelJSON {
	created := int64(0)
	if !m.CreatedAt.IsZero() {
		created = m.CreatedAt.Unix()
	}
	return openaiModelJSON{ID: m.ID, Object: "model", Created: created, OwnedBy: "anthropic"}
}

// openaiModels serves GET /v1/models to an OpenAI client; errors, a bad key
// included, answer in OpenAI's shape too.
func (s *Server) openaiModels(w http.ResponseWriter, r *http.Request, x *exchange) error {
	x.door = openaiDoor{}
	p, err := s.authenticate(r, x)
	if err != nil {
		return err
	}
	out := struct {
		Object string            `json:"object"`
		Data   []openaiModelJSON `json:"data"`
	}{Object: "list", Data: []openaiModelJSON{}}
	for _, m := range s.modelsFor(p) {
		out.Data = append(out.Data, toOpenAIModel(m))
	}
	return writeJSON(w, http.StatusOK, out)
}

// openaiModel serves GET /v1/models/{id} to an OpenAI client.
func (s *Server) openaiModel(w http.ResponseWriter, r *http.Request, x *exchange) error {
	x.door = openaiDoor{}
	p, err := s.authenticate(r, x)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	for _, m := range s.modelsFor(p) {
		if m.ID == id {
			return writeJSON(w, http.StatusOK, toOpenAIModel(m))
		}
	}
	return apierror.Client(http.StatusNotFound, apierror.TypeNotFound, "model %q is not configured on this gateway", id)
}
