package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate-gw/tollgate/internal/adminclient"
)

// tollgate doctor checks, hop by hop, the path a Claude Code call takes with
// the current environment — client configuration, the gateway (reachable,
// access rule, key, model route), then upstream (a one-token call that
// reaches Bedrock) — and stops at the first hop that fails, saying in plain
// words what failed and what to change. It reads the variables Claude Code
// reads, so running it in a CI step or a developer's shell tests exactly
// what Claude Code would send.

// hop is where a failure lies: what the person reading the report must go
// and fix.
type hop string

const (
	hopClient   hop = "client configuration"
	hopGateway  hop = "gateway"
	hopUpstream hop = "upstream"
)

// whose says who must act on a failure of the hop.
func (h hop) whose() string {
	switch h {
	case hopClient:
		return "the environment on this machine or CI job"
	case hopGateway:
		return "the Tollgate gateway, its key and access settings, or what stands in front of it"
	}
	return "Bedrock, behind the gateway: the gateway's operator must fix it"
}

// defaultDoctorModel is the model of the one-token call when the
// environment names none: the cheapest Claude model.
const defaultDoctorModel = "claude-haiku-4-5"

// outcome is one check's result.
type outcome struct {
	ok     bool
	hop    hop      // where the failure lies; unset when ok
	detail string   // the check's one-line result
	said   string   // what the gateway or Bedrock said, verbatim
	fix    string   // what to change
	notes  []string // extra lines, shown also on success
}

func pass(detail string, notes ...string) outcome {
	return outcome{ok: true, detail: detail, notes: notes}
}

func fail(h hop, detail, fix string) outcome { return outcome{hop: h, detail: detail, fix: fix} }

// clientSetup is what Claude Code would send, resolved from the environment.
type clientSetup struct {
	bedrock   bool
	baseVar   string // the variable holding the base URL
	base      string // base URL without a trailing slash
	header    http.Header
	keyDesc   string // the key as it may be shown: prefix and source
	keyShort  string // the key's prefix only
	model     string
	modelFrom string
	custom    []string // names of the custom headers
}

// doctor runs the checks. The fields after setup carry what one check
// learned for the next.
type doctor struct {
	out     io.Writer
	verbose bool
	json    bool // print a doctorReport instead of lines
	getenv  func(string) string
	hc      *http.Client
	timeout time.Duration
	model   string // --model

	setup  clientSetup
	trace  []string        // --verbose: the requests of the current check
	models []string        // model ids GET /v1/models listed
	count  *exchangeResult // Bedrock mode: count-tokens, which checks key and route at once
}

func newDoctorCmd() *cobra.Command {
	var (
		verbose bool
		model   string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "doctor [--model NAME] [--verbose]",
		Short: "Check each hop of a Claude Code call from here",
		Long: `Check, hop by hop, the path a Claude Code call takes with this environment:
the client configuration (the variables Claude Code reads), the gateway
(reachable, access rule, key, model route), then upstream (a one-token call).
It stops at the first hop that fails and says what to change. Exit code 1
unless every check passes.`,
		Example: `  tollgate doctor
  tollgate doctor --model claude-sonnet-4-5 --verbose
  tollgate doctor --json | jq -r '.fix // "ok"'`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	fs.BoolVar(&verbose, "verbose", false, "print each request with its x-request-id, to look up in the gateway's log")
	fs.StringVar(&model, "model", "", "model of the one-token call (default $ANTHROPIC_MODEL, else $ANTHROPIC_DEFAULT_HAIKU_MODEL, else "+defaultDoctorModel+")")
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for each answer")
	asJSON := fs.Bool("json", false, `print the result as JSON: {"ok", "checks": [{"name", "status", "detail", …}], "failed_hop", "fix"}`)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		tr := http.DefaultTransport.(*http.Transport).Clone() // HTTPS_PROXY is honoured, as by Claude Code
		d := &doctor{
			out: cmd.OutOrStdout(), verbose: verbose, json: *asJSON, getenv: os.Getenv, timeout: timeout, model: model,
			hc: &http.Client{
				Transport: tr,
				// A redirect is reported, not followed: the base URL should
				// name the gateway itself, and clients may not carry a POST
				// and its body across a redirect.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			},
		}
		return d.run(cmd.Context())
	}
	return cmd
}

// doctorCheck is one check as --json prints it.
type doctorCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "passed", "failed" or "not checked"
	Detail string `json:"detail,omitempty"`
	// Notes are extra lines, and with --verbose the requests made.
	Notes []string `json:"notes,omitempty"`
	// Said is what the gateway or Bedrock answered, verbatim.
	Said string `json:"said,omitempty"`
}

