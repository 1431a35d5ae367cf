package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// positions maps field paths ("models[2].targets[0].provider") to where they
// are written in the file, so that validation, which works on the decoded
// structs, can still point at a line and column.
type positions struct {
	source string
	exp    *expansion
	at     map[string]position
}

type position struct{ line, col int }

// problem builds a Problem located at path, or at its nearest ancestor that
// is written in the file (a missing field is reported where its parent is).
// Paths that are not in the file at all (defaults) get no position.
func (p *positions) problem(path, format string, args ...any) Problem {
	pr := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if p == nil {
		return pr
	}
	pr.Source = p.source
	for q := path; q != ""; q = parentPath(q) {
		if at, ok := p.at[q]; ok {
			pr.Line, pr.Column = at.line, at.col
			break
		}
	}
	return pr
}

// has reports whether path is written in the file.
func (p *positions) has(path string) bool {
	if p == nil {
		return false
	}
	_, ok := p.at[path]
	return ok
}

// parentPath strips the last element of a path: "a.b[2]" -> "a.b" -> "a".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// plainKey matches map keys that can be written after a dot in a path.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// keyPath appends a map key to a path: "providers.bedrock", or
// `providers["odd.name"]` for keys that need quoting.
func keyPath(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends a sequence index to a path.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// schemaWalker walks the YAML tree alongside the Go type it will decode into.
// It records the position of every field and reports, all at once, what the
// decoder would report one at a time or not at all: unknown fields (with a
// suggestion), values of the wrong kind, and durations without a unit.
type schemaWalker struct {
	pos      *positions
	problems []Problem
	// typeErrors is set when a problem would also make decoding fail, so
	// that decoding is skipped and only these problems are reported.
	typeErrors bool
}

var durationType = reflect.TypeFor[time.Duration]()

func (w *schemaWalker) record(path string, n ast.Node) {
	if _, ok := w.pos.at[path]; ok {
		return
	}
	at := w.pos.place(startToken(n))
	w.pos.at[path] = at
}

// place converts a token position on the expanded text to a file position.
func (p *positions) place(tk *token.Token) position {
	if tk == nil || tk.Position == nil {
		return position{}
	}
	line, col := tk.Position.Line, tk.Position.Column
	if p.exp != nil {
		col = p.exp.column(line, col)
	}
	return position{line, col}
}

func (w *schemaWalker) fail(n ast.Node, path, format string, args ...any) {
	at := w.pos.place(startToken(n))
	w.problems = append(w.problems, Problem{
		Source: w.pos.source, Line: at.line, Column: at.col,
		Path: path, Message: fmt.Sprintf(format, args...),
	})
}

// walk checks node n against type t. The caller has recorded path.
func (w *schemaWalker) walk(n ast.Node, t reflect.Type, path string) {
	n = unwrap(n)
	if n == nil {
		return
	}
	switch n.(type) {
	case *ast.NullNode:
		return // leaves the zero value, and so the default
	case *ast.AliasNode:
		return // the decoder resolves anchors; the anchored node was checked
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		w.duration(n, path)
	case t.Kind() == reflect.Struct:
		w.mapping(n, path, func(key string, kn, vn ast.Node) {
			ft, ok := yamlField(t, key)
			if !ok {
				w.fail(kn, keyPath(path, key), "unknown field %q%s", key, suggest(key, yamlFieldNames(t)))
				return
			}
			w.child(keyPath(path, key), kn, vn, ft)
		})
	case t.Kind() == reflect.Map:
		w.mapping(n, path, func(key string, kn, vn ast.Node) {
			w.child(keyPath(path, key), kn, vn, t.Elem())
		})
	case t.Kind() == reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			w.typeErrors = true
			w.fail(n, path, "expected a list, found %s", kindOf(n))
			return
		}
		for i, v := range seq.Values {
			p := indexPath(path, i)
			w.record(p, v)
			w.walk(v, t.Elem(), p)
		}
	case t.Kind() == reflect.String:
		if _, ok := n.(ast.ScalarNode); !ok {
			w.typeErrors = true
			w.fail(n, path, "expected a string, found %s", kindOf(n))
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		if _, ok := n.(*ast.IntegerNode); !ok {
			w.typeErrors = true
			w.fail(n, path, "expected an integer, found %s", kindOf(n))
		}
	case t.Kind() == reflect.Bool:
		if _, ok := n.(*ast.BoolNode); !ok {
			w.typeErrors = true
			w.fail(n, path, "expected true or false, found %s", kindOf(n))
		}
	}
}

// child records a mapping entry and walks its value. Entries holding a
// collection or nothing are located at their key, scalars at their value.
func (w *schemaWalker) child(path string, kn, vn ast.Node, t reflect.Type) {
	switch unwrap(vn).(type) {
	case nil, *ast.NullNode, *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		w.record(path, kn)
	default:
		w.record(path, vn)
	}
	w.walk(vn, t, path)
}

// mapping calls f for every key of a mapping node, or reports a type error.
func (w *schemaWalker) mapping(n ast.Node, path string, f func(key string, kn, vn ast.Node)) {
	var pairs []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		pairs = m.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{m}
	default:
		w.typeErrors = true
		w.fail(n, path, "expected a mapping, found %s", kindOf(n))
		return
	}
	for _, kv := range pairs {
		if kv.Key == nil {
			continue
		}
		if kv.Key.IsMergeKey() {
			continue // "<<: *anchor"; the decoder merges and checks it
		}
		f(keyString(kv.Key), kv.Key, kv.Value)
	}
}

