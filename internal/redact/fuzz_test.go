package redact

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretsIn builds, from fuzzed bytes, credentials of every shape the
// scrubber knows, each in the context it is found in upstream text. Each
// piece pairs the text to embed with the secret that must not survive.
func secretsIn(raw []byte) [][2]string {
	b64 := "IQoJ" + base64.StdEncoding.EncodeToString(append([]byte("session"), raw...))
	hx := hex.EncodeToString(append([]byte("signature"), raw...))
	key := strings.NewReplacer("+", "-", "/", "_", "=", "").Replace(base64.StdEncoding.EncodeToString(append([]byte("apikey-"), raw...)))
	id := "ASIA" + strings.ToUpper(hex.EncodeToString(append([]byte("access-key-id"), raw...)))[:16]
	return [][2]string{
		{"x-amz-security-token:" + b64 + "\n", b64},
		{"X-Amz-Security-Token=" + url.QueryEscape(b64) + "&", url.QueryEscape(b64)},
		{"The Canonical String for this request should have been\n'POST\n/\nx-amz-security-token:" + b64 + "\n'", b64},
		{"Signature=" + hx, hx},
		{"X-Amz-Signature: " + hx, hx},
		{"Authorization: AWS4-HMAC-SHA256 Credential=" + id + "/20260101/us-east-1/bedrock/aws4_request, Signature=" + hx, hx},
		{"Authorization: Bearer " + key, key},
		{"Bearer " + key + "xxxxxxxxxxxxxxxxxxxx", key},
		{"ABSK" + key + "0123456789abcdef", key},
		{"sk-ant-api03-" + key, key},
		{"bedrock-api-key-" + key + "0123456789abcdef", key},
		{"user " + id + " denied", id},
	}
}

func seeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), "", []byte("x"))
	}
	f.Add("The Canonical String for this request should have been", "'", []byte{})
	f.Add("Authorization:", "The String-to-Sign should have been '", []byte{0xff, 0})
	f.Add("prompt is too long", "Invalid signature in thinking block", []byte("secret"))
}

// FuzzString: the scrubber never panics, and whatever surrounds a
// credential, the credential does not survive.
func FuzzString(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, pre, post string, raw []byte) {
		_ = String(pre + post)
		for _, p := range secretsIn(raw) {
			piece, secret := p[0], p[1]
			if strings.Contains(pre, secret) || strings.Contains(post, secret) {
				continue // the fuzzer wrote the secret out in the open
			}
			in := pre + " " + piece + " " + post
			if out := String(in); strings.Contains(out, secret) {
				t.Fatalf("String(%q) = %q still holds %q", in, out, secret)
			}
		}
	})
}

// FuzzJSON: JSON never panics, keeps valid JSON valid, and removes a
// credential from inside a JSON string.
func FuzzJSON(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, pre, post string, raw []byte) {
		doc := []byte(pre + post)
		if out := JSON(doc); json.Valid(doc) && !json.Valid(out) {
			t.Fatalf("JSON(%q) = %q, not JSON", doc, out)
		}
		for _, p := range secretsIn(raw) {
			piece, secret := p[0], p[1]
			if strings.Contains(pre, secret) || strings.Contains(post, secret) {
				continue
			}
			body, _ := json.Marshal(map[string]any{"message": pre + " " + piece + " " + post, "n": 1})
			out := JSON(body)
			var got struct{ Message string }
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("JSON(%s) = %s: %v", body, out, err)
			}
			if strings.Contains(got.Message, secret) || strings.Contains(string(out), secret) {
				t.Fatalf("JSON(%s) = %s still holds %q", body, out, secret)
			}
		}
	})
}
