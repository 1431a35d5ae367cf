package config

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The names Claude Code 2.1.197 sends (claude-code-trace.md §4, §8, §9) are
// all in the default catalog, on Bedrock, with global profiles where they
// exist.
func TestDefaultCatalogHasClaudeCodeNames(t *testing.T) {
	byName := map[string]Model{}
	for _, m := range DefaultWith(mapEnv(nil)).AllModels() {
		for _, n := range m.names() {
			byName[n] = m
		}
	}
	tests := []struct {
		name, wantModel, wantTarget string
	}{
		{"claude-opus-4-8", "claude-opus-4-8", "global.anthropic.claude-opus-4-8"},
		{"claude-sonnet-5", "claude-sonnet-5", "global.anthropic.claude-sonnet-5"},
		{"claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001", "global.anthropic.claude-haiku-4-5-20251001-v1:0"},
		{"claude-haiku-4-5", "claude-haiku-4-5-20251001", "global.anthropic.claude-haiku-4-5-20251001-v1:0"},
		{"claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"claude-opus-4-6", "claude-opus-4-6", "global.anthropic.claude-opus-4-6-v1"},
		{"claude-sonnet-4-6", "claude-sonnet-4-6", "global.anthropic.claude-sonnet-4-6"},
		{"claude-opus-4-7", "claude-opus-4-7", "global.anthropic.claude-opus-4-7"},
		{"claude-opus-4-5", "claude-opus-4-5-20251101", "global.anthropic.claude-opus-4-5-20251101-v1:0"},
		{"claude-sonnet-4-20250514", "claude-sonnet-4-20250514", "global.anthropic.claude-sonnet-4-20250514-v1:0"},
		// No global profile: the us one.
		{"claude-opus-4-1", "claude-opus-4-1-20250805", "us.anthropic.claude-opus-4-1-20250805-v1:0"},
		{"claude-opus-4-20250514", "claude-opus-4-20250514", "us.anthropic.claude-opus-4-20250514-v1:0"},
		{"claude-3-7-sonnet-20250219", "claude-3-7-sonnet-20250219", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"},
		{"claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022", "us.anthropic.claude-3-5-haiku-20241022-v1:0"},
	}
	for _, tt := range tests {
		m, ok := byName[tt.name]
		if !ok {
			t.Errorf("catalog has no %q", tt.name)
			continue
		}
		if m.Name != tt.wantModel || m.Targets[0].Model != tt.wantTarget || m.Targets[0].Provider != "bedrock" {
			t.Errorf("catalog[%q] = %s -> %s/%s, want %s -> bedrock/%s", tt.name, m.Name, m.Targets[0].Provider, m.Targets[0].Model, tt.wantModel, tt.wantTarget)
		}
	}
}

func TestCatalogPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		want   map[string]string // model -> target; "" means left out
	}{
		{prefix: "eu", want: map[string]string{
			"claude-sonnet-4-5-20250929": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
			"claude-opus-4-8":            "eu.anthropic.claude-opus-4-8",
			"claude-opus-4-1-20250805":   "", // us only: never silently leave the EU
		}},
		{prefix: "jp", want: map[string]string{
			"claude-sonnet-4-5-20250929": "jp.anthropic.claude-sonnet-4-5-20250929-v1:0",
			"claude-opus-4-6":            "jp.anthropic.claude-opus-4-6-v1",
			"claude-opus-4-8":            "", // not confirmed in jp
			"claude-haiku-4-5-20251001":  "",
		}},
		{prefix: "none", want: map[string]string{
			"claude-sonnet-4-5-20250929": "anthropic.claude-sonnet-4-5-20250929-v1:0",
			"claude-opus-4-1-20250805":   "anthropic.claude-opus-4-1-20250805-v1:0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			c := mustParse(t, "routing:\n  bedrock_prefix: "+tt.prefix+"\n")
			got := map[string]string{}
			for _, m := range c.AllModels() {
				got[m.Name] = m.Targets[0].Model
			}
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("prefix %s: %s -> %q, want %q", tt.prefix, name, got[name], want)
				}
			}
		})
	}
}

