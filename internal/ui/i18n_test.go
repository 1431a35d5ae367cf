package ui

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCatalogsComplete: every English message is translated, with the
// same formatting verbs, and every key a template uses exists.
func TestCatalogsComplete(t *testing.T) {
	verbs := regexp.MustCompile(`%(\[\d\])?[sdv]`)
	count := func(s string) int { return len(verbs.FindAllString(s, -1)) }
	for code, l := range catalogs {
		for k, en := range msgsEN {
			m, ok := l.msgs[k]
			if !ok {
				t.Errorf("%s: no message %q", code, k)
				continue
			}
			if count(m) != count(en) {
				t.Errorf("%s: %q has %d verbs, English has %d", code, k, count(m), count(en))
			}
		}
		for k := range l.msgs {
			if _, ok := msgsEN[k]; !ok {
				t.Errorf("%s: message %q is not in the English catalog", code, k)
			}
		}
	}
	// Keys used literally in templates ({{.T "key"}}, {{$.T "key"}}).
	used := regexp.MustCompile(`\.T "([a-z0-9.]+)"`)
	entries, _ := templateFS.ReadDir("templates")
	for _, e := range entries {
		b, _ := templateFS.ReadFile("templates/" + e.Name())
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if _, ok := msgsEN[m[1]]; !ok {
				t.Errorf("%s uses unknown message %q", e.Name(), m[1])
			}
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "en"},
		{"ja", "ja"},
		{"ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7", "ja"},
		{"en-US,en;q=0.9,ja;q=0.8", "en"},
		{"fr-FR,fr;q=0.9,ja;q=0.5", "ja"},
		{"fr", "en"},
		{"ja;q=0", "en"},
		{"ja;q=abc,en", "en"},
		{"EN, JA", "en"},
		{"de;q=0.8, ja;q=0.9, en;q=0.1", "ja"},
	} {
		if got := negotiate(tc.in); got != tc.want {
			t.Errorf("negotiate(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzNegotiate: any header picks a supported language, without panicking.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "ja-JP,ja;q=0.9", "en;q=1.0", ";;,,q=", "ja;q=-1", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if _, ok := catalogs[negotiate(h)]; !ok {
			t.Errorf("negotiate(%q) = %q, not a catalog", h, negotiate(h))
		}
	})
}

func TestFormat(t *testing.T) {
	en, ja := catalogs["en"], catalogs["ja"]
	for _, tc := range []struct{ got, want string }{
		{en.Num(1234567), "1,234,567"},
		{en.Num(-1000), "-1,000"},
		{en.Num(999), "999"},
		{en.Money(12_345_678), "$12.35"},
		{en.Money(1_234_567_890_000), "$1,234,567.89"},
		{en.Money(4_100), "$0.0041"},
		{en.Money(0), "$0.00"},
		{ja.Money(12_345_678), "US$12.35"},
		{en.Time(time.Date(2026, 3, 1, 9, 5, 0, 0, time.UTC)), "1 Mar 2026 09:05:00"},
		{ja.Time(time.Date(2026, 3, 1, 9, 5, 0, 0, time.UTC)), "2026年3月1日 09:05:00"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/keys":             "/ui/keys",
		"/ui/keys?page=2":      "/ui/keys?page=2",
		"//evil.example/ui/":   "/ui/",
		"https://evil.example": "/ui/",
		"/ui/\\evil":           "/ui/",
		"/admin/keys":          "/ui/",
		"":                     "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
	if !strings.HasPrefix(CSP, "default-src 'none'") {
		t.Errorf("CSP = %q", CSP)
	}
}
