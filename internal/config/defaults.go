package config

import (
	"maps"
	"path/filepath"
	"slices"
	"time"
)

// Default values, as documented on the fields.
const (
	DefaultListen            = "127.0.0.1:4000"
	DefaultDataDir           = "./tollgate-data"
	DefaultLogLevel          = "info"
	DefaultLogFormat         = "json"
	DefaultMaxBodyBytes      = 32 << 20
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 10 * time.Minute
	DefaultShutdownGrace     = 30 * time.Second
	DefaultPingInterval      = 15 * time.Second
	DefaultBodyReadTimeout   = 60 * time.Second

	DefaultUsageFlushInterval = time.Second

	// Budgets shared across replicas (config.Replicas).
	DefaultLeaseSharePercent      = 10
	DefaultLeaseTTL               = 30 * time.Second
	DefaultReplicaFlushInterval   = 200 * time.Millisecond
	DefaultReplicaDatabaseTimeout = 500 * time.Millisecond
	DefaultUsageBatchSize         = 500
	DefaultUsageQueueSize         = 100000
	DefaultUsageRetention         = 90 * 24 * time.Hour
	DefaultUsageSpillMaxBytes     = 64 << 20

	DefaultRegion              = "us-east-1"
	DefaultAnthropicBaseURL    = "https://api.anthropic.com"
	DefaultAnthropicAPIKeyEnv  = "ANTHROPIC_API_KEY"
	DefaultConnectTimeout      = 10 * time.Second
	DefaultFirstByteTimeout    = 120 * time.Second
	DefaultNonStreamTimeout    = 15 * time.Minute
	DefaultReadIdleTimeout     = 5 * time.Minute
	DefaultMaxIdleConnsPerHost = 256
	DefaultMaxRetries          = 2
	// DefaultCooldown is how long a target is skipped after a throttle or
	// a 5xx without retry-after.
	DefaultCooldown = 30 * time.Second
	// DefaultQueueTimeout is how long a call waits for a slot on a target
	// at its max_concurrent.
	DefaultQueueTimeout = 2 * time.Second
	// DefaultRetryBackoff is the first delay before retrying an upstream
	// call; it doubles per attempt, with jitter. Not configurable.
	DefaultRetryBackoff = 250 * time.Millisecond
	// DefaultMaxRetryAfter is the longest upstream retry-after the gateway
	// waits out itself before retrying; longer ones go back to the client.
	// Not configurable.
	DefaultMaxRetryAfter = 10 * time.Second

	CatalogDefault       = "default"
	CatalogNone          = "none"
	DefaultBedrockPrefix = "global"
	// PrefixNone is the BedrockPrefix for in-region base model ids.
	PrefixNone = "none"
)

