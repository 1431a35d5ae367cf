// Package router turns the model name a client sends into an ordered list of
// upstream targets. A Router is an immutable snapshot built from a validated
// configuration; the server swaps snapshots atomically on reload, so Resolve
// needs no locks and does only map lookups on the hot path.
//
// Resolution order, first match wins:
//
//  1. A model name or alias, exactly, then ignoring case.
//  2. A trailing "[1m]" (any case) is stripped and adds the
//     context-1m-2025-08-07 beta, then resolution restarts with the rest.
//  3. A raw Bedrock id, as Claude Code sends in Bedrock mode
//     ("us.anthropic.claude-sonnet-4-5-20250929-v1:0",
//     "us.anthropic.claude-opus-4-8", an ARN): the model whose target has
//     exactly that id; else the model with a Bedrock target of the same base
//     id, ignoring the client's inference-profile prefix and version suffix,
//     so that the operator's choice of prefix and region wins over the
//     client's guess; else the model of that name; else a pass-through
//     route that sends the id unchanged to a Bedrock provider.
//  4. Pattern rules, in order.
//  5. ErrUnknownModel.
package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/bedrock"
	"github.com/tollgate-gw/tollgate/internal/config"
)

// Beta1M is the beta a "[1m]" model-name suffix adds: the 1M-token context
// window (protocols.md §1.5, §8 trap 10).
const Beta1M = "context-1m-2025-08-07"

// ErrUnknownModel is returned, wrapped with the name, when nothing routes a
// model name. The front doors answer it as a client error.
var ErrUnknownModel = errors.New("unknown model")

// Target is one upstream deployment a call may go to.
type Target struct {
	// Provider names an entry of config.Providers.
	Provider string
	// Model is the upstream model id to send.
	Model string
	// DropBetas and DropFields are what to remove from the call for this
	// target: the model's and the target's rules combined.
	DropBetas, DropFields []string
	// Weight is the target's share of first attempts under StrategyWeighted.
	Weight int
	// MaxConcurrent caps the calls in flight on the target; 0: no cap.
	// QueueTimeout is how long a call waits for a slot under the cap.
	MaxConcurrent int
	QueueTimeout  time.Duration
	// Cooldown is how long the target is skipped after a throttle or a 5xx
	// without retry-after; 0 or less: never.
	Cooldown time.Duration
}

// Route is the outcome of resolving a model name. Its slices are shared
// between calls and must not be modified.
type Route struct {
	// Model is the canonical public name (the configured or catalog name),
	// or the name as sent for pattern and pass-through routes. It is what
	// usage is recorded and priced under.
	Model string
	// Targets are in order: the first is the primary, the rest are
	// fallbacks tried when a target fails before the first byte.
	Targets []Target
	// AddBetas are betas implied by the name: a "[1m]" suffix adds
	// context-1m-2025-08-07.
	AddBetas []string
	// Strategy is config.StrategyOrdered, StrategyWeighted or
	// StrategyLeastBusy; Health.Order applies it.
	Strategy string
}

// ModelInfo describes a model for GET /v1/models.
type ModelInfo struct {
	ID          string
	DisplayName string
	// CreatedAt is the model's release date; zero when unknown.
	CreatedAt time.Time
}

// Router resolves model names. It is immutable after New and safe for
// concurrent use.
type Router struct {
	// byName maps every model name and alias to its route; byFold the same
	// keys lower-cased, for the case-insensitive second try.
	byName, byFold map[string]*Route
	// byUpstream maps every target's upstream id to its model's route.
	byUpstream map[string]*Route
	// byBase maps the base id of every Bedrock target (prefix stripped), and
	// that base without its version suffix, to its model's route.
	byBase   map[string]*Route
	patterns []pattern
	// passProvider receives raw Bedrock ids nothing else claims; "" when
	// there is no Bedrock provider.
	passProvider string
	passCooldown time.Duration
	passRules    config.Rules
	models       []ModelInfo
}

// pattern is a compiled routing.patterns rule.
type pattern struct {
	glob     []string // match split at '*': literal parts
	provider string
	cooldown time.Duration
	// template split around placeholders: literal, placeholder, literal…
	parts []string
	rules config.Rules
}

