// Package redact removes credential material from text that came from an
// upstream before the gateway relays or logs it.
//
// Upstreams sometimes quote the request back: Bedrock's
// InvalidSignatureException spells out the canonical request and the
// string-to-sign, session token included; a proxy in front of the Anthropic
// API may echo the key it refused. Those are the gateway's own credentials,
// which neither clients nor log readers may see. Everything else in the text
// is left exactly as it was, because Claude Code reacts to the wording of
// upstream errors ("prompt is too long", "Invalid signature in thinking
// block"), so every rule here replaces only the secret value and keeps the
// words around it.
package redact

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// Marker replaces every removed value.
const Marker = "[redacted]"

// blockMarkers introduce the quoted blocks of AWS's signature-mismatch
// message. The blocks hold the canonical request (with the session token
// and every signed header value) and the string-to-sign; they are replaced
// whole, since there is nothing in them a client needs.
var blockMarkers = []string{
	"The Canonical String for this request should have been",
	"The String-to-Sign should have been",
}

// rule replaces the secret part of each match of re. The expression's first
// group is the text kept before the value; the value is the rest of the
// match, unless the expression has a second group, which is then kept
// between the two (an authorization scheme). The rule only runs when the
// lower-cased text contains one of hints, which keeps the common case, an
// error with nothing to redact, to a few substring searches.
type rule struct {
	hints []string
	re    *regexp.Regexp
}

// awsKeyIDPrefixes are the prefixes of AWS access key ids (and other unique
// ids of the same shape).
const awsKeyIDPrefixes = `AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA|APKA|ABIA|ACCA`

// rules run in order, after the quoted blocks are gone. Header-shaped rules
// come first, so that their values are masked whole; the shape-of-a-key
// rules then catch keys that appear on their own.
var rules = []rule{
	// Session tokens as a header line (canonical request, dumped headers)
	// or as a presigned-URL query parameter.
	{[]string{"x-amz-security-token"}, regexp.MustCompile(`(?i)(x-amz-security-token\s*[:=]\s*)[^\s'",;&<>]+`)},
	// SigV4 signatures: the Signature= of an Authorization header, the
	// X-Amz-Signature header or query parameter.
	{[]string{"signature"}, regexp.MustCompile(`(?i)(\bx-amz-signature\s*[:=]\s*|\bsignature\s*=\s*)[0-9a-f]{16,}`)},
	// Authorization and x-api-key header values. The value must look like
	// a credential (a scheme, or a long token), so that prose such as
	// "authorization: the key has expired" is left alone.
	{[]string{"authorization"}, regexp.MustCompile(`(?i)(\b(?:proxy-)?authorization\s*[:=]\s*)(aws4-hmac-sha256\s+)[^\r\n'"]+`)},
	{[]string{"authorization"}, regexp.MustCompile(`(?i)(\b(?:proxy-)?authorization\s*[:=]\s*)(bearer\s+|basic\s+)[^\s'",;&<>]+`)},
	{[]string{"authorization"}, regexp.MustCompile(`(?i)(\b(?:proxy-)?authorization\s*[:=]\s*)[A-Za-z0-9._~+/=-]{20,}`)},
	{[]string{"x-api-key"}, regexp.MustCompile(`(?i)(\bx-api-key\s*[:=]\s*)[^\s'",;&<>]{8,}`)},
	// A secret access key someone printed as configuration.
	{[]string{"secret"}, regexp.MustCompile(`(?i)(\b(?:aws_)?secret_?access_?key\s*[:=]\s*)[^\s'",;&<>]+`)},
	// Bearer tokens anywhere.
	{[]string{"bearer"}, regexp.MustCompile(`(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{20,}`)},
	// Keys recognised by their shape: AWS access key ids (the first eight
	// characters stay, enough to tell which key it was), Bedrock API keys
	// (long-term "ABSK…", short-term "bedrock-api-key-…"), Anthropic keys.
	{strings.Split(strings.ToLower(awsKeyIDPrefixes), "|"), regexp.MustCompile(`\b()(?:` + awsKeyIDPrefixes + `)[A-Z0-9]{16}\b`)},
	{[]string{"absk"}, regexp.MustCompile(`\b()ABSK[A-Za-z0-9+/=_-]{16,}`)},
	{[]string{"bedrock-api-key-"}, regexp.MustCompile(`\b()bedrock-api-key-[A-Za-z0-9+/=%_.-]{16,}`)},
	{[]string{"sk-ant-"}, regexp.MustCompile(`\b()sk-ant-[A-Za-z0-9_-]{8,}`)},
}

