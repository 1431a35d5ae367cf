package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

// keyJSON is a key as the admin API shows it: the admin package's own
// type, so a renamed field cannot zero-fill a column; the methods format it.
type keyJSON struct{ admin.Key }

func (k keyJSON) status() string {
	switch {
	case k.Disabled:
		return "revoked"
	case k.Expired:
		return "expired"
	}
	return "active"
}

func (k keyJSON) models() string {
	if len(k.Models) == 0 {
		return "all"
	}
	return strings.Join(k.Models, ",")
}

func (k keyJSON) tags() string {
	if len(k.Tags) == 0 {
		return "-"
	}
	names := make([]string, 0, len(k.Tags))
	for n := range k.Tags {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		names[i] = n + "=" + k.Tags[n]
	}
	return strings.Join(names, ",")
}

// orDash shows an optional name, "-" when absent.
func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

// when formats an optional time for a table, in UTC.
func when(t *time.Time, zero string) string {
	if t == nil || t.IsZero() {
		return zero
	}
	return t.UTC().Format("2006-01-02 15:04") + "Z"
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "keys", "tollgate keys: virtual keys for Claude Code and CI clients, with budgets, model allowlists and tags.", []subcommand{
		{"create", "[--alias NAME] [--user U] [--team T] [--budget-usd N] [--budget-tokens N] [--period month] [--timezone Z] [--models a,b] [--tags k=v,…] [--expires 30d]", keysCreate},
		{"list", "[--user U] [--team T] [--json]", keysList},
		{"show", "ID|ALIAS [--json]", keysShow},
		{"revoke", "ID|ALIAS", keysRevoke},
		{"delete", "ID|ALIAS", keysDelete},
	}, args, stdout, stderr)
}

// usdRE is a decimal number of dollars as the CLI accepts it.
var usdRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// parseUSD parses the dollar amount v of flag name ("--usd"), with or
// without a leading "$", into the exact decimal the admin API takes.
func parseUSD(name, v string) (json.Number, error) {
	n := strings.TrimPrefix(v, "$")
	if !usdRE.MatchString(n) {
		return "", fmt.Errorf("%s %q is not an amount of dollars such as 50 or 12.5", name, v)
	}
	return json.Number(n), nil
}

// parseTags parses "repo=org/app,env=ci".
func parseTags(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	tags := map[string]string{}
	for _, item := range splitList(s) {
		name, value, ok := strings.Cut(item, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, fmt.Errorf("--tags: %q is not name=value (e.g. --tags repo=org/app,env=ci)", item)
		}
		tags[name] = value
	}
	return tags, nil
}