// New builds a Router from a configuration that has been loaded (defaults
// applied and validated). It reports inconsistencies a validated
// configuration cannot have, rather than routing to nowhere.
func New(cfg *config.Config) (*Router, error) {
	if cfg == nil {
		return nil, errors.New("router: nil config")
	}
	r := &Router{
		byName:     map[string]*Route{},
		byFold:     map[string]*Route{},
		byUpstream: map[string]*Route{},
		byBase:     map[string]*Route{},
	}
	isBedrock := func(provider string) bool {
		return cfg.Providers[provider].Type == config.ProviderBedrock
	}

	for _, m := range cfg.AllModels() {
		route := &Route{Model: m.Name, Strategy: m.Strategy}
		if route.Strategy == "" {
			route.Strategy = config.StrategyOrdered
		}
		for _, t := range m.Targets {
			pc, ok := cfg.Providers[t.Provider]
			if !ok {
				return nil, fmt.Errorf("router: model %q: unknown provider %q", m.Name, t.Provider)
			}
			rules := config.MergeRules(m.Rules, t.Rules)
			weight := 1
			if t.Weight != nil {
				weight = *t.Weight
			}
			queue := t.QueueTimeout
			if queue == 0 {
				queue = config.DefaultQueueTimeout
			}
			route.Targets = append(route.Targets, Target{
				Provider:      t.Provider,
				Model:         t.Model,
				DropBetas:     rules.DropBetas,
				DropFields:    rules.DropFields,
				Weight:        weight,
				MaxConcurrent: t.MaxConcurrent,
				QueueTimeout:  queue,
				Cooldown:      pc.Cooldown,
			})
		}
		if len(route.Targets) == 0 {
			return nil, fmt.Errorf("router: model %q has no targets", m.Name)
		}
		// Earlier models win every index: listed models come before the
		// catalog, so the operator's choice wins.
		for _, name := range append([]string{m.Name}, m.Aliases...) {
			putFirst(r.byName, name, route)
			putFirst(r.byFold, strings.ToLower(name), route)
		}
		for _, t := range route.Targets {
			putFirst(r.byUpstream, t.Model, route)
			if !isBedrock(t.Provider) {
				continue
			}
			if base, ok := bedrock.BaseModelID(t.Model); ok {
				putFirst(r.byBase, base, route)
				putFirst(r.byBase, trimVersion(base), route)
			}
		}
		r.models = append(r.models, ModelInfo{ID: m.Name, DisplayName: m.DisplayName, CreatedAt: m.Created})
	}

	prefix := cfg.Routing.BedrockPrefix
	if prefix == config.PrefixNone {
		prefix = ""
	}
	for i, p := range cfg.Routing.Patterns {
		if _, ok := cfg.Providers[p.Provider]; !ok {
			return nil, fmt.Errorf("router: routing.patterns[%d]: unknown provider %q", i, p.Provider)
		}
		cp := pattern{glob: splitGlob(p.Match), provider: p.Provider, cooldown: cfg.Providers[p.Provider].Cooldown}
		tmpl := p.Model
		if prefix == "" {
			// In-region base ids: "{prefix}." goes away with its dot.
			tmpl = strings.ReplaceAll(tmpl, "{prefix}.", "")
		}
		parts, err := compileTemplate(tmpl, prefix)
		if err != nil {
			return nil, fmt.Errorf("router: routing.patterns[%d].model: %w", i, err)
		}
		cp.parts = parts
		if isBedrock(p.Provider) {
			cp.rules = config.BedrockRules()
		}
		r.patterns = append(r.patterns, cp)
	}

	// Raw Bedrock ids nothing claims go to the default provider when it is
	// Bedrock, else to the first Bedrock provider by name: sending a Bedrock
	// id to the Anthropic API could only fail.
	if isBedrock(cfg.Routing.DefaultProvider) {
		r.passProvider = cfg.Routing.DefaultProvider
	} else {
		for _, name := range cfg.ProviderNames() {
			if isBedrock(name) {
				r.passProvider = name
				break
			}
		}
	}
	r.passRules = config.BedrockRules()
	r.passCooldown = cfg.Providers[r.passProvider].Cooldown
	return r, nil
}

func putFirst(m map[string]*Route, key string, route *Route) {
	if _, ok := m[key]; !ok {
		m[key] = route
	}
}

// add1M is shared by every [1m] route; Route documents that its slices are
// read-only.
var add1M = []string{Beta1M}

// Resolve maps a model name, as a client sent it, to its route. Unknown names
// return an error wrapping ErrUnknownModel.
func (r *Router) Resolve(name string) (Route, error) {
	if route, ok := r.lookup(name); ok {
		return route, nil
	}
	if config.HasContext1MSuffix(name) {
		base := name[:len(name)-len(config.Context1MSuffix)]
		// Only one suffix: "x[1m][1m]" is not a name any client sends.
		if !config.HasContext1MSuffix(base) {
			if route, ok := r.resolve(base); ok {
				route.AddBetas = add1M
				return route, nil
			}
		}
	} else if route, ok := r.resolve(name); ok {
		return route, nil
	}
	return Route{}, fmt.Errorf("%w %q", ErrUnknownModel, name)
}

// resolve runs every step but the [1m] one for a name without the suffix.
func (r *Router) resolve(name string) (Route, bool) {
	if route, ok := r.lookup(name); ok {
		return route, true
	}
	if route, ok := r.resolveBedrockID(name); ok {
		return route, true
	}
	for i := range r.patterns {
		p := &r.patterns[i]
		if !p.match(name) {
			continue
		}
		return Route{
			Model: name,
			Targets: []Target{{
				Provider:   p.provider,
				Model:      p.expand(name),
				DropBetas:  p.rules.DropBetas,
				DropFields: p.rules.DropFields,
				Cooldown:   p.cooldown,
			}},
			Strategy: config.StrategyOrdered,
		}, true
	}
	return Route{}, false
}

