package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/adminclient"
	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

// addRow adds the counts of o to r, for the TOTAL line.
func addRow(r *admin.UsageRow, o admin.UsageRow) {
	r.Requests += o.Requests
	r.Errors += o.Errors
	r.Unpriced += o.Unpriced
	r.Counts.Add(o.Counts)
	r.TotalTokens += o.TotalTokens
	r.CostUSDMicros += o.CostUSDMicros
}

func newUsageCmd() *cobra.Command {
	var (
		af                                                      adminFlags
		by, tag, since, until, gran, tz, user, team, key, model string
		csv, follow                                             bool
	)
	cmd := &cobra.Command{
		Use:   "usage [--by user|team|key|model|tag|session] [--since 7d] [flags]",
		Short: "Usage and cost as a table, CSV or JSON; live with --follow",
		Long: `Usage and cost, grouped by user, team, key, model, a tag or session, in total or
per day or hour, as a table, --csv or --json. --follow prints every call as it
finishes, live, until interrupted.`,
		Example: `  tollgate usage                              # by user, last 7 days
  tollgate usage --by model --since 30d --granularity day
  tollgate usage --tag repo --since 2025-06-01 --csv > usage.csv
  tollgate usage --follow`,
		Args: noArgs,
	}
	af.register(cmd.Flags())
	asJSON := jsonFlag(cmd)
	fs := cmd.Flags()
	fs.StringVar(&by, "by", "", "group by user, team, key, model, tag or session (default user; tag when --tag is given)")
	fs.StringVar(&tag, "tag", "", "the tag to group by, e.g. repo (implies --by tag)")
	fs.StringVar(&since, "since", "", "start: a duration back from now (7d, 12h), a date (2025-06-01) or an RFC 3339 time (default 7d)")
	fs.StringVar(&until, "until", "", "end, in the same forms as --since (default now)")
	fs.StringVar(&gran, "granularity", "", "total, day or hour (default total)")
	fs.StringVar(&tz, "timezone", "", "time zone of day buckets, e.g. Europe/Berlin (default UTC)")
	fs.StringVar(&user, "user", "", "only this user's usage (name or id)")
	fs.StringVar(&team, "team", "", "only this team's usage (name or id)")
	fs.StringVar(&key, "key", "", "only this key's usage (alias or id)")
	fs.StringVar(&model, "model", "", "only this model's usage")
	fs.BoolVar(&csv, "csv", false, "print CSV (the admin API's export) instead of a table")
	fs.BoolVar(&follow, "follow", false, "print every call as it finishes, live, until interrupted (Ctrl-C)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		c, err := af.client()
		if err != nil {
			return err
		}
		if follow {
			return followUsage(ctx, c, *asJSON, stdout)
		}
		if csv && *asJSON {
			return usageErrorf("usage: give --csv or --json, not both")
		}
		if by == "" && tag != "" {
			by = "tag"
		}
		q := url.Values{}
		for name, v := range map[string]string{"by": by, "tag": tag, "since": since, "until": until, "granularity": gran,
			"tz": tz, "user": user, "team": team, "key": key, "model": model} {
			if v != "" {
				q.Set(name, v)
			}
		}
		if csv {
			raw, err := c.UsageCSV(ctx, q)
			if err != nil {
				return err
			}
			_, err = stdout.Write(raw)
			return err
		}
		resp, err := c.Usage(ctx, q)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, resp)
		}
		return writeUsage(stdout, resp, tag)
	}
	return cmd
}

// writeUsage prints usage rows as a table with a total line.
func writeUsage(w io.Writer, resp admin.UsageResponse, tag string) error {
	group := strings.ToUpper(resp.By)
	if resp.By == "tag" && tag != "" {
		group = "TAG " + tag
	}
	fmt.Fprintf(w, "Usage by %s, %s to %s", strings.ToLower(group), when(resp.Since, "?"), when(resp.Until, "now"))
	if resp.Granularity != "" && resp.Granularity != "total" {
		fmt.Fprintf(w, ", per %s", resp.Granularity)
	}
	fmt.Fprintln(w)
	if len(resp.Rows) == 0 {
		fmt.Fprintln(w, "No usage in this range.")
		return nil
	}
	head := []string{group, ">REQUESTS", ">ERRORS", ">INPUT", ">OUTPUT", ">CACHE WRITE", ">CACHE READ", ">TOTAL TOKENS", ">COST USD"}
	timed := resp.Granularity == "day" || resp.Granularity == "hour"
	if timed {
		head = append([]string{"TIME"}, head...)
	}
	t := newTable(head...)
	var total admin.UsageRow
	numbers := func(r admin.UsageRow) []string {
		c := cost(r.CostUSDMicros)
		if r.Unpriced > 0 {
			c += "*"
		}
		return []string{count(r.Requests), count(r.Errors), count(r.Input), count(r.Output),
			count(r.CacheWrite()), count(r.CacheRead), count(r.TotalTokens), c}
	}
	for _, r := range resp.Rows {
		addRow(&total, r)
		name := r.Name
		if name == "" {
			name = r.Group
		}
		if name == "" {
			name = "(none)"
		}
		row := append([]string{name}, numbers(r)...)
		if timed {
			ts := "-"
			if r.Time != nil {
				ts = r.Time.UTC().Format("2006-01-02")
				if resp.Granularity == "hour" {
					ts = r.Time.UTC().Format("2006-01-02 15:04") + "Z"
				}
			}
			row = append([]string{ts}, row...)
		}
		t.add(row...)
	}
	if len(resp.Rows) > 1 {
		row := append([]string{"TOTAL"}, numbers(total)...)
		if timed {
			row = append([]string{""}, row...)
		}
		t.add(row...)
	}
	if err := t.write(w); err != nil {
		return err
	}
	if total.Unpriced > 0 {
		fmt.Fprintf(w, "* %s request(s) used a model without a price; their cost is not included (add the model under prices: in the gateway config).\n", count(total.Unpriced))
	}
	return nil
}

