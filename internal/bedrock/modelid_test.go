package bedrock

import "testing"

// TestModelIDGrammar is the one table of Bedrock model identifiers. The
// config's validation, the router, the Bedrock door and the price table all
// call these functions, so they all agree with it.
func TestModelIDGrammar(t *testing.T) {
	tests := []struct {
		id      string
		profile string
		base    string // "" when not a base or profile id
		arn     bool
	}{
		{"anthropic.claude-sonnet-4-5-20250929-v1:0", "", "anthropic.claude-sonnet-4-5-20250929-v1:0", false},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us", "anthropic.claude-sonnet-4-5-20250929-v1:0", false},
		{"eu.anthropic.claude-haiku-4-5-20251001-v1:0", "eu", "anthropic.claude-haiku-4-5-20251001-v1:0", false},
		{"apac.anthropic.claude-3-5-sonnet-20240620-v1:0", "apac", "anthropic.claude-3-5-sonnet-20240620-v1:0", false},
		{"global.anthropic.claude-opus-4-5-20251101-v1:0", "global", "anthropic.claude-opus-4-5-20251101-v1:0", false},
		{"us-gov.anthropic.claude-3-haiku-20240307-v1:0", "us-gov", "anthropic.claude-3-haiku-20240307-v1:0", false},
		{"jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "jp", "anthropic.claude-sonnet-4-5-20250929-v1:0", false},
		{"mx.anthropic.claude-sonnet-4-5-20250929-v1:0", "mx", "anthropic.claude-sonnet-4-5-20250929-v1:0", false},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0", "", "", true},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123", "", "", true},
		{"arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "", "", true},
		{"arn:aws-cn:bedrock:cn-north-1::foundation-model/anthropic.claude-x", "", "", true},
		{"arn:aws:s3:::bucket", "", "", false},
		{"claude-sonnet-4-5-20250929", "", "", false},
		{"claude-sonnet-4-5", "", "", false},
		{"US.anthropic.claude-x", "", "", false},
		{"us.amazon.nova-pro-v1:0", "", "", false},
		{".anthropic.claude-x", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		profile, base, ok := SplitProfile(tt.id)
		if ok != (tt.base != "") || profile != tt.profile || base != tt.base {
			t.Errorf("SplitProfile(%q) = %q, %q, %v, want %q, %q, %v", tt.id, profile, base, ok, tt.profile, tt.base, tt.base != "")
		}
		if b, ok := BaseModelID(tt.id); b != tt.base || ok != (tt.base != "") {
			t.Errorf("BaseModelID(%q) = %q, %v, want %q", tt.id, b, ok, tt.base)
		}
		if got := IsARN(tt.id); got != tt.arn {
			t.Errorf("IsARN(%q) = %v, want %v", tt.id, got, tt.arn)
		}
		if got, want := IsModelID(tt.id), tt.base != "" || tt.arn; got != want {
			t.Errorf("IsModelID(%q) = %v, want %v", tt.id, got, want)
		}
	}
}
