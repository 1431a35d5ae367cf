package keys

import (
	"errors"
	"net/http"
	"strings"
)

// ErrSigV4 is returned by FromHeader when the request is signed with AWS
// SigV4 instead of carrying a key: an AWS SDK that was not told to send a
// bearer token. Callers say so, because "invalid key" would send the user
// looking for the wrong problem.
var ErrSigV4 = errors.New("request signed with AWS SigV4 instead of carrying a key")

// FromHeader returns the secret a request carries: the x-api-key header, or
// else the token of Authorization: Bearer (the scheme in any case). Claude
// Code sends either, or both, depending on which variable holds the key;
// the admin CLI sends a bearer token. The gateway's callers and the admin
// API read keys through this one function, so both accept exactly the same
// headers. No key is "" and a nil error; the caller decides what missing
// means.
func FromHeader(h http.Header) (string, error) {
	if secret := h.Get("x-api-key"); secret != "" {
		return secret, nil
	}
	auth := h.Get("Authorization")
	if auth == "" {
		return "", nil
	}
	scheme, token, _ := strings.Cut(auth, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(token), nil
	case strings.HasPrefix(scheme, "AWS4-"):
		return "", ErrSigV4
	}
	return "", nil
}
