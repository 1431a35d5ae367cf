package bedrock

import (
	"net/url"
	"strings"
)

// InvokeURL returns the URL of a runtime operation ("invoke",
// "invoke-with-response-stream", "count-tokens") for modelID on endpoint.
//
// The model id is one path segment: a '/' inside an application inference
// profile ARN must travel as %2F. Setting RawPath keeps that escaping through
// url.URL.EscapedPath, which is what the SigV4 signer canonicalises (and then
// escapes again, as SigV4 does for every service but S3), so the signature
// matches what Bedrock computes. ':' stays raw, as the AWS SDKs send it.
func InvokeURL(endpoint *url.URL, modelID, op string) *url.URL {
	u := *endpoint
	base := strings.TrimSuffix(u.Path, "/")
	rawBase := strings.TrimSuffix(u.EscapedPath(), "/")
	u.Path = base + "/model/" + modelID + "/" + op
	u.RawPath = rawBase + "/model/" + url.PathEscape(modelID) + "/" + op
	u.RawQuery = ""
	return &u
}

// The grammar of Bedrock Claude model identifiers, the one every part of the
// gateway uses: config validation, the router, the Bedrock door's
// inference-profile listing, the provider's CountTokens, and the price
// table. There are three forms:
//
//	anthropic.claude-sonnet-4-5-20250929-v1:0        foundation-model (base) id
//	us.anthropic.claude-sonnet-4-5-20250929-v1:0     inference-profile id: a
//	                                                 lowercase region-group prefix
//	                                                 (us, eu, apac, global, us-gov, …)
//	arn:aws:bedrock:us-east-1:123:inference-profile/… ARN, in any partition
//	                                                 (aws, aws-us-gov, aws-cn)
//
// Any prefix of lowercase letters and dashes is a profile prefix, so that a
// region group AWS adds tomorrow needs no change here.

// vendor starts every Claude base id.
const vendor = "anthropic.claude"

// IsModelID reports whether s names a Bedrock Claude model the way a Bedrock
// client would: a base id, an inference-profile id or a Bedrock ARN.
func IsModelID(s string) bool {
	_, ok := BaseModelID(s)
	return ok || IsARN(s)
}

// IsARN reports whether s is a Bedrock ARN in any partition (arn:aws:,
// arn:aws-us-gov:, arn:aws-cn:).
func IsARN(s string) bool {
	return strings.HasPrefix(s, "arn:aws") && strings.Contains(s, ":bedrock:")
}

// BaseModelID strips an inference-profile prefix from a Bedrock Claude model
// id: "us.anthropic.claude-x-v1:0" and "anthropic.claude-x-v1:0" both give
// "anthropic.claude-x-v1:0". It reports false for anything else, including
// ARNs.
func BaseModelID(s string) (string, bool) {
	_, base, ok := SplitProfile(s)
	return base, ok
}

// SplitProfile splits a Bedrock Claude model id into its inference-profile
// prefix ("" for a base id) and its base id. It reports false for anything
// else, including ARNs.
func SplitProfile(s string) (profile, base string, ok bool) {
	if strings.HasPrefix(s, vendor) {
		return "", s, true
	}
	dot := strings.IndexByte(s, '.')
	if dot <= 0 || !strings.HasPrefix(s[dot+1:], vendor) {
		return "", "", false
	}
	for i := 0; i < dot; i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c == '-') {
			return "", "", false
		}
	}
	return s[:dot], s[dot+1:], true
}
