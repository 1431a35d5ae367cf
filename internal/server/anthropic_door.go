package server

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/keys"
	"github.com/tollgate-gw/tollgate/internal/metrics"
	"github.com/tollgate-gw/tollgate/internal/router"
)

// anthropicDoor speaks the Anthropic Messages API: Anthropic error JSON and
// SSE streams.
type anthropicDoor struct{}

func (anthropicDoor) name() metrics.Door { return metrics.DoorAnthropic }

func (anthropicDoor) tellsSpend() bool { return true }

func (anthropicDoor) header(http.Header, string) {}

// checkContentType insists on JSON, as the Anthropic API does; a request
// that declares no type is read as JSON.
func (anthropicDoor) checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return apierror.Client(http.StatusUnsupportedMediaType, apierror.TypeInvalidRequest,
			"content-type must be application/json, got %q", ct)
	}
	return nil
}

// decode reads POST /v1/messages and /v1/messages/count_tokens (any query,
// such as Claude Code's ?beta=true, is ignored): everything is in the body.
func (anthropicDoor) decode(o op, r *http.Request, read func() ([]byte, error), _ *anthropic.BetaSet) (callSpec, error) {
	body, err := read()
	if err != nil {
		return callSpec{}, err
	}
	fields := gjson.GetManyBytes(body, "model", "stream", "max_tokens", "messages")
	if fields[0].Type != gjson.String {
		return callSpec{}, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "model: field required (a string)")
	}
	if err := checkModelName("model", fields[0].Str); err != nil {
		return callSpec{}, err
	}
	spec := callSpec{model: fields[0].Str, body: body}
	if o != opCountTokens {
		if fields[1].Exists() && !fields[1].IsBool() {
			return callSpec{}, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "stream: must be a boolean")
		}
		if spec.maxTokens, err = maxTokens(fields[2]); err != nil {
			return callSpec{}, err
		}
		spec.stream = fields[1].Bool() || o == opMessagesStream
	}
	if !fields[3].IsArray() {
		return callSpec{}, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "messages: field required (an array)")
	}
	return spec, nil
}

func (anthropicDoor) answerHeader(http.Header, anthropic.Usage) {}

func (anthropicDoor) writeAnswer(w http.ResponseWriter, body []byte) error {
	_, err := w.Write(body)
	return err
}

func (anthropicDoor) writeCount(w http.ResponseWriter, n int64) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := fmt.Fprintf(w, `{"input_tokens":%d}`, n)
	return err
}

func (anthropicDoor) writeError(w http.ResponseWriter, requestID string, e *apierror.Error) {
	body := e.UpstreamBody
	if len(body) == 0 || e.Origin != apierror.OriginUpstream {
		body = anthropic.ErrorBody(e.Type, e.Message, requestID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	w.Write(body)
}

func (anthropicDoor) streamWriter(w http.ResponseWriter) eventWriter {
	return &sseWriter{w: w} // buf grows to the largest event and is reused
}

type sseWriter struct {
	w   http.ResponseWriter
	buf []byte
}

func (s *sseWriter) header(h http.Header) {
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

func (s *sseWriter) writeEvent(ev anthropic.Event) error {
	s.buf = anthropic.AppendSSE(s.buf[:0], ev)
	_, err := s.w.Write(s.buf)
	return err
}

func (s *sseWriter) writeError(e *apierror.Error) error {
	return s.writeEvent(anthropic.Event{Type: anthropic.EventError, Data: anthropic.ErrorEventData(e.Type, e.Message)})
}

// modelJSON is one entry of GET /v1/models, in the Anthropic API's shape.
type modelJSON struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

func toModelJSON(m router.ModelInfo) modelJSON {
	created := m.CreatedAt
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	name := m.DisplayName
	if name == "" {
		name = m.ID
	}
	return modelJSON{Type: "model", ID: m.ID, DisplayName: name, CreatedAt: created.UTC().Format(time.RFC3339)}
}

// anthropicModels serves GET /v1/models with every configured model, so that
// Claude Code's gateway model discovery lists what this gateway serves.
func (s *Server) anthropicModels(w http.ResponseWriter, r *http.Request, x *exchange) error {
	if isOpenAIClient(r) {
		return s.openaiModels(w, r, x)
	}
	p, err := s.authenticate(r, x)
	if err != nil {
		return err
	}
	models := s.modelsFor(p)
	limit := len(models)
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "limit: must be a positive integer")
		}
		limit = min(n, limit)
	}
	out := struct {
		Data    []modelJSON `json:"data"`
		HasMore bool        `json:"has_more"`
		FirstID *string     `json:"first_id"`
		LastID  *string     `json:"last_id"`
	}{Data: make([]modelJSON, 0, limit), HasMore: limit < len(models)}
	for _, m := range models[:limit] {
		out.Data = append(out.Data, toModelJSON(m))
	}
	if len(out.Data) > 0 {
		out.FirstID, out.LastID = &out.Data[0].ID, &out.Data[len(out.Data)-1].ID
	}
	return writeJSON(w, http.StatusOK, out)
}

// anthropicModel serves GET /v1/models/{id}.
func (s *Server) anthropicModel(w http.ResponseWriter, r *http.Request, x *exchange) error {
	if isOpenAIClient(r) {
		return s.openaiModel(w, r, x)
	}
	p, err := s.authenticate(r, x)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	for _, m := range s.modelsFor(p) {
		if m.ID == id {
			return writeJSON(w, http.StatusOK, toModelJSON(m))
		}
	}
	return apierror.Client(http.StatusNotFound, apierror.TypeNotFound, "model %q is not configured on this gateway", id)
}

// modelsFor lists the models a key may use: all of them, or those its
// allowlist admits.
func (s *Server) modelsFor(p keys.Principal) []router.ModelInfo {
	rt := s.routing.Load().Router
	all := rt.Models()
	if len(p.Models) == 0 {
		return all
	}
	out := make([]router.ModelInfo, 0, len(p.Models))
	for _, m := range all {
		if route, err := rt.Resolve(m.ID); err == nil && allowedModel(rt, p, route) {
			out = append(out, m)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return apierror.Gateway(err, "encoding the response failed")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}
