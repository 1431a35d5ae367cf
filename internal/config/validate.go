package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/bedrock"
)

// Allowed values, in the order error messages list them.
var (
	logLevels      = []string{"debug", "info", "warn", "error"}
	logFormats     = []string{"json", "text"}
	providerTypes  = []string{ProviderBedrock, ProviderAnthropic}
	catalogModes   = []string{CatalogDefault, CatalogNone}
	bedrockPrefixs = []string{"global", "us", "eu", "apac", "jp", "au", "us-gov", PrefixNone}
)

// regionRE matches AWS region names: us-east-1, eu-central-2, us-gov-west-1,
// ap-southeast-4.
var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// providerNameRE keeps provider names usable in paths, logs and metric
// labels.
var providerNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// betaFields pairs betas with the top-level body field they enable. Bedrock
// rejects such a field when its beta is missing ("Extra inputs are not
// permitted"), so dropping the beta alone turns a feature that degrades
// gracefully into a failed call (protocols.md §8 trap 2).
var betaFields = map[string]string{
	"context-management-2025-06-27": "context_management",
	"mcp-servers-2025-12-04":        "mcp_servers",
	"structured-outputs-2025-11-13": "output_format",
}

// requiredFields cannot be dropped: no request is valid without them.
var requiredFields = []string{"messages", "max_tokens"}

// validator collects problems with their positions.
type validator struct {
	c        *Config
	pos      *positions
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, v.pos.problem(path, format, args...))
}

// validate checks a configuration after defaults, returning every problem.
// pos is nil for configurations that do not come from a file.
func (c *Config) validate(pos *positions) []Problem {
	v := &validator{c: c, pos: pos}
	v.listen()
	v.tls()
	v.oneOf("log.level", c.Log.Level, logLevels)
	v.oneOf("log.format", c.Log.Format, logFormats)
	v.server()
	v.database()
	for _, p := range c.Access.Validate() {
		v.add(p.Path, "%s", p.Message)
	}
	v.usage()
	v.replicas()
	v.metrics()
	v.prices()
	v.keys()
	v.alerts()
	v.signIn()
	v.githubActions()
	v.providers()
	v.routing()
	v.models()
	return v.problems
}

func (v *validator) database() {
	d := v.c.Database
	switch {
	case strings.HasPrefix(d, "sqlite://"):
		if strings.TrimPrefix(d, "sqlite://") == "" {
			v.add("database", "sqlite:// needs a file path, e.g. sqlite://./tollgate-data/tollgate.db")
		}
	case strings.HasPrefix(d, "postgres://"), strings.HasPrefix(d, "postgresql://"):
		if _, err := url.Parse(d); err != nil {
			v.add("database", "invalid PostgreSQL URL: %v", err)
		}
	default:
		v.add("database", "must start with sqlite:// or postgres:// (got %q)", redactURL(d))
	}
}

func (v *validator) metrics() {
	if l := v.c.Metrics.Listen; l != "" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			v.add("metrics.listen", "must be host:port, e.g. 127.0.0.1:9464 (%v)", err)
		}
	}
}

func (v *validator) replicas() {
	r := v.c.Replicas
	if r.LeaseSharePercent < 0 || r.LeaseSharePercent > 100 {
		v.add("replicas.lease_share_percent", "must be between 1 and 100")
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"lease_ttl", r.LeaseTTL}, {"flush_interval", r.FlushInterval}, {"database_timeout", r.DatabaseTimeout}} {
		if d.d < 0 {
			v.add("replicas."+d.name, "must not be negative")
		}
	}
	if r.OutageAllowanceUSD < 0 {
		v.add("replicas.outage_allowance_usd", "must not be negative")
	}
}

func (v *validator) usage() {
	u := v.c.Usage
	if u.FlushInterval < 0 {
		v.add("usage.flush_interval", "must not be negative")
	}
	if u.BatchSize < 0 {
		v.add("usage.batch_size", "must not be negative")
	}
	if u.QueueSize < 0 {
		v.add("usage.queue_size", "must not be negative")
	}
	if u.Retention < 0 {
		v.add("usage.retention", "must not be negative")
	}
	if u.SpillMaxBytes < 0 {
		v.add("usage.spill_max_bytes", "must not be negative")
	}
}

func (v *validator) prices() {
	for i, p := range v.c.Prices {
		path := fmt.Sprintf("prices[%d]", i)
		if p.Match == "" {
			v.add(path+".match", "required: a model name, upstream id or glob")
		}
		if p.Provider != "" && p.Provider != ProviderBedrock && p.Provider != ProviderAnthropic {
			v.add(path+".provider", "must be bedrock, anthropic or empty (got %q)", p.Provider)
		}
		for name, f := range map[string]float64{"input": p.Input, "output": p.Output, "cache_write_5m": p.CacheWrite5m, "cache_write_1h": p.CacheWrite1h, "cache_read": p.CacheRead} {
			if f < 0 {
				v.add(path+"."+name, "must not be negative")
			}
		}
	}
}

