package config

import (
	"strings"

	"github.com/tollgate-gw/tollgate/internal/bedrock"
)

// CheckModel checks a model added at run time (the admin API's models,
// stored in the database) against c, the configuration in force: the
// rules a file model obeys — known providers, upstream ids that suit their
// provider, strategy, weights, caps, drop rules — and, since nothing but
// the gateway will ever read it, a Bedrock upstream id that is exactly what
// the Bedrock model-id grammar accepts. Problem paths are relative to the
// model ("targets[0].model"). Whether its name clashes with a file model is
// not checked here: the file wins, and the clash is shown, not refused
// (see the gateway's model listing).
func (c *Config) CheckModel(m Model) []Problem {
	v := &validator{c: c}
	if m.Name == "" {
		v.add("name", "name is required")
	} else if strings.ContainsAny(m.Name, "*?[]{}") {
		v.add("name", "%q: a model name must not contain glob characters (* ? [ ] { })", m.Name)
	}
	if len(m.Targets) == 0 {
		v.add("targets", "at least one target is required")
	}
	v.rules("", m.Rules, Rules{})
	v.routingPolicy("", m)
	for j, t := range m.Targets {
		tp := indexPath("targets", j)
		v.target(tp, t)
		v.rules(tp, t.Rules, m.Rules)
		if pc, ok := c.Providers[t.Provider]; ok && pc.Type == ProviderBedrock && t.Model != "" &&
			!bedrock.IsModelID(t.Model) && !bedrock.IsARN(t.Model) && !strings.HasPrefix(t.Model, "claude-") {
			v.add(tp+".model", "%q is not a Bedrock model id, inference-profile id or ARN (provider %q is bedrock), such as \"us.anthropic.claude-sonnet-4-5-20250929-v1:0\"",
				t.Model, t.Provider)
		}
	}
	for i := range v.problems {
		v.problems[i].Path = strings.TrimPrefix(v.problems[i].Path, ".")
	}
	return v.problems
}
