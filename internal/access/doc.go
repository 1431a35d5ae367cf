// Package access decides, before any other work, whether a request may reach
// the gateway at all: "from the office network OR carrying the shared
// secret", per group of paths. It is what teams otherwise buy AWS WAF for, so
// that GitHub-hosted runners (whose addresses are not fixed) can reach a
// gateway that is otherwise closed to the internet.
//
// # Rules
//
// A request is checked against the first rule, in configuration order, with
// a path pattern that matches its path. It is allowed when its client IP is
// in one of the rule's allow_cidrs, or when the rule's allow_header carries
// one of the rule's secrets; otherwise it is denied. A path that no rule
// matches is allowed, so a configuration without rules (the default) changes
// nothing. To close everything that no earlier rule names, end the list with
// a catch-all rule (paths: ["*"]).
//
// Every rule must allow something (allow_cidrs, allow_header or both):
// Validate rejects a rule with neither, because a rule that silently denies
// everyone is far more often a mistake than a wish. To close a path group to
// the network, allow only loopback.
//
// # Paths
//
// Patterns are matched against the request's decoded path (URL.Path), case
// sensitively, and must match all of it:
//
//   - '*' matches any run of characters, '/' included, possibly empty. It may
//     appear anywhere and more than once: "/v1/*" (prefix), "*/invoke"
//     (suffix), "/model/*/invoke" (a model id, even an ARN whose encoded '/'
//     is decoded in URL.Path). '*' is the only wildcard.
//   - A pattern ending in "/*" also matches the path without that final
//     slash: "/admin/*" covers "/admin" as well as "/admin/" and
//     "/admin/keys", as ServeMux redirects "/admin" to "/admin/".
//   - Anything else is literal: "/metrics" matches "/metrics" only.
//
// Because paths no rule names are allowed, a pattern that fails to match is a
// hole, so the path is never taken at face value: when cleaning it (as
// ServeMux does: dot segments, repeated slashes) changes it, the request must
// pass the rule for the path as sent and the rule for the cleaned path.
// Neither "/v1/../admin/keys" nor "/admin/%2e%2e/v1/messages" can move a
// request from one path group to another.
//
// The health probes /healthz and /readyz are exempt from patterns with a
// '*': load balancers probe from their own addresses, without the secret,
// and a catch-all rule must not take a healthy gateway out of service. A
// rule that lists "/healthz" or "/readyz" literally does apply to it.
//
// # Client IP
//
// The client IP is the TCP peer (IPv4-mapped IPv6 addresses are unmapped and
// zones dropped), unless the peer is one of trusted_proxies. Then, with
// client_ip_header X-Forwarded-For (the default), the header is walked from
// the right, skipping addresses that are themselves trusted proxies, and the
// first untrusted address is the client. The leftmost entry, which the
// client writes itself, is used only when every entry to its right is a
// trusted proxy. Entries may carry a port ("203.0.113.7:5678",
// "[2001:db8::1]:443"); empty list elements are skipped. An entry that is not
// an address ("unknown", a typo) stops the walk: the client is then the last
// trusted hop, the address of the proxy that wrote the entry, which is what
// it is for all that Tollgate can tell.
//
// Any other client_ip_header (X-Real-IP, CF-Connecting-IP, True-Client-IP)
// holds one address set by the trusted proxy and is taken as it is; when it
// is missing, repeated or malformed, the client is the peer.
//
// Headers from peers that are not trusted proxies are ignored entirely.
//
// # Secrets
//
// Secrets are compared as SHA-256 digests with crypto/subtle, against every
// configured secret each time, so that neither the secret's content nor its
// length, nor which of several secrets matched, shows in the response time.
// A rule may list several secrets so that one can be rotated without
// downtime: add the new one, move the clients, remove the old one. The
// header must appear exactly once; a repeated header is treated as wrong,
// so that one request cannot try several guesses.
package access
