package config

import (
	"slices"
	"strings"
	"time"
)

// The built-in catalog: the Claude models Claude Code and the SDKs name, so
// that `tollgate serve` with no configuration routes them. Sources: the
// Anthropic "Claude on Amazon Bedrock" model table and protocols.md §6.1 for
// ids and inference-profile prefixes; the Claude Code 2.1.197 wire trace for
// the names clients send (claude-opus-4-8, claude-sonnet-5,
// claude-haiku-4-5-20251001, us.anthropic.claude-opus-4-6-v1).
//
// Rules here are deliberately few: each one removes something Bedrock has
// been documented or observed to reject for that model, with the evidence
// next to it. A beta is never dropped while the body field it enables is
// kept (Bedrock answers that with "Extra inputs are not permitted").
// Anything not listed passes through untouched; operators add their own
// rules on listed models as Bedrock changes.
type catalogEntry struct {
	// name is the Anthropic API id, which is also the public name.
	name    string
	aliases []string
	display string
	// bedrock is the Bedrock base model id, without an inference-profile
	// prefix.
	bedrock string
	// profiles are the inference-profile prefixes the model has. For models
	// without a global profile the list starts with the one used when the
	// configured prefix is global.
	profiles []string
	// drop is what Bedrock rejects for this model, on top of bedrockRules.
	drop Rules
}

// bedrockRules apply to every Bedrock route Tollgate makes up itself
// (catalog, pattern and raw-id routes), never to models an operator lists.
//
// The MCP connector (beta mcp-servers-2025-12-04, body field mcp_servers) is
// an Anthropic API feature; Bedrock answers "invalid beta flag"
// (protocols.md §8 trap 1; LiteLLM drops it for Bedrock, BerriAI/litellm
// #19877). Both halves go, or the field alone would fail the call.
var bedrockRules = Rules{
	DropBetas:  []string{"mcp-servers-2025-12-04"},
	DropFields: []string{"mcp_servers"},
}

// BedrockRules returns the rules applied to every Bedrock route Tollgate
// derives itself (catalog, pattern and raw-id routes). The result is a copy.
func BedrockRules() Rules {
	return MergeRules(bedrockRules, Rules{})
}

var (
	// profilesAssumed is used for models our sources do not list yet: the
	// global, us and eu profiles every Claude model since Sonnet 4.5 has had
	// (Claude Code itself sends us.anthropic.claude-opus-4-8). With another
	// prefix such a model is left out of the catalog until it is confirmed.
	profilesAssumed = []string{"global", "us", "eu"}
)

