package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/store/storetest"
	"github.com/tollgate-gw/tollgate/internal/tokens"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// docsCopy is the document's copy for readers of the repository.
const docsCopy = "../../docs/admin-api.openapi.yaml"

// methods are the HTTP methods an OpenAPI path item may hold operations for.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI fetches the document the way a client does.
func loadOpenAPI(t *testing.T, e *env) oapiDoc {
	t.Helper()
	r := e.must(200, "GET", "/admin/openapi.json", "")
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET /admin/openapi.json: Content-Type = %q, want application/json", ct)
	}
	v, err := decodeJSONValue(r.body)
	if err != nil {
		t.Fatalf("GET /admin/openapi.json: %v", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("GET /admin/openapi.json is %s, want an object", brief(v))
	}
	return doc
}

// TestOpenAPIServed checks that the served JSON is exactly the YAML source,
// that it needs the admin key like every admin path, and that the copy in
// docs/ is the same file (go test ./internal/admin/ -update rewrites it).
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite)
	served := loadOpenAPI(t, e)

	src, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var fromYAML any
	if err := yaml.Unmarshal(src, &fromYAML); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	b, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decodeJSONValue(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, any(map[string]any(served))); diff != "" {
		t.Errorf("GET /admin/openapi.json differs from openapi.yaml (-yaml +served):\n%s", diff)
	}

	if r := e.do("GET", "/admin/openapi.json", "", "Authorization", ""); r.status != http.StatusUnauthorized {
		t.Errorf("GET /admin/openapi.json without the admin key = %d, want 401", r.status)
	}

	if *update {
		if err := os.WriteFile(docsCopy, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := os.ReadFile(docsCopy)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/admin/ -update to create it)", err)
	}
	if string(cp) != string(src) {
		t.Errorf("%s differs from internal/admin/openapi.yaml; run go test ./internal/admin/ -update", docsCopy)
	}
}

