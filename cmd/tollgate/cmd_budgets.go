package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/adminclient"
)

// budgetJSON is a budget as the admin API shows it (admin.BudgetSpend); the
// spend fields are set by GET /admin/spend only.
type budgetJSON struct{ admin.BudgetSpend }

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

// scopeFlags are --user, --team and --key of budgets, limits and spend.
type scopeFlags struct{ user, team, key string }

func (s *scopeFlags) register(fs *pflag.FlagSet, verb string) {
	fs.StringVar(&s.user, "user", "", verb+" a user (name or id)")
	fs.StringVar(&s.team, "team", "", verb+" a team (name or id)")
	fs.StringVar(&s.key, "key", "", verb+" a key (alias or id)")
}

// scope returns the one scope given; exactly one must be set when
// required, at most one otherwise.
func (s *scopeFlags) scope(required bool) (adminclient.Scope, error) {
	var sc adminclient.Scope
	n := 0
	for _, f := range []adminclient.Scope{{Kind: "user", Ref: s.user}, {Kind: "team", Ref: s.team}, {Kind: "key", Ref: s.key}} {
		if f.Ref != "" {
			sc = f
			n++
		}
	}
	if n > 1 || (required && n == 0) {
		return adminclient.Scope{}, usageErrorf("give exactly one of --user, --team or --key")
	}
	return sc, nil
}

// ref is the scope as the API's request field.
func scopeRef(s adminclient.Scope) admin.ScopeRef {
	switch s.Kind {
	case "user":
		return admin.ScopeRef{User: s.Ref}
	case "team":
		return admin.ScopeRef{Team: s.Ref}
	}
	return admin.ScopeRef{Key: s.Ref}
}

func newBudgetsCmd() *cobra.Command {
	var af adminFlags
	g := newGroup("budgets", "Spending limits in USD and/or tokens on a user, team or key",
		`Spending limits in USD and/or tokens per day, week, month or in total, on a
user, team or key. A call that would go over a budget is refused with 429
before it reaches Claude. Budgets are named by their id (see budgets list).`)
	af.register(g.PersistentFlags())
	g.AddCommand(budgetsCreateCmd(&af), budgetsListCmd(&af), budgetsUpdateCmd(&af),
		deleteCmd(&af, "ID", "Delete a budget", "  tollgate budgets delete bdg_0123456789abcdef", "Deleted budget %s.\n",
			(*adminclient.Client).DeleteBudget))
	return g
}

// parseThresholds parses --thresholds 50,80,100 (a % sign is allowed).
func parseThresholds(v string) ([]int, error) {
	var ts []int
	for _, s := range splitList(v) {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
		if err != nil {
			return nil, fmt.Errorf("--thresholds: %q is not a whole percentage", s)
		}
		ts = append(ts, n)
	}
	return ts, nil
}

