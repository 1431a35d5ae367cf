package ui

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

func TestParseTargets(t *testing.T) {
	three := 3
	for _, tc := range []struct {
		in      string
		want    []admin.ModelTarget
		wantErr string
	}{
		{"", nil, ""},
		{"bedrock us.anthropic.x-v1:0\n", []admin.ModelTarget{{Provider: "bedrock", Model: "us.anthropic.x-v1:0"}}, ""},
		{" bedrock  a 3 \r\n\nanthropic b\n", []admin.ModelTarget{{Provider: "bedrock", Model: "a", Weight: &three}, {Provider: "anthropic", Model: "b"}}, ""},
		{"bedrock", nil, "line 1"},
		{"a b\nbedrock a x", nil, "line 2: weight"},
		{"bedrock a -1", nil, "weight"},
		{"bedrock a 1 extra", nil, "provider upstream-id"},
	} {
		got, err := parseTargets(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseTargets(%q) error = %v, want one naming %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !cmp.Equal(got, tc.want) {
			t.Errorf("parseTargets(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseTargets(f *testing.F) {
	for _, s := range []string{"", "bedrock a 3\nanthropic b", "x", "a b c d", "a b 99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := parseTargets(s)
		if err != nil {
			return
		}
		// What parses writes back as the form shows it and parses the same.
		again, err := parseTargets(targetsText(ts))
		if err != nil || !cmp.Equal(again, ts) {
			t.Fatalf("parseTargets(targetsText(%+v)) = %+v, %v", ts, again, err)
		}
	})
}

func TestAuditDiff(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after string
		want          []diffLine
	}{
		{"create", ``, `{"key":{"alias":"a","models":["x"]}}`, []diffLine{
			{Field: "key.alias", After: `"a"`, Added: true}, {Field: "key.models", After: `["x"]`, Added: true}}},
		{"delete", `{"team":{"name":"t"}}`, `null`, []diffLine{{Field: "team.name", Before: `"t"`, Removed: true}}},
		{"update shows only what changed", `{"budget":{"limit_usd":"50.00","period":"month"}}`, `{"budget":{"limit_usd":"0.01","period":"month"}}`,
			[]diffLine{{Field: "budget.limit_usd", Before: `"50.00"`, After: `"0.01"`}}},
		{"a field becomes an object", `{"a":1}`, `{"a":{"b":2}}`, []diffLine{
			{Field: "a", Before: "1", Removed: true}, {Field: "a.b", After: "2", Added: true}}},
		{"not an object", `[1, 2]`, `[1,2,3]`, []diffLine{{Field: "value", Before: "[1,2]", After: "[1,2,3]"}}},
	} {
		got := auditDiff(json.RawMessage(tc.before), json.RawMessage(tc.after))
		if !cmp.Equal(got, tc.want) {
			t.Errorf("%s: auditDiff = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func FuzzAuditDiff(f *testing.F) {
	f.Add(`{"a":{"b":[1,2]}}`, `{"a":{"b":[1]},"c":null}`)
	f.Add(``, `not json`)
	f.Fuzz(func(t *testing.T, before, after string) {
		for _, d := range auditDiff(json.RawMessage(before), json.RawMessage(after)) {
			if d.Field == "" || (d.Before == d.After && !d.Added && !d.Removed) {
				t.Fatalf("diff line %+v: no field, or no change", d)
			}
		}
		if before == after && len(auditDiff(json.RawMessage(before), json.RawMessage(after))) != 0 {
			t.Fatalf("a document differs from itself")
		}
	})
}
