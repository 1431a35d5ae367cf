package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// Credentials of the gateway's own AWS session, shaped like real STS ones.
const (
	gatewayAccessKeyID = "ASIAGATEWAYTESTKEY01"
	gatewaySessionTok  = "IQoJb3JpZ2luX2VjEGateway+Session/Token0123456789abcdefSECRETSECRET=="
	gatewaySecret      = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYGATEWAYSECRET"
)

// TestUpstreamCredentialsScrubbed: when Bedrock refuses the gateway's SigV4
// signature, its InvalidSignatureException message spells out the canonical
// request, session token included. The client must get Bedrock's wording,
// but neither the client nor the gateway's log may see the token, the
// secret, the signature or the full access key id.
func TestUpstreamCredentialsScrubbed(t *testing.T) {
	h := newHarness(t,
		testutil.WithoutRetries(),
		testutil.WithSim(func(o *bedrocksim.Options) {
			o.AccessKeyID = gatewayAccessKeyID
			o.SecretAccessKey = "the-real-secret-bedrock-knows"
			o.SessionToken = gatewaySessionTok
		}),
		testutil.WithCredentials(credentials.NewStaticCredentialsProvider(gatewayAccessKeyID, gatewaySecret, gatewaySessionTok)),
	)
	const (
		anthropicBody = `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]%s}`
		bedrockBody   = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
		bedrockModel  = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/"
	)
	tests := []struct {
		name, path, body string
	}{
		{"anthropic door", "/v1/messages", strings.Replace(anthropicBody, "%s", "", 1)},
		{"anthropic door stream", "/v1/messages", strings.Replace(anthropicBody, "%s", `,"stream":true`, 1)},
		{"bedrock door", bedrockModel + "invoke", bedrockBody},
		{"bedrock door stream", bedrockModel + "invoke-with-response-stream", bedrockBody},
		{"count tokens", "/v1/messages/count_tokens", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.Sim.Reset()
			status, _, body := h.Post(t, tt.path, tt.body, nil)
			reqs := h.Sim.Requests()
			if len(reqs) == 0 {
				t.Fatal("no request reached the simulator")
			}
			authz := reqs[0].Header.Get("Authorization")
			_, sig, ok := strings.Cut(authz, "Signature=")
			if !ok || len(sig) < 64 {
				t.Fatalf("simulator saw Authorization %q, want a SigV4 signature", authz)
			}
			if tt.path == "/v1/messages/count_tokens" {
				// CountTokens falls back to an estimate; only the log matters.
				if status != http.StatusOK {
					t.Errorf("status = %d, want 200 (estimate) (body %.300s)", status, body)
				}
			} else {
				if status != http.StatusForbidden {
					t.Errorf("status = %d, want 403 (body %.500s)", status, body)
				}
				if !strings.Contains(body, "The request signature we calculated does not match the signature you provided") {
					t.Errorf("body lost Bedrock's wording: %.500s", body)
				}
				// Proof that Bedrock's answer did quote the canonical request
				// (so the assertions below are not vacuous), and that only the
				// quoted block went.
				if !strings.Contains(body, `The Canonical String for this request should have been\n'[redacted]'`) {
					t.Errorf("body has no redacted canonical request: %.800s", body)
				}
			}
			assertNoSecrets(t, "client body", body, sig)
			assertNoSecrets(t, "gateway log", h.Logs(), sig)
		})
	}
}

// TestUpstreamStreamExceptionScrubbed: an exception frame in the middle of a
// Bedrock stream goes through the same scrubber.
func TestUpstreamStreamExceptionScrubbed(t *testing.T) {
	h := newHarness(t, testutil.WithoutRetries())
	leak := "internal error, request had x-amz-security-token:" + gatewaySessionTok + " and Authorization: AWS4-HMAC-SHA256 Credential=" + gatewayAccessKeyID + "/20260101/us-east-1/bedrock/aws4_request"
	for _, path := range []string{"/v1/messages", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream"} {
		t.Run(path, func(t *testing.T) {
			body := `{"model":"claude-sonnet-4-5","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi [[sim:midstream-error internalServerException ` + leak + `]]"}]}`
			if strings.HasPrefix(path, "/model/") {
				body = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi [[sim:midstream-error internalServerException ` + leak + `]]"}]}`
			}
			status, _, got := h.Post(t, path, body, nil)
			if status != http.StatusOK || !strings.Contains(got, "internal error, request had") {
				t.Fatalf("status %d body %q, want a stream ending in the exception", status, got)
			}
			assertNoSecrets(t, "client body", got, "")
			assertNoSecrets(t, "gateway log", h.Logs(), "")
		})
	}
}

// TestAnthropicUpstreamErrorScrubbed: an Anthropic API error body is relayed
// as it came (Claude Code matches on it), minus any key it quotes.
func TestAnthropicUpstreamErrorScrubbed(t *testing.T) {
	const serverKey = "sk-ant-api03-ServerKeyThatMustNeverLeak0123456789abcdefghijklmnopqrstuvwxyz-ABCDEF"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key: `+r.Header.Get("x-api-key")+`"},"request_id":"req_1"}`)
	}))
	t.Cleanup(up.Close)
	t.Setenv("TEST_UPSTREAM_ANTHROPIC_KEY", serverKey)
	h := newHarness(t, testutil.WithoutRetries(), testutil.WithConfig(func(c *config.Config) {
		c.Providers["anthropic"] = config.Provider{Type: config.ProviderAnthropic, BaseURL: up.URL, APIKeyEnv: "TEST_UPSTREAM_ANTHROPIC_KEY"}
		c.Models = append(c.Models, config.Model{Name: "claude-direct", Targets: []config.Target{{Provider: "anthropic", Model: "claude-sonnet-4-5-20250929"}}})
	}))
	status, _, body := h.Post(t, "/v1/messages", `{"model":"claude-direct","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if status != http.StatusUnauthorized || !strings.Contains(body, `"message":"invalid x-api-key: sk-ant-`) || !strings.Contains(body, `"request_id":"req_1"`) {
		t.Errorf("status %d body %s, want the upstream's 401 body, key scrubbed", status, body)
	}
	for where, text := range map[string]string{"client body": body, "gateway log": h.Logs()} {
		if strings.Contains(text, "ServerKeyThatMustNeverLeak") {
			t.Errorf("%s contains the gateway's Anthropic key:\n%s", where, text)
		}
	}
}

// assertNoSecrets fails when text holds any of the gateway's credentials.
func assertNoSecrets(t *testing.T, where, text, signature string) {
	t.Helper()
	secrets := map[string]string{
		"session token":        gatewaySessionTok,
		"secret access key":    gatewaySecret,
		"full access key id":   gatewayAccessKeyID,
		"token (JSON-escaped)": strings.ReplaceAll(gatewaySessionTok, "/", `\/`),
		"token (URL-encoded)":  strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(gatewaySessionTok),
	}
	if signature != "" {
		secrets["signature"] = signature
	}
	for name, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the %s:\n%s", where, name, text)
		}
	}
	if strings.Contains(text, "x-amz-security-token:IQoJ") {
		t.Errorf("%s contains a canonical request:\n%s", where, text)
	}
}