func budgetsCreateCmd(af *adminFlags) *cobra.Command {
	var (
		sf                     scopeFlags
		bf                     budgetFlags
		period, tz, thresholds string
		mode, overdraft        string
	)
	cmd := &cobra.Command{
		Use:   "create --user U|--team T|--key K --budget-usd N|--budget-tokens N --period P [flags]",
		Short: "Create a budget on a user, team or key",
		Long: `Create a budget: a limit in USD, in tokens or both, per day, week, month or in
total, in a time zone. Alerts go out at the thresholds (percent of the limit).
--mode estimate (the default) admits calls on a realistic estimate and lets
spend pass the limit by at most --overdraft (default 5%); --mode strict admits
a call only when its worst case fits, and spend never passes the limit.
--usd and --tokens are old names of --budget-usd and --budget-tokens.`,
		Example: `  tollgate budgets create --team platform --budget-usd 500 --period month
  tollgate budgets create --user alice --budget-usd 20 --period day --timezone Europe/Berlin
  tollgate budgets create --key ci --budget-tokens 2000000 --period week --thresholds 80,100
  tollgate budgets create --key alice-laptop --budget-usd 5 --period day --overdraft 0.50
  tollgate budgets create --team finance --budget-usd 100 --period month --mode strict`,
		Args: noArgs,
	}
	asJSON := jsonFlag(cmd)
	sf.register(cmd.Flags(), "the budget covers")
	bf.register(cmd, true)
	cmd.Flags().StringVar(&mode, "mode", "", "estimate (default) or strict")
	cmd.Flags().StringVar(&overdraft, "overdraft", "", `how far spend may pass the limit in estimate mode: "5%", "0.50" (USD) or "20000 tokens" (default 5%)`)
	cmd.Flags().StringVar(&period, "period", "", "period: day, week, month or total (required)")
	cmd.Flags().StringVar(&tz, "timezone", "", "time zone in which the period starts, e.g. Europe/Berlin (default UTC)")
	cmd.Flags().StringVar(&thresholds, "thresholds", "", "alert thresholds in percent, e.g. 50,80,100 (default 50,80,100)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		bf.warnOld(cmd)
		sc, err := sf.scope(true)
		if err != nil {
			return err
		}
		if bf.usd == "" && bf.tokens == 0 {
			return usageErrorf("budgets create: give --budget-usd, --budget-tokens or both")
		}
		if period == "" {
			return usageErrorf("budgets create: --period is required: day, week, month or total")
		}
		req := admin.BudgetRequest{ScopeRef: scopeRef(sc), Period: period, Timezone: tz, Mode: mode, Overdraft: overdraft}
		if bf.usd != "" {
			v, err := parseUSD("--budget-usd", bf.usd)
			if err != nil {
				return err
			}
			req.LimitUSD = &v
		}
		if bf.tokens != 0 {
			req.LimitTokens = &bf.tokens
		}
		if thresholds != "" {
			if req.Thresholds, err = parseThresholds(thresholds); err != nil {
				return err
			}
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		b, err := c.CreateBudget(cmd.Context(), req)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.BudgetResponse{Budget: b})
		}
		bj := budgetJSON{admin.BudgetSpend{Budget: b}}
		fmt.Fprintf(cmd.OutOrStdout(), "Created budget %s: %s per %s (%s) for %s, %s.\n", b.ID, bj.limits(), b.Period, b.Timezone, bj.scope(), modeText(b))
		return nil
	}
	return cmd
}

func budgetsListCmd(af *adminFlags) *cobra.Command {
	var sf scopeFlags
	cmd := &cobra.Command{
		Use:     "list [--user U|--team T|--key K]",
		Short:   "List budgets",
		Example: "  tollgate budgets list\n  tollgate budgets list --team platform --json",
		Args:    noArgs,
	}
	asJSON := jsonFlag(cmd)
	sf.register(cmd.Flags(), "only budgets on")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		sc, err := sf.scope(false)
		if err != nil {
			return err
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		budgets, err := c.Budgets(cmd.Context(), sc)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.BudgetsResponse{Budgets: budgets})
		}
		if len(budgets) == 0 {
			fmt.Fprintln(out, "No budgets. Create one with: tollgate budgets create --team NAME --budget-usd 100 --period month")
			return nil
		}
		t := newTable("ID", "SCOPE", ">LIMIT USD", ">LIMIT TOKENS", "PERIOD", "TIMEZONE", "THRESHOLDS", "MODE")
		for _, b := range budgets {
			usd, tok := "-", "-"
			if b.LimitUSDMicros != nil {
				usd = money(*b.LimitUSDMicros)
			}
			if b.LimitTokens != nil {
				tok = count(*b.LimitTokens)
			}
			t.add(b.ID, budgetJSON{admin.BudgetSpend{Budget: b}}.scope(), usd, tok, b.Period, b.Timezone, percents(b.Thresholds), modeShort(b))
		}
		return t.write(out)
	}
	return cmd
}