// TestOpenAPIRoutes holds the document to the route table in both
// directions: a route the mux serves must be documented, and a documented
// operation must be served.
func TestOpenAPIRoutes(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite)
	doc := loadOpenAPI(t, e)

	var served []string
	for _, p := range e.api.Patterns() {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			t.Errorf("route %q has no method; every admin route must name one", p)
			continue
		}
		served = append(served, method+" "+path)
	}
	var documented []string
	paths, _ := doc["paths"].(map[string]any)
	for _, path := range sortedKeys(paths) {
		item, _ := paths[path].(map[string]any)
		for _, m := range methods {
			if _, ok := item[m]; ok {
				documented = append(documented, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(served)
	slices.Sort(documented)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("routes served (-) and documented in openapi.yaml (+) differ:\n%s", diff)
	}
}

var pathParamRE = regexp.MustCompile(`\{([^}]+)\}`)

// TestOpenAPIDocument checks that the document is well-formed: every $ref
// resolves, every operation has an id and responses with descriptions,
// path templates and path parameters agree, and every schema stays within
// the validated subset and is strict.
func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite)
	doc := loadOpenAPI(t, e)
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		fail("openapi = %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		fail("info needs a title and a version")
	}

	// Every $ref anywhere in the document resolves.
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, err := doc.resolve(ref); err != nil {
					fail("%s: %v", at, err)
				}
			}
			for _, k := range sortedKeys(v) {
				walk(v[k], at+"."+k)
			}
		case []any:
			for i, x := range v {
				walk(x, fmt.Sprintf("%s[%d]", at, i))
			}
		}
	}
	walk(map[string]any(doc), "#")

	components, _ := doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	security, _ := doc["security"].([]any)
	if len(security) == 0 {
		fail("the document names no security requirement; every admin path needs the admin key")
	}
	for _, req := range security {
		for name := range req.(map[string]any) {
			if schemes[name] == nil {
				fail("security names %q, which is not in components.securitySchemes", name)
			}
		}
	}

	schemas, _ := components["schemas"].(map[string]any)
	for _, name := range sortedKeys(schemas) {
		errs = append(errs, doc.lintSchema(schemas[name], "components.schemas."+name)...)
	}

	lintContent := func(at string, content any) {
		c, _ := content.(map[string]any)
		for _, mt := range sortedKeys(c) {
			if _, _, err := mime.ParseMediaType(mt); err != nil {
				fail("%s: media type %q: %v", at, mt, err)
			}
			m, _ := c[mt].(map[string]any)
			if m["schema"] == nil {
				fail("%s.content[%s]: no schema", at, mt)
				continue
			}
			errs = append(errs, doc.lintSchema(m["schema"], at+".content["+mt+"].schema")...)
		}
	}

	operationIDs := map[string]string{}
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		fail("the document has no paths")
	}
	for _, path := range sortedKeys(paths) {
		if !strings.HasPrefix(path, "/admin/") {
			fail("path %s is not under /admin/", path)
		}
		item, _ := paths[path].(map[string]any)
		for _, k := range sortedKeys(item) {
			if k != "parameters" && k != "summary" && k != "description" && !slices.Contains(methods, k) {
				fail("%s: unexpected path item field %q", path, k)
			}
		}
		var inTemplate []string
		for _, m := range pathParamRE.FindAllStringSubmatch(path, -1) {
			inTemplate = append(inTemplate, m[1])
		}
		slices.Sort(inTemplate)
		for _, m := range methods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			at := strings.ToUpper(m) + " " + path
			for _, k := range sortedKeys(op) {
				if !slices.Contains([]string{"tags", "operationId", "summary", "description", "parameters", "requestBody", "responses"}, k) {
					fail("%s: unexpected operation field %q", at, k)
				}
			}
			if id, _ := op["operationId"].(string); id == "" {
				fail("%s: no operationId", at)
			} else if other, dup := operationIDs[id]; dup {
				fail("%s: operationId %q is also %s's", at, id, other)
			} else {
				operationIDs[id] = at
			}

			var inParams []string
			params := append(slices.Clone(asList(item["parameters"])), asList(op["parameters"])...)
			for i, p := range params {
				pm, err := doc.deref(p)
				if err != nil {
					fail("%s: parameter %d: %v", at, i, err)
					continue
				}
				name, _ := pm["name"].(string)
				for _, k := range sortedKeys(pm) {
					if !slices.Contains([]string{"name", "in", "description", "required", "schema"}, k) {
						fail("%s: parameter %q: unexpected field %q", at, name, k)
					}
				}
				switch pm["in"] {
				case "path":
					if pm["required"] != true {
						fail("%s: path parameter %q must be required", at, name)
					}
					inParams = append(inParams, name)
				case "query", "header":
				default:
					fail("%s: parameter %q is in %v", at, name, pm["in"])
				}
				if pm["schema"] == nil {
					fail("%s: parameter %q has no schema", at, name)
				} else {
					errs = append(errs, doc.lintSchema(pm["schema"], at+" parameter "+name)...)
				}
			}
			slices.Sort(inParams)
			if !slices.Equal(inParams, inTemplate) {
				fail("%s: path parameters %v do not match the template's %v", at, inParams, inTemplate)
			}

			if rb, ok := op["requestBody"]; ok {
				rbm, err := doc.deref(rb)
				if err != nil {
					fail("%s: requestBody: %v", at, err)
				} else {
					lintContent(at+" requestBody", rbm["content"])
				}
			}

			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				fail("%s: no responses", at)
			}
			if _, ok := responses["401"]; !ok {
				fail("%s: no 401 response, though every admin path needs the admin key", at)
			}
			for _, code := range sortedKeys(responses) {
				if n, err := strconv.Atoi(code); code != "default" && (err != nil || n < 100 || n > 599) {
					fail("%s: response key %q is not a status code", at, code)
				}
				resp, err := doc.deref(responses[code])
				if err != nil {
					fail("%s %s: %v", at, code, err)
					continue
				}
				if d, _ := resp["description"].(string); d == "" {
					fail("%s %s: no description", at, code)
				}
				lintContent(at+" "+code, resp["content"])
				headers, _ := resp["headers"].(map[string]any)
				for _, h := range sortedKeys(headers) {
					hm, err := doc.deref(headers[h])
					if err != nil {
						fail("%s %s header %s: %v", at, code, h, err)
					} else if hm["schema"] == nil {
						fail("%s %s header %s: no schema", at, code, h)
					}
				}
			}
		}
	}
	for _, e := range errs {
		t.Error(e)
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// exchange is a golden file parsed back into its request and response.
type exchange struct {
	method, path string
	query        url.Values
	reqBody      string
	status       int
	header       http.Header
	body         string
}

// parseGolden reads the format env.golden writes: the request line and
// body, a blank line, the status line and headers, a blank line, the body.
func parseGolden(s string) (exchange, error) {
	var x exchange
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		return x, fmt.Errorf("empty")
	}
	method, target, ok := strings.Cut(sc.Text(), " ")
	if !ok {
		return x, fmt.Errorf("request line %q", sc.Text())
	}
	u, err := url.Parse(target)
	if err != nil {
		return x, err
	}
	x.method, x.path, x.query = method, u.Path, u.Query()
	var body []string
	for sc.Scan() && sc.Text() != "" {
		body = append(body, sc.Text())
	}
	x.reqBody = strings.Join(body, "\n")
	if !sc.Scan() {
		return x, fmt.Errorf("no status line")
	}
	code, ok := strings.CutPrefix(sc.Text(), "HTTP ")
	if x.status, err = strconv.Atoi(code); !ok || err != nil {
		return x, fmt.Errorf("status line %q", sc.Text())
	}
	x.header = http.Header{}
	for sc.Scan() && sc.Text() != "" {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		x.header.Add(k, v)
	}
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	x.body = strings.Join(rest, "\n")
	return x, sc.Err()
}

