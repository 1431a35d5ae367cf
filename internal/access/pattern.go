package access

import (
	"path"
	"strings"
)

// pattern is a compiled path pattern; see the package documentation for the
// syntax. Matching is linear in the path and never allocates.
type pattern struct {
	raw string
	// parts are the literal runs between the '*'s: one part for a literal
	// pattern, n+1 parts for n stars.
	parts []string
	// bare are the parts of the pattern without its final "/*", which it
	// also matches: "/admin" for "/admin/*". Nil for other patterns.
	bare []string
}

func compilePattern(s string) pattern {
	p := pattern{raw: s, parts: strings.Split(s, "*")}
	if strings.HasSuffix(s, "/*") && len(s) > 2 {
		p.bare = strings.Split(s[:len(s)-2], "*")
	}
	return p
}

// wild reports whether the pattern has a '*'.
func (p *pattern) wild() bool { return len(p.parts) > 1 }

// match reports whether the whole of s matches the pattern. Leftmost
// matching of each middle part is enough: with '*' as the only wildcard, a
// match exists if and only if the greedy-leftmost one does.
func (p *pattern) match(s string) bool {
	return matchParts(p.parts, s) || (p.bare != nil && matchParts(p.bare, s))
}

func matchParts(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(mid, part)
		if i < 0 {
			return false
		}
		mid = mid[i+len(part):]
	}
	return true
}

// patternProblem says what is wrong with a pattern, or "" when it is valid.
func patternProblem(s string) string {
	switch {
	case s == "":
		return "pattern is empty"
	case s[0] != '/' && s[0] != '*':
		return "pattern must start with / or * (it is matched against the whole path, such as /v1/messages)"
	case strings.Contains(s, "**"):
		return "'**' is not needed: '*' already matches any run of characters, '/' included"
	case strings.ContainsAny(s, "?#"):
		return "patterns match the path only, without ? query or # fragment"
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c == 0x7f {
			return "pattern must not contain spaces or control characters"
		}
	}
	return ""
}

// probePaths are exempt from wildcard patterns (see the package
// documentation).
func isProbe(p string) bool { return p == "/healthz" || p == "/readyz" }

// CleanPath is net/http's ServeMux cleaning: dot segments and repeated
// slashes removed, the trailing slash kept. It does not allocate when the
// path is already clean, which is nearly always. The gateway uses it to
// refuse unclean paths rather than redirect them, so the access rules and the
// router agree on what a path is.
func CleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		if len(p) == len(np)+1 && strings.HasPrefix(p, np) {
			np = p
		} else {
			np += "/"
		}
	}
	return np
}
