package server

import (
	"encoding/json"
	"testing"

	"github.com/tidwall/gjson"
)

// TestSetMaxTokens: only the top-level max_tokens changes, wherever it
// sits and however it is spaced; a body without one is an error.
func TestSetMaxTokens(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"max_tokens":32000,"messages":[]}`, `{"max_tokens":5000,"messages":[]}`},
		{`{"messages":[{"max_tokens":1}], "max_tokens" : 64000 }`, `{"messages":[{"max_tokens":1}], "max_tokens" : 5000 }`},
		{`{"model":"m","max_tokens":1e5}`, `{"model":"m","max_tokens":5000}`},
	}
	for _, tt := range tests {
		got, err := setMaxTokens([]byte(tt.in), 5000)
		if err != nil || string(got) != tt.want {
			t.Errorf("setMaxTokens(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := setMaxTokens([]byte(`{"messages":[]}`), 5); err == nil {
		t.Error("setMaxTokens of a body without max_tokens succeeded")
	}
}

// FuzzSetMaxTokens: whatever the body, the rewrite of valid JSON is valid
// JSON with the new max_tokens, and nothing panics.
func FuzzSetMaxTokens(f *testing.F) {
	f.Add(`{"max_tokens":32000,"messages":[]}`)
	f.Add(`{"a":"max_tokens","max_tokens":1}`)
	f.Add(`{"max_tokens":"x"}`)
	f.Fuzz(func(t *testing.T, body string) {
		out, err := setMaxTokens([]byte(body), 1234)
		if err != nil || !json.Valid([]byte(body)) || !gjson.Get(body, "max_tokens").Exists() {
			return
		}
		if !json.Valid(out) || gjson.GetBytes(out, "max_tokens").Int() != 1234 {
			t.Fatalf("setMaxTokens(%q) = %q", body, out)
		}
	})
}