// operation finds the operation that serves method and path: a template
// segment {x} matches any one segment, and a literal segment beats it.
// pathKnown reports whether any documented path matched.
func (d oapiDoc) operation(method, path string) (template string, item, op map[string]any, pathKnown bool) {
	paths, _ := d["paths"].(map[string]any)
	segs := strings.Split(path, "/")
	bestLiterals := -1
	for _, tmpl := range sortedKeys(paths) {
		tsegs := strings.Split(tmpl, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		literals := 0
		match := true
		for i, ts := range tsegs {
			switch {
			case strings.HasPrefix(ts, "{") && strings.HasSuffix(ts, "}"):
			case ts == segs[i]:
				literals++
			default:
				match = false
			}
		}
		if match && literals > bestLiterals {
			bestLiterals, template = literals, tmpl
		}
	}
	if template == "" {
		return "", nil, nil, false
	}
	item, _ = paths[template].(map[string]any)
	op, _ = item[strings.ToLower(method)].(map[string]any)
	return template, item, op, true
}

// checkExchange validates one recorded exchange against the document: the
// request's query parameters and body against the operation's parameters
// and request body, and the response's status, content type, documented
// headers and body against the response for that status.
func checkExchange(d oapiDoc, x exchange) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	components, _ := d["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)

	tmpl, item, op, known := d.operation(x.method, x.path)
	if op == nil {
		// Outside every operation: the API's 404 for an unknown path and 405
		// for a wrong method, which the document describes once, in info.
		want := http.StatusNotFound
		if known {
			want = http.StatusMethodNotAllowed
		}
		if x.status != want && x.status != http.StatusUnauthorized {
			fail("%s %s is not documented, and answered %d instead of %d", x.method, x.path, x.status, want)
		}
		v, err := decodeJSONValue([]byte(x.body))
		if err != nil {
			return append(errs, fmt.Sprintf("response body: %v", err))
		}
		return append(errs, d.validate(schemas["Error"], v, "response")...)
	}
	at := x.method + " " + tmpl

	// The query string of a successful request uses only documented
	// parameters, with valid values; error goldens send wrong ones on purpose.
	params := map[string]any{}
	for _, p := range append(slices.Clone(asList(item["parameters"])), asList(op["parameters"])...) {
		if pm, err := d.deref(p); err == nil && pm["in"] == "query" {
			params[pm["name"].(string)] = pm["schema"]
		}
	}
	for _, name := range sortedKeys(x.query) {
		if x.status >= 400 {
			break
		}
		s, ok := params[name]
		if !ok {
			fail("%s: query parameter %q is not documented", at, name)
			continue
		}
		for _, v := range x.query[name] {
			errs = append(errs, d.validate(s, v, at+" ?"+name)...)
		}
	}

	// The request body matches the documented request body.
	if x.reqBody != "" {
		rb, ok := op["requestBody"]
		if !ok {
			fail("%s: sent a body, but the operation documents none", at)
		} else if rbm, err := d.deref(rb); err != nil {
			fail("%s: requestBody: %v", at, err)
		} else if mt, _ := rbm["content"].(map[string]any)["application/json"].(map[string]any); mt == nil {
			fail("%s: requestBody has no application/json content", at)
		} else if v, err := decodeJSONValue([]byte(x.reqBody)); err != nil {
			// A malformed body is what some error goldens send on purpose.
			if x.status != http.StatusBadRequest {
				fail("%s: request body: %v", at, err)
			}
		} else if x.status < 400 {
			errs = append(errs, d.validate(mt["schema"], v, "request")...)
		}
	}

	responses, _ := op["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(x.status)]
	if !ok {
		r, ok = responses["default"]
	}
	if !ok {
		return append(errs, fmt.Sprintf("%s: status %d is not documented", at, x.status))
	}
	resp, err := d.deref(r)
	if err != nil {
		return append(errs, fmt.Sprintf("%s %d: %v", at, x.status, err))
	}
	at = fmt.Sprintf("%s %d", at, x.status)

	headers, _ := resp["headers"].(map[string]any)
	for _, h := range sortedKeys(headers) {
		hm, err := d.deref(headers[h])
		if err != nil {
			fail("%s header %s: %v", at, h, err)
			continue
		}
		// Goldens record only some headers; check those they do.
		if v := x.header.Get(h); v != "" {
			errs = append(errs, d.validate(hm["schema"], v, at+" header "+h)...)
		} else if goldenHeader(h) {
			fail("%s: documented header %s is missing", at, h)
		}
	}
	for h := range x.header {
		if h != "Content-Type" && headers[h] == nil && headers[strings.ToLower(h)] == nil {
			fail("%s: header %s is not documented", at, h)
		}
	}

	content, _ := resp["content"].(map[string]any)
	ct := x.header.Get("Content-Type")
	if len(content) == 0 {
		if ct != "" || x.body != "" {
			fail("%s: documented without content, but has %q: %s", at, ct, brief(x.body))
		}
		return errs
	}
	var media map[string]any
	for _, mt := range sortedKeys(content) {
		if sameMediaType(mt, ct) {
			media, _ = content[mt].(map[string]any)
		}
	}
	if media == nil {
		return append(errs, fmt.Sprintf("%s: Content-Type %q is not one of %v", at, ct, sortedKeys(content)))
	}
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case mt == "application/json":
		v, err := decodeJSONValue([]byte(x.body))
		if err != nil {
			return append(errs, fmt.Sprintf("%s: response body: %v", at, err))
		}
		errs = append(errs, d.validate(media["schema"], v, "response")...)
	case mt == "text/csv":
		// The header row is the contract of the CSV; the example shows it.
		example, _ := media["example"].(string)
		wantHeader, _, _ := strings.Cut(example, "\n")
		gotHeader, _, _ := strings.Cut(x.body, "\n")
		if wantHeader == "" || gotHeader != wantHeader {
			fail("%s: CSV header row\n  %s\nwant (from the example)\n  %s", at, gotHeader, wantHeader)
		}
	default:
		fail("%s: no check for media type %s", at, mt)
	}
	return errs
}

// goldenHeader reports whether env.golden records header h.
func goldenHeader(h string) bool {
	return slices.Contains([]string{"content-type", "x-tollgate-error-origin", "allow"}, strings.ToLower(h))
}

func sameMediaType(a, b string) bool {
	ma, pa, err1 := mime.ParseMediaType(a)
	mb, pb, err2 := mime.ParseMediaType(b)
	return err1 == nil && err2 == nil && ma == mb && cmp.Equal(pa, pb)
}

// TestOpenAPIGoldens validates every golden exchange in testdata against
// the document, so a response that changes shape fails here as well as in
// its golden comparison, and a document that drifts from the responses
// fails even when the goldens are rewritten with -update.
func TestOpenAPIGoldens(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite)
	doc := loadOpenAPI(t, e)
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no goldens in testdata: %v", err)
	}
	covered := map[string]bool{}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".golden"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			x, err := parseGolden(string(b))
			if err != nil {
				t.Fatalf("parse %s: %v", f, err)
			}
			if tmpl, _, op, _ := doc.operation(x.method, x.path); op != nil {
				covered[x.method+" "+tmpl] = true
			}
			for _, e := range checkExchange(doc, x) {
				t.Error(e)
			}
		})
	}
	t.Logf("goldens cover %d operations", len(covered))
}

