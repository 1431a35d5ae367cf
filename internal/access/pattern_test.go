package access

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{"/metrics", []string{"/metrics"}, []string{"/metrics/", "/metricsx", "/Metrics", "/", ""}},
		{"/v1/*", []string{"/v1", "/v1/", "/v1/messages", "/v1/models/claude/x"}, []string{"/v1beta", "/v", "/v2/messages", "/x/v1/"}},
		{"/inference-profiles*", []string{"/inference-profiles", "/inference-profiles/", "/inference-profiles/us.x", "/inference-profilesX"}, []string{"/inference-profile", "/model/inference-profiles"}},
		{"*/invoke", []string{"/model/x/invoke", "/invoke", "/a/b/c/invoke"}, []string{"/model/x/invoke-with-response-stream", "/invoke/"}},
		{"/model/*/invoke", []string{"/model/x/invoke", "/model/arn:aws:bedrock:us-east-1:1:application-inference-profile/abc/invoke", "/model//invoke"}, []string{"/model/invoke", "/model/x/invoke2"}},
		{"/model/*/count-tokens*", []string{"/model/x/count-tokens", "/model/a/b/count-tokens/"}, []string{"/model/count-tokens"}},
		{"/a/*/b/*", []string{"/a/x/b/y", "/a/x/b", "/a//b/", "/a/x/y/b/z/b/w"}, []string{"/a/b", "/a/x/c/y"}},
		{"*", []string{"", "/", "/anything/at/all"}, nil},
		{"/*", []string{"/", "/x"}, []string{""}},
		{"*abc*", []string{"abc", "/x/abc/y"}, []string{"/ab/c"}},
		{"/ab*ab", []string{"/abab", "/ab/ab", "/abXab"}, []string{"/ab", "/aba"}},
	}
	for _, tt := range tests {
		p := compilePattern(tt.pattern)
		for _, s := range tt.match {
			if !p.match(s) {
				t.Errorf("pattern %q match(%q) = false, want true", tt.pattern, s)
			}
		}
		for _, s := range tt.noMatch {
			if p.match(s) {
				t.Errorf("pattern %q match(%q) = true, want false", tt.pattern, s)
			}
		}
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/v1/messages", "/v1/messages"},
		{"/v1/", "/v1/"},
		{"v1", "/v1"},
		{"//v1//messages", "/v1/messages"},
		{"/v1/../admin/", "/admin/"},
		{"/v1/./messages/.", "/v1/messages"},
		{"/..", "/"},
	}
	for _, tt := range tests {
		if got := CleanPath(tt.in); got != tt.want {
			t.Errorf("CleanPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// patternRE is the documented meaning of a pattern as a regular expression.
func patternRE(s string) *regexp.Regexp {
	quote := func(s string) string {
		parts := strings.Split(s, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		return strings.Join(parts, "(?s:.*)")
	}
	re := "^(?:" + quote(s)
	if strings.HasSuffix(s, "/*") && len(s) > 2 {
		re += "|" + quote(s[:len(s)-2])
	}
	return regexp.MustCompile(re + ")$")
}

func FuzzPatternMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"/v1/*", "/v1/messages"}, {"/model/*/invoke", "/model/a/b/invoke"}, {"*/x*y*", "/a/x/b/y/c"},
		{"/ab*ab", "/abab"}, {"/a/*", "/a"}, {"*", ""}, {"/a*b*c*d", "/aXbYcbcd"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		if patternProblem(pat) != "" || !utf8.ValidString(pat) {
			return // the regexp reference needs UTF-8; YAML carries nothing else
		}
		p := compilePattern(pat)
		if got, want := p.match(s), patternRE(pat).MatchString(s); got != want {
			t.Errorf("pattern %q match(%q) = %v, want %v", pat, s, got, want)
		}
	})
}