// akid matches an AWS access key id at the start of a value.
var akid = regexp.MustCompile(`^(?:` + awsKeyIDPrefixes + `)[A-Z0-9]{16}`)

// keyPrefixes are the prefixes kept in front of the marker, so an operator
// still sees what kind of credential was involved.
var keyPrefixes = []string{"sk-ant-", "bedrock-api-key-", "ABSK"}

// mask returns what replaces the credential v: the marker, after v's
// harmless prefix when v has a recognised shape.
func mask(v string) string {
	if akid.MatchString(v) {
		return v[:8] + Marker
	}
	for _, p := range keyPrefixes {
		if strings.HasPrefix(v, p) {
			return p + Marker
		}
	}
	return Marker
}

// String returns s with credential material replaced by Marker. Text
// without credentials is returned unchanged.
func String(s string) string {
	s = blocks(s)
	// Replacements only ever add Marker and prefixes already present, so
	// hints found in the text as it was stay valid for the whole pass.
	lower := strings.ToLower(s)
	for _, r := range rules {
		for _, h := range r.hints {
			if strings.Contains(lower, h) {
				s = r.apply(s)
				break
			}
		}
	}
	return s
}

func (r rule) apply(s string) string {
	idx := r.re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		keep := m[3] // end of the kept prefix
		if len(m) > 4 && m[5] >= 0 {
			keep = m[5] // end of the kept scheme
		}
		b.WriteString(s[last:keep])
		b.WriteString(mask(s[keep:m[1]]))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// blocks replaces the content of the quoted blocks after blockMarkers. A
// block ends at the last quote before the next marker (a canonical request
// may itself contain quotes, in a header value) or, failing a closing
// quote, at the next marker or the end of the text, so a cut message is
// redacted too. One pass, linear in len(s).
func blocks(s string) string {
	next := make([]int, len(blockMarkers)) // next occurrence of each marker at or after i; -1: none
	for k, m := range blockMarkers {
		next[k] = strings.Index(s, m)
	}
	// find returns the first marker occurrence at or after i.
	find := func(i int) (int, string) {
		at, which := -1, ""
		for k, m := range blockMarkers {
			if next[k] >= 0 && next[k] < i {
				if j := strings.Index(s[i:], m); j >= 0 {
					next[k] = i + j
				} else {
					next[k] = -1
				}
			}
			if next[k] >= 0 && (at < 0 || next[k] < at) {
				at, which = next[k], m
			}
		}
		return at, which
	}
	var b strings.Builder
	last, i := 0, 0
	for {
		at, m := find(i)
		if at < 0 {
			break
		}
		open := at + len(m)
		for open < len(s) && isSpace(s[open]) {
			open++
		}
		if open >= len(s) || s[open] != '\'' {
			i = open
			continue
		}
		open++
		limit, _ := find(open)
		if limit < 0 {
			limit = len(s)
		}
		end := limit
		if q := strings.LastIndexByte(s[open:limit], '\''); q >= 0 {
			end = open + q
		}
		b.WriteString(s[last:open])
		b.WriteString(Marker)
		last, i = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// JSON returns the JSON document b with every string in it passed through
// String, and every other byte as it was, so that a relayed error body keeps
// its exact shape. When nothing needed redacting, b itself is returned.
// Text that is not valid JSON is redacted as plain text.
func JSON(b []byte) []byte {
	if !json.Valid(b) {
		if s := string(b); String(s) != s {
			return []byte(String(s))
		}
		return b
	}
	var out []byte // nil until the first change
	last := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		start := i
		for i++; i < len(b) && b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		if i >= len(b) {
			break // cannot happen in valid JSON
		}
		lit := b[start : i+1]
		var s string
		if err := json.Unmarshal(lit, &s); err != nil {
			continue
		}
		r := String(s)
		if r == s {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		out = append(out, b[last:start]...)
		out = append(out, quote(r)...)
		last = i + 1
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// quote encodes s as a JSON string without HTML escaping, which the
// original body did not have either.
func quote(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimRight(buf.Bytes(), "\n")
}
