package server

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/bedrock"
)

// The Bedrock front door serves clients in Bedrock mode (Claude Code with
// CLAUDE_CODE_USE_BEDROCK=1 and ANTHROPIC_BEDROCK_BASE_URL pointing here).
// Their bodies are InvokeModel bodies: no model (it is the path), no stream
// (it is the operation), anthropic_version and anthropic_beta in the body —
// and Claude Code still sends some betas in the anthropic-beta header, so the
// two are merged.

func (s *Server) bedrockInvoke(w http.ResponseWriter, r *http.Request, x *exchange) error {
	return s.bedrockMessages(w, r, x, false)
}

func (s *Server) bedrockInvokeStream(w http.ResponseWriter, r *http.Request, x *exchange) error {
	return s.bedrockMessages(w, r, x, true)
}

func (s *Server) bedrockMessages(w http.ResponseWriter, r *http.Request, x *exchange, stream bool) error {
	p, done, err := s.begin(r, x)
	defer done()
	if err != nil {
		return err
	}
	betas, err := headerBetas(r)
	if err != nil {
		return err
	}
	model := r.PathValue("id")
	if err := checkModelName("modelId", model); err != nil {
		return err
	}
	if err := checkAttribution(r.Header); err != nil {
		return err
	}
	body, err := s.readJSONBody(w, r)
	if err != nil {
		return err
	}
	if err := addBodyBetas(betas, body); err != nil {
		return err
	}
	if !gjson.GetBytes(body, "messages").IsArray() {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "messages: field required (an array)")
	}
	maxOut, err := maxTokens(gjson.GetBytes(body, "max_tokens"))
	if err != nil {
		return err
	}
	return s.messages(w, r, x, callSpec{
		principal: p,
		model:     model,
		maxTokens: maxOut,
		body:      body,
		stream:    stream,
		betas:     betas,
		header:    r.Header,
	})
}

// addBodyBetas adds an InvokeModel body's anthropic_beta array to set:
// Claude Code in Bedrock mode splits its betas between the header and the
// body.
func addBodyBetas(set *anthropic.BetaSet, body []byte) error {
	v := gjson.GetBytes(body, "anthropic_beta")
	if !v.Exists() {
		return nil
	}
	bad := apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest,
		"anthropic_beta: must be an array of at most %d strings of at most %d bytes", anthropic.MaxBetas, anthropic.MaxBetaLen)
	if !v.IsArray() {
		return bad
	}
	var err error
	v.ForEach(func(_, b gjson.Result) bool {
		if b.Type != gjson.String {
			err = bad
		} else if set.Add(b.Str) != nil {
			err = bad
		}
		return err == nil
	})
	return err
}

// bedrockCountTokens serves POST /model/{id}/count-tokens:
// {"input":{"invokeModel":{"body":"<base64>"}}} → {"inputTokens":N}.
func (s *Server) bedrockCountTokens(w http.ResponseWriter, r *http.Request, x *exchange) error {
	p, err := s.authenticate(r, x)
	if err != nil {
		return err
	}
	betas, err := headerBetas(r)
	if err != nil {
		return err
	}
	model := r.PathValue("id")
	if err := checkModelName("modelId", model); err != nil {
		return err
	}
	if err := checkAttribution(r.Header); err != nil {
		return err
	}
	outer, err := s.readJSONBody(w, r)
	if err != nil {
		return err
	}
	b64 := gjson.GetBytes(outer, "input.invokeModel.body")
	if b64.Type != gjson.String {
		if gjson.GetBytes(outer, "input.converse").Exists() {
			return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "input.converse is not supported by this gateway; send input.invokeModel")
		}
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "input.invokeModel.body: field required (base64 of an InvokeModel body)")
	}
	body, err := base64.StdEncoding.DecodeString(b64.Str)
	if err != nil || !utf8.Valid(body) {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "input.invokeModel.body: must be base64 of a JSON object")
	}
	if err := checkJSON(body); err != nil {
		e := apierror.From(err)
		e.Message = "input.invokeModel.body: " + e.Message
		return e
	}
	if err := addBodyBetas(betas, body); err != nil {
		return err
	}
	n, err := s.countTokens(r, x, p, model, body, betas)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = fmt.Fprintf(w, `{"inputTokens":%d}`, n)
	return err
}

// inferenceProfile is the ListInferenceProfiles summary shape.
type inferenceProfile struct {
	InferenceProfileName string         `json:"inferenceProfileName"`
	InferenceProfileID   string         `json:"inferenceProfileId"`
	InferenceProfileArn  string         `json:"inferenceProfileArn"`
	Description          string         `json:"description"`
	Status               string         `json:"status"`
	Type                 string         `json:"type"`
	Models               []profileModel `json:"models"`
	CreatedAt            string         `json:"createdAt"`
	UpdatedAt            string         `json:"updatedAt"`
}

type profileModel struct {
	ModelArn string `json:"modelArn"`
}

// profiles lists the gateway's models as system-defined inference profiles.
// Claude Code calls ListInferenceProfiles first in Bedrock mode, without
// credentials; the answer holds only model names, so it needs no key.
func (s *Server) profiles() []inferenceProfile {
	rt := s.router.Load()
	var out []inferenceProfile
	epoch := time.Unix(0, 0).UTC().Format(time.RFC3339)
	for _, m := range rt.Models() {
		route, err := rt.Resolve(m.ID)
		if err != nil || len(route.Targets) == 0 {
			continue
		}
		id := route.Targets[0].Model
		if !bedrock.IsModelID(id) || strings.HasPrefix(id, "arn:") {
			id = m.ID
		}
		base := bedrock.BaseModelID(id)
		out = append(out, inferenceProfile{
			InferenceProfileName: m.DisplayName,
			InferenceProfileID:   id,
			InferenceProfileArn:  fmt.Sprintf("arn:aws:bedrock:%s::inference-profile/%s", s.opts.Region, id),
			Description:          "Served by Tollgate as " + m.ID,
			Status:               "ACTIVE",
			Type:                 "SYSTEM_DEFINED",
			Models:               []profileModel{{ModelArn: fmt.Sprintf("arn:aws:bedrock:%s::foundation-model/%s", s.opts.Region, base)}},
			CreatedAt:            epoch,
			UpdatedAt:            epoch,
		})
	}
	return out
}

func (s *Server) bedrockListProfiles(w http.ResponseWriter, r *http.Request, x *exchange) error {
	return writeJSON(w, http.StatusOK, struct {
		Summaries []inferenceProfile `json:"inferenceProfileSummaries"`
	}{s.profiles()})
}

func (s *Server) bedrockGetProfile(w http.ResponseWriter, r *http.Request, x *exchange) error {
	id := r.PathValue("id")
	for _, p := range s.profiles() {
		if p.InferenceProfileID == id || p.InferenceProfileArn == id {
			return writeJSON(w, http.StatusOK, p)
		}
	}
	return apierror.Client(http.StatusNotFound, apierror.TypeNotFound, "inference profile %q is not served by this gateway", id)
}