func newSpendCmd() *cobra.Command {
	var (
		af adminFlags
		sf scopeFlags
	)
	cmd := &cobra.Command{
		Use:   "spend [--user U|--team T|--key K]",
		Short: "Budgets: spent, remaining, when they reset",
		Long: `Each budget with what the gateway has counted against it this period: spent,
limit, remaining (what a new call can still reserve, as the
x-tollgate-budget-remaining-* headers say) and when the period resets.`,
		Example: "  tollgate spend\n  tollgate spend --team platform --json",
		Args:    noArgs,
	}
	af.register(cmd.Flags())
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
		resp, err := c.Spend(cmd.Context(), sc)
		if err != nil {
			return err
		}
		stdout := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(stdout, resp)
		}
		return writeSpend(stdout, resp)
	}
	return cmd
}

// writeSpend prints GET /admin/spend as a table, a row per limit: a budget
// with a USD and a token limit has two.
func writeSpend(stdout io.Writer, resp admin.SpendResponse) error {
	if len(resp.Budgets) == 0 {
		fmt.Fprintln(stdout, "No budgets. Create one with: tollgate budgets create --team NAME --budget-usd 100 --period month")
		return nil
	}
	fmt.Fprintf(stdout, "Budgets at %s\n", when(resp.At, "now"))
	t := newTable("SCOPE", "PERIOD", ">SPENT", ">LIMIT", ">REMAINING", ">USED", "RESETS", "ID")
	pct := func(spent, limit int64) string {
		if limit <= 0 {
			return "-"
		}
		return strconv.FormatFloat(float64(spent)*100/float64(limit), 'f', 1, 64) + "%"
	}
	for _, b := range resp.Budgets {
		b := budgetJSON{b}
		if b.LimitUSDMicros != nil {
			rem := "-"
			if b.RemainingUSDMicros != nil {
				rem = dollarsDown(*b.RemainingUSDMicros)
			}
			t.add(b.scope(), b.Period, dollars(b.SpentUSDMicros), money(*b.LimitUSDMicros), rem,
				pct(b.SpentUSDMicros, *b.LimitUSDMicros), b.resets(), b.ID)
		}
		if b.LimitTokens != nil {
			rem := "-"
			if b.RemainingTokens != nil {
				rem = count(*b.RemainingTokens) + " tok"
			}
			t.add(b.scope(), b.Period, count(b.SpentTokens)+" tok", count(*b.LimitTokens)+" tok", rem,
				pct(b.SpentTokens, *b.LimitTokens), b.resets(), b.ID)
		}
	}
	return t.write(stdout)
}

// followUsage prints the gateway's live usage feed, a line a call (or the
// feed's JSON with --json), until ctx ends or the gateway closes the feed.
func followUsage(ctx context.Context, c *adminclient.Client, asJSON bool, stdout io.Writer) error {
	body, err := c.LiveUsage(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer body.Close()
	if !asJSON {
		fmt.Fprintf(stdout, "%-8s  %-20s  %-28s  %6s  %9s  %7s  %9s  %9s  %10s  %s\n",
			"TIME", "KEY", "MODEL", "STATUS", "INPUT", "OUTPUT", "CACHE W", "CACHE R", "COST USD", "LATENCY")
	}
	events := anthropic.NewSSEReader(body)
	for {
		ev, err := events.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("live usage feed: %w", err)
		}
		if ev.Type != "usage" {
			continue
		}
		if asJSON {
			fmt.Fprintf(stdout, "%s\n", ev.Data)
			continue
		}
		var r admin.LiveRecord
		if err := json.Unmarshal(ev.Data, &r); err != nil {
			continue
		}
		status := strconv.Itoa(r.Status)
		if r.ErrorOrigin != "" {
			status += "/" + r.ErrorOrigin
		}
		cost := fmt.Sprintf("%.4f", float64(r.CostMicros)/1e6)
		if r.Unpriced {
			cost += "*"
		}
		fmt.Fprintf(stdout, "%-8s  %-20s  %-28s  %6s  %9d  %7d  %9d  %9d  %10s  %dms\n",
			r.Time.Local().Format("15:04:05"), firstLine(r.Key, 20), firstLine(r.Model, 28), status,
			r.InputTokens, r.OutputTokens, r.CacheWrite, r.CacheRead, cost, r.LatencyMs)
	}
}