func TestCatalogOnAnthropic(t *testing.T) {
	c := mustParse(t, "providers:\n  anthropic: {}\n")
	for _, m := range c.AllModels() {
		want := []Target{{Provider: "anthropic", Model: m.Name}}
		if diff := cmp.Diff(want, m.Targets); diff != "" {
			t.Errorf("%s targets (-want +got):\n%s", m.Name, diff)
		}
		if len(m.Rules.DropBetas)+len(m.Rules.DropFields) > 0 {
			t.Errorf("%s has Bedrock rules %v on the Anthropic API", m.Name, m.Rules)
		}
	}
	if n := len(c.AllModels()); n != len(catalog) {
		t.Errorf("anthropic catalog has %d models, want all %d", n, len(catalog))
	}
}

func TestCatalogOff(t *testing.T) {
	c := mustParse(t, "routing:\n  catalog: none\n")
	if got := c.AllModels(); len(got) != 0 {
		t.Errorf("catalog: none gave %d models, want 0", len(got))
	}
}

// Catalog rules obey the same pairing rule validation enforces on files, and
// every entry is well formed.
func TestCatalogRules(t *testing.T) {
	c := DefaultWith(mapEnv(nil))
	seen := map[string]bool{}
	for _, m := range c.AllModels() {
		for _, n := range m.names() {
			if seen[n] {
				t.Errorf("catalog name %q appears twice", n)
			}
			seen[n] = true
		}
		for _, b := range m.Rules.DropBetas {
			if f, ok := betaFields[b]; ok && !slices.Contains(m.Rules.DropFields, f) {
				t.Errorf("%s drops beta %s but keeps its field %s", m.Name, b, f)
			}
		}
		if !slices.Contains(m.Rules.DropBetas, "mcp-servers-2025-12-04") {
			t.Errorf("%s lacks the Bedrock-wide MCP rule", m.Name)
		}
	}
	// The whole default catalog, written out as listed models, validates.
	c.Models = c.AllModels()
	if err := c.Validate(); err != nil {
		t.Errorf("catalog as listed models: %v", err)
	}
}

func TestCreated(t *testing.T) {
	tests := []struct {
		name string
		want time.Time
	}{
		{"claude-sonnet-4-5-20250929", time.Date(2025, 9, 29, 0, 0, 0, 0, time.UTC)},
		{"claude-opus-4-8", time.Time{}},
		{"claude-x-2025092", time.Time{}},
		{"claude-x-20251399", time.Time{}},
	}
	for _, tt := range tests {
		if got := created(tt.name); !got.Equal(tt.want) {
			t.Errorf("created(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A listed model that claims a catalog name replaces the catalog entry and
// takes its other names and date.
func TestAllModelsOverride(t *testing.T) {
	c := mustParse(t, `
models:
  - name: claude-sonnet-4-5
    targets: [{model: eu.anthropic.claude-sonnet-4-5-20250929-v1:0}]
  - name: my-haiku
    aliases: [claude-haiku-4-5-20251001]
    targets: [{model: us.anthropic.claude-haiku-4-5-20251001-v1:0}]
`)
	all := c.AllModels()
	if n := len(all); n != len(catalog) {
		t.Errorf("AllModels() has %d models, want %d (2 listed replace 2 catalog entries)", n, len(catalog))
	}
	want := []Model{
		{
			Name: "claude-sonnet-4-5", DisplayName: "claude-sonnet-4-5",
			Aliases: []string{"claude-sonnet-4-5-20250929"},
			Targets: []Target{{Provider: "bedrock", Model: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"}},
			Created: time.Date(2025, 9, 29, 0, 0, 0, 0, time.UTC),
		},
		{
			Name: "my-haiku", DisplayName: "my-haiku",
			Aliases: []string{"claude-haiku-4-5-20251001", "claude-haiku-4-5"},
			Targets: []Target{{Provider: "bedrock", Model: "us.anthropic.claude-haiku-4-5-20251001-v1:0"}},
			Created: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC),
		},
	}
	if diff := cmp.Diff(want, all[:2]); diff != "" {
		t.Errorf("AllModels() overrides (-want +got):\n%s", diff)
	}
	// The listed models themselves are not modified.
	if len(c.Models[0].Aliases) != 0 {
		t.Errorf("AllModels modified c.Models: %v", c.Models[0].Aliases)
	}
	for _, m := range all[2:] {
		if m.Name == "claude-sonnet-4-5-20250929" || m.Name == "claude-haiku-4-5-20251001" {
			t.Errorf("overridden catalog entry %s still listed", m.Name)
		}
	}
}
