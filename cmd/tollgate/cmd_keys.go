package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/adminclient"
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

func newKeysCmd() *cobra.Command {
	var af adminFlags
	g := newGroup("keys", "Virtual keys for Claude Code and CI clients",
		`Virtual keys for Claude Code and CI clients, with budgets, rate limits, model
allowlists, tags and an expiry. A key's secret is shown once, when it is created
or rotated; keys are named by their alias (or id) everywhere.`)
	af.register(g.PersistentFlags())
	g.AddCommand(keysCreateCmd(&af), keysListCmd(&af), keysShowCmd(&af), keysUpdateCmd(&af),
		keysRotateCmd(&af), keysRevokeCmd(&af), keysDeleteCmd(&af))
	return g
}

// budgetFlags are the budget amounts, with the same names wherever a
// budget is set: keys create, budgets create and budgets update.
type budgetFlags struct {
	usd    string
	tokens int64
}

// register adds --budget-usd and --budget-tokens; old, when set, also adds
// the old spellings --usd and --tokens of `budgets create` as hidden,
// deprecated aliases, so scripts written for them keep working.
func (b *budgetFlags) register(cmd *cobra.Command, old bool) {
	fs := cmd.Flags()
	fs.StringVar(&b.usd, "budget-usd", "", "budget limit in USD, e.g. 50 or 12.5")
	fs.Int64Var(&b.tokens, "budget-tokens", 0, "budget limit in tokens (all kinds)")
	if old {
		fs.StringVar(&b.usd, "usd", "", "old name of --budget-usd")
		fs.Int64Var(&b.tokens, "tokens", 0, "old name of --budget-tokens")
		fs.MarkHidden("usd")
		fs.MarkHidden("tokens")
	}
}

// warnOld notes on stderr the use of an old flag name, which pflag's own
// deprecation notice would write where cobra does not show it.
func (b *budgetFlags) warnOld(cmd *cobra.Command) {
	for old, name := range map[string]string{"usd": "budget-usd", "tokens": "budget-tokens"} {
		if f := cmd.Flags().Lookup(old); f != nil && f.Changed {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: --%s is deprecated and will be removed; use --%s\n", old, name)
		}
	}
}

// rateFlags are --rpm, --tpm and --concurrent of keys create and limits.
type rateFlags struct{ rpm, tpm, concurrent int64 }

func (r *rateFlags) register(cmd *cobra.Command, what string) {
	cmd.Flags().Int64Var(&r.rpm, "rpm", 0, what+"requests per minute")
	cmd.Flags().Int64Var(&r.tpm, "tpm", 0, what+"tokens per minute")
	cmd.Flags().Int64Var(&r.concurrent, "concurrent", 0, what+"concurrent requests")
}

