package redact

import (
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	token  = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN/abc+def0123456789=="
	sig    = "4d2c6a6b4bd2f0e3c9a1f5b7d7e3e0b6c0a2d4e6f8a0c2e4a6b8c0d2e4f6a8b0"
	akidIn = "ASIAEXAMPLEKEYID1234"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no secrets", "messages.1.content.0: Invalid signature in thinking block",
			"messages.1.content.0: Invalid signature in thinking block"},
		{"prompt too long", "prompt is too long: 210000 tokens > 200000 maximum",
			"prompt is too long: 210000 tokens > 200000 maximum"},
		{"signature field required", "messages.1.content.0.thinking.signature: Field required",
			"messages.1.content.0.thinking.signature: Field required"},
		{"incomplete signature", "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter.",
			"Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter."},
		{"signature expired", "Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z (20260101T001000Z - 5 min.)",
			"Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z (20260101T001000Z - 5 min.)"},
		{"canonical and string-to-sign",
			"does not match.\n\nThe Canonical String for this request should have been\n'POST\n/model/x/invoke\n\nhost:h\nx-amz-security-token:" + token + "\n\nhost;x-amz-security-token\n" + sig + "'\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20260101T120000Z\n20260101/us-east-1/bedrock/aws4_request\n" + sig + "'\n",
			"does not match.\n\nThe Canonical String for this request should have been\n'[redacted]'\n\nThe String-to-Sign should have been\n'[redacted]'\n"},
		{"canonical with a quote in a header value",
			"The Canonical String for this request should have been\n'POST\nx-amzn-bedrock-trace:it's\nx-amz-security-token:" + token + "'\n\nThe String-to-Sign should have been\n'AWS4'\n",
			"The Canonical String for this request should have been\n'[redacted]'\n\nThe String-to-Sign should have been\n'[redacted]'\n"},
		{"cut canonical block", "The Canonical String for this request should have been\n'POST\nx-amz-security-token:" + token,
			"The Canonical String for this request should have been\n'[redacted]"},
		{"session token header", "x-amz-security-token:" + token + "\nhost:h", "x-amz-security-token:[redacted]\nhost:h"},
		{"session token dumped header", "X-Amz-Security-Token: " + token, "X-Amz-Security-Token: [redacted]"},
		{"session token query", "https://h/?X-Amz-Security-Token=" + url.QueryEscape(token) + "&X-Amz-Date=20260101T000000Z",
			"https://h/?X-Amz-Security-Token=[redacted]&X-Amz-Date=20260101T000000Z"},
		{"signature param", "SignedHeaders=host, Signature=" + sig, "SignedHeaders=host, Signature=[redacted]"},
		{"signature query", "?X-Amz-Signature=" + sig + "&a=b", "?X-Amz-Signature=[redacted]&a=b"},
		{"sigv4 authorization", "Authorization: AWS4-HMAC-SHA256 Credential=" + akidIn + "/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=" + sig + "\nnext line",
			"Authorization: AWS4-HMAC-SHA256 [redacted]\nnext line"},
		{"bearer authorization", "authorization: Bearer ABSKQmVkcm9ja0FQSUtleS1leGFtcGxlLWtleQ== was refused",
			"authorization: Bearer ABSK[redacted] was refused"},
		{"authorization prose", "authorization: the key has expired", "authorization: the key has expired"},
		{"access key id", "User " + akidIn + " is not authorized", "User ASIAEXAM[redacted] is not authorized"},
		{"long-term access key id", "key AKIAIOSFODNN7EXAMPLE.", "key AKIAIOSF[redacted]."},
		{"bedrock api key", "key ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl rejected", "key ABSK[redacted] rejected"},
		{"short-term bedrock api key", "key bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249 rejected", "key bedrock-api-key-[redacted] rejected"},
		{"anthropic key", "invalid x-api-key: sk-ant-api03-abcdefghijklmnop_0123", "invalid x-api-key: sk-ant-[redacted]"},
		{"anthropic key alone", "key sk-ant-api03-abcdefghijklmnop_0123 is disabled", "key sk-ant-[redacted] is disabled"},
		{"bearer token", "got Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "got Bearer [redacted]"},
		{"bearer prose", "Invalid bearer token", "Invalid bearer token"},
		{"secret access key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		file    string
		secrets []string
		keep    []string
	}{
		{"invalid_signature.json", []string{token, sig, "x-amz-security-token:"},
			[]string{"The request signature we calculated does not match the signature you provided.", "The String-to-Sign should have been\n'[redacted]'"}},
		{"anthropic_error.json", []string{"sk-ant-api03-EXAMPLE"},
			[]string{"invalid x-api-key: sk-ant-[redacted]", "req_011CExample"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			out := JSON(in)
			if !json.Valid(out) {
				t.Fatalf("JSON(%s) is not JSON: %s", tt.file, out)
			}
			var decoded any
			_ = json.Unmarshal(out, &decoded)
			text, _ := json.Marshal(decoded)
			all := string(out) + flatten(decoded)
			for _, s := range tt.secrets {
				if strings.Contains(all, s) {
					t.Errorf("JSON(%s) still holds %q: %s", tt.file, s, out)
				}
			}
			for _, s := range tt.keep {
				if !strings.Contains(flatten(decoded), s) {
					t.Errorf("JSON(%s) lost %q: %s", tt.file, s, text)
				}
			}
		})
	}
}

// TestJSONKeepsBytes: a body with nothing to redact comes back as the same
// bytes, and a redacted body keeps every byte outside the changed string.
func TestJSONKeepsBytes(t *testing.T) {
	in := []byte(`{ "type" : "error", "error":{"type":"x","message":"prompt is too long \u0041"} }`)
	if got := JSON(in); string(got) != string(in) {
		t.Errorf("JSON(%s) = %s, want it unchanged", in, got)
	}
	in = []byte(`{ "type" : "error", "error":{"message":"bad key sk-ant-api03-abcdefghijk <here>","n":1 } }`)
	want := `{ "type" : "error", "error":{"message":"bad key sk-ant-[redacted] <here>","n":1 } }`
	if diff := cmp.Diff(want, string(JSON(in))); diff != "" {
		t.Errorf("JSON mismatch (-want +got):\n%s", diff)
	}
	if got := JSON([]byte("not json x-amz-security-token:" + token)); string(got) != "not json x-amz-security-token:[redacted]" {
		t.Errorf("JSON(text) = %s", got)
	}
}

func flatten(v any) string {
	switch v := v.(type) {
	case string:
		return v + "\x00"
	case map[string]any:
		var b strings.Builder
		for k, x := range v {
			b.WriteString(k + "\x00" + flatten(x))
		}
		return b.String()
	case []any:
		var b strings.Builder
		for _, x := range v {
			b.WriteString(flatten(x))
		}
		return b.String()
	}
	return ""
}
