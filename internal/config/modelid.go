package config

import "strings"

// Model-name helpers shared by validation and the router, which must agree
// on what a client's model string is.

// Context1MSuffix is the model-name suffix Claude Code uses to ask for the 1M
// context window ("claude-opus-4-8[1m]"); it is matched in any case.
const Context1MSuffix = "[1m]"

// HasContext1MSuffix reports whether name ends in "[1m]", in any case.
func HasContext1MSuffix(name string) bool {
	n := len(Context1MSuffix)
	return len(name) > n && strings.EqualFold(name[len(name)-n:], Context1MSuffix)
}

// IsBedrockID reports whether s names a Bedrock Claude model the way a
// Bedrock client would: a base id ("anthropic.claude-…"), an
// inference-profile id ("us.anthropic.claude-…"), or a Bedrock ARN
// ("arn:aws:bedrock:…", any partition).
func IsBedrockID(s string) bool {
	_, ok := BedrockBaseID(s)
	return ok || IsBedrockARN(s)
}

// IsBedrockARN reports whether s is a Bedrock ARN in any partition
// (arn:aws:, arn:aws-us-gov:, arn:aws-cn:).
func IsBedrockARN(s string) bool {
	return strings.HasPrefix(s, "arn:aws") && strings.Contains(s, ":bedrock:")
}

// BedrockBaseID strips an inference-profile prefix from a Bedrock Claude
// model id: "us.anthropic.claude-x-v1:0" and "anthropic.claude-x-v1:0" both
// give "anthropic.claude-x-v1:0". It reports false for anything else,
// including ARNs.
func BedrockBaseID(s string) (string, bool) {
	const vendor = "anthropic.claude"
	if strings.HasPrefix(s, vendor) {
		return s, true
	}
	dot := strings.IndexByte(s, '.')
	if dot <= 0 || !strings.HasPrefix(s[dot+1:], vendor) {
		return "", false
	}
	for i := 0; i < dot; i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c == '-') {
			return "", false
		}
	}
	return s[dot+1:], true
}
