// Package metrics defines every Prometheus metric Tollgate exports, with its
// name, help text and labels, in one place (names.go and New), on a private
// registry served by Handler. The rest of the gateway never touches
// client_golang: it calls a handful of methods on *Metrics — ObserveRequest
// once per model call, InFlight and OpenStream around work in progress, and
// one-line counters for retries, fallbacks, upstream errors, rejections and
// access denials — and hands over two snapshot functions (budgets, usage
// writer) that are read at scrape time, so nothing is kept twice.
//
// A nil *Metrics is valid and does nothing, so tests and embedders can leave
// metrics out.
//
// # Cardinality
//
// Every label value comes from a small, bounded set, and the bound is
// enforced here rather than trusted to callers:
//
//	label     values                                           bound
//	door      anthropic, bedrock, other                        3
//	model     public model name after routing                  Caps.Models (default 200), then "other"
//	provider  provider name from the config                    Caps.Providers (default 32), then "other"
//	status    HTTP status sent to the client, "100".."599"     ~15 in practice; anything else "other"
//	origin    none, client, gateway, upstream                  4
//	stream    true, false                                      2
//	kind      input, output, cache_write_5m, cache_write_1h,   5
//	          cache_read
//	key       key ALIAS (or static key name)                   Caps.Keys (default 2000), then "other"
//	user      user ALIAS                                       Caps.Users (default 2000), then "other"
//	team      team ALIAS                                       Caps.Teams (default 500), then "other"
//	type      upstream error type (Anthropic error type or     Caps.ErrorTypes (default 32), then "other"
//	          Bedrock exception name)
//	reason    budget, rate_limit, access, auth,                6
//	          model_not_allowed, other
//	group     access-rule path group from the config          Caps.Groups (default 32), then "other"
//	scope     key, user, team (budgets)                        3 (+ "other")
//	name      budget owner's ALIAS (budgets)                   one per configured budget
//	period    day, week, month, total (budgets)                4 (+ "other")
//
// The number of series is the product only where labels vary
// independently: cost_usd_total{model,key,user,team} has at most
// keys × models series, because a key fixes its user and team.
//
// Identifiers that are not aliases never become label values: the API takes
// aliases only (there is no request-id or secret field anywhere in it), and
// as a backstop any value that looks like a secret or an id — a run of 24 or
// more letters and digits with at least four of each (API keys, request
// ids, hashes, AWS secret keys), an AWS access key id, or an sk-ant- key — is
// exported as
// "redacted". A value that is not valid UTF-8 or longer than 128 bytes is
// exported as "invalid"; an empty value as "none".
//
// # Hot path
//
// ObserveRequest runs once per model call. Label values are bounded first
// (one map lookup each, lock-free), then the label-bound child metrics are
// found in copy-on-write caches keyed by those values, so a steady-state
// observation takes no lock and allocates nothing; see BenchmarkObserveRequest.
package metrics