func budgetsUpdateCmd(af *adminFlags) *cobra.Command {
	var (
		bf                     budgetFlags
		period, tz, thresholds string
		mode, overdraft        string
	)
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change a budget's limits, period, time zone or thresholds",
		Long: `Change what the flags name and leave the rest alone. --budget-usd none or
--budget-tokens 0 removes that limit (a budget keeps at least one); an empty
--thresholds restores the default 50,80,100. What was spent this period stays
spent; a new period or time zone starts counting from its own start.`,
		Example: `  tollgate budgets update bdg_0123456789abcdef --budget-usd 750
  tollgate budgets update bdg_0123456789abcdef --period week --timezone America/New_York`,
		Args: exactArgs("ID"),
	}
	asJSON := jsonFlag(cmd)
	bf.register(cmd, false)
	fs := cmd.Flags()
	fs.StringVar(&period, "period", "", "period: day, week, month or total")
	fs.StringVar(&tz, "timezone", "", "time zone in which the period starts, e.g. Europe/Berlin")
	fs.StringVar(&thresholds, "thresholds", "", "alert thresholds in percent, e.g. 50,80,100")
	fs.StringVar(&mode, "mode", "", "estimate or strict")
	fs.StringVar(&overdraft, "overdraft", "", `overdraft in estimate mode: "5%", "0.50" (USD) or "20000 tokens"; empty restores the default 5%`)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var req admin.PatchBudgetRequest
		changed := false
		if fs.Changed("budget-usd") {
			changed = true
			if bf.usd == "none" || bf.usd == "" {
				req.LimitUSD = admin.Null[json.Number]()
			} else {
				v, err := parseUSD("--budget-usd", bf.usd)
				if err != nil {
					return err
				}
				req.LimitUSD = admin.Some(v)
			}
		}
		if fs.Changed("budget-tokens") {
			changed = true
			req.LimitTokens = admin.Some(bf.tokens)
			if bf.tokens == 0 {
				req.LimitTokens = admin.Null[int64]()
			}
		}
		if fs.Changed("period") {
			req.Period, changed = &period, true
		}
		if fs.Changed("timezone") {
			req.Timezone, changed = &tz, true
		}
		if fs.Changed("thresholds") {
			changed = true
			req.Thresholds = admin.Null[[]int]()
			if thresholds != "" {
				ts, err := parseThresholds(thresholds)
				if err != nil {
					return err
				}
				req.Thresholds = admin.Some(ts)
			}
		}
		if fs.Changed("mode") {
			req.Mode, changed = &mode, true
		}
		if fs.Changed("overdraft") {
			req.Overdraft, changed = &overdraft, true
		}
		if !changed {
			return usageErrorf("budgets update: give at least one of --budget-usd, --budget-tokens, --period, --timezone, --thresholds, --mode or --overdraft")
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		b, err := c.UpdateBudget(cmd.Context(), args[0], req)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.BudgetResponse{Budget: b})
		}
		bj := budgetJSON{admin.BudgetSpend{Budget: b}}
		fmt.Fprintf(cmd.OutOrStdout(), "Updated budget %s: %s per %s (%s) for %s, %s; alerts at %s.\n", b.ID, bj.limits(), b.Period, b.Timezone, bj.scope(), modeText(b), percents(b.Thresholds))
		return nil
	}
	return cmd
}

// modeText describes a budget's mode for people: "strict" or "estimate
// mode, overdraft 5%".
func modeText(b admin.Budget) string {
	if b.Mode == "strict" {
		return "strict"
	}
	return "estimate mode, overdraft " + b.Overdraft
}