var catalog = []catalogEntry{
	// The 5.5 generation is what Claude Code 2.1.332 (the newest release
	// when this was written) asks for by default: claude-opus-5-5 and
	// us.anthropic.claude-opus-5-5 were seen on the wire; profiles assumed.
	{
		name: "claude-opus-5-5", display: "Claude Opus 5.5",
		bedrock: "anthropic.claude-opus-5-5", profiles: profilesAssumed,
	},
	{
		name: "claude-sonnet-5-5", display: "Claude Sonnet 5.5",
		bedrock: "anthropic.claude-sonnet-5-5", profiles: profilesAssumed,
	},
	{
		name: "claude-haiku-5-5", display: "Claude Haiku 5.5",
		bedrock: "anthropic.claude-haiku-5-5", profiles: profilesAssumed,
	},
	{
		name: "claude-opus-4-8", display: "Claude Opus 4.8",
		bedrock: "anthropic.claude-opus-4-8", profiles: profilesAssumed,
	},
	{
		name: "claude-sonnet-5", display: "Claude Sonnet 5",
		bedrock: "anthropic.claude-sonnet-5", profiles: profilesAssumed,
	},
	{
		// No ARN-versioned id exists; profiles observed in
		// anthropics/claude-code#49648 (global.), #49370 (eu.), #49490 (us.).
		name: "claude-opus-4-7", display: "Claude Opus 4.7",
		bedrock: "anthropic.claude-opus-4-7", profiles: profilesAssumed,
		drop: Rules{
			// Bedrock's Opus 4.7 answers 400 "invalid beta flag" to the
			// betas Claude Code sends (anthropics/claude-code#49370,
			// #49648; protocols.md §8 trap 1). interleaved-thinking is
			// reported both ways (#49370 vs #49490, #49648); dropping it
			// loses nothing because 4.7 thinks only in adaptive mode, which
			// interleaves without a beta. effort is GA on 4.7: Bedrock
			// itself asks for output_config.effort (#51711), so the field
			// stays while its old beta goes. The ToolSearch tool Claude Code
			// sends is a client tool, so dropping tool-search-tool leaves no
			// orphaned body field.
			DropBetas: []string{
				"claude-code-20250219",
				"effort-2025-11-24",
				"interleaved-thinking-2025-05-14",
				"tool-search-tool-2025-10-19",
			},
		},
	},
	{
		name: "claude-sonnet-4-6", display: "Claude Sonnet 4.6",
		bedrock: "anthropic.claude-sonnet-4-6", profiles: []string{"global", "us", "eu", "jp"},
	},
	{
		name: "claude-opus-4-6", display: "Claude Opus 4.6",
		bedrock: "anthropic.claude-opus-4-6-v1", profiles: []string{"global", "us", "eu", "jp", "apac"},
	},
	{
		name: "claude-opus-4-5-20251101", aliases: []string{"claude-opus-4-5"}, display: "Claude Opus 4.5",
		bedrock: "anthropic.claude-opus-4-5-20251101-v1:0", profiles: []string{"global", "us", "eu"},
	},
	{
		name: "claude-haiku-4-5-20251001", aliases: []string{"claude-haiku-4-5"}, display: "Claude Haiku 4.5",
		bedrock: "anthropic.claude-haiku-4-5-20251001-v1:0", profiles: []string{"global", "us", "eu"},
	},
	{
		name: "claude-sonnet-4-5-20250929", aliases: []string{"claude-sonnet-4-5"}, display: "Claude Sonnet 4.5",
		bedrock: "anthropic.claude-sonnet-4-5-20250929-v1:0", profiles: []string{"global", "us", "eu", "jp"},
		drop: Rules{
			// Rejected with "invalid beta flag" on Sonnet 4.5 (protocols.md
			// §8 trap 1; anthropics/claude-code#56595, #82549). None has a
			// top-level body field to pair with: 1h cache TTL works on
			// Bedrock for 4.5 models without the extended-cache-ttl beta
			// (protocols.md §6.3), and Claude Code's ToolSearch is a client
			// tool without defer_loading.
			DropBetas: []string{
				"extended-cache-ttl-2025-04-11",
				"thinking-binding-controls-2026-08-01",
				"tool-search-tool-2025-10-19",
			},
		},
	},
	{
		// us only (protocols.md §6.1).
		name: "claude-opus-4-1-20250805", aliases: []string{"claude-opus-4-1"}, display: "Claude Opus 4.1",
		bedrock: "anthropic.claude-opus-4-1-20250805-v1:0", profiles: []string{"us"},
	},
	{
		// us only: not in the 2026 Anthropic table; AWS lists only a US
		// profile for it.
		name: "claude-opus-4-20250514", aliases: []string{"claude-opus-4-0"}, display: "Claude Opus 4",
		bedrock: "anthropic.claude-opus-4-20250514-v1:0", profiles: []string{"us"},
	},
	{
		name: "claude-sonnet-4-20250514", aliases: []string{"claude-sonnet-4-0"}, display: "Claude Sonnet 4",
		bedrock: "anthropic.claude-sonnet-4-20250514-v1:0", profiles: []string{"global", "us", "eu", "apac"},
	},
	{
		// No global profile (protocols.md §6.1).
		name: "claude-3-7-sonnet-20250219", aliases: []string{"claude-3-7-sonnet-latest"}, display: "Claude Sonnet 3.7",
		bedrock: "anthropic.claude-3-7-sonnet-20250219-v1:0", profiles: []string{"us", "eu", "apac"},
	},
	{
		// us only; legacy on Bedrock, end of life 2026-06-19
		// (protocols.md §6.1).
		name: "claude-3-5-haiku-20241022", aliases: []string{"claude-3-5-haiku-latest"}, display: "Claude Haiku 3.5",
		bedrock: "anthropic.claude-3-5-haiku-20241022-v1:0", profiles: []string{"us"},
	},
}

// catalogByName indexes the catalog by name and alias, for suggestions.
var catalogByName = func() map[string]*catalogEntry {
	m := map[string]*catalogEntry{}
	for i := range catalog {
		e := &catalog[i]
		m[e.name] = e
		for _, a := range e.aliases {
			m[a] = e
		}
	}
	return m
}()