func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("keys create", "[--alias NAME] [flags]", true, stderr)
	alias := cmd.flags.String("alias", "", "the key's name in lists, usage and metrics (default: its id)")
	user := cmd.flags.String("user", "", "owning user (name or id)")
	team := cmd.flags.String("team", "", "owning team (name or id)")
	budgetUSD := cmd.flags.String("budget-usd", "", "a budget on the key in USD, e.g. 50 or 12.5")
	budgetTokens := cmd.flags.Int64("budget-tokens", 0, "a budget on the key in tokens (all kinds)")
	period := cmd.flags.String("period", "", "budget period: day, week, month or total (default month)")
	tz := cmd.flags.String("timezone", "", "time zone of the budget period, e.g. Europe/Berlin (default UTC)")
	models := cmd.flags.String("models", "", "comma-separated models the key may use (default all)")
	tags := cmd.flags.String("tags", "", "comma-separated name=value tags put on every usage row, e.g. repo=org/app,env=ci")
	expires := cmd.flags.String("expires", "", "expiry: a duration from now (30d, 12h, 2w) or an RFC 3339 time")
	rpm := cmd.flags.Int64("rpm", 0, "rate limit on the key: requests per minute")
	tpm := cmd.flags.Int64("tpm", 0, "rate limit on the key: tokens per minute")
	concurrent := cmd.flags.Int64("concurrent", 0, "rate limit on the key: concurrent requests")
	if _, err := cmd.parse(args); err != nil {
		return flagErr(err)
	}
	// Without --alias the key is named by its id, so that the issue-style
	// one-liner `tollgate keys create --user alice --budget-usd 50` works.
	// The key, its budget and its limit are one request and one
	// transaction: a bad --period creates nothing.
	req := admin.CreateKeyRequest{Alias: *alias, User: *user, Team: *team, Models: splitList(*models)}
	if *budgetUSD != "" || *budgetTokens != 0 || *period != "" || *tz != "" {
		b := &admin.KeyBudget{Period: *period, Timezone: *tz}
		if *budgetUSD != "" {
			usd, err := parseUSD("--budget-usd", *budgetUSD)
			if err != nil {
				return err
			}
			if strings.Trim(string(usd), "0.") != "" { // --budget-usd 0 means none
				b.LimitUSD = &usd
			}
		}
		if *budgetTokens != 0 {
			b.LimitTokens = budgetTokens
		}
		req.Budget = b
	}
	if *rpm != 0 || *tpm != 0 || *concurrent != 0 {
		req.Limit = &admin.KeyLimit{RPM: *rpm, TPM: *tpm, Concurrent: *concurrent}
	}
	t, err := parseTags(*tags)
	if err != nil {
		return err
	}
	req.Tags = t
	if *expires != "" {
		if _, err := time.Parse(time.RFC3339, *expires); err == nil {
			req.ExpiresAt = *expires
		} else {
			req.ExpiresIn = *expires
		}
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Key    keyJSON     `json:"key"`
		Secret string      `json:"secret"`
		Budget *budgetJSON `json:"budget"`
		Limit  *limitJSON  `json:"limit"`
	}
	raw, err := c.post(ctx, "/admin/keys", req, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	k := resp.Key
	var owner []string
	if k.User != nil {
		owner = append(owner, "user "+*k.User)
	}
	if k.Team != nil {
		owner = append(owner, "team "+*k.Team)
	}
	if owner == nil {
		owner = []string{"no user or team"}
	}
	fmt.Fprintf(stdout, "Created key %q (%s) for %s; models: %s; expires: %s.\n", k.Alias, k.ID, strings.Join(owner, " and "), k.models(), when(k.ExpiresAt, "never"))
	if b := resp.Budget; b != nil {
		fmt.Fprintf(stdout, "Budget: %s per %s (%s).\n", b.limits(), b.Period, b.Timezone)
	}
	if l := resp.Limit; l != nil {
		fmt.Fprintf(stdout, "Rate limit: %s.\n", l.describe())
	}
	fmt.Fprintf(stdout, `
The secret is shown only once: it is not stored and cannot be shown again. Copy it now.

    %[1]s

Use it with Claude Code (or as the secret of a CI job):

    export ANTHROPIC_BASE_URL=%[2]s
    export ANTHROPIC_API_KEY=%[1]s

Then check the whole path with: tollgate doctor
`, resp.Secret, c.base)
	if u, err := url.Parse(c.base); err == nil && isLoopback(u.Hostname()) {
		fmt.Fprintf(stdout, "(%s is the address this command used; give clients the address they reach the gateway at.)\n", c.base)
	}
	return nil
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("keys list", "[--user U] [--team T] [--json]", true, stderr)
	user := cmd.flags.String("user", "", "only keys of this user (name or id)")
	team := cmd.flags.String("team", "", "only keys of this team (name or id)")
	if _, err := cmd.parse(args); err != nil {
		return flagErr(err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	if *user != "" {
		q.Set("user", *user)
	}
	if *team != "" {
		q.Set("team", *team)
	}
	var resp struct {
		Keys []keyJSON `json:"keys"`
	}
	raw, err := c.get(ctx, "/admin/keys", q, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	if len(resp.Keys) == 0 {
		fmt.Fprintln(stdout, "No keys. Create one with: tollgate keys create --alias NAME")
		return nil
	}
	t := newTable("ALIAS", "PREFIX", "USER", "TEAM", "MODELS", "EXPIRES", "STATUS")
	for _, k := range resp.Keys {
		t.add(k.Alias, k.Prefix+"…", orDash(k.User), orDash(k.Team), k.models(), when(k.ExpiresAt, "never"), k.status())
	}
	return t.write(stdout)
}

func keysShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("keys show", "ID|ALIAS [--json]", true, stderr)
	pos, err := cmd.parse(args, "ID|ALIAS")
	if err != nil {
		return flagErr(err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Key keyJSON `json:"key"`
	}
	raw, err := c.get(ctx, "/admin/keys/"+escape(pos[0]), nil, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	k := resp.Key
	// The key's own budgets and limits too, so that one command answers
	// "what may this key still do?".
	q := url.Values{"key": {k.ID}}
	var spend spendResponse
	if _, err := c.get(ctx, "/admin/spend", q, &spend); err != nil {
		return err
	}
	var limits struct {
		Limits []limitJSON `json:"limits"`
	}
	if _, err := c.get(ctx, "/admin/limits", q, &limits); err != nil {
		return err
	}
	fields := [][2]string{
		{"alias", k.Alias}, {"id", k.ID}, {"prefix", k.Prefix + "…"}, {"status", k.status()},
		{"user", orDash(k.User)}, {"team", orDash(k.Team)}, {"models", k.models()}, {"tags", k.tags()},
		{"expires", when(k.ExpiresAt, "never")}, {"created", when(k.CreatedAt, "-")}, {"last used", when(k.LastUsedAt, "never")},
	}
	for _, b := range spend.Budgets {
		fields = append(fields, [2]string{"budget", fmt.Sprintf("%s per %s; spent %s; resets %s [%s]", b.limits(), b.Period, b.spent(), b.resets(), b.ID)})
	}
	for _, l := range limits.Limits {
		fields = append(fields, [2]string{"rate limit", fmt.Sprintf("%s [%s]", l.describe(), l.ID)})
	}
	return writeFields(stdout, fields)
}

func keysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("keys revoke", "ID|ALIAS", true, stderr)
	pos, err := cmd.parse(args, "ID|ALIAS")
	if err != nil {
		return flagErr(err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Key keyJSON `json:"key"`
	}
	raw, err := c.post(ctx, "/admin/keys/"+escape(pos[0])+"/revoke", nil, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	fmt.Fprintf(stdout, "Revoked key %q (%s…): calls with it now get 401. Its usage history is kept.\n", resp.Key.Alias, resp.Key.Prefix)
	return nil
}

func keysDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return deleteCommand(ctx, "keys", "/admin/keys/", "ID|ALIAS", "Deleted key %q.\n", args, stdout, stderr)
}
