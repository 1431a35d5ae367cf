// Package config defines Tollgate's YAML configuration: its schema (the
// structs below, documented in place with units and defaults), ${VAR}
// expansion, defaults, the built-in model catalog, and strict validation that
// reports every problem at once with its location.
//
// Loading runs in four steps, each of which can only make the file stricter:
//
//  1. ${VAR}, ${VAR:-default} and $$ are expanded in the raw text (see
//     ParseWith for the exact rules); an unset variable without a default is
//     an error naming the variable and its line.
//  2. The YAML is parsed and checked against the schema: unknown fields,
//     wrong types and malformed durations are all reported, with line:col.
//  3. Defaults are applied (each field's comment states its default).
//  4. The result is validated as a whole: providers, routes, names, keys.
//
// Problems from steps 2 to 4 come back together in one *ValidationError so
// an operator fixes a file in one pass.
package config

import (
	"time"

	"github.com/tollgate-gw/tollgate/internal/access"
)

// Config is the whole configuration file. The zero value is not usable; call
// Load, Parse or Default, which apply defaults and validate.
type Config struct {
	// Listen is the host:port the gateway serves on. Default
	// "127.0.0.1:4000": loopback, so that a gateway started without a
	// config file is never reachable from the network by accident.
	Listen string `yaml:"listen"`
	// TLS, when set, makes Listen serve HTTPS (HTTP/2 and HTTP/1.1 chosen
	// by ALPN) instead of plain HTTP. Default: plain HTTP, where HTTP/1.1
	// and HTTP/2 with prior knowledge (h2c) share the port.
	TLS TLS `yaml:"tls"`
	// DataDir holds the embedded SQLite database and other state. Default
	// "./tollgate-data".
	DataDir string `yaml:"data_dir"`

	// Database is where keys, budgets and usage live: "sqlite://PATH" (the
	// default, PATH = DataDir/tollgate.db) or "postgres://user:pass@host/db"
	// for several replicas. TOLLGATE_DATABASE_URL overrides it.
	Database string `yaml:"database"`

	Log    Log    `yaml:"log"`
	Server Server `yaml:"server"`
	Usage  Usage  `yaml:"usage"`
	// Replicas tunes how several gateways sharing one PostgreSQL enforce
	// budgets together; ignored on SQLite.
	Replicas Replicas `yaml:"replicas"`
	// Metrics configures the Prometheus endpoint.
	Metrics Metrics `yaml:"metrics"`

	// Prices override or extend the built-in price table, in USD per
	// million tokens.
	Prices []Price `yaml:"prices"`

	// Access rules decide, before any other work, which clients may reach
	// which paths: source IP in an allowlist OR a secret header. No rules:
	// every client may connect (keys are still required).
	Access access.Config `yaml:"access"`

	// Keys are static client keys accepted on the front doors, in addition
	// to the virtual keys in the database. With no static keys and no
	// virtual key yet, a gateway on a loopback listener (or with
	// server.open_without_keys) accepts any key, and says so loudly at
	// start, until the first virtual key closes it; any other gateway
	// refuses model calls until a key exists. Names and secrets must be
	// unique.
	Keys []Key `yaml:"keys"`

	// Alerts deliver budget threshold crossings and refusals to webhooks
	// and Slack; see Alerts.
	Alerts Alerts `yaml:"alerts"`

	// SignIn is the OIDC relying party people sign in with; see SignIn.
	SignIn SignIn `yaml:"sign_in"`
	// GitHubActions exchanges GitHub Actions OIDC tokens for short-lived
	// keys; see GitHubActions.
	GitHubActions GitHubActions `yaml:"github_actions"`

	// Providers are the upstream deployments, by name. Model targets refer to
	// them by that name. Default: one "bedrock" provider in AWS_REGION
	// (then AWS_DEFAULT_REGION, then us-east-1) with the default AWS
	// credential chain.
	Providers map[string]Provider `yaml:"providers"`

	// Routing sets how model names that are not listed in Models resolve.
	Routing Routing `yaml:"routing"`

	// Models are the public model names clients may send, each mapped to one
	// or more targets. Listed models come before the built-in catalog, which
	// is added unless Routing.Catalog is "none". Names and aliases must be
	// unique (ignoring case) among listed models. A listed model that claims
	// a catalog model's name or alias replaces that catalog entry, and takes
	// over the entry's other names as extra aliases, so that overriding
	// "claude-sonnet-4-5" also moves "claude-sonnet-4-5-20250929". See
	// AllModels.
	Models []Model `yaml:"models"`
}