// applyDefaults fills every field left empty with its documented default.
// It never overrides a value from the file, and it leaves invalid values for
// validate to report.
func (c *Config) applyDefaults(lookup LookupEnv) {
	c.Listen = or(c.Listen, DefaultListen)
	c.DataDir = or(c.DataDir, DefaultDataDir)
	c.Log.Level = or(c.Log.Level, DefaultLogLevel)
	c.Log.Format = or(c.Log.Format, DefaultLogFormat)

	if v, ok := lookup("TOLLGATE_DATABASE_URL"); ok && v != "" {
		c.Database = v
	}
	c.Database = or(c.Database, "sqlite://"+filepath.Join(c.DataDir, "tollgate.db"))
	rp := &c.Replicas
	rp.LeaseSharePercent = orZero(rp.LeaseSharePercent, DefaultLeaseSharePercent)
	rp.LeaseTTL = orZero(rp.LeaseTTL, DefaultLeaseTTL)
	rp.FlushInterval = orZero(rp.FlushInterval, DefaultReplicaFlushInterval)
	rp.DatabaseTimeout = orZero(rp.DatabaseTimeout, DefaultReplicaDatabaseTimeout)
	u := &c.Usage
	u.FlushInterval = orZero(u.FlushInterval, DefaultUsageFlushInterval)
	u.BatchSize = orZero(u.BatchSize, DefaultUsageBatchSize)
	u.QueueSize = orZero(u.QueueSize, DefaultUsageQueueSize)
	u.Retention = orZero(u.Retention, DefaultUsageRetention)
	u.SpillPath = or(u.SpillPath, filepath.Join(c.DataDir, "usage-spill.jsonl"))
	u.SpillMaxBytes = orZero(u.SpillMaxBytes, DefaultUsageSpillMaxBytes)
	u.QuarantinePath = or(u.QuarantinePath, filepath.Join(c.DataDir, "usage-quarantine.jsonl"))

	c.Alerts.applyDefaults()
	c.SignIn.applyDefaults()
	c.GitHubActions.applyDefaults()

	s := &c.Server
	s.MaxBodyBytes = orZero(s.MaxBodyBytes, DefaultMaxBodyBytes)
	s.ReadHeaderTimeout = orZero(s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	s.IdleTimeout = orZero(s.IdleTimeout, DefaultIdleTimeout)
	s.ShutdownGrace = orZero(s.ShutdownGrace, DefaultShutdownGrace)
	s.PingInterval = orZero(s.PingInterval, DefaultPingInterval)
	s.BodyReadTimeout = orZero(s.BodyReadTimeout, DefaultBodyReadTimeout)

	if len(c.Providers) == 0 {
		c.Providers = map[string]Provider{ProviderBedrock: {Type: ProviderBedrock}}
	}
	for name, p := range c.Providers {
		if p.Type == "" && (name == ProviderBedrock || name == ProviderAnthropic) {
			p.Type = name
		}
		switch p.Type {
		case ProviderBedrock:
			p.Region = or(p.Region, envRegion(lookup))
		case ProviderAnthropic:
			p.BaseURL = or(p.BaseURL, DefaultAnthropicBaseURL)
			p.APIKeyEnv = or(p.APIKeyEnv, DefaultAnthropicAPIKeyEnv)
		}
		p.ConnectTimeout = orZero(p.ConnectTimeout, DefaultConnectTimeout)
		p.FirstByteTimeout = orZero(p.FirstByteTimeout, DefaultFirstByteTimeout)
		p.NonStreamTimeout = orZero(p.NonStreamTimeout, DefaultNonStreamTimeout)
		p.ReadIdleTimeout = orZero(p.ReadIdleTimeout, DefaultReadIdleTimeout)
		p.MaxIdleConnsPerHost = orZero(p.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)
		if p.MaxRetries == nil {
			n := DefaultMaxRetries
			p.MaxRetries = &n
		}
		p.Cooldown = orZero(p.Cooldown, DefaultCooldown)
		c.Providers[name] = p
	}

	r := &c.Routing
	r.Catalog = or(r.Catalog, CatalogDefault)
	r.BedrockPrefix = or(r.BedrockPrefix, DefaultBedrockPrefix)
	if r.DefaultProvider == "" {
		if len(c.Providers) == 1 {
			for name := range c.Providers {
				r.DefaultProvider = name
			}
		} else if _, ok := c.Providers[ProviderBedrock]; ok {
			r.DefaultProvider = ProviderBedrock
		}
	}
	if r.Patterns == nil {
		r.Patterns = defaultPatterns(c.Providers[r.DefaultProvider].Type)
	}
	for i := range r.Patterns {
		r.Patterns[i].Provider = or(r.Patterns[i].Provider, r.DefaultProvider)
	}

	for i := range c.Models {
		m := &c.Models[i]
		m.DisplayName = or(m.DisplayName, m.Name)
		for j := range m.Targets {
			m.Targets[j].Provider = or(m.Targets[j].Provider, r.DefaultProvider)
		}
	}
}

// defaultPatterns are the pattern rules used when the file has none, so that
// a model released after this build still routes. Dated names have carried a
// "-v1:0" version on Bedrock; the undated names of 4.7 and later have none.
func defaultPatterns(providerType string) []Pattern {
	switch providerType {
	case ProviderBedrock:
		return []Pattern{
			{Match: "claude-*-20*", Model: "{prefix}.anthropic.{name}-v1:0"},
			{Match: "claude-*", Model: "{prefix}.anthropic.{name}"},
		}
	case ProviderAnthropic:
		return []Pattern{{Match: "claude-*", Model: "{name}"}}
	}
	return []Pattern{}
}

// envRegion is the region the AWS SDKs and Claude Code would pick.
func envRegion(lookup LookupEnv) string {
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v, ok := lookup(name); ok && v != "" {
			return v
		}
	}
	return DefaultRegion
}

// ProviderNames returns the provider names in sorted order, for stable
// output.
func (c *Config) ProviderNames() []string {
	return slices.Sorted(maps.Keys(c.Providers))
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orZero[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}
