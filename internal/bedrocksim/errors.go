package bedrocksim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// apiError is an error answered the way AWS answers it: an HTTP status, the
// X-Amzn-ErrorType header and a {"message": ...} body. Handlers return it;
// writeError is the one place that renders it.
type apiError struct {
	Status  int
	Type    string // e.g. "ThrottlingException"
	Message string
	// CapitalKey renders the body as {"Message": ...}, as the Bedrock API
	// key front end does.
	CapitalKey bool
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Type, e.Status, e.Message)
}

// exception describes one Bedrock Runtime error type: its HTTP status, the
// name of the matching event-stream exception (empty when it cannot occur
// mid-stream) and the message used when a marker gives none.
type exception struct {
	Name       string
	Status     int
	StreamName string
	Message    string
}

// exceptions is the error table of protocols.md §4.5 and §4.4, with
// messages worded like Bedrock's.
var exceptions = []exception{
	{"ValidationException", 400, "validationException", "Malformed input request, please reformat your input and try again."},
	{"ServiceQuotaExceededException", 400, "", "Your request exceeds the service quota for your account. You can view your quotas at Viewing service quotas. You can resubmit your request later."},
	{"AccessDeniedException", 403, "", "You don't have access to the model with the specified model ID."},
	{"ResourceNotFoundException", 404, "", "The requested resource could not be found."},
	{"ModelTimeoutException", 408, "modelTimeoutException", "Model has timed out in processing the request. Try your request again."},
	{"ModelErrorException", 424, "", "The model returned an error. Try your request again."},
	{"ModelStreamErrorException", 424, "modelStreamErrorException", "The system encountered an unexpected error during processing. Try your request again."},
	{"ThrottlingException", 429, "throttlingException", "Too many requests, please wait before trying again."},
	{"ModelNotReadyException", 429, "", "Model is not ready to serve inference requests. Try your request again."},
	{"InternalServerException", 500, "internalServerException", "The system encountered an unexpected error during processing. Try your request again."},
	{"ServiceUnavailableException", 503, "serviceUnavailableException", "Bedrock is unable to process your request."},
}

// lookupException finds an exception by name, case-insensitively, with or
// without the "Exception" suffix: "throttling", "ThrottlingException" and
// "throttlingException" are the same.
func lookupException(name string) (exception, bool) {
	n := strings.TrimSuffix(strings.ToLower(name), "exception")
	for _, e := range exceptions {
		if strings.TrimSuffix(strings.ToLower(e.Name), "exception") == n {
			return e, true
		}
	}
	return exception{}, false
}

func mustException(name string) exception {
	e, ok := lookupException(name)
	if !ok {
		panic("bedrocksim: unknown exception " + name)
	}
	return e
}

// errorFor builds the apiError of an exception, with msg or its default
// message.
func errorFor(name, msg string) *apiError {
	e := mustException(name)
	if msg == "" {
		msg = e.Message
	}
	return &apiError{Status: e.Status, Type: e.Name, Message: msg}
}

func validationError(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

// malformed renders Bedrock's JSON-schema style validation message.
func malformed(detail string) *apiError {
	return validationError("Malformed input request: %s, please reformat your input and try again.", detail)
}

// writeError renders err. Errors that are not apiErrors are bugs in the
// simulator; they become a 500 InternalServerException and are logged.
func (s *Server) writeError(w http.ResponseWriter, c *call, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.Error("bedrocksim: internal error", "op", c.op, "err", err)
		ae = errorFor("InternalServerException", "")
	}
	key := "message"
	if ae.CapitalKey {
		key = "Message"
	}
	body := mustJSON(map[string]string{key: ae.Message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", ae.Type)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(ae.Status)
	_, _ = w.Write(body)
}