func (v *validator) listen() {
	host, port, err := net.SplitHostPort(v.c.Listen)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = fmt.Errorf("port out of range")
		}
	}
	if err == nil && strings.ContainsAny(host, " \t/") {
		err = fmt.Errorf("bad host")
	}
	if err != nil {
		v.add("listen", "%q is not a host:port address such as 127.0.0.1:4000 or :4000", v.c.Listen)
	}
}

func (v *validator) tls() {
	t := v.c.TLS
	switch {
	case t.CertFile == "" && t.KeyFile != "":
		v.add("tls.cert_file", "required with tls.key_file: the PEM certificate (and its chain) to serve")
	case t.KeyFile == "" && t.CertFile != "":
		v.add("tls.key_file", "required with tls.cert_file: the PEM private key of the certificate")
	}
}

func (v *validator) server() {
	s := v.c.Server
	if s.MaxBodyBytes < 0 {
		v.add("server.max_body_bytes", "must not be negative (0 means the default, 32 MiB)")
	}
	v.nonNegative("server.read_header_timeout", s.ReadHeaderTimeout)
	v.nonNegative("server.idle_timeout", s.IdleTimeout)
	v.nonNegative("server.shutdown_grace", s.ShutdownGrace)
	v.nonNegative("server.body_read_timeout", s.BodyReadTimeout)
	// ping_interval may be negative: that disables pings.
	if l := s.DebugListen; l != "" {
		if _, err := DebugAddr(l); err != nil {
			v.add("server.debug_listen", "%v", err)
		}
	}
}

func (v *validator) keys() {
	names := map[string]int{}
	secrets := map[string]int{}
	for i, k := range v.c.Keys {
		p := indexPath("keys", i)
		switch j, dup := names[k.Name]; {
		case k.Name == "":
			v.add(p+".name", "name is required: it identifies the key in logs")
		case dup:
			v.add(p+".name", "duplicate key name %q (also keys[%d])", k.Name, j)
		default:
			names[k.Name] = i
		}
		// Never echo a secret, not even in an error.
		switch j, dup := secrets[k.Secret]; {
		case k.Secret == "":
			v.add(p+".secret", "secret is required and must not be empty (usually \"${SOME_ENV_VAR}\")")
		case dup:
			owner := fmt.Sprintf("keys[%d]", j)
			if n := v.c.Keys[j].Name; n != "" {
				owner += fmt.Sprintf(" (%q)", n)
			}
			v.add(p+".secret", "same secret as %s; every key needs its own secret", owner)
		default:
			secrets[k.Secret] = i
		}
	}
}

func (v *validator) providers() {
	for _, name := range v.c.ProviderNames() {
		p := v.c.Providers[name]
		path := keyPath("providers", name)
		if !providerNameRE.MatchString(name) {
			v.add(path, "provider name %q must use letters, digits, - and _ only", name)
		}
		switch p.Type {
		case ProviderBedrock:
			if !regionRE.MatchString(p.Region) {
				from := ""
				if v.pos != nil && !v.pos.has(path+".region") {
					from = " (taken from AWS_REGION or AWS_DEFAULT_REGION; set region here or fix the variable)"
				}
				v.add(path+".region", "%q is not an AWS region name such as us-east-1%s", p.Region, from)
			}
			if p.Endpoint != "" {
				v.url(path+".endpoint", p.Endpoint)
			}
			if p.BaseURL != "" {
				v.add(path+".base_url", "base_url applies to anthropic providers; a bedrock provider takes endpoint")
			}
			if p.Profile != "" && p.APIKeyEnv != "" {
				v.add(path+".api_key_env", "set either profile (SigV4 signing) or api_key_env (a Bedrock API key), not both")
			}
		case ProviderAnthropic:
			if p.Region != "" {
				v.add(path+".region", "region applies to bedrock providers only")
			}
			if p.Endpoint != "" {
				v.add(path+".endpoint", "endpoint applies to bedrock providers; an anthropic provider takes base_url")
			}
			if p.Profile != "" {
				v.add(path+".profile", "profile applies to bedrock providers only")
			}
			v.url(path+".base_url", p.BaseURL)
		case "":
			v.add(path+".type", "type is required: %s", strings.Join(providerTypes, " or "))
		default:
			v.add(path+".type", "unknown provider type %q (known: %s)%s", p.Type, strings.Join(providerTypes, ", "), suggest(p.Type, providerTypes))
		}
		if p.APIKeyEnv != "" && !validEnvName(p.APIKeyEnv) {
			v.add(path+".api_key_env", "%q is not an environment variable name; api_key_env names the variable, it does not hold the key", p.APIKeyEnv)
		}
		v.nonNegative(path+".connect_timeout", p.ConnectTimeout)
		v.nonNegative(path+".first_byte_timeout", p.FirstByteTimeout)
		v.nonNegative(path+".non_stream_timeout", p.NonStreamTimeout)
		v.nonNegative(path+".read_idle_timeout", p.ReadIdleTimeout)
		if p.MaxIdleConnsPerHost < 0 {
			v.add(path+".max_idle_conns_per_host", "must not be negative")
		}
		if p.MaxRetries != nil && *p.MaxRetries < 0 {
			v.add(path+".max_retries", "must not be negative (0 disables retries)")
		}
	}
}