// TLS is the gateway's own certificate, for a single machine with no proxy or
// load balancer in front to terminate TLS. Both files are PEM; relative paths
// are taken from the working directory. They are read at start (a pair that
// does not load stops the gateway) and looked at again at most every 5
// seconds during handshakes: when either file's modification time or size
// changes, the pair is reloaded without a restart, so a renewal (certbot,
// acme.sh) takes effect within seconds. A new pair that does not load is
// refused with a warning in the log and the previous certificate is kept.
type TLS struct {
	// CertFile is the server certificate, followed by its intermediate
	// certificates, e.g. /etc/letsencrypt/live/gw.example.com/fullchain.pem.
	// Required with KeyFile.
	CertFile string `yaml:"cert_file"`
	// KeyFile is CertFile's private key, e.g. .../privkey.pem. Required
	// with CertFile.
	KeyFile string `yaml:"key_file"`
}

// Enabled reports whether the main listener serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Log configures the process log.
type Log struct {
	// Level is debug, info, warn or error (lower case). Default info.
	Level string `yaml:"level"`
	// Format is json or text. Default json.
	Format string `yaml:"format"`
}

// Server holds HTTP server limits and timings.
type Server struct {
	// MaxBodyBytes caps a request body. Default 32 MiB, as the Anthropic API;
	// 0 keeps the default. Durations below are written with a unit ("10s",
	// "10m"); 0 keeps the default and negative values are errors unless a
	// field says otherwise.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default 10m, longer than
	// a client's own pool so the client, not us, closes them.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ShutdownGrace is how long open streams may finish after SIGTERM.
	// Default 30s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// PingInterval is the upstream silence after which a keep-alive ping is
	// sent on an open stream. Default 15s; 0 keeps the default, negative
	// disables pings.
	PingInterval time.Duration `yaml:"ping_interval"`
	// BodyReadTimeout bounds reading one request body, counted from the
	// moment its handler starts. Default 60s: Claude Code's largest bodies
	// (a few hundred KB) take well under a second on any working link, and a
	// body trickled byte by byte would otherwise hold a connection, and
	// everything it reserved, for as long as the sender likes.
	BodyReadTimeout time.Duration `yaml:"body_read_timeout"`
	// OpenWithoutKeys lets a gateway that listens beyond loopback serve
	// model calls while no client key exists (no keys: in this file and no
	// virtual key in the database), admitting every caller as "anonymous".
	// Default false: such a gateway refuses model calls with a 401 that
	// says how to create a key, so that a container started with
	// --listen 0.0.0.0:4000 is never an open proxy to a paid model. A
	// loopback listener is open without it (one machine, one user). The
	// start log and the tollgate_open_mode gauge say when open mode is on.
	OpenWithoutKeys bool `yaml:"open_without_keys"`
	// DebugListen, when set, serves the Go runtime's profiles
	// (/debug/pprof/: CPU, heap, allocs, goroutine, block, mutex) and
	// execution traces (/debug/pprof/trace) on their own listener, so that a
	// tail or a leak can be examined on the running gateway. Off by default:
	// a CPU profile or a trace costs CPU while it runs, and the endpoints
	// reveal the process's internals. It must be loopback; an address
	// without a host (":6060") means 127.0.0.1. Reach it from elsewhere
	// through an SSH tunnel or kubectl port-forward.
	DebugListen string `yaml:"debug_listen"`
}

// Usage configures metering and the usage writer.
type Usage struct {
	// FlushInterval is how often queued usage rows are written. It also
	// bounds what a SIGKILL loses: the rows of the last interval, plus those
	// queued while the write in flight ran (docs/scaling.md). Default 1s.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// BatchSize is the most rows written in one transaction. Default 500.
	BatchSize int `yaml:"batch_size"`
	// QueueSize bounds the rows waiting to be written; beyond it rows are
	// dropped and counted, never blocking requests. Default 100000.
	QueueSize int `yaml:"queue_size"`
	// SpillPath is a local file (JSON lines, fsynced) where usage rows go
	// when the database cannot take them: the backlog once writes have
	// failed for 10s or fill half the queue, and at shutdown whatever is
	// not written at once. It is replayed, and removed, as soon as the
	// database answers again, at the latest at the next start. Each replica
	// needs its own. Default <data_dir>/usage-spill.jsonl.
	SpillPath string `yaml:"spill_path"`
	// SpillMaxBytes bounds the spill file; rows beyond it are dropped and
	// counted. Default 67108864 (64 MiB, about 100,000 rows).
	SpillMaxBytes int64 `yaml:"spill_max_bytes"`
	// QuarantinePath is a local file (JSON lines) where rows the database
	// refuses are kept, with the error, so that one bad row never blocks
	// the others. It should stay empty; tollgate_usage_writer_quarantined_total
	// counts what lands there. Default <data_dir>/usage-quarantine.jsonl.
	QuarantinePath string `yaml:"quarantine_path"`
	// Retention is how long raw usage rows are kept; hourly rollups are
	// kept forever. Default 2160h (90 days); 0 keeps the default.
	Retention time.Duration `yaml:"retention"`
}

