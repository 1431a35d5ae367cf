package admin_test

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A strict validator for the subset of JSON Schema (2020-12, as OpenAPI 3.1
// uses it) that openapi.yaml is written in. A keyword outside the subset is
// an error rather than ignored, so the document cannot say something that
// no test checks. Values are decoded with json.Decoder.UseNumber, which keeps
// 3 apart from 3.0 and large integers exact.

// schemaKeywords are the keywords the validator understands; the
// annotations at the end are read by people and tools, not checked.
var schemaKeywords = []string{
	"$ref", "type", "properties", "required", "additionalProperties", "items", "enum", "minimum", "maximum", "format",
	"description", "default", "example", "title", "deprecated",
}

// schemaTypes are the JSON Schema types.
var schemaTypes = []string{"null", "boolean", "object", "array", "number", "integer", "string"}

// oapiDoc is a decoded OpenAPI document: JSON objects are map[string]any,
// numbers json.Number.
type oapiDoc map[string]any

// decodeJSONValue decodes b keeping numbers as json.Number.
func decodeJSONValue(b []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// resolve follows a local reference ("#/components/schemas/User").
func (d oapiDoc) resolve(ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local to the document", ref)
	}
	var cur any = map[string]any(d)
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("$ref %q does not resolve: no %q", ref, tok)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("$ref %q does not resolve: no index %q", ref, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("$ref %q does not resolve: %q is inside a scalar", ref, tok)
		}
	}
	return cur, nil
}

// deref resolves v when it is a {"$ref": …} object (OpenAPI's reference
// object for parameters, responses and headers), else returns it.
func (d oapiDoc) deref(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%v is not an object", v)
	}
	for ref, ok := m["$ref"].(string); ok; ref, ok = m["$ref"].(string) {
		r, err := d.resolve(ref)
		if err != nil {
			return nil, err
		}
		if m, ok = r.(map[string]any); !ok {
			return nil, fmt.Errorf("$ref %q is not an object", ref)
		}
	}
	return m, nil
}

// validate checks v against schema and returns every violation, each
// prefixed with the location in v (at) it concerns.
func (d oapiDoc) validate(schema any, v any, at string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: schema %v is not an object", at, schema)}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for k := range s {
		if !slices.Contains(schemaKeywords, k) {
			fail("schema keyword %q is outside the validated subset", k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		target, err := d.resolve(ref)
		if err != nil {
			fail("%v", err)
		} else {
			errs = append(errs, d.validate(target, v, at)...)
		}
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				s, _ := x.(string)
				types = append(types, s)
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return hasType(v, t) }) {
			fail("%s is not of type %s", brief(v), strings.Join(types, " or "))
			return errs // the other keywords would only repeat the mismatch
		}
	}
	if e, ok := s["enum"].([]any); ok {
		if !slices.ContainsFunc(e, func(x any) bool { return sameJSON(x, v) }) {
			fail("%s is not one of %s", brief(v), brief(e))
		}
	}
	if f, ok := s["format"].(string); ok && f == "date-time" {
		if str, ok := v.(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				fail("%q is not an RFC 3339 date-time", str)
			}
		}
	}
	if n, ok := v.(json.Number); ok {
		x, _ := new(big.Rat).SetString(n.String())
		if min, ok := s["minimum"].(json.Number); ok {
			if m, _ := new(big.Rat).SetString(min.String()); x != nil && m != nil && x.Cmp(m) < 0 {
				fail("%s is less than the minimum %s", n, min)
			}
		}
		if max, ok := s["maximum"].(json.Number); ok {
			if m, _ := new(big.Rat).SetString(max.String()); x != nil && m != nil && x.Cmp(m) > 0 {
				fail("%s is more than the maximum %s", n, max)
			}
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if name, _ := r.(string); name != "" {
					if _, ok := obj[name]; !ok {
						fail("required property %q is missing", name)
					}
				}
			}
		}
		for _, name := range sortedKeys(obj) {
			if ps, ok := props[name]; ok {
				errs = append(errs, d.validate(ps, obj[name], at+"."+name)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("property %q is not in the schema", name)
				}
			case map[string]any:
				errs = append(errs, d.validate(ap, obj[name], at+"."+name)...)
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := s["items"]; ok {
			for i, x := range arr {
				errs = append(errs, d.validate(items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

// hasType reports whether v is of the JSON Schema type t.
func hasType(v any, t string) bool {
	switch v := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case map[string]any:
		return t == "object"
	case []any:
		return t == "array"
	case json.Number:
		if t == "number" {
			return true
		}
		r, ok := new(big.Rat).SetString(v.String())
		return t == "integer" && ok && r.IsInt()
	}
	return false
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lintSchema checks that a schema in the document is well-formed in the
// validated subset and strict: keywords known, types real, required names
// declared, and every object with properties closed by
// additionalProperties: false.
func (d oapiDoc) lintSchema(schema any, at string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: schema is not an object", at)}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for _, k := range sortedKeys(s) {
		if !slices.Contains(schemaKeywords, k) {
			fail("schema keyword %q is outside the validated subset", k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		if !strings.HasPrefix(ref, "#/components/schemas/") {
			fail("$ref %q does not point into components.schemas", ref)
		} else if _, err := d.resolve(ref); err != nil {
			fail("%v", err)
		}
	}
	switch t := s["type"].(type) {
	case nil:
	case string:
		if !slices.Contains(schemaTypes, t) {
			fail("unknown type %q", t)
		}
	case []any:
		for _, x := range t {
			if name, _ := x.(string); !slices.Contains(schemaTypes, name) {
				fail("unknown type %v", x)
			}
		}
	default:
		fail("type is %v, want a name or a list of names", t)
	}
	props, hasProps := s["properties"].(map[string]any)
	if hasProps {
		if ap, ok := s["additionalProperties"].(bool); !ok || ap {
			fail("an object with properties must have additionalProperties: false")
		}
		for _, name := range sortedKeys(props) {
			errs = append(errs, d.lintSchema(props[name], at+".properties."+name)...)
		}
	}
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if name, _ := r.(string); props[name] == nil {
				fail("required property %v is not declared", r)
			}
		}
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		errs = append(errs, d.lintSchema(ap, at+".additionalProperties")...)
	}
	if items, ok := s["items"]; ok {
		errs = append(errs, d.lintSchema(items, at+".items")...)
	}
	return errs
}
