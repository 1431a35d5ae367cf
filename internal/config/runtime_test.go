package config

import (
	"strings"
	"testing"
)

func TestCheckModel(t *testing.T) {
	c := DefaultWith(func(string) (string, bool) { return "", false })
	c.Providers["claude"] = Provider{Type: ProviderAnthropic, BaseURL: "https://api.anthropic.com"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	w := 2
	for _, tc := range []struct {
		name string
		m    Model
		want string // "" means valid; else the problem's path
	}{
		{"bedrock profile id", Model{Name: "a", Targets: []Target{{Provider: "bedrock", Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}}}, ""},
		{"bedrock ARN", Model{Name: "a", Targets: []Target{{Provider: "bedrock", Model: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"}}}, ""},
		{"anthropic name", Model{Name: "a", Targets: []Target{{Provider: "claude", Model: "claude-sonnet-4-5-20250929"}}}, ""},
		{"unknown provider", Model{Name: "a", Targets: []Target{{Provider: "nope", Model: "x"}}}, "targets[0].provider"},
		{"not a bedrock id", Model{Name: "a", Targets: []Target{{Provider: "bedrock", Model: "gpt-4o"}}}, "targets[0].model"},
		{"api name on bedrock", Model{Name: "a", Targets: []Target{{Provider: "bedrock", Model: "claude-sonnet-4-5"}}}, "targets[0].model"},
		{"bedrock id on anthropic", Model{Name: "a", Targets: []Target{{Provider: "claude", Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}}}, "targets[0].model"},
		{"glob in name", Model{Name: "a*", Targets: []Target{{Provider: "claude", Model: "claude-x"}}}, "name"},
		{"no targets", Model{Name: "a"}, "targets"},
		{"weight on ordered", Model{Name: "a", Targets: []Target{{Provider: "claude", Model: "claude-x", Weight: &w}}}, "targets[0].weight"},
		{"beta without its field", Model{Name: "a", Rules: Rules{DropBetas: []string{"context-management-2025-06-27"}},
			Targets: []Target{{Provider: "claude", Model: "claude-x"}}}, "drop_betas[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := c.CheckModel(tc.m)
			if tc.want == "" {
				if len(ps) > 0 {
					t.Errorf("CheckModel = %v, want no problem", ps)
				}
				return
			}
			if len(ps) == 0 || ps[0].Path != tc.want || strings.HasPrefix(ps[0].Path, ".") {
				t.Errorf("CheckModel = %v, want a problem at %s", ps, tc.want)
			}
		})
	}
}