func keysCreateCmd(af *adminFlags) *cobra.Command {
	var (
		alias, user, team, period, tz, models, tags, expires string
		bf                                                   budgetFlags
		rf                                                   rateFlags
	)
	cmd := &cobra.Command{
		Use:   "create [--alias NAME] [flags]",
		Short: "Create a key and print its secret, once",
		Long: `Create a virtual key, with an optional budget and rate limit in the same
transaction, and print its secret. The secret is not stored and cannot be
shown again. Without --alias the key is named by its id.`,
		Example: `  tollgate keys create --alias alice-laptop --user alice --budget-usd 50 --period month
  tollgate keys create --alias ci --team platform --models claude-haiku-4-5 --tags repo=org/app --expires 30d
  tollgate keys create --alias batch --rpm 60 --budget-tokens 5000000 --period day`,
		Args: noArgs,
	}
	asJSON := jsonFlag(cmd)
	fs := cmd.Flags()
	fs.StringVar(&alias, "alias", "", "the key's name in lists, usage and metrics (default: its id)")
	fs.StringVar(&user, "user", "", "owning user (name or id)")
	fs.StringVar(&team, "team", "", "owning team (name or id)")
	bf.register(cmd, false)
	fs.StringVar(&period, "period", "", "budget period: day, week, month or total (default month)")
	fs.StringVar(&tz, "timezone", "", "time zone of the budget period, e.g. Europe/Berlin (default UTC)")
	fs.StringVar(&models, "models", "", "comma-separated models the key may use (default all)")
	fs.StringVar(&tags, "tags", "", "comma-separated name=value tags put on every usage row, e.g. repo=org/app,env=ci")
	fs.StringVar(&expires, "expires", "", "expiry: a duration from now (30d, 12h, 2w) or an RFC 3339 time")
	rf.register(cmd, "rate limit on the key: ")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		// The key, its budget and its limit are one request and one
		// transaction: a bad --period creates nothing.
		req := admin.CreateKeyRequest{Alias: alias, User: user, Team: team, Models: splitList(models)}
		if bf.usd != "" || bf.tokens != 0 || period != "" || tz != "" {
			b := &admin.KeyBudget{Period: period, Timezone: tz}
			if bf.usd != "" {
				usd, err := parseUSD("--budget-usd", bf.usd)
				if err != nil {
					return err
				}
				if strings.Trim(string(usd), "0.") != "" { // --budget-usd 0 means none
					b.LimitUSD = &usd
				}
			}
			if bf.tokens != 0 {
				b.LimitTokens = &bf.tokens
			}
			req.Budget = b
		}
		if rf != (rateFlags{}) {
			req.Limit = &admin.KeyLimit{RPM: rf.rpm, TPM: rf.tpm, Concurrent: rf.concurrent}
		}
		t, err := parseTags(tags)
		if err != nil {
			return err
		}
		req.Tags = t
		req.ExpiresAt, req.ExpiresIn = expiry(expires)
		c, err := af.client()
		if err != nil {
			return err
		}
		resp, err := c.CreateKey(cmd.Context(), req)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, resp)
		}
		k := keyJSON{resp.Key}
		fmt.Fprintf(out, "Created key %q (%s) for %s; models: %s; expires: %s.\n", k.Alias, k.ID, k.owner(), k.models(), when(k.ExpiresAt, "never"))
		if b := resp.Budget; b != nil {
			bj := budgetJSON{admin.BudgetSpend{Budget: *b}}
			fmt.Fprintf(out, "Budget: %s per %s (%s).\n", bj.limits(), b.Period, b.Timezone)
		}
		if l := resp.Limit; l != nil {
			fmt.Fprintf(out, "Rate limit: %s.\n", limitJSON{*l}.describe())
		}
		printSecret(out, resp.Secret, c, "")
		return nil
	}
	return cmd
}

// expiry sorts --expires into the API's two fields: an RFC 3339 time or a
// duration from now.
func expiry(v string) (at, in string) {
	if v == "" {
		return "", ""
	}
	if _, err := time.Parse(time.RFC3339, v); err == nil {
		return v, ""
	}
	return "", v
}

func (k keyJSON) owner() string {
	var owner []string
	if k.User != nil {
		owner = append(owner, "user "+*k.User)
	}
	if k.Team != nil {
		owner = append(owner, "team "+*k.Team)
	}
	if owner == nil {
		return "no user or team"
	}
	return strings.Join(owner, " and ")
}

// printSecret prints a new secret, once, with how to use it; note is
// printed after the secret when not empty.
func printSecret(w interface{ Write([]byte) (int, error) }, secret string, c *adminclient.Client, note string) {
	fmt.Fprintf(w, `
The secret is shown only once: it is not stored and cannot be shown again. Copy it now.

    %[1]s
%[3]s
Use it with Claude Code (or as the secret of a CI job):

    export ANTHROPIC_BASE_URL=%[2]s
    export ANTHROPIC_API_KEY=%[1]s

Then check the whole path with: tollgate doctor
`, secret, c.Base(), note)
	if u, err := url.Parse(c.Base()); err == nil && isLoopback(u.Hostname()) {
		fmt.Fprintf(w, "(%s is the address this command used; give clients the address they reach the gateway at.)\n", c.Base())
	}
}

