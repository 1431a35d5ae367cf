package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/keys"
	"github.com/tollgate-gw/tollgate/internal/provider"
	"github.com/tollgate-gw/tollgate/internal/router"
)

// readJSONBody reads a request body up to the size limit and checks that it is
// a JSON object, without decoding it: bodies from Claude Code run to 100 KB
// and more, and only a few fields are ever read. The Anthropic door insists
// on a JSON content type; the Bedrock door also admits
// application/octet-stream, because the AWS SDKs send it when the caller sets
// none and Bedrock accepts that (see checkBedrockContentType).
//
// The nesting depth is bounded before anything recursive looks at the body:
// gjson's validator recurses once per level, and millions of levels fit
// under the size limit.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if strings.HasPrefix(r.URL.Path, "/model/") {
		if err := checkBedrockContentType(r); err != nil {
			return nil, err
		}
	} else if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, apierror.Client(http.StatusUnsupportedMediaType, apierror.TypeInvalidRequest,
				"content-type must be application/json, got %q", ct)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apierror.Client(http.StatusRequestEntityTooLarge, apierror.TypeRequestTooLarge,
				"request body exceeds the gateway's limit of %d bytes", s.opts.MaxBodyBytes)
		}
		return nil, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "reading the request body failed: %v", err)
	}
	if len(body) == 0 {
		return nil, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "request body is empty; expected a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "request body is not valid UTF-8")
	}
	if err := checkJSON(body); err != nil {
		return nil, err
	}
	return body, nil
}

// checkJSON checks that body is a JSON object nested at most
// anthropic.MaxDepth deep, bounding the depth first.
func checkJSON(body []byte) error {
	if anthropic.CheckDepth(body, anthropic.MaxDepth) != nil {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"request body nests arrays and objects more than %d levels deep", anthropic.MaxDepth)
	}
	if !gjson.ValidBytes(body) {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "request body is not valid JSON")
	}
	if !gjson.ParseBytes(body).IsObject() {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "request body must be a JSON object")
	}
	return nil
}

// anthropicMessages serves POST /v1/messages (any query, such as Claude
// Code's ?beta=true, is ignored).
func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request, x *exchange) error {
	p, done, err := s.begin(r, x)
	defer done()
	if err != nil {
		return err
	}
	betas, err := headerBetas(r)
	if err != nil {
		return err
	}
	body, err := s.readJSONBody(w, r)
	if err != nil {
		return err
	}
	fields := gjson.GetManyBytes(body, "model", "stream", "max_tokens", "messages")
	if fields[0].Type != gjson.String {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "model: field required (a string)")
	}
	if err := checkModelName("model", fields[0].Str); err != nil {
		return err
	}
	if fields[1].Exists() && !fields[1].IsBool() {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "stream: must be a boolean")
	}
	maxOut, err := maxTokens(fields[2])
	if err != nil {
		return err
	}
	if !fields[3].IsArray() {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "messages: field required (an array)")
	}
	if err := checkAttribution(r.Header); err != nil {
		return err
	}
	return s.messages(w, r, x, callSpec{
		principal: p,
		model:     fields[0].Str,
		maxTokens: maxOut,
		body:      body,
		stream:    fields[1].Bool(),
		betas:     betas,
		header:    r.Header,
	})
}

// anthropicCountTokens serves POST /v1/messages/count_tokens.
func (s *Server) anthropicCountTokens(w http.ResponseWriter, r *http.Request, x *exchange) error {
	p, err := s.authenticate(r, x)
	if err != nil {
		return err
	}
	betas, err := headerBetas(r)
	if err != nil {
		return err
	}
	body, err := s.readJSONBody(w, r)
	if err != nil {
		return err
	}
	model := gjson.GetBytes(body, "model")
	if model.Type != gjson.String {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "model: field required (a string)")
	}
	if err := checkModelName("model", model.Str); err != nil {
		return err
	}
	if err := checkAttribution(r.Header); err != nil {
		return err
	}
	if !gjson.GetBytes(body, "messages").IsArray() {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "messages: field required (an array)")
	}
	n, err := s.countTokens(r, x, p, model.Str, body, betas)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = fmt.Fprintf(w, `{"input_tokens":%d}`, n)
	return err
}

// countTokens asks the route's targets in order; counting is not billed, so
// the first target that answers wins. The key's model allowlist applies.
func (s *Server) countTokens(r *http.Request, x *exchange, p keys.Principal, model string, body []byte, set *anthropic.BetaSet) (int64, error) {
	rt, err := s.resolve(x, model)
	if err != nil {
		return 0, err
	}
	if !s.allowedModel(p, rt) {
		return 0, apierror.Client(http.StatusForbidden, apierror.TypePermission,
			"key %q may not use model %q", p.KeyName, rt.Model).NoRetry()
	}
	if err := set.Add(rt.AddBetas...); err != nil {
		return 0, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%v", err)
	}
	betas := set.List()
	var last error
	for _, t := range rt.Targets {
		p, ok := s.providers[t.Provider]
		if !ok {
			continue
		}
		x.provider, x.target = t.Provider, t.Model
		x.attempts++
		n, err := p.CountTokens(r.Context(), &provider.Call{Model: t.Model, Body: body, Betas: betas, Header: r.Header,
			DropBetas: t.DropBetas, DropFields: t.DropFields})
		if err == nil {
			return n, nil
		}
		last = err
		if !apierror.From(err).Retryable {
			break
		}
	}
	if last == nil {
		last = apierror.Gateway(nil, "model %q has no usable targets", model)
	}
	return 0, last
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
	rt := s.router.Load()
	all := rt.Models()
	if len(p.Models) == 0 {
		return all
	}
	out := make([]router.ModelInfo, 0, len(p.Models))
	for _, m := range all {
		if route, err := rt.Resolve(m.ID); err == nil && s.allowedModel(p, route) {
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