// doctorReport is the whole run as --json prints it.
type doctorReport struct {
	OK     bool          `json:"ok"`
	Checks []doctorCheck `json:"checks"`
	// FailedHop is where the failure lies — "client configuration",
	// "gateway" or "upstream" — and Whose who must act; Fix what to change.
	FailedHop string `json:"failed_hop,omitempty"`
	Whose     string `json:"whose,omitempty"`
	Fix       string `json:"fix,omitempty"`
}

func (d *doctor) run(ctx context.Context) error {
	checks := []struct {
		name string
		run  func(context.Context) outcome
	}{
		{"client configuration", d.checkConfig},
		{"gateway reachable", d.checkReachable},
		{"access rule and key", d.checkKey},
		{"model route", d.checkRoute},
		{"one-token call", d.checkCall},
	}
	if !d.json {
		fmt.Fprintln(d.out, "tollgate doctor: checking the path of a Claude Code call, hop by hop")
		fmt.Fprintln(d.out)
	}
	report := doctorReport{OK: true}
	var failed error
	for i, c := range checks {
		o := c.run(ctx)
		dc := doctorCheck{Name: c.name, Status: "passed", Detail: o.detail, Notes: append(d.trace, o.notes...), Said: o.said}
		d.trace = nil
		if !o.ok {
			dc.Status = "failed"
		}
		report.Checks = append(report.Checks, dc)
		if !d.json {
			mark := "✓"
			if !o.ok {
				mark = "✗"
			}
			fmt.Fprintf(d.out, "%s %s: %s\n", mark, c.name, o.detail)
			for _, n := range dc.Notes {
				fmt.Fprintf(d.out, "    %s\n", n)
			}
		}
		if o.ok {
			continue
		}
		report.OK, report.FailedHop, report.Whose, report.Fix = false, string(o.hop), o.hop.whose(), o.fix
		for _, rest := range checks[i+1:] {
			report.Checks = append(report.Checks, doctorCheck{Name: rest.name, Status: "not checked"})
		}
		failed = fmt.Errorf("doctor: %s failed (%s)", c.name, o.hop)
		if d.json {
			break
		}
		if o.said != "" {
			fmt.Fprintf(d.out, "    %s\n", o.said)
		}
		for _, rest := range checks[i+1:] {
			fmt.Fprintf(d.out, "- %s: not checked\n", rest.name)
		}
		fmt.Fprintf(d.out, "\nFailed hop: %s (%s), at check %q.\n", o.hop, o.hop.whose(), c.name)
		if o.fix != "" {
			fmt.Fprintf(d.out, "What to change: %s\n", o.fix)
		}
		return failed
	}
	if d.json {
		if err := printJSON(d.out, report); err != nil {
			return err
		}
		return failed
	}
	fmt.Fprintf(d.out, "\nAll %d checks passed: Claude Code with this environment reaches Claude through the gateway.\n", len(checks))
	return nil
}

// ---- client configuration ----

// truthy reads a boolean environment variable as Claude Code does.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// keyPrefix shows enough of a secret to recognise it in `tollgate keys
// list` (whose prefix column is "tg-" and 8 characters), never all of it.
func keyPrefix(secret string) string {
	switch {
	case strings.HasPrefix(secret, "tg-") && len(secret) >= 20:
		return secret[:11] + "…"
	case len(secret) >= 16:
		return secret[:4] + "…"
	}
	return fmt.Sprintf("(a %d-character key)", len(secret))
}

// looksLikeKey reports whether a value meant to be a URL is a secret pasted
// into the wrong variable; it is then not printed.
func looksLikeKey(v string) bool {
	return strings.HasPrefix(v, "tg-") || strings.HasPrefix(v, "sk-") || strings.HasPrefix(v, "tga-")
}

// headerNameRE is an HTTP header name (an RFC 9110 token).
var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// commaHeadersRE spots several headers written on one line, separated by
// commas: "A: 1, B: 2".
var commaHeadersRE = regexp.MustCompile(`,\s*[!#$%&'*+.^_` + "`" + `|~0-9A-Za-z-]+:\s`)