// TestOpenAPILive validates an event of the live usage feed against the
// LiveUsage schema, which a golden file cannot hold.
func TestOpenAPILive(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite)
	doc := loadOpenAPI(t, e)

	feed := make(chan usage.Record, 1)
	feed <- usage.Record{Time: now, RequestID: "req_1", KeyAlias: "alice-laptop", UserID: "usr_x", TeamID: "team_x",
		SessionID: "sess-1", Tags: map[string]string{"repo": "org/app"}, Model: "claude-sonnet-4-5", Door: "anthropic",
		Stream: true, Status: 529, ErrorOrigin: "upstream", LatencyMs: 812, Tokens: tokens.Counts{Input: 1200, Output: 300, CacheWrite5m: 10, CacheWrite1h: 20, CacheRead: 30}, CostMicros: 8100, Unpriced: true}
	api := admin.New(e.st, admin.Options{Now: func() time.Time { return now },
		Live: func() (<-chan usage.Record, func()) { return feed, func() {} }})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/admin/usage/live", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	x := exchange{method: "GET", path: "/admin/usage/live", status: resp.StatusCode, header: http.Header{}}
	x.header.Set("Content-Type", resp.Header.Get("Content-Type"))
	var data string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = d
			break
		}
	}
	if data == "" {
		t.Fatalf("no event from the live feed: %v", sc.Err())
	}
	// The stream is checked for its status and content type; its body is
	// a stream of events, and the event is checked against its own schema.
	_, _, op, _ := doc.operation("GET", "/admin/usage/live")
	ok200, _ := doc.deref(op["responses"].(map[string]any)["200"])
	content, _ := ok200["content"].(map[string]any)
	if !slices.ContainsFunc(sortedKeys(content), func(mt string) bool { return sameMediaType(mt, x.header.Get("Content-Type")) }) {
		t.Errorf("live feed Content-Type %q is not one of %v", x.header.Get("Content-Type"), sortedKeys(content))
	}
	v, err := decodeJSONValue([]byte(data))
	if err != nil {
		t.Fatalf("event data %s: %v", data, err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, e := range doc.validate(schemas["LiveUsage"], v, "event") {
		t.Error(e)
	}
}

// TestSchemaValidator makes sure the validator fails what it should, so
// that the tests above cannot pass by validating nothing.
func TestSchemaValidator(t *testing.T) {
	doc := oapiDoc{"components": map[string]any{"schemas": map[string]any{
		"Thing": mustJSON(t, `{"type":"object","additionalProperties":false,"required":["id","n"],"properties":{
			"id":{"type":"string"},
			"n":{"type":"integer","minimum":0,"maximum":10},
			"usd":{"type":["number","null"]},
			"kind":{"type":"string","enum":["a","b"]},
			"at":{"type":"string","format":"date-time"},
			"tags":{"type":"object","additionalProperties":{"type":"string"}},
			"list":{"type":"array","items":{"$ref":"#/components/schemas/Leaf"}}}}`),
		"Leaf": mustJSON(t, `{"type":"object","additionalProperties":false,"properties":{"x":{"type":"boolean"}}}`),
		"Odd":  mustJSON(t, `{"type":"object","oneOf":[]}`),
	}}}
	thing := map[string]any{"$ref": "#/components/schemas/Thing"}
	tests := []struct {
		name   string
		schema any
		value  string
		want   string // a substring of the first error; "" for none
	}{
		{"valid", thing, `{"id":"a","n":3,"usd":1.5,"kind":"b","at":"2025-06-03T12:00:00Z","tags":{"k":"v"},"list":[{"x":true}]}`, ""},
		{"null allowed", thing, `{"id":"a","n":0,"usd":null}`, ""},
		{"missing required", thing, `{"id":"a"}`, `required property "n" is missing`},
		{"extra property", thing, `{"id":"a","n":1,"renamed":2}`, `property "renamed" is not in the schema`},
		{"wrong type", thing, `{"id":1,"n":1}`, "is not of type string"},
		{"float for integer", thing, `{"id":"a","n":1.5}`, "is not of type integer"},
		{"null not allowed", thing, `{"id":null,"n":1}`, "is not of type string"},
		{"below minimum", thing, `{"id":"a","n":-1}`, "less than the minimum"},
		{"above maximum", thing, `{"id":"a","n":11}`, "more than the maximum"},
		{"not in enum", thing, `{"id":"a","n":1,"kind":"c"}`, "is not one of"},
		{"bad date-time", thing, `{"id":"a","n":1,"at":"yesterday"}`, "not an RFC 3339"},
		{"map value type", thing, `{"id":"a","n":1,"tags":{"k":1}}`, "tags.k"},
		{"item through $ref", thing, `{"id":"a","n":1,"list":[{"y":true}]}`, `list[0]: property "y"`},
		{"dangling $ref", map[string]any{"$ref": "#/components/schemas/Nope"}, `{}`, "does not resolve"},
		{"unknown keyword", map[string]any{"$ref": "#/components/schemas/Odd"}, `{}`, `keyword "oneOf"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decodeJSONValue([]byte(tc.value))
			if err != nil {
				t.Fatal(err)
			}
			errs := doc.validate(tc.schema, v, "v")
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Errorf("validate(%s) = %q, want no errors", tc.value, errs)
			case tc.want != "" && (len(errs) == 0 || !strings.Contains(errs[0], tc.want)):
				t.Errorf("validate(%s) = %q, want an error containing %q", tc.value, errs, tc.want)
			}
		})
	}

	lint := doc.lintSchema(mustJSON(t, `{"type":"object","properties":{"a":{"type":"strin"}},"required":["b"]}`), "s")
	for _, want := range []string{"additionalProperties: false", `unknown type "strin"`, "required property b is not declared"} {
		if !slices.ContainsFunc(lint, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("lintSchema = %q, want an error containing %q", lint, want)
		}
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeJSONValue([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
