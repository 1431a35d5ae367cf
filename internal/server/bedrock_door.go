package server

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/bedrock"
	"github.com/tollgate-gw/tollgate/internal/metrics"
)

// The Bedrock front door serves clients in Bedrock mode (Claude Code with
// CLAUDE_CODE_USE_BEDROCK=1 and ANTHROPIC_BEDROCK_BASE_URL pointing here).
// Their bodies are InvokeModel bodies: no model (it is the path), no stream
// (it is the operation), anthropic_version and anthropic_beta in the body —
// and Claude Code still sends some betas in the anthropic-beta header, so the
// two are merged.

// bedrockDoor speaks the Bedrock Runtime API: AWS-style error JSON with
// X-Amzn-ErrorType, and AWS event-stream answers.
type bedrockDoor struct{}

func (bedrockDoor) name() metrics.Door { return metrics.DoorBedrock }

func (bedrockDoor) tellsSpend() bool { return false }

// header sets x-amzn-RequestId, the id the AWS SDKs report in their errors
// and logs.
func (bedrockDoor) header(h http.Header, requestID string) {
	h.Set("x-amzn-RequestId", requestID)
}

// checkContentType refuses request bodies that declare themselves something
// other than JSON. InvokeModel's contract is a JSON body: the AWS SDKs send
// the caller's content type (application/json from Claude Code and the
// Anthropic Bedrock SDK) or application/octet-stream when the caller sets
// none, and some clients send nothing. Those pass; text/plain, form
// encodings and the like are refused rather than parsed as if they were
// JSON.
func (bedrockDoor) checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		switch mt {
		case "application/json", "application/octet-stream", "binary/octet-stream":
			return nil
		}
	}
	return apierror.Client(http.StatusUnsupportedMediaType, apierror.TypeInvalidRequest,
		"content-type must be application/json (or application/octet-stream), got %q", ct)
}

// decode reads POST /model/{id}/invoke, /invoke-with-response-stream and
// /count-tokens. The model is the path; a count-tokens body wraps the
// InvokeModel body, base64-encoded:
// {"input":{"invokeModel":{"body":"<base64>"}}}.
func (bedrockDoor) decode(o op, r *http.Request, read func() ([]byte, error), betas *anthropic.BetaSet) (callSpec, error) {
	model := r.PathValue("id")
	if err := checkModelName("modelId", model); err != nil {
		return callSpec{}, err
	}
	body, err := read()
	if err != nil {
		return callSpec{}, err
	}
	if o == opCountTokens {
		if body, err = invokeBody(body); err != nil {
			return callSpec{}, err
		}
		if err := addBodyBetas(betas, body); err != nil {
			return callSpec{}, err
		}
		return callSpec{model: model, body: body}, nil
	}
	if err := addBodyBetas(betas, body); err != nil {
		return callSpec{}, err
	}
	if !gjson.GetBytes(body, "messages").IsArray() {
		return callSpec{}, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "messages: field required (an array)")
	}
	maxOut, err := maxTokens(gjson.GetBytes(body, "max_tokens"))
	if err != nil {
		return callSpec{}, err
	}
	return callSpec{model: model, maxTokens: maxOut, body: body, stream: o == opMessagesStream}, nil
}

// invokeBody unwraps the InvokeModel body of a CountTokens request.
func invokeBody(outer []byte) ([]byte, error) {
	b64 := gjson.GetBytes(outer, "input.invokeModel.body")
	if b64.Type != gjson.String {
		if gjson.GetBytes(outer, "input.converse").Exists() {
			return nil, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "input.converse is not supported by this gateway; send input.invokeModel")
		}
		return nil, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "input.invokeModel.body: field required (base64 of an InvokeModel body)")
	}
	body, err := base64.StdEncoding.DecodeString(b64.Str)
	if err != nil || !utf8.Valid(body) {
		return nil, apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "input.invokeModel.body: must be base64 of a JSON object")
	}
	if err := checkJSON(body); err != nil {
		e := apierror.From(err)
		e.Message = "input.invokeModel.body: " + e.Message
		return nil, e
	}
	return body, nil
}

// answerHeader reports the token counts in headers, as InvokeModel does.
func (bedrockDoor) answerHeader(h http.Header, u anthropic.Usage) {
	h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.FormatInt(u.Input, 10))
	h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.FormatInt(u.Output, 10))
}

func (bedrockDoor) writeAnswer(w http.ResponseWriter, body []byte) error {
	_, err := w.Write(body)
	return err
}

func (bedrockDoor) writeCount(w http.ResponseWriter, n int64) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := fmt.Fprintf(w, `{"inputTokens":%d}`, n)
	return err
}

func (bedrockDoor) writeError(w http.ResponseWriter, requestID string, e *apierror.Error) {
	name, status := bedrock.ExceptionFor(e)
	if e.Origin != apierror.OriginUpstream {
		// Our own refusals keep their status (401 for a bad key, 429 over
		// budget) so clients react as they would on the Anthropic door.
		status = e.Status
	}
	if status == 529 {
		status = http.StatusServiceUnavailable
	}
	body := bedrock.ErrorBody(e.Message)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", name)
	h.Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	w.Write(body)
}

func (bedrockDoor) streamWriter(w http.ResponseWriter) eventWriter {
	return &frameWriter{fw: bedrock.NewFrameWriter(w)}
}

type frameWriter struct{ fw *bedrock.FrameWriter }

func (f *frameWriter) header(h http.Header) {
	h.Set("Content-Type", bedrock.ContentType)
	h.Set("X-Amzn-Bedrock-Content-Type", "application/json")
}

func (f *frameWriter) writeEvent(ev anthropic.Event) error { return f.fw.WriteEvent(ev) }

func (f *frameWriter) writeError(e *apierror.Error) error {
	name, _ := bedrock.ExceptionFor(e)
	return f.fw.WriteException(bedrock.StreamExceptionName(name), e.Message)
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
	routing := s.routing.Load()
	rt := routing.Router
	var out []inferenceProfile
	epoch := time.Unix(0, 0).UTC().Format(time.RFC3339)
	for _, m := range rt.Models() {
		route, err := rt.Resolve(m.ID)
		if err != nil || len(route.Targets) == 0 {
			continue
		}
		id := route.Targets[0].Model
		base, ok := bedrock.BaseModelID(id)
		if !ok {
			id = m.ID
			if base, ok = bedrock.BaseModelID(id); !ok {
				base = id
			}
		}
		out = append(out, inferenceProfile{
			InferenceProfileName: m.DisplayName,
			InferenceProfileID:   id,
			InferenceProfileArn:  fmt.Sprintf("arn:aws:bedrock:%s::inference-profile/%s", routing.Region, id),
			Description:          "Served by Tollgate as " + m.ID,
			Status:               "ACTIVE",
			Type:                 "SYSTEM_DEFINED",
			Models:               []profileModel{{ModelArn: fmt.Sprintf("arn:aws:bedrock:%s::foundation-model/%s", routing.Region, base)}},
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
