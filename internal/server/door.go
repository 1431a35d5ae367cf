package server

import (
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/metrics"
)

// door is a front door: one client wire format, from request to answer.
// Everything that differs between the Anthropic and the Bedrock APIs lives
// behind it, so the call pipeline (modelCall, messages, countTokens) and the
// adapter (handle) never ask which door they serve. A new door — OpenAI's
// /v1/chat/completions — is a new type in its own file and its routes.
type door interface {
	// name is the door's name in usage rows and metrics (a metrics.Door*
	// constant).
	name() metrics.Door
	// header sets the headers every answer on this door carries, error or
	// success, such as the request id under the name the client's SDK
	// reports.
	header(h http.Header, requestID string)
	// checkContentType refuses a request body whose declared type the
	// door's API would not accept, before the body is read.
	checkContentType(r *http.Request) error
	// decode reads a model call (op) from the request. read returns the
	// body, bounded, UTF-8 and JSON-object checked; the door calls it once
	// it has refused what the headers and path alone can refuse, so that
	// such refusals never wait for a body. betas holds the header betas;
	// a door whose body also carries betas adds them.
	decode(o op, r *http.Request, read func() ([]byte, error), betas *anthropic.BetaSet) (callSpec, error)
	// answerHeader sets the door's extra headers of a non-streamed
	// Messages answer, given the usage it reports.
	answerHeader(h http.Header, u anthropic.Usage)
	// writeAnswer writes a non-streamed Messages answer, body being the
	// upstream's Anthropic-shaped one.
	writeAnswer(w http.ResponseWriter, body []byte) error
	// writeCount writes a token-count answer.
	writeCount(w http.ResponseWriter, n int64) error
	// writeError writes an error answer before anything else was written.
	writeError(w http.ResponseWriter, requestID string, e *apierror.Error)
	// streamWriter starts a streamed answer on w.
	streamWriter(w http.ResponseWriter) eventWriter
	// tellsSpend reports whether the door's clients read the
	// anthropic-ratelimit-unified-* spend headers and the billing_error cap
	// answer (spendheaders.go): Claude Code on the Anthropic door does;
	// Bedrock clients map a 429 to throttling and read no such headers.
	tellsSpend() bool
}

// op is the model operation a route asks a door to decode.
type op int

const (
	// opMessages is a Messages call that streams if its body says so
	// (POST /v1/messages) or, on the Bedrock door, never (InvokeModel).
	opMessages op = iota
	// opMessagesStream is a Messages call whose route always streams
	// (InvokeModelWithResponseStream).
	opMessagesStream
	// opCountTokens counts a Messages body's input tokens.
	opCountTokens
)

// eventWriter writes one streamed answer.
type eventWriter interface {
	// header sets the response headers of the stream.
	header(h http.Header)
	writeEvent(ev anthropic.Event) error
	// writeError reports a failure after the stream started, in-stream.
	writeError(e *apierror.Error) error
}

// modelCall serves a model operation on any door. The preamble is the same
// for all: authenticate from the headers alone (so an anonymous caller
// cannot make the gateway buffer and parse large bodies), read the betas,
// check the attribution headers, then let the door decode the rest. A
// Messages call also counts in flight and in the request metrics; a token
// count is not billed and only checks the model allowlist.
func (s *Server) modelCall(o op) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, x *exchange) error {
		metered := o != opCountTokens
		c := &call{id: x.id, door: x.door, start: x.start, metered: metered, routing: s.routing.Load()}
		x.call = c
		if metered {
			defer s.opts.Metrics.InFlight(x.door.name())()
		}
		p, err := s.authenticate(r, x)
		if err != nil {
			if metered {
				s.reject(metrics.ReasonAuth)
			}
			return err
		}
		betas, err := headerBetas(r)
		if err != nil {
			return err
		}
		if err := checkAttribution(r.Header); err != nil {
			return err
		}
		read := func() ([]byte, error) {
			if err := x.door.checkContentType(r); err != nil {
				return nil, err
			}
			return s.readJSONBody(w, r)
		}
		spec, err := x.door.decode(o, r, read, betas)
		if err != nil {
			return err
		}
		spec.principal, spec.betas, spec.header = p, betas, r.Header
		if spec.door != nil {
			c.door = spec.door
		}
		if !metered {
			n, err := s.countTokens(r, c, spec)
			if err != nil {
				return err
			}
			return x.door.writeCount(w, n)
		}
		return s.messages(w, r, c, spec)
	}
}

// readJSONBody reads a request body up to the size limit and checks that it is
// a JSON object, without decoding it: bodies from Claude Code run to 100 KB
// and more, and only a few fields are ever read. The door has checked the
// declared content type before (door.checkContentType).
//
// The nesting depth is bounded before anything recursive looks at the body:
// gjson's validator recurses once per level, and millions of levels fit
// under the size limit.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
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