func keysListCmd(af *adminFlags) *cobra.Command {
	var user, team string
	cmd := &cobra.Command{
		Use:     "list [--user U] [--team T]",
		Short:   "List keys, without their secrets",
		Example: "  tollgate keys list\n  tollgate keys list --team platform --json",
		Args:    noArgs,
	}
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&user, "user", "", "only keys of this user (name or id)")
	cmd.Flags().StringVar(&team, "team", "", "only keys of this team (name or id)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		keys, err := c.Keys(cmd.Context(), user, team)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.KeysResponse{Keys: keys})
		}
		if len(keys) == 0 {
			fmt.Fprintln(out, "No keys. Create one with: tollgate keys create --alias NAME")
			return nil
		}
		t := newTable("ALIAS", "PREFIX", "USER", "TEAM", "MODELS", "EXPIRES", "STATUS")
		for _, k := range keys {
			k := keyJSON{k}
			t.add(k.Alias, k.Prefix+"…", orDash(k.User), orDash(k.Team), k.models(), when(k.ExpiresAt, "never"), k.status())
		}
		return t.write(out)
	}
	return cmd
}

func keysShowCmd(af *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show ALIAS|ID",
		Short:   "Show a key with its budgets and rate limits",
		Long:    "Show a key, what its budgets have spent this period and its rate limits: what may this key still do?",
		Example: "  tollgate keys show alice-laptop",
		Args:    exactArgs("ALIAS|ID"),
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		key, err := c.Key(ctx, args[0])
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.KeyResponse{Key: key})
		}
		k := keyJSON{key}
		scope := adminclient.Scope{Kind: "key", Ref: k.ID}
		spend, err := c.Spend(ctx, scope)
		if err != nil {
			return err
		}
		limits, err := c.Limits(ctx, scope)
		if err != nil {
			return err
		}
		fields := [][2]string{
			{"alias", k.Alias}, {"id", k.ID}, {"prefix", k.Prefix + "…"}, {"status", k.status()},
			{"user", orDash(k.User)}, {"team", orDash(k.Team)}, {"models", k.models()}, {"tags", k.tags()},
			{"expires", when(k.ExpiresAt, "never")}, {"created", when(k.CreatedAt, "-")}, {"last used", when(k.LastUsedAt, "never")},
		}
		for _, b := range spend.Budgets {
			b := budgetJSON{b}
			fields = append(fields, [2]string{"budget", fmt.Sprintf("%s per %s; spent %s; resets %s [%s]", b.limits(), b.Period, b.spent(), b.resets(), b.ID)})
		}
		for _, l := range limits {
			fields = append(fields, [2]string{"rate limit", fmt.Sprintf("%s [%s]", limitJSON{l}.describe(), l.ID)})
		}
		return writeFields(out, fields)
	}
	return cmd
}

func keysUpdateCmd(af *adminFlags) *cobra.Command {
	var alias, user, team, models, tags, expires string
	cmd := &cobra.Command{
		Use:   "update ALIAS|ID [flags]",
		Short: "Change a key's alias, owner, models, tags or expiry",
		Long: `Change what the flags name and leave the rest alone. "none" removes the user or
team, "all" allows every model, "never" removes the expiry and "" (an empty
--tags) removes the tags. The secret stays the same: see tollgate keys rotate.
A key's budgets and limits are changed with tollgate budgets|limits update.`,
		Example: `  tollgate keys update ci --models claude-haiku-4-5,claude-sonnet-4-5
  tollgate keys update alice-laptop --alias alice-desktop --expires 90d
  tollgate keys update ci --team none --tags repo=org/app,env=ci`,
		Args: exactArgs("ALIAS|ID"),
	}
	asJSON := jsonFlag(cmd)
	fs := cmd.Flags()
	fs.StringVar(&alias, "alias", "", "new alias")
	fs.StringVar(&user, "user", "", `new owning user (name or id), or "none"`)
	fs.StringVar(&team, "team", "", `new owning team (name or id), or "none"`)
	fs.StringVar(&models, "models", "", `comma-separated models the key may use, or "all"`)
	fs.StringVar(&tags, "tags", "", "comma-separated name=value tags, replacing the key's tags")
	fs.StringVar(&expires, "expires", "", `new expiry: a duration from now (30d), an RFC 3339 time, or "never"`)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var req admin.PatchKeyRequest
		changed := false
		if fs.Changed("alias") {
			req.Alias, changed = &alias, true
		}
		owner := func(v string) admin.Optional[string] {
			if v == "none" || v == "" {
				return admin.Null[string]()
			}
			return admin.Some(v)
		}
		if fs.Changed("user") {
			req.User, changed = owner(user), true
		}
		if fs.Changed("team") {
			req.Team, changed = owner(team), true
		}
		if fs.Changed("models") {
			req.Models, changed = admin.Some(splitList(models)), true
			if models == "all" {
				req.Models = admin.Null[[]string]()
			}
		}
		if fs.Changed("tags") {
			t, err := parseTags(tags)
			if err != nil {
				return err
			}
			req.Tags, changed = admin.Some(t), true
			if t == nil {
				req.Tags = admin.Null[map[string]string]()
			}
		}
		if fs.Changed("expires") {
			changed = true
			if expires == "never" || expires == "" {
				req.ExpiresAt = admin.Null[string]()
			} else if at, in := expiry(expires); at != "" {
				req.ExpiresAt = admin.Some(at)
			} else {
				req.ExpiresIn = in
			}
		}
		if !changed {
			return usageErrorf("keys update: give at least one of --alias, --user, --team, --models, --tags or --expires")
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		key, err := c.UpdateKey(cmd.Context(), args[0], req)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.KeyResponse{Key: key})
		}
		k := keyJSON{key}
		fmt.Fprintf(out, "Updated key %q (%s): %s; models: %s; tags: %s; expires: %s.\n", k.Alias, k.ID, k.owner(), k.models(), k.tags(), when(k.ExpiresAt, "never"))
		return nil
	}
	return cmd
}