func (w *schemaWalker) duration(n ast.Node, path string) {
	s, ok := n.(*ast.StringNode)
	if !ok {
		w.typeErrors = true
		w.fail(n, path, "%s is not a duration: write a number with a unit, like \"10s\" or \"2m\"", n.String())
		return
	}
	if _, err := time.ParseDuration(s.Value); err != nil {
		w.typeErrors = true
		w.fail(n, path, "%q is not a duration: write a number with a unit, like \"10s\" or \"2m\"", s.Value)
	}
}

// unwrap looks through tags and anchors to the node that holds the value.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		default:
			return n
		}
	}
}

// startToken is the token where a node starts in the text; for a mapping,
// its first key rather than its first ':'.
func startToken(n ast.Node) *token.Token {
	switch v := n.(type) {
	case nil:
		return nil
	case *ast.MappingNode:
		if len(v.Values) > 0 && v.Values[0].Key != nil {
			return v.Values[0].Key.GetToken()
		}
		return v.Start
	case *ast.MappingValueNode:
		if v.Key != nil {
			return v.Key.GetToken()
		}
	case *ast.SequenceNode:
		if v.Start != nil {
			return v.Start
		}
	case *ast.TagNode:
		return v.Start
	case *ast.AnchorNode:
		return v.Start
	}
	return n.GetToken()
}

func keyString(k ast.MapKeyNode) string {
	if s, ok := unwrap(k).(ast.ScalarNode); ok {
		if v := s.GetValue(); v != nil {
			return fmt.Sprint(v)
		}
	}
	return k.String()
}

func kindOf(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode:
		return "a number"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	}
	return strings.ToLower(n.Type().String())
}

// yamlField finds the type of the field a YAML key decodes into, looking
// into inline structs.
func yamlField(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline, skip := yamlTag(f)
		if skip {
			continue
		}
		if inline {
			if ft, ok := yamlField(f.Type, key); ok {
				return ft, true
			}
			continue
		}
		if name == key {
			return f.Type, true
		}
	}
	return nil, false
}

func yamlFieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline, skip := yamlTag(f)
		switch {
		case skip:
		case inline:
			names = append(names, yamlFieldNames(f.Type)...)
		default:
			names = append(names, name)
		}
	}
	return names
}

func yamlTag(f reflect.StructField) (name string, inline, skip bool) {
	if !f.IsExported() {
		return "", false, true
	}
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return "", false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(opts, "inline") {
		return "", true, false
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false, false
}

// suggest returns ` (did you mean "x"?)` for the closest candidate within a
// small edit distance, or "".
func suggest(got string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(got), c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance, for typo suggestions.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