// Replicas tunes budgets shared across replicas (PostgreSQL only). Each
// replica reserves from a lease of each budget taken atomically in the
// database; leases shrink to single calls near the end of a budget, so that
// the replicas together never pass it.
type Replicas struct {
	// LeaseSharePercent is the size of a lease, in percent of what the
	// budget has left. Larger leases mean fewer database round trips;
	// smaller ones less held back from the other replicas. Default 10.
	LeaseSharePercent int `yaml:"lease_share_percent"`
	// LeaseTTL is how long a lease lives unless its replica renews it (it
	// does while it runs): the lease of a replica that died is counted as
	// spent after it, so that what it spent but never wrote cannot be
	// spent again (its concurrency slots come back). Replica clocks must
	// agree to well within it. Default 30s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// FlushInterval is how often a replica writes settled spend to the
	// database and gives back leases it did not use. Default 200ms.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// DatabaseTimeout bounds each database call on a request's path (a new
	// lease). Default 500ms.
	DatabaseTimeout time.Duration `yaml:"database_timeout"`
	// OutageAllowanceUSD is what each budget may admit per period, beyond
	// the leases in hand, while the database cannot be reached: 0 (the
	// default) fails closed, refusing calls once the lease in hand runs
	// out.
	OutageAllowanceUSD float64 `yaml:"outage_allowance_usd"`
}

// Metrics configures GET /metrics.
type Metrics struct {
	// Listen, when set (e.g. "127.0.0.1:9464"), serves /metrics on its own
	// listener instead of the main one, so it can stay private while the
	// gateway is public. Default: the main listener.
	Listen string `yaml:"listen"`
}

// Price is one price-table entry, in USD per million tokens.
type Price struct {
	// Match is a model name, upstream model id, or glob ("claude-opus-*").
	Match string `yaml:"match"`
	// Provider restricts the entry to one provider type (bedrock, anthropic);
	// empty matches any.
	Provider     string  `yaml:"provider"`
	Input        float64 `yaml:"input"`
	Output       float64 `yaml:"output"`
	CacheWrite5m float64 `yaml:"cache_write_5m"`
	CacheWrite1h float64 `yaml:"cache_write_1h"`
	CacheRead    float64 `yaml:"cache_read"`
}

// Key is a static client key.
type Key struct {
	// Name identifies the key in logs; never the secret.
	Name string `yaml:"name"`
	// Secret is the key value clients send, usually "${SOME_ENV_VAR}".
	Secret string `yaml:"secret"`
}

// Provider types.
const (
	ProviderBedrock   = "bedrock"
	ProviderAnthropic = "anthropic"
)

