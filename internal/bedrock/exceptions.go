package bedrock

import (
	"net/http"
	"strings"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/redact"
)

// exception describes one Bedrock exception: its HTTP status and the
// Anthropic error type a client of the Anthropic front door gets for it.
type exception struct {
	status    int
	anthropic string
	retryable bool
}

// exceptions maps Bedrock Runtime exception names (as in X-Amzn-ErrorType and
// the :exception-type header, lower-camel in streams) to status and type.
// The Anthropic types are a design choice (protocols.md §4.5): throttling is
// rate_limit_error so Claude Code backs off and honours retry-after;
// ServiceUnavailable is overloaded_error, Anthropic's "try again" signal.
// ModelTimeoutException is not retried: it comes after Bedrock has waited out
// its whole model timeout, so each retry would cost that wait again.
var exceptions = map[string]exception{
	"ValidationException":                 {http.StatusBadRequest, apierror.TypeInvalidRequest, false},
	"ServiceQuotaExceededException":       {http.StatusBadRequest, apierror.TypeInvalidRequest, false},
	"AccessDeniedException":               {http.StatusForbidden, apierror.TypePermission, false},
	"UnrecognizedClientException":         {http.StatusForbidden, apierror.TypePermission, false},
	"InvalidSignatureException":           {http.StatusForbidden, apierror.TypePermission, false},
	"ResourceNotFoundException":           {http.StatusNotFound, apierror.TypeNotFound, false},
	"ModelTimeoutException":               {http.StatusRequestTimeout, apierror.TypeTimeout, false},
	"ModelErrorException":                 {http.StatusFailedDependency, apierror.TypeAPI, false},
	"ModelStreamErrorException":           {http.StatusFailedDependency, apierror.TypeAPI, false},
	"ThrottlingException":                 {http.StatusTooManyRequests, apierror.TypeRateLimit, true},
	"ModelNotReadyException":              {http.StatusTooManyRequests, apierror.TypeRateLimit, true},
	"InternalServerException":             {http.StatusInternalServerError, apierror.TypeAPI, true},
	"ServiceUnavailableException":         {http.StatusServiceUnavailable, apierror.TypeOverloaded, true},
	"MissingAuthenticationTokenException": {http.StatusForbidden, apierror.TypePermission, false},
}

// SanitizeErrorType reduces an X-Amzn-ErrorType value such as
// "ValidationException:http://internal.amazon.com/coral/..." or
// "aws.protocols#ValidationException" to the bare name, as the AWS SDKs do,
// and upper-cases the first letter of stream exception names
// (throttlingException → ThrottlingException).
func SanitizeErrorType(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// UpstreamError builds the client-facing error for a Bedrock exception. The
// message is Bedrock's text, unchanged (Claude Code matches on wording such
// as "prompt is too long" and "Invalid signature in thinking block") except
// for credentials, which redact removes: an InvalidSignatureException quotes
// the canonical request, with the gateway's session token in it, and this
// is where Bedrock's text enters the gateway, before any log or client sees
// it. status is the HTTP status Bedrock sent, or 0 for a mid-stream
// exception.
func UpstreamError(excType string, status int, message string) *apierror.Error {
	message = redact.String(message)
	name := SanitizeErrorType(excType)
	ex, ok := exceptions[name]
	if !ok {
		if status == 0 {
			status = http.StatusInternalServerError
		}
		ex = exception{status: status, anthropic: apierror.TypeForStatus(status), retryable: status >= 500 || status == http.StatusTooManyRequests}
	}
	if status == 0 {
		status = ex.status
	}
	if message == "" {
		message = name
		if message == "" {
			message = http.StatusText(status)
		}
	}
	clientStatus := status
	if ex.anthropic == apierror.TypeOverloaded {
		clientStatus = 529
	}
	if name == "ModelStreamErrorException" || name == "ModelErrorException" {
		// 424 means nothing to Anthropic clients; they retry 5xx.
		clientStatus = http.StatusBadGateway
	}
	return &apierror.Error{
		Status:        clientStatus,
		Type:          ex.anthropic,
		Message:       message,
		Origin:        apierror.OriginUpstream,
		Retryable:     ex.retryable,
		ExceptionType: name,
	}
}

// ExceptionFor returns the Bedrock exception name and HTTP status the Bedrock
// front door uses for a gateway error of the given Anthropic type, so that
// Bedrock-mode clients see the errors their SDK knows.
func ExceptionFor(e *apierror.Error) (string, int) {
	if e.ExceptionType != "" {
		if ex, ok := exceptions[e.ExceptionType]; ok {
			return e.ExceptionType, ex.status
		}
	}
	switch e.Type {
	case apierror.TypeInvalidRequest, apierror.TypeRequestTooLarge:
		return "ValidationException", http.StatusBadRequest
	case apierror.TypeAuthentication, apierror.TypePermission, apierror.TypeBilling:
		return "AccessDeniedException", http.StatusForbidden
	case apierror.TypeNotFound:
		return "ResourceNotFoundException", http.StatusNotFound
	case apierror.TypeRateLimit:
		return "ThrottlingException", http.StatusTooManyRequests
	case apierror.TypeTimeout:
		return "ModelTimeoutException", http.StatusRequestTimeout
	case apierror.TypeOverloaded:
		return "ServiceUnavailableException", http.StatusServiceUnavailable
	}
	return "InternalServerException", http.StatusInternalServerError
}

// StreamExceptionName returns the lower-camel exception name used in stream
// frames (ThrottlingException → throttlingException).
func StreamExceptionName(name string) string {
	if name != "" && name[0] >= 'A' && name[0] <= 'Z' {
		return string(name[0]-'A'+'a') + name[1:]
	}
	return name
}