func keysRotateCmd(af *adminFlags) *cobra.Command {
	var overlap string
	cmd := &cobra.Command{
		Use:   "rotate ALIAS|ID [--overlap 1h]",
		Short: "Give a key a new secret, printed once, keeping everything else",
		Long: `Give a key a new secret and print it, once. The key keeps its id, alias, owner,
budgets, rate limits and usage. With --overlap the old secret keeps working for
that long, so that the clients holding it can be moved over first; without it
the old secret stops at once. Rotating again ends the earlier old secret.`,
		Example: `  tollgate keys rotate ci --overlap 1h    # update the CI secret within the hour
  tollgate keys rotate alice-laptop        # leaked: the old secret stops now`,
		Args: exactArgs("ALIAS|ID"),
	}
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&overlap, "overlap", "", "how long the old secret keeps working: 30m, 1h, 7d (default: not at all)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		resp, err := c.RotateKey(cmd.Context(), args[0], overlap)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, resp)
		}
		k := resp.Key
		old := "The old secret stopped working."
		if resp.PreviousExpiresAt != nil {
			old = "The old secret keeps working until " + when(resp.PreviousExpiresAt, "") + "; move its clients over before then."
		}
		fmt.Fprintf(out, "Rotated key %q (%s): new prefix %s…; its budgets, limits and usage are kept. %s\n", k.Alias, k.ID, k.Prefix, old)
		printSecret(out, resp.Secret, c, "")
		return nil
	}
	return cmd
}

func keysRevokeCmd(af *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "revoke ALIAS|ID",
		Short:   "Revoke a key: calls with it get 401, its usage is kept",
		Example: "  tollgate keys revoke alice-laptop",
		Args:    exactArgs("ALIAS|ID"),
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		k, err := c.RevokeKey(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.KeyResponse{Key: k})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Revoked key %q (%s…): calls with it now get 401. Its usage history is kept.\n", k.Alias, k.Prefix)
		return nil
	}
	return cmd
}

func keysDeleteCmd(af *adminFlags) *cobra.Command {
	return deleteCmd(af, "ALIAS|ID", "Delete a key", "  tollgate keys delete alice-laptop", "Deleted key %q.\n",
		(*adminclient.Client).DeleteKey)
}

// deleteCmd is `tollgate GROUP delete ARG` of users, teams, keys, budgets
// and limits: it deletes ARG with del, then prints done (a format with one
// verb, for ARG).
func deleteCmd(af *adminFlags, arg, short, example, done string, del func(*adminclient.Client, context.Context, string) error) *cobra.Command {
	return &cobra.Command{
		Use:     "delete " + arg,
		Short:   short,
		Example: example,
		Args:    exactArgs(arg),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			if err := del(c, cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), done, args[0])
			return nil
		},
	}
}