// Provider is one upstream deployment.
type Provider struct {
	// Type is "bedrock" or "anthropic". Default: the provider's name, when
	// that name is "bedrock" or "anthropic".
	Type string `yaml:"type"`

	// Region is the Bedrock region, e.g. "eu-west-1". Default: AWS_REGION,
	// then AWS_DEFAULT_REGION, then us-east-1. Bedrock only.
	Region string `yaml:"region"`
	// Endpoint overrides the Bedrock runtime URL (VPC endpoint, simulator),
	// e.g. "http://127.0.0.1:4010". Default: the public regional endpoint.
	// Bedrock only; an absolute http or https URL.
	Endpoint string `yaml:"endpoint"`
	// Profile selects a shared AWS config profile; empty uses the default
	// chain (env, web identity, shared profile/SSO, ECS, EC2 instance role).
	// Bedrock only; cannot be combined with APIKeyEnv.
	Profile string `yaml:"profile"`
	// APIKeyEnv names an env var holding a Bedrock API key, sent as a bearer
	// token instead of SigV4 signing, e.g. AWS_BEARER_TOKEN_BEDROCK. For an
	// anthropic provider it names the env var with the Anthropic API key;
	// default ANTHROPIC_API_KEY.
	APIKeyEnv string `yaml:"api_key_env"`

	// BaseURL is the Anthropic API base. Default "https://api.anthropic.com".
	// Anthropic only; an absolute http or https URL.
	BaseURL string `yaml:"base_url"`

	// ConnectTimeout bounds dialing plus TLS. Default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// FirstByteTimeout bounds the wait for response headers. Default 120s;
	// a healthy stream then has no deadline at all.
	FirstByteTimeout time.Duration `yaml:"first_byte_timeout"`
	// NonStreamTimeout bounds a non-streaming call, whose answer arrives
	// only once fully generated. Default 15m. A call that times out is not
	// retried: the upstream may have generated (and billed) it.
	NonStreamTimeout time.Duration `yaml:"non_stream_timeout"`
	// ReadIdleTimeout bounds the silence between two reads of an upstream
	// answer once its headers arrived: a stream before its first event or
	// between events, or a non-streaming body stalled half-way. The call
	// then fails with timeout_error (an in-stream error once the client's
	// stream has started), origin upstream, and is not retried. Default 5m:
	// Claude Code's own watchdog accepts 300 s of silence on a Bedrock
	// stream, which never pings, so a healthy stream is never quieter than
	// that (a large tool input, generated in one silent piece, or the first
	// token of a very long prompt can take minutes).
	ReadIdleTimeout time.Duration `yaml:"read_idle_timeout"`
	// MaxIdleConnsPerHost sizes the keep-alive pool. Default 256.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host"`
	// MaxRetries is how many times a retryable failure (throttling, 5xx,
	// connection error) is retried on this provider before the next target
	// is tried, only before the first byte reaches the client. Default 2;
	// 0 disables retries (hence the pointer). When the model has another
	// target that is not cooling down, a throttled or 5xx attempt moves
	// there at once instead: the next region answers sooner than a back-off.
	MaxRetries *int `yaml:"max_retries"`
	// Cooldown is how long a target of this provider is skipped after it
	// throttled (429) or failed with a 5xx, so that a throttling storm in
	// one region costs one failed attempt, not one per call. A retry-after
	// from the upstream replaces it: the upstream knows when its window
	// reopens. Default 30s; negative disables cooldowns. A target is never
	// refused only because it cools: when every target of a model cools,
	// the one whose cooldown ends first is tried.
	Cooldown time.Duration `yaml:"cooldown"`
}

// Routing configures resolution of names not listed in Models.
type Routing struct {
	// Catalog is "default" (the built-in Claude catalog) or "none".
	Catalog string `yaml:"catalog"`
	// DefaultProvider is the provider that catalog models, pattern rules and
	// raw Bedrock ids go to. Default: the only provider, or "bedrock"; it
	// must be set when there are several providers and none is named
	// "bedrock". When it is an anthropic provider, catalog targets use the
	// Anthropic API names.
	DefaultProvider string `yaml:"default_provider"`
	// BedrockPrefix is the inference-profile prefix for catalog and pattern
	// targets on Bedrock: global, us, eu, apac, jp, au, us-gov, or "none"
	// for in-region base ids. Default "global", which is also the cheapest
	// (geo profiles cost 10% more for 4.5 and later models). A catalog model
	// that has no profile with this prefix uses its "us" profile when the
	// prefix is global, and is left out of the catalog otherwise, so that no
	// request silently leaves the geography the operator chose. Newer models
	// serve on-demand traffic only through a profile, so "none" suits
	// provisioned or older models.
	BedrockPrefix string `yaml:"bedrock_prefix"`
	// Patterns map names by glob; the first match wins. They are consulted
	// only for names that are neither a model, an alias, nor a raw Bedrock
	// id. Default, on a bedrock DefaultProvider, two rules, so that a newly
	// released model works without a new Tollgate release:
	//
	//	claude-*-20*  ->  {prefix}.anthropic.{name}-v1:0   (dated ids)
	//	claude-*      ->  {prefix}.anthropic.{name}        (undated, as 4.7+)
	//
	// and on an anthropic DefaultProvider one rule "claude-*" -> "{name}".
	// An explicit empty list ("patterns: []") turns pattern routing off.
	Patterns []Pattern `yaml:"patterns"`
}

