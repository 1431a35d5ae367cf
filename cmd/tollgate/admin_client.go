package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// defaultGatewayURL is where the admin commands look for the gateway when
// neither --url nor TOLLGATE_URL says otherwise: the address `tollgate serve`
// listens on without a config file.
const defaultGatewayURL = "http://127.0.0.1:4000"

// adminFlags are the flags every admin command shares. They are registered
// on each subcommand's FlagSet, so they go after the subcommand:
// `tollgate keys list --url https://llm.example.com`.
type adminFlags struct {
	url  string
	key  string
	json bool
}

// register adds --url and --admin-key, and --json when the command can print
// the API's JSON instead of a table.
func (f *adminFlags) register(fs *flag.FlagSet, withJSON bool) {
	fs.StringVar(&f.url, "url", "", "gateway URL (default $TOLLGATE_URL, else "+defaultGatewayURL+")")
	fs.StringVar(&f.key, "admin-key", "", "admin key (default $TOLLGATE_ADMIN_KEY)")
	if withJSON {
		fs.BoolVar(&f.json, "json", false, "print the admin API's JSON answer instead of a table")
	}
}

// client resolves the flags and the environment into an admin API client.
func (f *adminFlags) client() (*adminClient, error) {
	base := f.url
	if base == "" {
		base = os.Getenv("TOLLGATE_URL")
	}
	if base == "" {
		base = defaultGatewayURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gateway URL %q is not an http:// or https:// URL; set TOLLGATE_URL or --url, e.g. %s", base, defaultGatewayURL)
	}
	key := f.key
	if key == "" {
		key = os.Getenv("TOLLGATE_ADMIN_KEY")
	}
	if key == "" {
		return nil, errors.New("TOLLGATE_ADMIN_KEY is not set: export the admin key (the gateway prints one at its first start, or takes yours from TOLLGATE_ADMIN_KEY), or pass --admin-key")
	}
	return &adminClient{
		base: strings.TrimRight(u.String(), "/"),
		key:  key,
		hc:   &http.Client{Timeout: 60 * time.Second},
	}, nil
}

// adminCommand is the command line of one admin subcommand: a FlagSet that
// already has the shared adminFlags, so a command adds only its own flags.
type adminCommand struct {
	flags *flag.FlagSet
	adminFlags
}

// newAdminCommand starts the command line of `tollgate name`. synopsis is
// what follows the name in the usage line ("NAME [--email ADDRESS]");
// withJSON adds --json.
func newAdminCommand(name, synopsis string, withJSON bool, stderr io.Writer) *adminCommand {
	cmd := &adminCommand{flags: newFlagSet(name, name+" "+synopsis, stderr)}
	cmd.register(cmd.flags, withJSON)
	return cmd
}

// parse parses args, with the flags anywhere among them, and checks that
// the positional arguments are exactly names. -h and --help come back as
// flag.ErrHelp, which flagErr turns into success.
func (cmd *adminCommand) parse(args []string, names ...string) ([]string, error) {
	pos, err := parseArgs(cmd.flags, args)
	if err != nil {
		return nil, err
	}
	return pos, wantArgs(cmd.flags.Name(), pos, names...)
}

// deleteCommand is `tollgate GROUP delete ARG` of users, teams, keys,
// budgets and limits: it deletes path+ARG, then prints done (a format with
// one verb, for ARG).
func deleteCommand(ctx context.Context, group, path, arg, done string, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand(group+" delete", arg, false, stderr)
	pos, err := cmd.parse(args, arg)
	if err != nil {
		return flagErr(err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	if err := c.del(ctx, path+escape(pos[0])); err != nil {
		return err
	}
	fmt.Fprintf(stdout, done, pos[0])
	return nil
}

// adminClient calls the gateway's admin REST API (/admin/…), authenticated
// with the admin key.
type adminClient struct {
	base string // gateway URL without a trailing slash
	key  string
	hc   *http.Client
}

// apiError is a non-2xx answer of the admin API. Its message is the API's
// own; Error adds the status and the request id, so that an operator can
// find the request in the gateway's log.
type apiError struct {
	Status    int
	Type      string
	Message   string
	RequestID string
}

func (e *apiError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	fmt.Fprintf(&b, " (HTTP %d", e.Status)
	if e.RequestID != "" {
		b.WriteString(", request id " + e.RequestID)
	}
	b.WriteString(")")
	if e.Status == http.StatusUnauthorized {
		b.WriteString("; check TOLLGATE_ADMIN_KEY or --admin-key")
	}
	return b.String()
}

// get, post, patch and del send one request and decode a 2xx JSON answer into
// out (when out is not nil). They return the raw body too, for --json.
func (c *adminClient) get(ctx context.Context, path string, q url.Values, out any) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path, q, nil, out)
}

func (c *adminClient) post(ctx context.Context, path string, in, out any) ([]byte, error) {
	return c.do(ctx, http.MethodPost, path, nil, in, out)
}

func (c *adminClient) del(ctx context.Context, path string) error {
	_, err := c.do(ctx, http.MethodDelete, path, nil, nil, nil)
	return err
}

func (c *adminClient) do(ctx context.Context, method, path string, q url.Values, in, out any) ([]byte, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tollgate-cli/"+build.Version)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the gateway at %s: %s; check TOLLGATE_URL (or --url)", c.base, netReason(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s %s: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, errorFromResponse(resp, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("the answer of %s %s is not the admin API's JSON (is %s a Tollgate gateway?): %w", method, path, c.base, err)
		}
	}
	return raw, nil
}

// errorFromResponse builds an apiError from an error answer: the admin API's
// {"error":{"type","message"}}, the front doors' Anthropic errors (the same
// shape, e.g. an access-rule denial of /admin/), a Bedrock-style
// {"message"}, or, from something that is not Tollgate, the start of the
// body.
func errorFromResponse(resp *http.Response, raw []byte) *apiError {
	e := &apiError{Status: resp.StatusCode, RequestID: resp.Header.Get("x-request-id")}
	var body struct {
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	if json.Unmarshal(raw, &body) == nil {
		switch {
		case body.Error != nil:
			e.Type, e.Message = body.Error.Type, body.Error.Message
		case body.Message != "":
			e.Message = body.Message
		}
		if e.RequestID == "" {
			e.RequestID = body.RequestID
		}
	}
	if e.Message == "" {
		e.Message = firstLine(string(raw), 200)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// firstLine returns the first non-empty line of s, cut to max runes.
func firstLine(s string, max int) string {
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if r := []rune(line); len(r) > max {
			return string(r[:max]) + "…"
		}
		return line
	}
	return ""
}

// escape makes an id, name or alias safe as one path segment.
func escape(ref string) string { return url.PathEscape(ref) }

// printJSON writes an API answer as it came, with a final newline.
func printJSON(w io.Writer, raw []byte) error {
	raw = bytes.TrimRight(raw, "\n")
	_, err := fmt.Fprintf(w, "%s\n", raw)
	return err
}
