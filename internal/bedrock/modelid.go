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

// IsModelID reports whether s looks like a Bedrock model identifier for
// Claude: a foundation-model id (anthropic.claude-…), an inference-profile id
// (us.anthropic.claude-…) or an ARN.
func IsModelID(s string) bool {
	if strings.HasPrefix(s, "arn:aws") {
		return true
	}
	return strings.HasPrefix(BaseModelID(s), "anthropic.")
}

// Profile prefixes of cross-region inference profiles.
var profilePrefixes = []string{"global.", "us-gov.", "us.", "eu.", "apac.", "jp.", "au.", "ca.", "sa."}

// BaseModelID strips an inference-profile prefix: us.anthropic.x → anthropic.x.
// Other ids are returned unchanged.
func BaseModelID(id string) string {
	for _, p := range profilePrefixes {
		if rest, ok := strings.CutPrefix(id, p); ok && strings.HasPrefix(rest, "anthropic.") {
			return rest
		}
	}
	return id
}