// lookup finds a model by name or alias, exactly, then ignoring case.
func (r *Router) lookup(name string) (Route, bool) {
	if route, ok := r.byName[name]; ok {
		return *route, true
	}
	// ToLower returns its argument without allocating when there is nothing
	// to lower; the folded map also catches a lower-case name sent for a
	// configured "Fast".
	if route, ok := r.byFold[strings.ToLower(name)]; ok {
		return *route, true
	}
	return Route{}, false
}

// resolveBedrockID handles ids a Bedrock client sends: base ids,
// inference-profile ids and ARNs.
func (r *Router) resolveBedrockID(id string) (Route, bool) {
	base, isID := bedrock.BaseModelID(id)
	if !isID && !bedrock.IsARN(id) {
		return Route{}, false
	}
	if route, ok := r.byUpstream[id]; ok {
		return *route, true
	}
	if isID {
		loose := trimVersion(base)
		if route, ok := r.byBase[base]; ok {
			return *route, true
		}
		if route, ok := r.byBase[loose]; ok {
			return *route, true
		}
		// anthropic.claude-haiku-4-5-20251001-v1:0 is the model
		// claude-haiku-4-5-20251001, wherever the operator serves it.
		if route, ok := r.byName[strings.TrimPrefix(loose, "anthropic.")]; ok {
			return *route, true
		}
	}
	if r.passProvider == "" {
		return Route{}, false
	}
	return Route{
		Model: publicName(id),
		Targets: []Target{{
			Provider:   r.passProvider,
			Model:      id,
			DropBetas:  r.passRules.DropBetas,
			DropFields: r.passRules.DropFields,
			Cooldown:   r.passCooldown,
		}},
		Strategy: config.StrategyOrdered,
	}, true
}

// Models lists the models clients can name, listed ones first, then the
// catalog newest first, for GET /v1/models. Aliases are not listed. The
// result is a copy.
func (r *Router) Models() []ModelInfo {
	return slices.Clone(r.models)
}

// publicName is the model name usage rows and charts use for a Bedrock id
// nothing in the config names: us.anthropic.claude-opus-5-5 and
// global.anthropic.claude-opus-5-5-v1:0 are both claude-opus-5-5, so that
// the region prefix does not split a model in two. ARNs stay as they are.
func publicName(id string) string {
	base, ok := bedrock.BaseModelID(id)
	if !ok {
		return id
	}
	return strings.TrimPrefix(trimVersion(base), "anthropic.")
}

// trimVersion strips a Bedrock version suffix: "-v1:0" or "-v1".
func trimVersion(id string) string {
	i := strings.LastIndex(id, "-v")
	if i < 0 {
		return id
	}
	v := id[i+2:]
	major, minor, _ := strings.Cut(v, ":")
	if !allDigits(major) || (strings.Contains(v, ":") && !allDigits(minor)) {
		return id
	}
	return id[:i]
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitGlob compiles a glob: its literal parts around each '*'.
func splitGlob(glob string) []string {
	return strings.Split(glob, "*")
}

// match reports whether name matches the glob: its literal parts in order,
// the first anchored at the start and the last at the end.
func (p *pattern) match(name string) bool {
	g := p.glob
	if len(g) == 1 {
		return name == g[0]
	}
	if !strings.HasPrefix(name, g[0]) {
		return false
	}
	name = name[len(g[0]):]
	last := g[len(g)-1]
	for _, part := range g[1 : len(g)-1] {
		i := strings.Index(name, part)
		if i < 0 {
			return false
		}
		name = name[i+len(part):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}

// nameSlot marks where the requested name goes in a compiled template.
const nameSlot = "\x00name"

// compileTemplate splits a template into literal parts and name slots, with
// {prefix} already substituted.
func compileTemplate(t, prefix string) ([]string, error) {
	var parts []string
	for t != "" {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			parts = append(parts, t)
			break
		}
		if i > 0 {
			parts = append(parts, t[:i])
		}
		end := strings.IndexByte(t[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unmatched { in %q", t)
		}
		switch ph := t[i+1 : i+end]; ph {
		case "name":
			parts = append(parts, nameSlot)
		case "prefix":
			parts = append(parts, prefix)
		default:
			return nil, fmt.Errorf("unknown placeholder {%s}", ph)
		}
		t = t[i+end+1:]
	}
	return parts, nil
}

// expand fills a compiled template with the requested name.
func (p *pattern) expand(name string) string {
	var b strings.Builder
	n := 0
	for _, part := range p.parts {
		if part == nameSlot {
			n += len(name)
		} else {
			n += len(part)
		}
	}
	b.Grow(n)
	for _, part := range p.parts {
		if part == nameSlot {
			b.WriteString(name)
		} else {
			b.WriteString(part)
		}
	}
	return b.String()
}