// strategies are the values of models[].strategy.
var strategies = []string{StrategyOrdered, StrategyWeighted, StrategyLeastBusy}

// routingPolicy checks a model's strategy and its targets' weights, caps and
// queue waits.
func (v *validator) routingPolicy(path string, m Model) {
	if m.Strategy != "" {
		v.oneOf(path+".strategy", m.Strategy, strategies)
	}
	total := 0
	for j, t := range m.Targets {
		tp := indexPath(path+".targets", j)
		if t.Weight != nil {
			if *t.Weight < 0 {
				v.add(tp+".weight", "must not be negative")
			} else {
				total += *t.Weight
			}
			if m.Strategy != StrategyWeighted {
				v.add(tp+".weight", "weight applies to strategy: weighted only (the model's strategy is %q)", or(m.Strategy, StrategyOrdered))
			}
		} else {
			total++
		}
		if t.MaxConcurrent < 0 {
			v.add(tp+".max_concurrent", "must not be negative (0 means no cap)")
		}
		v.nonNegative(tp+".queue_timeout", t.QueueTimeout)
		if t.QueueTimeout != 0 && t.MaxConcurrent == 0 {
			v.add(tp+".queue_timeout", "queue_timeout applies only with max_concurrent")
		}
	}
	if m.Strategy == StrategyWeighted && len(m.Targets) > 0 && total == 0 {
		v.add(path+".strategy", "weighted, but every target has weight 0: give at least one target a positive weight")
	}
}

func (v *validator) routing() {
	r := v.c.Routing
	v.oneOf("routing.catalog", r.Catalog, catalogModes)
	v.oneOf("routing.bedrock_prefix", r.BedrockPrefix, bedrockPrefixs)
	if r.DefaultProvider == "" {
		v.add("routing.default_provider", "required when there are several providers and none is named %q (providers: %s)",
			ProviderBedrock, strings.Join(v.c.ProviderNames(), ", "))
	} else {
		v.provider("routing.default_provider", r.DefaultProvider)
	}
	for i, p := range r.Patterns {
		path := indexPath("routing.patterns", i)
		switch {
		case p.Match == "":
			v.add(path+".match", "match is required, e.g. \"claude-*\"")
		case strings.ContainsAny(p.Match, "?[]{}\\"):
			v.add(path+".match", "%q: only * is a wildcard in match", p.Match)
		}
		known := v.inherited(path+".provider", p.Provider) || v.provider(path+".provider", p.Provider)
		if p.Model == "" {
			v.add(path+".model", "model is required, e.g. \"{prefix}.anthropic.{name}-v1:0\"")
			continue
		}
		usesPrefix, err := checkTemplate(p.Model)
		if err != "" {
			v.add(path+".model", "%q: %s", p.Model, err)
		} else if usesPrefix && known && v.c.Providers[p.Provider].Type != ProviderBedrock {
			v.add(path+".model", "%q: {prefix} is a Bedrock inference-profile prefix; provider %q is not bedrock", p.Model, p.Provider)
		}
	}
}

// checkTemplate validates a pattern's model template: only {name} and
// {prefix}, braces balanced. It reports whether {prefix} is used.
func checkTemplate(t string) (usesPrefix bool, problem string) {
	for rest := t; rest != ""; {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			break
		}
		if rest[open] == '}' {
			return false, "unmatched }"
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return false, "unmatched {"
		}
		switch ph := rest[open+1 : open+end]; ph {
		case "name":
		case "prefix":
			usesPrefix = true
		default:
			return false, fmt.Sprintf("unknown placeholder {%s} (known: {name}, {prefix})", ph)
		}
		rest = rest[open+end+1:]
	}
	return usesPrefix, ""
}

