package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Load reads, expands, parses, defaults and validates the configuration file
// at path, with the process environment. Problems with the file's content
// come back as a *ValidationError listing all of them.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseWith(data, path, os.LookupEnv)
}

// Parse is Load for a configuration already in memory; source names it in
// error messages (usually the file name).
func Parse(data []byte, source string) (*Config, error) {
	return ParseWith(data, source, os.LookupEnv)
}

// ParseWith is Parse with an explicit environment, used for ${VAR}
// expansion and for the AWS_REGION/AWS_DEFAULT_REGION region default.
//
// Expansion happens on the raw text before YAML parsing, so a variable can
// supply any scalar (a port, a duration, a number):
//
//   - ${VAR} is VAR's value; an unset VAR is an error naming it and its line
//     (set but empty is allowed, and the field's validation decides).
//   - ${VAR:-default} is VAR's value, or default when VAR is unset or empty.
//   - $$ is a literal $; any other $ is kept as it is.
//   - Comments are not expanded.
//   - A value with a line break is an error.
//
// The value is inserted as text: quote the reference when the value may
// contain YAML syntax, as in secret: "${TOLLGATE_KEY}".
//
// An empty file (or one with only comments) yields the same configuration as
// Default.
func ParseWith(data []byte, source string, lookup LookupEnv) (*Config, error) {
	c, problems := Check(data, source, lookup)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return c, nil
}

// CheckFile is Check of the file at path with the process environment. The
// error is for a file that cannot be read.
func CheckFile(path string) (*Config, []Problem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	c, problems := Check(data, path, os.LookupEnv)
	return c, problems, nil
}

// Check is ParseWith for `tollgate check`: it goes as far as it can and
// returns every problem of every pass — ${VAR} expansion, YAML, the schema,
// then validation — in file order, so that a broken file is fixed in one
// round. An unset variable expands to "" and parsing goes on. The
// configuration is returned whenever the file could be decoded, even with
// problems, so that a caller can still describe it; only ParseWith's
// answer is fit to serve.
func Check(data []byte, source string, lookup LookupEnv) (*Config, []Problem) {
	exp := expandEnv(data, lookup, source)
	var problems []Problem
	done := func(c *Config) (*Config, []Problem) {
		// A line whose ${VAR} could not be expanded holds "" (or the raw
		// text) in its place: what the later passes say about that value
		// would only repeat the expansion problem, so it is left out.
		bad := map[int]bool{}
		for _, p := range exp.problems {
			bad[p.Line] = true
		}
		problems = slices.DeleteFunc(problems, func(p Problem) bool { return bad[p.Line] })
		problems = append(problems, exp.problems...)
		sortProblems(problems)
		return c, problems
	}
	pos := &positions{source: source, exp: exp, at: map[string]position{}}

	file, err := parser.ParseBytes(exp.text, 0)
	if err != nil {
		problems = append(problems, yamlProblem(pos, err))
		return done(nil)
	}
	var body ast.Node
	for i, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			at := pos.place(startToken(doc.Body))
			problems = append(problems, Problem{
				Source: source, Line: at.line, Column: at.col,
				Message: fmt.Sprintf("only one YAML document is allowed; document %d starts here", i+1),
			})
			return done(nil)
		}
		body = doc.Body
	}

	c := &Config{}
	if body != nil {
		w := &schemaWalker{pos: pos}
		w.walk(body, reflect.TypeFor[Config](), "")
		problems = append(problems, w.problems...)
		if w.typeErrors {
			return done(nil)
		}
		// Unknown fields are already reported, all of them; decode leniently
		// then, so that validation can add its own findings to the list.
		var opts []yaml.DecodeOption
		if len(problems) == 0 && len(exp.problems) == 0 {
			opts = append(opts, yaml.Strict())
		}
		if err := yaml.NodeToValue(body, c, opts...); err != nil {
			problems = append(problems, yamlProblem(pos, err))
			return done(nil)
		}
	}

	c.applyDefaults(lookup)
	problems = append(problems, c.validate(pos)...)
	return done(c)
}

// yamlProblem turns a YAML parse or decode error into a located problem.
func yamlProblem(pos *positions, err error) Problem {
	var ye yaml.Error
	if errors.As(err, &ye) {
		at := pos.place(ye.GetToken())
		return Problem{Source: pos.source, Line: at.line, Column: at.col, Message: ye.GetMessage()}
	}
	return Problem{Source: pos.source, Message: err.Error()}
}

// Default is the configuration `tollgate serve` runs with when there is no
// file: listen on 127.0.0.1:4000, data in ./tollgate-data, one "bedrock"
// provider in AWS_REGION (then AWS_DEFAULT_REGION, then us-east-1) with the
// default AWS credential chain, and the built-in catalog through global
// inference profiles.
//
// The region is taken from the environment as it is; call Validate to check
// it before serving.
func Default() *Config {
	return DefaultWith(os.LookupEnv)
}

// DefaultWith is Default with an explicit environment.
func DefaultWith(lookup LookupEnv) *Config {
	c := &Config{}
	c.applyDefaults(lookup)
	return c
}

// Validate checks c as it is (it does not apply defaults), for
// configurations built or changed in code, such as Default plus command-line
// flags. Problems have no file positions.
func (c *Config) Validate() error {
	if problems := c.validate(nil); len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}