// Pattern maps every model name that matches a glob.
type Pattern struct {
	// Match is a glob over the model name as sent ("claude-*"); '*' matches
	// any run of characters and is the only wildcard. Case-sensitive.
	Match string `yaml:"match"`
	// Provider defaults to Routing.DefaultProvider.
	Provider string `yaml:"provider"`
	// Model is a template: {name} is the requested name, {prefix} the
	// Bedrock prefix followed by nothing (the dot is in the template), e.g.
	// "{prefix}.anthropic.{name}-v1:0". With bedrock_prefix "none", a
	// "{prefix}." disappears together with its dot. {prefix} is allowed only
	// on bedrock providers; no other placeholder exists.
	Model string `yaml:"model"`
}

// Model is one public model.
type Model struct {
	// Name is the canonical public name, shown in /v1/models. It must not
	// end in "[1m]", which clients use to ask for the 1M context window.
	Name string `yaml:"name"`
	// DisplayName is the human name for /v1/models. Default: Name.
	DisplayName string `yaml:"display_name"`
	// Aliases are further names that resolve to this model.
	Aliases []string `yaml:"aliases"`
	// Targets are the upstream deployments of the model: Bedrock regions
	// or accounts as separate providers, cross-region profiles, the
	// Anthropic API as a last resort. Strategy picks the first one of a
	// call; the others are fallbacks, in order, when it fails before the
	// first byte.
	Targets []Target `yaml:"targets"`
	// Strategy orders the targets for each call: "ordered" (the default)
	// tries them as listed; "weighted" picks the first at random in
	// proportion to Target.Weight, then the rest as listed; "least-busy"
	// starts with the target with the fewest calls in flight on this
	// replica, ties going to the one listed first. Targets cooling down
	// (Provider.Cooldown) are skipped whatever the strategy.
	Strategy string `yaml:"strategy"`
	// Rules apply to every target of this model.
	Rules Rules `yaml:",inline"`

	// Created is the release date shown in /v1/models. It is not read from
	// YAML: catalog models carry the date in their id, a listed model that
	// overrides a catalog model inherits it, and it is zero otherwise.
	Created time.Time `yaml:"-"`
}

// Target is one upstream deployment of a model.
type Target struct {
	// Provider names an entry of Providers. Default:
	// Routing.DefaultProvider.
	Provider string `yaml:"provider"`
	// Model is the upstream model id: a Bedrock model id, inference-profile
	// id or ARN, or an Anthropic API model name.
	Model string `yaml:"model"`
	// Rules apply to this target in addition to the model's.
	Rules Rules `yaml:",inline"`
	// Weight is this target's share of first attempts under the weighted
	// strategy, relative to the other targets' weights. Default 1; 0 on a
	// weighted model keeps the target as a fallback only.
	Weight *int `yaml:"weight"`
	// MaxConcurrent caps the calls in flight on this target on this
	// replica, streams included until their last byte, so that one
	// account's quota is not overrun by a burst. A call over the cap waits
	// up to QueueTimeout for a slot, then goes to the next target, or gets
	// an in-format 529 overloaded_error when no target has room. Default 0:
	// no cap.
	MaxConcurrent int `yaml:"max_concurrent"`
	// QueueTimeout is how long a call waits for a slot under MaxConcurrent
	// before trying the next target. Default 2s: long enough to ride out a
	// burst, short enough that the client's own timeout never fires first.
	QueueTimeout time.Duration `yaml:"queue_timeout"`
}

// Routing strategies (Model.Strategy).
const (
	StrategyOrdered   = "ordered"
	StrategyWeighted  = "weighted"
	StrategyLeastBusy = "least-busy"
)

// Rules remove what a target model rejects. They are explicit per model on
// purpose: there is no global allowlist, because the set of betas Claude Code
// sends changes every release and a stale allowlist silently disables
// features.
type Rules struct {
	// DropBetas are anthropic-beta values removed before the call.
	DropBetas []string `yaml:"drop_betas"`
	// DropFields are top-level body fields removed before the call, e.g.
	// context_management, output_config. Drop a beta together with the
	// field it enables: Bedrock rejects the field without its beta
	// ("Extra inputs are not permitted"), so validation refuses dropping a
	// known beta while keeping its field (context-management-2025-06-27 and
	// context_management, mcp-servers-2025-12-04 and mcp_servers,
	// structured-outputs-2025-11-13 and output_format).
	DropFields []string `yaml:"drop_fields"`
}
