package bedrocksim

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"
)

const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	signingName    = "bedrock"
	maxClockSkew   = 5 * time.Minute
)

func authError(typ, msg string) *apiError {
	return &apiError{Status: http.StatusForbidden, Type: typ, Message: msg}
}

// authenticate accepts a request signed with SigV4 by the configured
// credentials, one carrying the configured Bedrock API key as a bearer
// token, or, with AllowUnsigned, one with no Authorization header at all.
func (s *Server) authenticate(r *http.Request, body []byte, c *call) error {
	authz := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(authz, " ")
	switch {
	case authz == "":
		if s.opts.AllowUnsigned {
			s.rec.setAuth(c.record, "none", "")
			return nil
		}
		return authError("MissingAuthenticationTokenException", "Missing Authentication Token")
	case strings.EqualFold(scheme, "Bearer"):
		key := strings.TrimSpace(rest)
		if s.opts.APIKey == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.APIKey)) != 1 {
			e := authError("AccessDeniedException", "Authentication failed: Please make sure your API Key is valid.")
			e.CapitalKey = true
			return e
		}
		s.rec.setAuth(c.record, "bearer", "")
		return nil
	case scheme == sigV4Algorithm:
		akid, err := s.verifySigV4(r, rest, body)
		if err != nil {
			return err
		}
		s.rec.setAuth(c.record, "sigv4", akid)
		return nil
	}
	return authError("IncompleteSignatureException", "Authorization header requires 'Credential' parameter. "+
		"Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "+
		"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

// sigV4Header is a parsed "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=..." header.
type sigV4Header struct {
	AccessKeyID, Date, Region, Service string
	SignedHeaders                      []string
	Signature                          string
}

func parseSigV4(params string) (sigV4Header, error) {
	var h sigV4Header
	var cred, signed string
	for _, p := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			h.Signature = v
		}
	}
	var missing []string
	if cred == "" {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if h.Signature == "" {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if signed == "" {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if len(missing) > 0 {
		return h, authError("IncompleteSignatureException", strings.Join(missing, " "))
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return h, authError("IncompleteSignatureException", fmt.Sprintf(
			"Credential should have at least 5 slash-separated parts, not %d; it should be of the form <AccessKeyId>/<date>/<region>/<service>/aws4_request.", len(parts)))
	}
	h.AccessKeyID, h.Date, h.Region, h.Service = parts[0], parts[1], parts[2], parts[3]
	h.SignedHeaders = strings.Split(signed, ";")
	return h, nil
}

// verifySigV4 checks the credential scope and clock skew, then recomputes
// the signature with the SDK's signer over a request rebuilt from the
// signed headers, the path exactly as sent and the payload hash, and
// compares it in constant time.
func (s *Server) verifySigV4(r *http.Request, params string, body []byte) (string, error) {
	h, err := parseSigV4(params)
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(h.AccessKeyID), []byte(s.opts.AccessKeyID)) != 1 {
		return "", authError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return "", authError("IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	signTime, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return "", authError("IncompleteSignatureException", fmt.Sprintf("Date must be in ISO-8601 'basic format'. Got '%s'.", amzDate))
	}
	if h.Date != amzDate[:8] {
		return "", authError("InvalidSignatureException", fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", h.Date, amzDate[:8], amzDate))
	}
	if h.Region != s.opts.Region {
		return "", authError("InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", h.Region))
	}
	if h.Service != signingName {
		return "", authError("InvalidSignatureException", fmt.Sprintf("Credential should be scoped to correct service: '%s'.", signingName))
	}
	now := s.opts.Now().UTC()
	if signTime.Before(now.Add(-maxClockSkew)) {
		return "", authError("InvalidSignatureException", fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			amzDate, now.Add(-maxClockSkew).Format(amzDateFormat), now.Format(amzDateFormat)))
	}
	if signTime.After(now.Add(maxClockSkew)) {
		return "", authError("InvalidSignatureException", fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)",
			amzDate, now.Add(maxClockSkew).Format(amzDateFormat), now.Format(amzDateFormat)))
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.SessionToken)) != 1 {
		return "", authError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}

	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		sum := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	req, sessionToken := rebuildSigned(r, h.SignedHeaders, len(body))
	if sessionToken != token {
		// The token was sent but not signed: the signer would sign it.
		sessionToken = ""
	}
	var canonical, stringToSign string
	capture := logging.LoggerFunc(func(_ logging.Classification, _ string, v ...any) {
		if len(v) >= 2 {
			canonical, _ = v[0].(string)
			stringToSign, _ = v[1].(string)
		}
	})
	creds := aws.Credentials{AccessKeyID: s.opts.AccessKeyID, SecretAccessKey: s.opts.SecretAccessKey, SessionToken: sessionToken}
	err = v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, signingName, s.opts.Region, signTime,
		func(o *v4.SignerOptions) { o.LogSigning, o.Logger = true, capture })
	if err != nil {
		return "", fmt.Errorf("bedrocksim: recompute signature: %w", err)
	}
	want := ""
	if i := strings.LastIndex(req.Header.Get("Authorization"), "Signature="); i >= 0 {
		want = req.Header.Get("Authorization")[i+len("Signature="):]
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(h.Signature)) != 1 {
		return "", authError("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. "+
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n"+
			"The Canonical String for this request should have been\n'"+canonical+"'\n\n"+
			"The String-to-Sign should have been\n'"+stringToSign+"'\n")
	}
	return h.AccessKeyID, nil
}

// rebuildSigned returns a request that carries only what the client signed:
// the signed headers (X-Amz-Date and the session token are set by the
// signer itself), the Host, the content length if signed, and the path as
// sent, through URL.Opaque so that the signer escapes it once more exactly
// as the client's signer did (%2F in an ARN becomes %252F). It also returns
// the session token when the client signed one.
func rebuildSigned(r *http.Request, signed []string, bodyLen int) (*http.Request, string) {
	u := &url.URL{Scheme: "http", Host: r.Host, Opaque: "//" + r.Host + escapedPath(r), RawQuery: r.URL.RawQuery}
	req := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: http.Header{}}
	token := ""
	for _, name := range signed {
		switch name = strings.ToLower(name); name {
		case "host":
		case "content-length":
			req.ContentLength = int64(bodyLen)
		case "x-amz-date":
		case "x-amz-security-token":
			token = r.Header.Get(name)
		default:
			for _, v := range r.Header.Values(name) {
				req.Header.Add(name, v)
			}
		}
	}
	return req, token
}
