package ui

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

// lang is a language of the console: its message catalog and the way it
// writes numbers, money and dates.
type lang struct {
	Code string
	msgs map[string]string
}

// catalogs are the console's languages by code. Every key of "en" must be
// in every other catalog (TestCatalogsComplete).
var catalogs = map[string]*lang{
	"en": {Code: "en", msgs: msgsEN},
	"ja": {Code: "ja", msgs: msgsJA},
}

// Languages lists the language codes, in the order the switch shows them.
var Languages = []string{"en", "ja"}

// langFor picks the language: the cookie set by the switch, else the
// first supported language of Accept-Language, else English.
func langFor(r *http.Request) *lang {
	if ck, err := r.Cookie(cookieLang); err == nil {
		if l, ok := catalogs[ck.Value]; ok {
			return l
		}
	}
	return catalogs[negotiate(r.Header.Get("Accept-Language"))]
}

// negotiate returns the supported language Accept-Language prefers most
// ("ja-JP,ja;q=0.9,en;q=0.8" → "ja"), or "en".
func negotiate(header string) string {
	best, bestQ := "en", -1.0
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := catalogs[base]; !ok || q == 0 {
			continue
		}
		// Earlier entries win ties, as the header lists them by preference.
		if q > bestQ || (q == bestQ && i == 0) {
			best, bestQ = base, q
		}
	}
	return best
}

// T returns the message for key, formatted with args; an unknown key is
// shown as itself, so a missing translation is visible, not blank.
func (l *lang) T(key string, args ...any) string {
	m, ok := l.msgs[key]
	if !ok {
		if m, ok = msgsEN[key]; !ok {
			return key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(m, args...)
	}
	return m
}

// Num writes an integer with thousands separators (both languages group
// by three with commas).
func (l *lang) Num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Money writes micro-USD as dollars: two decimals for amounts of a cent or
// more, up to six below, so a small call does not read as $0.00.
func (l *lang) Money(micros int64) string {
	neg := micros < 0
	if neg {
		micros = -micros
	}
	var s string
	if micros >= 10_000 || micros == 0 {
		cents := (micros + 5_000) / 10_000
		s = fmt.Sprintf("$%s.%02d", l.Num(cents/100), cents%100)
	} else {
		s = "$" + admin.FormatUSD(micros)
	}
	if l.Code == "ja" {
		s = "US" + s
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Time writes t in the page's language, in UTC (the zone the gateway
// counts hours in).
func (l *lang) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.UTC()
	if l.Code == "ja" {
		return t.Format("2006年1月2日 15:04:05")
	}
	return t.Format("2 Jan 2006 15:04:05")
}

// Short writes t as a chart axis label: the hour within a day, else the
// day.
func (l *lang) Short(t time.Time, hourly bool) string {
	t = t.UTC()
	switch {
	case hourly && l.Code == "ja":
		return t.Format("1/2 15時")
	case hourly:
		return t.Format("2 Jan 15:00")
	case l.Code == "ja":
		return t.Format("1月2日")
	}
	return t.Format("2 Jan")
}

// Ms writes a duration in milliseconds.
func (l *lang) Ms(v int64) string { return l.Num(v) + " ms" }

// TimePtr is Time for optional times.
func (l *lang) TimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return l.Time(*t)
}