// modeShort is the mode column of budgets list: "strict" or "+5%".
func modeShort(b admin.Budget) string {
	if b.Mode == "strict" {
		return "strict"
	}
	return "+" + b.Overdraft
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

func newLimitsCmd() *cobra.Command {
	var af adminFlags
	g := newGroup("limits", "Rate limits on a user, team or key",
		`Rate limits (requests per minute, tokens per minute, concurrent requests) on a
user, team or key. A call over a limit is refused with 429 and a retry-after.
Limits are named by their id (see limits list).`)
	af.register(g.PersistentFlags())
	g.AddCommand(limitsCreateCmd(&af), limitsListCmd(&af), limitsUpdateCmd(&af),
		deleteCmd(&af, "ID", "Delete a rate limit", "  tollgate limits delete lim_0123456789abcdef", "Deleted rate limit %s.\n",
			(*adminclient.Client).DeleteLimit))
	return g
}

func limitsCreateCmd(af *adminFlags) *cobra.Command {
	var (
		sf scopeFlags
		rf rateFlags
	)
	cmd := &cobra.Command{
		Use:     "create --user U|--team T|--key K [--rpm N] [--tpm N] [--concurrent N]",
		Short:   "Create a rate limit on a user, team or key",
		Example: "  tollgate limits create --user alice --rpm 60 --concurrent 4\n  tollgate limits create --team platform --tpm 400000",
		Args:    noArgs,
	}
	asJSON := jsonFlag(cmd)
	sf.register(cmd.Flags(), "the limit applies to")
	rf.register(cmd, "")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		sc, err := sf.scope(true)
		if err != nil {
			return err
		}
		if rf == (rateFlags{}) {
			return usageErrorf("limits create: give at least one of --rpm, --tpm or --concurrent")
		}
		req := admin.LimitRequest{ScopeRef: scopeRef(sc)}
		nonZero := func(v int64) *int64 {
			if v == 0 {
				return nil
			}
			return &v
		}
		req.RPM, req.TPM, req.Concurrent = nonZero(rf.rpm), nonZero(rf.tpm), nonZero(rf.concurrent)
		c, err := af.client()
		if err != nil {
			return err
		}
		l, err := c.CreateLimit(cmd.Context(), req)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.LimitResponse{Limit: l})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Created rate limit %s: %s for %s.\n", l.ID, limitJSON{l}.describe(), scope(l.ScopeKind, l.Scope, l.ScopeID))
		return nil
	}
	return cmd
}

func limitsListCmd(af *adminFlags) *cobra.Command {
	var sf scopeFlags
	cmd := &cobra.Command{
		Use:     "list [--user U|--team T|--key K]",
		Short:   "List rate limits",
		Example: "  tollgate limits list\n  tollgate limits list --key ci --json",
		Args:    noArgs,
	}
	asJSON := jsonFlag(cmd)
	sf.register(cmd.Flags(), "only limits on")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		sc, err := sf.scope(false)
		if err != nil {
			return err
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		limits, err := c.Limits(cmd.Context(), sc)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.LimitsResponse{Limits: limits})
		}
		if len(limits) == 0 {
			fmt.Fprintln(out, "No rate limits. Create one with: tollgate limits create --user NAME --rpm 60")
			return nil
		}
		t := newTable("ID", "SCOPE", ">RPM", ">TPM", ">CONCURRENT")
		for _, l := range limits {
			t.add(l.ID, scope(l.ScopeKind, l.Scope, l.ScopeID), orZero(l.RPM), orZero(l.TPM), orZero(l.Concurrent))
		}
		return t.write(out)
	}
	return cmd
}

func limitsUpdateCmd(af *adminFlags) *cobra.Command {
	var rf rateFlags
	cmd := &cobra.Command{
		Use:     "update ID [--rpm N] [--tpm N] [--concurrent N]",
		Short:   "Change a rate limit",
		Long:    "Change the values the flags name and leave the rest alone; 0 removes that value.",
		Example: "  tollgate limits update lim_0123456789abcdef --rpm 120\n  tollgate limits update lim_0123456789abcdef --concurrent 0",
		Args:    exactArgs("ID"),
	}
	asJSON := jsonFlag(cmd)
	rf.register(cmd, "")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var req admin.PatchLimitRequest
		fs := cmd.Flags()
		for _, f := range []struct {
			name string
			v    *int64
			dst  **int64
		}{{"rpm", &rf.rpm, &req.RPM}, {"tpm", &rf.tpm, &req.TPM}, {"concurrent", &rf.concurrent, &req.Concurrent}} {
			if fs.Changed(f.name) {
				*f.dst = f.v
			}
		}
		if req == (admin.PatchLimitRequest{}) {
			return usageErrorf("limits update: give at least one of --rpm, --tpm or --concurrent")
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		l, err := c.UpdateLimit(cmd.Context(), args[0], req)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.LimitResponse{Limit: l})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Updated rate limit %s: %s for %s.\n", l.ID, limitJSON{l}.describe(), scope(l.ScopeKind, l.Scope, l.ScopeID))
		return nil
	}
	return cmd
}