// bedrockID is the model id to send to Bedrock for this entry with the
// operator's prefix, or false when the entry should be left out.
func (e *catalogEntry) bedrockID(prefix string) (string, bool) {
	switch {
	case prefix == PrefixNone:
		return e.bedrock, true
	case slices.Contains(e.profiles, prefix):
		return prefix + "." + e.bedrock, true
	case prefix == DefaultBedrockPrefix:
		// global is a price choice, not a residency one: fall back to the
		// model's first geo profile (us for every such model).
		return e.profiles[0] + "." + e.bedrock, true
	}
	return "", false
}

// created is the date in a dated model id (claude-x-20250929), or zero.
func created(name string) time.Time {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || len(name)-i-1 != 8 {
		return time.Time{}
	}
	t, err := time.Parse("20060102", name[i+1:])
	if err != nil {
		return time.Time{}
	}
	return t
}

// catalogModels is the built-in catalog resolved against this configuration:
// targets on the default provider, Bedrock ids with the configured prefix.
// It is empty when the catalog is off or the default provider is unusable.
func (c *Config) catalogModels() []Model {
	if c.Routing.Catalog != CatalogDefault {
		return nil
	}
	provider, ok := c.Providers[c.Routing.DefaultProvider]
	if !ok {
		return nil
	}
	models := make([]Model, 0, len(catalog))
	for i := range catalog {
		e := &catalog[i]
		m := Model{
			Name:        e.name,
			DisplayName: e.display,
			Aliases:     slices.Clone(e.aliases),
			Created:     created(e.name),
		}
		t := Target{Provider: c.Routing.DefaultProvider}
		switch provider.Type {
		case ProviderAnthropic:
			t.Model = e.name
		case ProviderBedrock:
			id, ok := e.bedrockID(c.Routing.BedrockPrefix)
			if !ok {
				continue
			}
			t.Model = id
			m.Rules = MergeRules(bedrockRules, e.drop)
		default:
			return nil
		}
		m.Targets = []Target{t}
		models = append(models, m)
	}
	return models
}

// AllModels returns every model clients can name: the listed models, in file
// order, then the catalog models they do not override, newest first.
//
// A listed model overrides a catalog model when it claims any of its names
// (name or alias). It then also receives the catalog model's remaining names
// as extra aliases, and its release date, so that overriding
// "claude-sonnet-4-5" moves "claude-sonnet-4-5-20250929" with it rather than
// leaving that name to a pattern rule. Listed models get no catalog rules:
// their rules are exactly what the file says.
//
// The result is freshly allocated; callers may modify it.
func (c *Config) AllModels() []Model {
	out := make([]Model, 0, len(c.Models)+len(catalog))
	owner := map[string]int{}
	for _, m := range c.Models {
		m.Aliases = slices.Clone(m.Aliases)
		m.Targets = slices.Clone(m.Targets)
		out = append(out, m)
		for _, n := range m.names() {
			if _, dup := owner[n]; !dup {
				owner[n] = len(out) - 1
			}
		}
	}
	for _, e := range c.catalogModels() {
		claimer := -1
		for _, n := range e.names() {
			if i, ok := owner[n]; ok {
				claimer = i
				break
			}
		}
		if claimer < 0 {
			out = append(out, e)
			continue
		}
		u := &out[claimer]
		for _, n := range e.names() {
			if _, ok := owner[n]; !ok {
				u.Aliases = append(u.Aliases, n)
				owner[n] = claimer
			}
		}
		if u.Created.IsZero() {
			u.Created = e.Created
		}
	}
	return out
}

// names returns the model's name followed by its aliases.
func (m *Model) names() []string {
	return append([]string{m.Name}, m.Aliases...)
}

// MergeRules returns the rules of a model and of one of its targets
// combined, in order and without duplicates: what applies to a call on that
// target. The result shares no memory with its arguments.
func MergeRules(model, target Rules) Rules {
	return Rules{
		DropBetas:  union(model.DropBetas, target.DropBetas),
		DropFields: union(model.DropFields, target.DropFields),
	}
}

func union(a, b []string) []string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]string, 0, len(a)+len(b))
	for _, s := range slices.Concat(a, b) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
