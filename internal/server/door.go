package server

import (
	"net/http"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/bedrock"
)

// door is a front door's wire format for answers: errors, and the framing of
// a streamed answer.
type door interface {
	// name is the door's name in usage rows and metrics.
	name() string
	writeError(w http.ResponseWriter, requestID string, e *apierror.Error)
	// streamWriter starts a streamed answer on w.
	streamWriter(w http.ResponseWriter) eventWriter
}

// eventWriter writes one streamed answer.
type eventWriter interface {
	// header sets the response headers of the stream.
	header(h http.Header)
	writeEvent(ev anthropic.Event) error
	// writeError reports a failure after the stream started, in-stream.
	writeError(e *apierror.Error) error
}

// anthropicDoor speaks the Anthropic Messages API: Anthropic error JSON and
// SSE streams.
type anthropicDoor struct{}

func (anthropicDoor) name() string { return "anthropic" }

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
	return &sseWriter{w: w, buf: make([]byte, 0, 4096)}
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

// bedrockDoor speaks the Bedrock Runtime API: AWS-style error JSON with
// X-Amzn-ErrorType, and AWS event-stream answers.
type bedrockDoor struct{}

func (bedrockDoor) name() string { return "bedrock" }

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
