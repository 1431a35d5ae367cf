package server

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/tollgate-gw/tollgate/internal/apierror"
)

// Checks on the few request fields the gateway itself reads. Everything else
// in a body passes through untouched for the upstream to judge; these fields
// end up in usage rows, logs and metric labels, or size a budget
// reservation, so the gateway must not take them on trust.

// maxModelNameLen bounds a model name or id: Bedrock's InvokeModel model
// identifier is at most 2048 bytes (protocols.md §4.1), and the Anthropic
// API's names are far shorter.
const maxModelNameLen = 2048

// MaxOutputTokens is the largest max_tokens the gateway admits: the largest
// context window of any Claude model (1M tokens), which no answer can
// outgrow. Per-model output ceilings (32,000 for Opus 4 and 4.1, 64,000 for
// Sonnet 4.5 and Haiku 4.5, 128,000 for the newest generation and for
// output-extending betas) move with every release and beta; a gateway-wide
// ceiling never refuses a value the model accepts, and the upstream still
// refuses what a given model cannot produce, in its own words. Its job is to
// keep the budget reservation, max_tokens times the output price, finite:
// a call that asks for far more than it needs reserves that much and is
// refused by its budget with a message that says so.
const MaxOutputTokens = 1_000_000

// checkText refuses a string the gateway records unless it is valid UTF-8
// without control characters. Such text is never a legitimate model name,
// session id or tag, and it poisons what it lands in: PostgreSQL refuses
// NUL and invalid UTF-8 in text columns, and Prometheus in label values.
// field names the offending field in the client's error.
func checkText(field, v string) error {
	if !utf8.ValidString(v) {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%s: must be valid UTF-8", field)
	}
	for i, r := range v {
		if unicode.IsControl(r) {
			return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest,
				"%s: must not contain control characters (found U+%04X at byte %d)", field, r, i)
		}
	}
	return nil
}

// checkModelName refuses a model name that is empty, too long, or not
// clean text.
func checkModelName(field, v string) error {
	switch {
	case v == "":
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%s: field required", field)
	case len(v) > maxModelNameLen:
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%s: longer than %d bytes", field, maxModelNameLen)
	}
	return checkText(field, v)
}

// attributionHeaders are the request headers whose values are recorded in
// usage rows.
var attributionHeaders = []string{"x-claude-code-session-id", "x-tollgate-tags"}

// checkAttribution refuses attribution headers that are not clean text.
// Go's HTTP server already refuses NUL and most control bytes in header
// values, but it admits bytes above 0x7F, so a Latin-1 tag arrives here.
func checkAttribution(h http.Header) error {
	for _, name := range attributionHeaders {
		for _, v := range h.Values(name) {
			if err := checkText(name+" header", v); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxTokens reads and checks max_tokens: a JSON integer from 1 to
// MaxOutputTokens. Like the Anthropic API, it refuses 1.5 and 32000.0
// alike ("Input should be a valid integer"), and 0, -1 and 2^63-1. Digits
// beyond int64 are refused as too large rather than wrapped.
func maxTokens(v gjson.Result) (int64, error) {
	bad := func(format string, args ...any) error {
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "max_tokens: "+format, args...)
	}
	if v.Type != gjson.Number {
		return 0, bad("field required (an integer)")
	}
	if strings.ContainsAny(v.Raw, ".eE") {
		return 0, bad("must be an integer, got %s", v.Raw)
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	switch {
	case err != nil && strings.HasPrefix(v.Raw, "-"), err == nil && n < 1:
		return 0, bad("must be at least 1, got %s", v.Raw)
	case err != nil, n > MaxOutputTokens:
		return 0, bad("%s is more than any Claude model can produce (at most %d)", v.Raw, MaxOutputTokens)
	}
	return n, nil
}
