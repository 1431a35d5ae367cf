package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

// budgetJSON is a budget as the admin API shows it (admin.BudgetSpend); the
// spend fields are set by GET /admin/spend only.
type budgetJSON struct{ admin.BudgetSpend }

// spendResponse is GET /admin/spend.
type spendResponse struct {
	At      *time.Time   `json:"at"`
	Budgets []budgetJSON `json:"budgets"`
}

// scope names what a budget or limit applies to: "user alice".
func scope(kind, name, id string) string {
	if name == "" {
		name = id + " (deleted?)"
	}
	return kind + " " + name
}

func (b budgetJSON) scope() string { return scope(b.ScopeKind, b.Scope, b.ScopeID) }

// limits describes the budget's limits: "$50.00", "1,000,000 tokens" or both.
func (b budgetJSON) limits() string {
	var parts []string
	if b.LimitUSDMicros != nil {
		parts = append(parts, money(*b.LimitUSDMicros))
	}
	if b.LimitTokens != nil {
		parts = append(parts, count(*b.LimitTokens)+" tokens")
	}
	if parts == nil {
		return "no limit"
	}
	return strings.Join(parts, " and ")
}

// spent describes the spend this period: "$0.0117 (0.02%)".
func (b budgetJSON) spent() string {
	var parts []string
	if b.LimitUSDMicros != nil {
		parts = append(parts, dollars(b.SpentUSDMicros))
	}
	if b.LimitTokens != nil {
		parts = append(parts, count(b.SpentTokens)+" tokens")
	}
	return fmt.Sprintf("%s (%s%%)", strings.Join(parts, " and "), strconv.FormatFloat(b.Percent, 'f', -1, 64))
}

// resets says when the budget's period ends, in the budget's time zone.
func (b budgetJSON) resets() string {
	if b.Period == "total" || b.ResetsAt == nil {
		return "never"
	}
	loc, err := time.LoadLocation(b.Timezone)
	if err != nil || b.Timezone == "" {
		loc = time.UTC
	}
	return b.ResetsAt.In(loc).Format("2006-01-02 15:04 MST")
}

// limitJSON is a rate limit as the admin API shows it (admin.Limit).
type limitJSON struct{ admin.Limit }

func (l limitJSON) describe() string {
	var parts []string
	if l.RPM > 0 {
		parts = append(parts, count(l.RPM)+" requests/min")
	}
	if l.TPM > 0 {
		parts = append(parts, count(l.TPM)+" tokens/min")
	}
	if l.Concurrent > 0 {
		parts = append(parts, count(l.Concurrent)+" concurrent")
	}
	if parts == nil {
		return "no limit"
	}
	return strings.Join(parts, ", ")
}

// orZero shows a rate limit value, "-" for none.
func orZero(n int64) string {
	if n <= 0 {
		return "-"
	}
	return count(n)
}

// scopeFlags are --user, --team and --key of budgets and limits.
type scopeFlags struct{ user, team, key string }

func (s *scopeFlags) register(fs *flag.FlagSet, verb string) {
	fs.StringVar(&s.user, "user", "", verb+" a user (name or id)")
	fs.StringVar(&s.team, "team", "", verb+" a team (name or id)")
	fs.StringVar(&s.key, "key", "", verb+" a key (alias or id)")
}

// one returns the scope as an API field name and value; exactly one must be
// set when required.
func (s *scopeFlags) one(required bool) (string, string, error) {
	var name, value string
	n := 0
	for _, f := range []struct{ name, value string }{{"user", s.user}, {"team", s.team}, {"key", s.key}} {
		if f.value != "" {
			name, value = f.name, f.value
			n++
		}
	}
	if n > 1 || (required && n == 0) {
		return "", "", fmt.Errorf("give exactly one of --user, --team or --key")
	}
	return name, value, nil
}

func runBudgets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "budgets", "tollgate budgets: spending limits in USD and/or tokens per day, week, month or in total, on a user, team or key.", []subcommand{
		{"create", "--user U|--team T|--key K [--usd N] [--tokens N] (at least one) --period day|week|month|total [--timezone Z] [--thresholds 50,80,100]", budgetsCreate},
		{"list", "[--user U|--team T|--key K] [--json]", budgetsList},
		{"delete", "ID", budgetsDelete},
	}, args, stdout, stderr)
}

func budgetsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("budgets create", "--user U|--team T|--key K [--usd N] [--tokens N] --period P [flags]", true, stderr)
	var sf scopeFlags
	sf.register(cmd.flags, "the budget covers")
	usd := cmd.flags.String("usd", "", "limit in USD, e.g. 50 or 12.5")
	tokens := cmd.flags.Int64("tokens", 0, "limit in tokens (all kinds)")
	period := cmd.flags.String("period", "", "period: day, week, month or total (required)")
	tz := cmd.flags.String("timezone", "", "time zone in which the period starts, e.g. Europe/Berlin (default UTC)")
	thresholds := cmd.flags.String("thresholds", "", "alert thresholds in percent, e.g. 50,80,100 (default 50,80,100)")
	if _, err := cmd.parse(args); err != nil {
		return flagErr(err)
	}
	kind, ref, err := sf.one(true)
	if err != nil {
		return fmt.Errorf("budgets create: %w", err)
	}
	if *usd == "" && *tokens == 0 {
		return fmt.Errorf("budgets create: give --usd, --tokens or both")
	}
	if *period == "" {
		return fmt.Errorf("budgets create: --period is required: day, week, month or total")
	}
	req := map[string]any{kind: ref, "period": *period}
	if *usd != "" {
		v, err := parseUSD("--usd", *usd)
		if err != nil {
			return err
		}
		req["limit_usd"] = v
	}
	if *tokens != 0 {
		req["limit_tokens"] = *tokens
	}
	if *tz != "" {
		req["timezone"] = *tz
	}
	if *thresholds != "" {
		var ts []int
		for _, s := range splitList(*thresholds) {
			n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
			if err != nil {
				return fmt.Errorf("--thresholds: %q is not a whole percentage", s)
			}
			ts = append(ts, n)
		}
		req["thresholds"] = ts
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Budget budgetJSON `json:"budget"`
	}
	raw, err := c.post(ctx, "/admin/budgets", req, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	b := resp.Budget
	fmt.Fprintf(stdout, "Created budget %s: %s per %s (%s) for %s.\n", b.ID, b.limits(), b.Period, b.Timezone, b.scope())
	return nil
}

func budgetsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("budgets list", "[--user U|--team T|--key K] [--json]", true, stderr)
	var sf scopeFlags
	sf.register(cmd.flags, "only budgets on")
	if _, err := cmd.parse(args); err != nil {
		return flagErr(err)
	}
	q, err := sf.query()
	if err != nil {
		return fmt.Errorf("budgets list: %w", err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Budgets []budgetJSON `json:"budgets"`
	}
	raw, err := c.get(ctx, "/admin/budgets", q, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	if len(resp.Budgets) == 0 {
		fmt.Fprintln(stdout, "No budgets. Create one with: tollgate budgets create --team NAME --usd 100 --period month")
		return nil
	}
	t := newTable("ID", "SCOPE", ">LIMIT USD", ">LIMIT TOKENS", "PERIOD", "TIMEZONE", "THRESHOLDS")
	for _, b := range resp.Budgets {
		usd, tok := "-", "-"
		if b.LimitUSDMicros != nil {
			usd = money(*b.LimitUSDMicros)
		}
		if b.LimitTokens != nil {
			tok = count(*b.LimitTokens)
		}
		t.add(b.ID, b.scope(), usd, tok, b.Period, b.Timezone, percents(b.Thresholds))
	}
	return t.write(stdout)
}

func percents(ps []int) string {
	if len(ps) == 0 {
		return "-"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p) + "%"
	}
	return strings.Join(s, ",")
}

// query returns the scope as a list filter (?user=, ?team= or ?key=).
func (s *scopeFlags) query() (url.Values, error) {
	name, value, err := s.one(false)
	if err != nil || name == "" {
		return nil, err
	}
	return url.Values{name: {value}}, nil
}

func budgetsDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return deleteCommand(ctx, "budgets", "/admin/budgets/", "ID", "Deleted budget %s.\n", args, stdout, stderr)
}

func runLimits(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "limits", "tollgate limits: rate limits (requests/min, tokens/min, concurrent requests) on a user, team or key.", []subcommand{
		{"create", "--user U|--team T|--key K [--rpm N] [--tpm N] [--concurrent N]", limitsCreate},
		{"list", "[--user U|--team T|--key K] [--json]", limitsList},
		{"delete", "ID", limitsDelete},
	}, args, stdout, stderr)
}

func limitsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("limits create", "--user U|--team T|--key K [--rpm N] [--tpm N] [--concurrent N]", true, stderr)
	var sf scopeFlags
	sf.register(cmd.flags, "the limit applies to")
	rpm := cmd.flags.Int64("rpm", 0, "requests per minute")
	tpm := cmd.flags.Int64("tpm", 0, "tokens per minute")
	concurrent := cmd.flags.Int64("concurrent", 0, "concurrent requests")
	if _, err := cmd.parse(args); err != nil {
		return flagErr(err)
	}
	kind, ref, err := sf.one(true)
	if err != nil {
		return fmt.Errorf("limits create: %w", err)
	}
	if *rpm == 0 && *tpm == 0 && *concurrent == 0 {
		return fmt.Errorf("limits create: give at least one of --rpm, --tpm or --concurrent")
	}
	req := map[string]any{kind: ref}
	for name, v := range map[string]int64{"rpm": *rpm, "tpm": *tpm, "concurrent": *concurrent} {
		if v != 0 {
			req[name] = v
		}
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Limit limitJSON `json:"limit"`
	}
	raw, err := c.post(ctx, "/admin/limits", req, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	l := resp.Limit
	fmt.Fprintf(stdout, "Created rate limit %s: %s for %s.\n", l.ID, l.describe(), scope(l.ScopeKind, l.Scope, l.ScopeID))
	return nil
}

func limitsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("limits list", "[--user U|--team T|--key K] [--json]", true, stderr)
	var sf scopeFlags
	sf.register(cmd.flags, "only limits on")
	if _, err := cmd.parse(args); err != nil {
		return flagErr(err)
	}
	q, err := sf.query()
	if err != nil {
		return fmt.Errorf("limits list: %w", err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp struct {
		Limits []limitJSON `json:"limits"`
	}
	raw, err := c.get(ctx, "/admin/limits", q, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	if len(resp.Limits) == 0 {
		fmt.Fprintln(stdout, "No rate limits. Create one with: tollgate limits create --user NAME --rpm 60")
		return nil
	}
	t := newTable("ID", "SCOPE", ">RPM", ">TPM", ">CONCURRENT")
	for _, l := range resp.Limits {
		t.add(l.ID, scope(l.ScopeKind, l.Scope, l.ScopeID), orZero(l.RPM), orZero(l.TPM), orZero(l.Concurrent))
	}
	return t.write(stdout)
}

func limitsDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return deleteCommand(ctx, "limits", "/admin/limits/", "ID", "Deleted rate limit %s.\n", args, stdout, stderr)
}
