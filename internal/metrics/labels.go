package metrics

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Caps bound the number of distinct values of the labels whose values come
// from configuration or from the store. Once a label has seen its cap of
// distinct values, further new values are exported as "other", so a
// misconfigured client or a runaway script can never grow /metrics without
// bound. Zero fields take the defaults of DefaultCaps.
type Caps struct {
	Models     int // public model names; default 200
	Providers  int // provider names; default 32
	Keys       int // key aliases; default 2000
	Users      int // user aliases; default 2000
	Teams      int // team aliases; default 500
	ErrorTypes int // upstream error types; default 32
	Groups     int // access-rule path groups; default 32
	// Targets caps upstream model ids; default 200. Raw Bedrock ids a
	// client sends pass through as targets, so this label must be capped.
	Targets int
}

// DefaultCaps are the caps New uses.
var DefaultCaps = Caps{Models: 200, Providers: 32, Keys: 2000, Users: 2000, Teams: 500, ErrorTypes: 32, Groups: 32, Targets: 200}

func (c Caps) withDefaults() Caps {
	d := DefaultCaps
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	return Caps{
		Models:     pick(c.Models, d.Models),
		Providers:  pick(c.Providers, d.Providers),
		Keys:       pick(c.Keys, d.Keys),
		Users:      pick(c.Users, d.Users),
		Teams:      pick(c.Teams, d.Teams),
		ErrorTypes: pick(c.ErrorTypes, d.ErrorTypes),
		Groups:     pick(c.Groups, d.Groups),
		Targets:    pick(c.Targets, d.Targets),
	}
}

// maxLabelLen is the longest label value exported as is.
const maxLabelLen = 128

// labelValue returns the value exported for a caller-supplied v: v itself,
// or "none", "invalid" or "redacted". It does not apply caps. Values that are
// not UTF-8 or hold control characters (a NUL in a client's model name) are
// "invalid": the exposition format cannot carry the first, and the second
// breaks dashboards and the tools that read them.
func labelValue(v string) string {
	switch {
	case v == "":
		return valueNone
	case len(v) > maxLabelLen || !utf8.ValidString(v) || hasControl(v):
		return valueInvalid
	case looksSecret(v):
		return valueRedacted
	}
	return v
}

// looksSecret reports whether v looks like a credential or a unique id
// rather than a human-chosen alias: a run of 24 or more letters and digits
// (plus '+' and '/', for base64) with at least four of each, an AWS access
// key id, or an Anthropic API key. Gateway keys ("tg-" plus random hex),
// request ids ("req_" plus 24 hex digits), SHA-256 digests and AWS secret
// access keys all match; aliases such as "ci-org-app" and model names such as
// "claude-sonnet-4-5-20250929" do not.
func looksSecret(v string) bool {
	if strings.HasPrefix(v, "sk-ant-") {
		return true
	}
	if len(v) == 20 && (strings.HasPrefix(v, "AKIA") || strings.HasPrefix(v, "ASIA")) && isUpperAlnum(v) {
		return true
	}
	run, letters, digits := 0, 0, 0
	for i := 0; i <= len(v); i++ {
		var c byte
		if i < len(v) {
			c = v[i]
		}
		switch {
		case c >= '0' && c <= '9':
			run++
			digits++
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '+', c == '/':
			run++
			letters++
		default:
			if run >= 24 && letters >= 4 && digits >= 4 {
				return true
			}
			run, letters, digits = 0, 0, 0
		}
	}
	return false
}

// hasControl reports whether s holds a control character (C0, DEL or C1).
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

func isUpperAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// valueSet bounds one label: it maps a caller-supplied value to the value
// exported, admitting at most limit distinct values. Lookups of known values
// are lock-free map reads of a copy-on-write snapshot.
type valueSet struct {
	limit int
	mu    sync.Mutex // serialises writers
	snap  atomic.Pointer[map[string]string]
}

func newValueSet(limit int) *valueSet {
	s := &valueSet{limit: limit}
	m := map[string]string{}
	s.snap.Store(&m)
	return s
}

// get returns the exported value for v.
func (s *valueSet) get(v string) string {
	if out, ok := (*s.snap.Load())[v]; ok {
		return out
	}
	return s.admit(v)
}

func (s *valueSet) admit(v string) string {
	out := labelValue(v)
	if out != v {
		// "none", "invalid" or "redacted": never stored, so that a secret is
		// not kept in memory and junk does not use up the cap.
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.snap.Load()
	if out, ok := old[v]; ok {
		return out
	}
	if len(old) >= s.limit {
		return valueOther
	}
	v = strings.Clone(v) // v may point into a request buffer
	m := make(map[string]string, len(old)+1)
	for k, x := range old {
		m[k] = x
	}
	m[v] = v
	s.snap.Store(&m)
	return v
}

// oneOf returns v when it is one of allowed, "none" when it is empty, and
// "other" otherwise; for labels with a fixed set of values.
func oneOf[T ~string](v T, allowed ...T) string {
	if v == "" {
		return valueNone
	}
	for _, a := range allowed {
		if v == a {
			return string(a)
		}
	}
	return valueOther
}

// statusValues holds the status label values "100".."599", built once so
// that no request formats an integer.
var statusValues = func() [500]string {
	var t [500]string
	for i := range t {
		t[i] = strconv.Itoa(i + 100)
	}
	return t
}()

func statusValue(code int) string {
	if code < 100 || code > 599 {
		return valueOther
	}
	return statusValues[code-100]
}

// maxCached bounds each child-metric cache. Past it, lookups go through the
// metric vector (one small allocation each), which stays correct.
const maxCached = 4096

// childCache caches label-bound child metrics by their label values, so the
// request path skips hashing and validating label values. Reads are
// lock-free; writes copy the map, which is fine because the number of
// distinct keys is bounded by the label caps and writes stop once the
// series exist.
type childCache[K comparable, V any] struct {
	mu   sync.Mutex
	snap atomic.Pointer[map[K]V]
}

func (c *childCache[K, V]) load(k K) (V, bool) {
	p := c.snap.Load()
	if p == nil {
		var zero V
		return zero, false
	}
	v, ok := (*p)[k]
	return v, ok
}

// store adds k → v unless the cache is full, and returns the cached value
// for k (an earlier writer's, if there was one).
func (c *childCache[K, V]) store(k K, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[K]V
	if p := c.snap.Load(); p != nil {
		old = *p
	}
	if x, ok := old[k]; ok {
		return x
	}
	if len(old) >= maxCached {
		return v
	}
	m := make(map[K]V, len(old)+1)
	for k, x := range old {
		m[k] = x
	}
	m[k] = v
	c.snap.Store(&m)
	return v
}