// parseCustomHeaders parses ANTHROPIC_CUSTOM_HEADERS: "Name: value" pairs,
// one per line, as Claude Code reads them.
func parseCustomHeaders(v string) (http.Header, []string, error) {
	h := http.Header{}
	var names []string
	for i, line := range strings.Split(strings.ReplaceAll(v, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n := i + 1
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, nil, fmt.Errorf("line %d of ANTHROPIC_CUSTOM_HEADERS has no colon; write one `Name: value` per line", n)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !headerNameRE.MatchString(name) {
			return nil, nil, fmt.Errorf("line %d of ANTHROPIC_CUSTOM_HEADERS: %q is not a valid header name (letters, digits and - only, no spaces)", n, name)
		}
		if strings.Contains(value, `\n`) {
			return nil, nil, fmt.Errorf("the value of %s contains a literal \\n: separate headers with real newlines (a YAML |- block, or $'A: 1\\nB: 2' in bash), not the two characters \\ and n", name)
		}
		if commaHeadersRE.MatchString(value) {
			return nil, nil, fmt.Errorf("the value of %s looks like several headers on one line separated by commas; put each `Name: value` on a line of its own", name)
		}
		if strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return nil, nil, fmt.Errorf("the value of %s contains control characters", name)
		}
		h.Add(name, value)
		names = append(names, name)
	}
	return h, names, nil
}

