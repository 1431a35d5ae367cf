// Package apierror is the gateway's one error type for answers to clients.
// It keeps what the client may see (status, Anthropic error type, message)
// apart from what only the log sees (the wrapped cause), and records where a
// failure came from, because "was it me, the gateway or Bedrock?" is the
// first question every operator asks.
package apierror

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Origin says which hop caused an error. It is sent to clients in the
// x-tollgate-error-origin header and written to the log line.
type Origin string

// The three origins.
const (
	OriginClient   Origin = "client"   // bad request, bad key, over budget, not allowed
	OriginGateway  Origin = "gateway"  // our fault: misconfiguration, bug, missing credentials
	OriginUpstream Origin = "upstream" // the provider said so, or could not be reached
)

// OriginHeader is the response header that carries an error's Origin, on
// the front doors and the admin API alike.
const OriginHeader = "x-tollgate-error-origin"

// Anthropic error types, used as the internal vocabulary of error kinds.
// Other front doors map them to their own formats.
const (
	TypeInvalidRequest  = "invalid_request_error"
	TypeAuthentication  = "authentication_error"
	TypeBilling         = "billing_error"
	TypePermission      = "permission_error"
	TypeNotFound        = "not_found_error"
	TypeRequestTooLarge = "request_too_large"
	TypeRateLimit       = "rate_limit_error"
	TypeAPI             = "api_error"
	TypeTimeout         = "timeout_error"
	TypeOverloaded      = "overloaded_error"

	// TypeConflict is the admin API's answer to a name that is taken or a
	// delete that would orphan rows; the Anthropic API has no such type.
	TypeConflict = "conflict_error"
)

// Error is an error with everything needed to answer a client.
type Error struct {
	Status  int    // HTTP status sent to the client
	Type    string // Anthropic error type (TypeInvalidRequest, ...)
	Message string // text for the client; upstream text is kept verbatim
	Origin  Origin

	// RetryAfter, when positive, is sent as retry-after in whole seconds.
	RetryAfter time.Duration
	// ShouldRetry, when set, is sent as x-should-retry. Claude Code retries
	// most errors ten times unless told not to.
	ShouldRetry *bool
	// Retryable says whether the gateway itself may retry or fail over to
	// another target (upstream throttling, 5xx, connection errors).
	Retryable bool
	// UpstreamRequestID is the provider's request id, for the log line.
	UpstreamRequestID string
	// UpstreamBody, when set, is an Anthropic error body from an Anthropic
	// upstream that is forwarded unchanged: Claude Code matches on its exact
	// wording.
	UpstreamBody []byte
	// ExceptionType is the Bedrock exception name when the error came from
	// Bedrock (ThrottlingException, ...), so the Bedrock front door can
	// return the same name.
	ExceptionType string
	// Err is the cause, for logs only.
	Err error
}

// Error implements error. It includes the cause for logs.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s %d %s: %s", e.Origin, e.Status, e.Type, e.Message)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Client returns a client-origin error.
func Client(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Message: fmt.Sprintf(format, args...), Origin: OriginClient}
}

// Gateway returns a gateway-origin error. The message is shown to the client;
// err is logged.
func Gateway(err error, format string, args ...any) *Error {
	return &Error{Status: http.StatusInternalServerError, Type: TypeAPI,
		Message: fmt.Sprintf(format, args...), Origin: OriginGateway, Err: err}
}

// From returns err as an *Error, wrapping anything else as a gateway error.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Gateway(err, "internal gateway error")
}

// NoRetry marks e with x-should-retry: false and returns it.
func (e *Error) NoRetry() *Error {
	f := false
	e.ShouldRetry = &f
	return e
}

// TypeForStatus returns the Anthropic error type conventionally used with an
// HTTP status.
func TypeForStatus(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return TypeAuthentication
	case http.StatusPaymentRequired:
		return TypeBilling
	case http.StatusForbidden:
		return TypePermission
	case http.StatusNotFound:
		return TypeNotFound
	case http.StatusRequestEntityTooLarge:
		return TypeRequestTooLarge
	case http.StatusTooManyRequests:
		return TypeRateLimit
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return TypeTimeout
	case 529, http.StatusServiceUnavailable:
		return TypeOverloaded
	}
	if status >= 500 {
		return TypeAPI
	}
	return TypeInvalidRequest
}