func (v *validator) models() {
	// seen maps a folded name to where it was first used, for duplicate
	// reports that point at both places.
	seen := map[string]string{}
	claim := func(path, name string) {
		if name == "" {
			v.add(path, "must not be empty")
			return
		}
		if strings.ContainsAny(name, " \t\r\n") {
			v.add(path, "%q must not contain whitespace", name)
		}
		if HasContext1MSuffix(name) {
			v.add(path, "%q: the [1m] suffix is reserved: clients add it to ask for the 1M context window of any model", name)
		}
		folded := strings.ToLower(name)
		if first, dup := seen[folded]; dup {
			v.add(path, "%q is already used by %s (names and aliases must be unique, ignoring case)", name, first)
			return
		}
		seen[folded] = path
	}
	for i, m := range v.c.Models {
		path := indexPath("models", i)
		if m.Name == "" {
			v.add(path+".name", "name is required")
		} else {
			claim(path+".name", m.Name)
		}
		for j, a := range m.Aliases {
			claim(indexPath(path+".aliases", j), a)
		}
		if len(m.Targets) == 0 {
			v.add(path+".targets", "at least one target is required")
		}
		v.rules(path, m.Rules, Rules{})
		v.routingPolicy(path, m)
		for j, t := range m.Targets {
			tp := indexPath(path+".targets", j)
			v.target(tp, t)
			v.rules(tp, t.Rules, m.Rules)
		}
	}
}

func (v *validator) target(path string, t Target) {
	known := false
	switch {
	case v.inherited(path+".provider", t.Provider):
	case t.Provider == "":
		v.add(path+".provider", "provider is required (routing.default_provider is not set)")
	default:
		known = v.provider(path+".provider", t.Provider)
	}
	if t.Model == "" {
		v.add(path+".model", "model is required: the upstream model id")
		return
	}
	if !known {
		return
	}
	switch v.c.Providers[t.Provider].Type {
	case ProviderBedrock:
		if strings.HasPrefix(t.Model, "claude-") {
			hint := ""
			if e, ok := catalogByName[t.Model]; ok {
				id, _ := e.bedrockID(DefaultBedrockPrefix)
				hint = fmt.Sprintf(", such as %q", id)
			}
			v.add(path+".model", "%q is an Anthropic API name, but provider %q is bedrock: use a Bedrock model id, inference-profile id or ARN%s",
				t.Model, t.Provider, hint)
		}
	case ProviderAnthropic:
		if bedrock.IsModelID(t.Model) {
			v.add(path+".model", "%q is a Bedrock id, but provider %q is anthropic: use an Anthropic API name, such as \"claude-sonnet-4-5-20250929\"",
				t.Model, t.Provider)
		}
	}
}

// rules checks one rule set; inherited are the model's rules when checking
// a target, so that a pair split between model and target still counts.
func (v *validator) rules(path string, r, inherited Rules) {
	for i, b := range r.DropBetas {
		if b == "" || strings.ContainsAny(b, ", \t") {
			v.add(indexPath(path+".drop_betas", i), "%q: one beta name per entry, without commas or spaces", b)
		}
	}
	for i, f := range r.DropFields {
		switch {
		case f == "" || strings.ContainsAny(f, ". \t"):
			v.add(indexPath(path+".drop_fields", i), "%q: name one top-level body field per entry", f)
		case slices.Contains(requiredFields, f):
			v.add(indexPath(path+".drop_fields", i), "%q is required in every request and cannot be dropped", f)
		}
	}
	fields := slices.Concat(inherited.DropFields, r.DropFields)
	for i, b := range r.DropBetas {
		if f, ok := betaFields[b]; ok && !slices.Contains(fields, f) {
			v.add(indexPath(path+".drop_betas", i),
				"dropping %q but keeping the body field %q it enables makes Bedrock reject every request that uses it (\"Extra inputs are not permitted\"); add %q to drop_fields",
				b, f, f)
		}
	}
}

// inherited reports whether the provider at path was filled in from a
// default_provider that is itself missing or unknown: that is reported once,
// at routing.default_provider, not again at every pattern and target that
// inherited it. Without positions every occurrence is reported.
func (v *validator) inherited(path, name string) bool {
	if v.pos == nil || v.pos.has(path) || name != v.c.Routing.DefaultProvider {
		return false
	}
	_, ok := v.c.Providers[name]
	return !ok
}

// provider checks that name is a configured provider and reports whether it
// is.
func (v *validator) provider(path, name string) bool {
	if _, ok := v.c.Providers[name]; ok {
		return true
	}
	names := v.c.ProviderNames()
	v.add(path, "unknown provider %q (known: %s)%s", name, strings.Join(names, ", "), suggest(name, names))
	return false
}

func (v *validator) oneOf(path, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		v.add(path, "%q is not one of %s%s", value, strings.Join(allowed, ", "), suggest(value, allowed))
	}
}

func (v *validator) nonNegative(path string, d time.Duration) {
	if d < 0 {
		v.add(path, "must not be negative (0 means the default)")
	}
}

func (v *validator) url(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		v.add(path, "%q is not an absolute http or https URL without query, such as https://host[:port][/base/path]", redactURL(raw))
	}
}

// redactURL hides a password in a URL before it is printed.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}