// parseBase checks a base URL variable.
func parseBase(name, v string) (string, error) {
	if looksLikeKey(v) {
		return "", fmt.Errorf("%s holds what looks like an API key, not a URL (value not shown)", name)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s=%q is not an http:// or https:// URL with a host", name, v)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%s=%q has a query or fragment; give the gateway's address only", name, u.Redacted())
	}
	if u.User != nil {
		return "", fmt.Errorf("%s contains a user name or password; give the gateway's address only and the key in ANTHROPIC_API_KEY", name)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func (d *doctor) checkConfig(context.Context) outcome {
	s := &d.setup
	s.bedrock = truthy(d.getenv("CLAUDE_CODE_USE_BEDROCK"))
	mode := "Anthropic mode"
	s.baseVar = "ANTHROPIC_BASE_URL"
	if s.bedrock {
		mode = "Bedrock mode (CLAUDE_CODE_USE_BEDROCK)"
		s.baseVar = "ANTHROPIC_BEDROCK_BASE_URL"
	}

	raw := d.getenv(s.baseVar)
	if raw == "" {
		if s.bedrock {
			return fail(hopClient, mode+": ANTHROPIC_BEDROCK_BASE_URL is not set",
				"without it Claude Code calls Bedrock in AWS directly, not the gateway; export ANTHROPIC_BEDROCK_BASE_URL=https://<your gateway>")
		}
		return fail(hopClient, mode+": ANTHROPIC_BASE_URL is not set",
			"without it Claude Code calls api.anthropic.com directly, not the gateway; export ANTHROPIC_BASE_URL=https://<your gateway>")
	}
	base, err := parseBase(s.baseVar, raw)
	if err != nil {
		return fail(hopClient, err.Error(), "set "+s.baseVar+" to the gateway's address, e.g. https://llm.example.com or http://127.0.0.1:4000")
	}
	if !s.bedrock {
		for _, suffix := range []string{"/v1", "/v1/messages"} {
			if strings.HasSuffix(base, suffix) {
				return fail(hopClient, fmt.Sprintf("ANTHROPIC_BASE_URL ends in %s: Claude Code adds /v1/messages itself, so its calls would go to %s/v1/messages", suffix, base),
					"remove "+suffix+" from ANTHROPIC_BASE_URL: export ANTHROPIC_BASE_URL="+strings.TrimSuffix(base, suffix))
			}
		}
	}
	s.base = base

	custom, names, err := parseCustomHeaders(d.getenv("ANTHROPIC_CUSTOM_HEADERS"))
	if err != nil {
		return fail(hopClient, "ANTHROPIC_CUSTOM_HEADERS is malformed: "+err.Error(),
			"write one `Name: value` per line, e.g. in a workflow:\n    ANTHROPIC_CUSTOM_HEADERS: |-\n      X-Tollgate-Access: ${{ secrets.TOLLGATE_ACCESS_SECRET }}\n      x-tollgate-tags: repo=${{ github.repository }}")
	}
	s.custom = names

	// The headers Claude Code sends, the custom ones last (they win).
	s.header = http.Header{}
	var keyFrom, keyVar string
	if s.bedrock {
		if d.getenv("AWS_REGION") == "" {
			return fail(hopClient, mode+": AWS_REGION is not set",
				"Claude Code in Bedrock mode needs AWS_REGION (it does not read ~/.aws/config); export AWS_REGION=us-east-1, or the gateway's region")
		}
		skip := truthy(d.getenv("CLAUDE_CODE_SKIP_BEDROCK_AUTH"))
		if tok := d.getenv("AWS_BEARER_TOKEN_BEDROCK"); tok != "" && !skip {
			s.header.Set("Authorization", "Bearer "+tok)
			keyFrom, keyVar = "AWS_BEARER_TOKEN_BEDROCK, sent as Authorization: Bearer", "AWS_BEARER_TOKEN_BEDROCK"
		} else if !skip {
			return fail(hopClient, mode+": no gateway key, so Claude Code would sign its calls with AWS credentials (SigV4), which the gateway does not accept",
				"export AWS_BEARER_TOKEN_BEDROCK=<gateway key>, or CLAUDE_CODE_SKIP_BEDROCK_AUTH=1 with ANTHROPIC_CUSTOM_HEADERS='x-api-key: <gateway key>'")
		}
	} else {
		if k := d.getenv("ANTHROPIC_API_KEY"); k != "" {
			s.header.Set("x-api-key", k)
			keyFrom, keyVar = "ANTHROPIC_API_KEY, sent as x-api-key", "ANTHROPIC_API_KEY"
		}
		if t := d.getenv("ANTHROPIC_AUTH_TOKEN"); t != "" {
			s.header.Set("Authorization", "Bearer "+t)
			if keyFrom == "" {
				keyFrom, keyVar = "ANTHROPIC_AUTH_TOKEN, sent as Authorization: Bearer", "ANTHROPIC_AUTH_TOKEN"
			}
		}
	}
	for name, vs := range custom {
		s.header[name] = vs
		switch http.CanonicalHeaderKey(name) {
		case "X-Api-Key":
			keyFrom, keyVar = "the x-api-key line of ANTHROPIC_CUSTOM_HEADERS", "ANTHROPIC_CUSTOM_HEADERS"
		case "Authorization":
			if keyFrom == "" {
				keyFrom, keyVar = "the Authorization line of ANTHROPIC_CUSTOM_HEADERS", "ANTHROPIC_CUSTOM_HEADERS"
			}
		}
	}
	secret := s.header.Get("x-api-key")
	if secret == "" {
		if scheme, tok, ok := strings.Cut(s.header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			secret = tok
		}
	}
	if secret == "" {
		fix := "export ANTHROPIC_API_KEY=<your gateway key> (from `tollgate keys create`)"
		if s.bedrock {
			fix = "add the key to ANTHROPIC_CUSTOM_HEADERS as `x-api-key: <gateway key>` (AWS_BEARER_TOKEN_BEDROCK is not sent while CLAUDE_CODE_SKIP_BEDROCK_AUTH is set), or unset CLAUDE_CODE_SKIP_BEDROCK_AUTH and export AWS_BEARER_TOKEN_BEDROCK=<gateway key>"
		}
		return fail(hopClient, mode+": no gateway key is set", fix)
	}
	if strings.TrimSpace(secret) != secret || strings.ContainsAny(secret, " \t\r\n") {
		return fail(hopClient, keyVar+" contains whitespace (a newline copied with the key?)", "set it again without spaces or line breaks")
	}
	s.keyShort = keyPrefix(secret)
	s.keyDesc = s.keyShort + " (" + keyFrom + ")"

	// The model: Claude Code's aliases (sonnet, opus, haiku) are resolved by
	// Claude Code itself, so a concrete name is checked instead.
	s.model, s.modelFrom = d.model, "--model"
	for _, v := range []string{"ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL"} {
		if s.model == "" {
			s.model, s.modelFrom = d.getenv(v), v
		}
	}
	var notes []string
	if alias := strings.ToLower(strings.TrimSuffix(s.model, "[1m]")); slices.Contains([]string{"sonnet", "opus", "haiku", "opusplan", "default", "best"}, alias) {
		pinned := d.getenv("ANTHROPIC_DEFAULT_" + strings.ToUpper(alias) + "_MODEL")
		if pinned != "" {
			s.model, s.modelFrom = pinned, "ANTHROPIC_DEFAULT_"+strings.ToUpper(alias)+"_MODEL"
		} else {
			notes = append(notes, fmt.Sprintf("%s=%s is a Claude Code alias that Claude Code resolves itself; checking %s instead (use --model to check another)", s.modelFrom, alias, defaultDoctorModel))
			s.model = ""
		}
	}
	if s.model == "" {
		s.model, s.modelFrom = defaultDoctorModel, "default"
	}
	if u, _ := url.Parse(base); u.Scheme == "http" && !isLoopback(u.Hostname()) {
		notes = append(notes, "note: "+s.baseVar+" is plain http:// to another host, so the key travels unencrypted; use https://")
	}
	custom0 := "none"
	if len(names) > 0 {
		custom0 = strings.Join(names, ", ")
	}
	return pass(fmt.Sprintf("%s, %s=%s, key %s, model %s (%s), custom headers: %s",
		mode, s.baseVar, base, s.keyDesc, s.model, s.modelFrom, custom0), notes...)
}

func isLoopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// ---- HTTP ----

// exchangeResult is one request to the gateway and its answer.
type exchangeResult struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
	latency      time.Duration
	requestID    string
	origin       string // x-tollgate-error-origin
	errType      string // Anthropic error type, or Bedrock exception name
	message      string
}

// send makes one request with the headers Claude Code would send. err is set
// only when no HTTP answer came.
func (d *doctor) send(ctx context.Context, method, path string, body []byte, timeout time.Duration) (*exchangeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.setup.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header = d.setup.header.Clone()
	req.Header.Set("User-Agent", "tollgate-doctor/"+build.Version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !d.setup.bedrock {
		req.Header.Set("anthropic-version", "2023-06-01")
	}
	start := time.Now()
	resp, err := d.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no answer within %s", timeout)
		}
		return nil, errors.New(netReason(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r := &exchangeResult{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: raw,
		latency: time.Since(start), requestID: resp.Header.Get("x-request-id"), origin: resp.Header.Get("x-tollgate-error-origin")}
	if resp.StatusCode/100 != 2 {
		e := adminclient.ErrorFrom(resp, raw)
		r.errType, r.message = e.Type, e.Message
		if x := resp.Header.Get("X-Amzn-ErrorType"); x != "" {
			r.errType = x
		}
	}
	if d.verbose {
		d.trace = append(d.trace, fmt.Sprintf("%s %s%s → HTTP %d in %s, x-request-id %s", method, d.setup.base, path, r.status, ms(r.latency), orNone(r.requestID)))
	}
	return r, nil
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// said formats what the other side said, with the request id to find it in
// the gateway's log.
func (r *exchangeResult) said(who string) string {
	s := fmt.Sprintf("%s said: HTTP %d", who, r.status)
	if r.errType != "" {
		s += " " + r.errType
	}
	if r.message != "" {
		s += ": " + r.message
	}
	if r.requestID != "" {
		s += " (request id " + r.requestID + ")"
	}
	return s
}

var accessRuleRE = regexp.MustCompile(`access denied by rule "([^"]*)"`)

// diagnose explains a non-2xx answer: which hop refused, in plain words, and
// what to change. model is the model the request named, if any.
func (d *doctor) diagnose(r *exchangeResult, model string) outcome {
	s := &d.setup
	what := r.method + " " + r.path
	var o outcome
	switch {
	case r.status/100 == 3:
		loc := r.header.Get("Location")
		o = fail(hopGateway, fmt.Sprintf("%s was redirected (HTTP %d) to %s", what, r.status, loc),
			"set "+s.baseVar+" to the address the gateway is really served at (Claude Code does not follow redirects of its POSTs)")
	case r.origin == "":
		o = fail(hopGateway, fmt.Sprintf("%s got HTTP %d without Tollgate's x-tollgate-error-origin header: something in front of the gateway answered (a load balancer, WAF or proxy), or %s does not point at Tollgate", what, r.status, s.baseVar),
			"check that "+s.baseVar+" is the gateway's address, and that nothing in front of it blocks "+r.path+" (WAF body inspection breaks Claude Code calls; see docs/deploy-ec2.md)")
		o.said = fmt.Sprintf("it said: HTTP %d: %s", r.status, firstLine(string(r.body), 200))
		return o
	case r.status == http.StatusForbidden && accessRuleRE.MatchString(r.message):
		rule := accessRuleRE.FindStringSubmatch(r.message)[1]
		sent := "no custom headers are set"
		if len(s.custom) > 0 {
			sent = "the custom headers sent are " + strings.Join(s.custom, ", ") + " — the secret is wrong, or the header name is not the rule's"
		}
		o = fail(hopGateway, fmt.Sprintf("the gateway's access rule %q refused this client: its address is not in the rule's allowlist, and it did not carry the rule's secret header (%s)", rule, sent),
			"add the access header to ANTHROPIC_CUSTOM_HEADERS, e.g. `X-Tollgate-Access: <secret>` (ask the gateway's operator for the header name and secret), or have your network added to the rule's allow_cidrs")
	case r.status == http.StatusUnauthorized:
		if strings.Contains(r.message, "missing") {
			o = fail(hopGateway, "the gateway got no key", "send the key as Claude Code does: ANTHROPIC_API_KEY (x-api-key) or ANTHROPIC_AUTH_TOKEN (Authorization: Bearer)")
		} else {
			o = fail(hopGateway, fmt.Sprintf("the gateway rejected the key %s", s.keyDesc),
				"use the secret `tollgate keys create` printed; it may be mistyped, revoked or expired: `tollgate keys list` shows each key's prefix and status")
		}
	case r.origin == "client" && r.status == http.StatusForbidden && model != "":
		o = fail(hopGateway, fmt.Sprintf("the gateway does not let this key use %s", model),
			"use a model the key allows (set ANTHROPIC_MODEL or --model), or allow this one: `tollgate keys show ALIAS` lists the key's models")
	case r.origin == "client" && r.status == http.StatusNotFound && model != "":
		fix := "set ANTHROPIC_MODEL (or --model) to a model the gateway serves"
		if len(d.models) > 0 {
			fix += ", e.g. " + strings.Join(d.models[:min(len(d.models), 5)], ", ")
		}
		o = fail(hopGateway, fmt.Sprintf("the gateway has no route for model %q", model), fix)
	case r.origin == "client" && r.status == http.StatusTooManyRequests:
		if r.header.Get("x-should-retry") == "false" {
			o = fail(hopGateway, "the gateway refused the call: a budget that covers this key is used up",
				"raise the budget or wait for its reset: `tollgate spend` shows each budget, `tollgate budgets list` their ids")
		} else {
			o = fail(hopGateway, "the gateway refused the call: a rate limit that covers this key is reached",
				"wait a minute and run doctor again, or raise the limit: `tollgate limits list`")
		}
	case r.origin == "client" && model == "":
		o = fail(hopGateway, fmt.Sprintf("the gateway refused %s (HTTP %d)", what, r.status),
			"check that "+s.baseVar+" is the gateway's address, without a path the gateway does not serve")
	case r.origin == "client":
		o = fail(hopClient, fmt.Sprintf("the gateway rejected %s as malformed (HTTP %d)", what, r.status),
			"check ANTHROPIC_CUSTOM_HEADERS for headers that change the request (anthropic-beta, content-type)")
	case r.origin == "gateway":
		fix := "the gateway failed on its own; look up the request id in its log"
		if strings.Contains(r.message, "AWS credentials") {
			fix = "give the gateway AWS credentials: on EC2 an instance role (and, in a container, an IMDSv2 hop limit of 2); see docs/deploy-ec2.md sections 2 and 3"
		}
		o = fail(hopGateway, fmt.Sprintf("the gateway itself failed (HTTP %d)", r.status), fix)
	case r.origin == "upstream":
		o = d.diagnoseUpstream(r, model)
	default:
		o = fail(hopGateway, fmt.Sprintf("%s got HTTP %d with error origin %q", what, r.status, r.origin), "look up the request id in the gateway's log")
	}
	who := "the gateway"
	if r.origin == "upstream" {
		who = "Bedrock (relayed by the gateway)"
	}
	o.said = r.said(who)
	return o
}

// diagnoseUpstream explains a failure that Bedrock reported, or a failure to
// reach it: the operator of the gateway must fix these, not the client.
func (d *doctor) diagnoseUpstream(r *exchangeResult, model string) outcome {
	t := strings.ToLower(r.errType)
	switch {
	case r.status == http.StatusForbidden || strings.Contains(t, "accessdenied") || t == "permission_error":
		return fail(hopUpstream, fmt.Sprintf("Bedrock refused the gateway: the gateway's AWS role lacks bedrock:InvokeModel for %s, or model access is not enabled for the account", model),
			"on the gateway's side: allow bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream on the inference profile and on the foundation model in every destination region (docs/deploy-ec2.md section 2), and enable the Anthropic models in the Bedrock console")
	case r.status == http.StatusUnauthorized || t == "authentication_error" || strings.Contains(t, "unrecognizedclient"):
		return fail(hopUpstream, "Bedrock rejected the gateway's AWS credentials (expired, invalid or from another partition)",
			"on the gateway's side: check its AWS credentials (instance role, AWS_* variables or the Bedrock API key)")
	case r.status == http.StatusTooManyRequests || strings.Contains(t, "throttling") || t == "rate_limit_error":
		return fail(hopUpstream, fmt.Sprintf("Bedrock throttled the call for %s: the account's quota for this model is used up for now", model),
			"retry in a minute; if it persists, ask AWS for a higher Bedrock quota or route the model to another region or inference profile")
	case r.status == http.StatusBadRequest || r.status == http.StatusNotFound || strings.Contains(t, "validation") || strings.Contains(t, "notfound"):
		return fail(hopUpstream, fmt.Sprintf("Bedrock rejected the call for %s: the model id or inference profile the gateway maps it to is not available in the gateway's region", model),
			"on the gateway's side: check the model's target (`tollgate check` prints the routes) and routing.bedrock_prefix for the region")
	case r.status == http.StatusBadGateway && strings.Contains(r.message, "could not be reached"):
		return fail(hopUpstream, "the gateway cannot reach Bedrock",
			"on the gateway's host: check outbound HTTPS to bedrock-runtime.<region>.amazonaws.com (security group, NAT, VPC endpoint, proxy, DNS)")
	}
	return fail(hopUpstream, fmt.Sprintf("Bedrock failed the call (HTTP %d)", r.status),
		"Bedrock errors like this are usually transient: run doctor again in a minute; if it persists, check the AWS Health Dashboard for Bedrock in the gateway's region")
}

// ---- gateway ----

func (d *doctor) checkReachable(ctx context.Context) outcome {
	r, err := d.send(ctx, http.MethodGet, "/healthz", nil, min(d.timeout, 15*time.Second))
	if err != nil {
		fix := fmt.Sprintf("check that %s is right and the gateway is running, and that the network between here and there (VPN, firewall, security group, proxy) lets this machine in", d.setup.baseVar)
		switch msg := err.Error(); {
		case strings.HasPrefix(msg, "TLS: the server's certificate is not trusted"):
			fix = "give the gateway a certificate from a public CA; for a private CA, trust it on this machine (Claude Code, a Node.js program, reads NODE_EXTRA_CA_CERTS; doctor reads the system store or SSL_CERT_FILE)"
		case strings.HasPrefix(msg, "TLS: the server's certificate is not valid for this host"):
			fix = "use the host name the certificate names in " + d.setup.baseVar + ", or give the gateway a certificate for this name"
		case strings.HasPrefix(msg, "the host name"):
			fix = "check the host name in " + d.setup.baseVar + "; a private name needs this machine's DNS (VPN?) to resolve it"
		}
		return fail(hopGateway, fmt.Sprintf("cannot reach the gateway at %s: %s", d.setup.base, err), fix)
	}
	if r.status == http.StatusBadRequest && bytes.Contains(r.body, []byte("HTTP request to an HTTPS server")) {
		return fail(hopGateway, "the gateway speaks HTTPS on this port, but "+d.setup.baseVar+" says http://",
			"use https:// in "+d.setup.baseVar)
	}
	if r.status/100 != 2 {
		return d.diagnose(r, "")
	}
	o := pass(fmt.Sprintf("GET /healthz answered %d in %s", r.status, ms(r.latency)))
	if r.requestID == "" {
		o.notes = append(o.notes, "note: the answer has no x-request-id, so something other than Tollgate may have answered (a proxy's own health page?)")
	}
	return o
}

func (d *doctor) checkKey(ctx context.Context) outcome {
	if d.setup.bedrock {
		// The Bedrock door lists profiles without a key; count-tokens checks
		// the access rule, then the key, then the route, in that order.
		body, _ := json.Marshal(map[string]any{"input": map[string]any{"invokeModel": map[string]any{
			"body": base64.StdEncoding.EncodeToString(d.invokeBody()),
		}}})
		r, err := d.send(ctx, http.MethodPost, "/model/"+url.PathEscape(d.setup.model)+"/count-tokens", body, d.timeout)
		if err != nil {
			return fail(hopGateway, "the gateway stopped answering: "+err.Error(), "run doctor again; if it persists, check the gateway's health and log")
		}
		d.count = r
		if r.status/100 == 2 || r.origin == "upstream" || (r.origin == "client" && r.status == http.StatusNotFound) {
			return pass("the gateway let this client in and accepted the key " + d.setup.keyShort)
		}
		return d.diagnose(r, d.setup.model)
	}
	r, err := d.send(ctx, http.MethodGet, "/v1/models?limit=1000", nil, d.timeout)
	if err != nil {
		return fail(hopGateway, "the gateway stopped answering: "+err.Error(), "run doctor again; if it persists, check the gateway's health and log")
	}
	if r.status/100 != 2 {
		return d.diagnose(r, "")
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		return fail(hopGateway, "GET /v1/models did not answer the Anthropic API's JSON", "check that "+d.setup.baseVar+" points at the gateway")
	}
	for _, m := range list.Data {
		d.models = append(d.models, m.ID)
	}
	return pass(fmt.Sprintf("the gateway let this client in and accepted the key %s; it serves %d models", d.setup.keyShort, len(d.models)))
}

func (d *doctor) checkRoute(ctx context.Context) outcome {
	model := d.setup.model
	if d.setup.bedrock {
		r := d.count
		switch {
		case r.status/100 == 2:
			return pass(fmt.Sprintf("the gateway routes %s (count-tokens answered in %s)", model, ms(r.latency)))
		case r.origin == "upstream":
			return pass(fmt.Sprintf("the gateway routes %s (it passed count-tokens on to Bedrock)", model))
		}
		return d.diagnose(r, model)
	}
	for _, m := range d.models {
		if strings.EqualFold(m, model) {
			return pass(fmt.Sprintf("the gateway serves %s", model))
		}
		// The list names dated ids (claude-haiku-4-5-20251001); the
		// undated name is the same model.
		if date, ok := strings.CutPrefix(m, model+"-"); ok && len(date) == 8 && strings.Trim(date, "0123456789") == "" {
			return pass(fmt.Sprintf("the gateway serves %s (as %s)", model, m))
		}
	}
	// Not listed: it may still be routed (an alias, a Bedrock id, a pattern
	// rule). count_tokens resolves the route without generating anything.
	body, _ := json.Marshal(map[string]any{"model": model, "messages": []any{map[string]any{"role": "user", "content": "ping"}}})
	r, err := d.send(ctx, http.MethodPost, "/v1/messages/count_tokens", body, d.timeout)
	if err != nil {
		return fail(hopGateway, "the gateway stopped answering: "+err.Error(), "run doctor again; if it persists, check the gateway's health and log")
	}
	switch {
	case r.status/100 == 2:
		return pass(fmt.Sprintf("the gateway routes %s (not listed by GET /v1/models, but count_tokens resolved it)", model))
	case r.origin == "upstream":
		return pass(fmt.Sprintf("the gateway routes %s (it passed count_tokens on to Bedrock)", model))
	}
	return d.diagnose(r, model)
}

// invokeBody is the Bedrock-mode body of the one-token call.
func (d *doctor) invokeBody() []byte {
	b, _ := json.Marshal(map[string]any{
		"anthropic_version": "bedrock-2023-05-31",
		"max_tokens":        1,
		"messages":          []any{map[string]any{"role": "user", "content": "Reply with OK."}},
	})
	return b
}

func (d *doctor) checkCall(ctx context.Context) outcome {
	model := d.setup.model
	var r *exchangeResult
	var err error
	if d.setup.bedrock {
		r, err = d.send(ctx, http.MethodPost, "/model/"+url.PathEscape(model)+"/invoke", d.invokeBody(), d.timeout)
	} else {
		body, _ := json.Marshal(map[string]any{
			"model":      model,
			"max_tokens": 1,
			"messages":   []any{map[string]any{"role": "user", "content": "Reply with OK."}},
		})
		r, err = d.send(ctx, http.MethodPost, "/v1/messages", body, d.timeout)
	}
	if err != nil {
		return fail(hopGateway, "no answer to the one-token call: "+err.Error(),
			"a proxy or load balancer in front of the gateway may cut long requests (idle timeout); run doctor again, and check the gateway's log")
	}
	if r.status/100 != 2 {
		return d.diagnose(r, model)
	}
	var msg struct {
		Model string `json:"model"`
		Usage struct {
			InputTokens  int64 `json:"input_tokens"`
			OutputTokens int64 `json:"output_tokens"`
		} `json:"usage"`
	}
	json.Unmarshal(r.body, &msg)
	served := ""
	if msg.Model != "" && msg.Model != model {
		served = ", served as " + msg.Model
	}
	o := pass(fmt.Sprintf("%s %s answered %d in %s (%d input + %d output tokens%s)", r.method, strings.SplitN(r.path, "?", 2)[0], r.status, ms(r.latency),
		msg.Usage.InputTokens, msg.Usage.OutputTokens, served))
	if v := r.header.Get("x-tollgate-budget-remaining-usd"); v != "" {
		note := "budget left: $" + strings.TrimRight(strings.TrimRight(v, "0"), ".")
		if reset := r.header.Get("x-tollgate-budget-reset"); reset != "" {
			note += ", resets " + reset
		}
		o.notes = append(o.notes, note)
	}
	return o
}
