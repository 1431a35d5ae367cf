package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
)

// usageRowJSON is one row of GET /admin/usage.
type usageRowJSON struct {
	Time               *time.Time `json:"time"`
	Group              string     `json:"group"`
	Name               string     `json:"name"`
	Requests           int64      `json:"requests"`
	Errors             int64      `json:"errors"`
	Unpriced           int64      `json:"unpriced"`
	InputTokens        int64      `json:"input_tokens"`
	OutputTokens       int64      `json:"output_tokens"`
	CacheWrite5mTokens int64      `json:"cache_write_5m_tokens"`
	CacheWrite1hTokens int64      `json:"cache_write_1h_tokens"`
	CacheReadTokens    int64      `json:"cache_read_tokens"`
	TotalTokens        int64      `json:"total_tokens"`
	CostUSDMicros      int64      `json:"cost_usd_micros"`
}

func (r *usageRowJSON) add(o usageRowJSON) {
	r.Requests += o.Requests
	r.Errors += o.Errors
	r.Unpriced += o.Unpriced
	r.InputTokens += o.InputTokens
	r.OutputTokens += o.OutputTokens
	r.CacheWrite5mTokens += o.CacheWrite5mTokens
	r.CacheWrite1hTokens += o.CacheWrite1hTokens
	r.CacheReadTokens += o.CacheReadTokens
	r.TotalTokens += o.TotalTokens
	r.CostUSDMicros += o.CostUSDMicros
}

// usageResponse is GET /admin/usage.
type usageResponse struct {
	By          string         `json:"by"`
	Granularity string         `json:"granularity"`
	Since       *time.Time     `json:"since"`
	Until       *time.Time     `json:"until"`
	Rows        []usageRowJSON `json:"rows"`
}

func runUsage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("usage", "[--by user|team|key|model|tag|session] [--since 7d] [flags]", true, stderr)
	by := cmd.flags.String("by", "", "group by user, team, key, model, tag or session (default user; tag when --tag is given)")
	tag := cmd.flags.String("tag", "", "the tag to group by, e.g. repo (implies --by tag)")
	since := cmd.flags.String("since", "", "start: a duration back from now (7d, 12h), a date (2025-06-01) or an RFC 3339 time (default 7d)")
	until := cmd.flags.String("until", "", "end, in the same forms as --since (default now)")
	gran := cmd.flags.String("granularity", "", "total, day or hour (default total)")
	tz := cmd.flags.String("timezone", "", "time zone of day buckets, e.g. Europe/Berlin (default UTC)")
	user := cmd.flags.String("user", "", "only this user's usage (name or id)")
	team := cmd.flags.String("team", "", "only this team's usage (name or id)")
	key := cmd.flags.String("key", "", "only this key's usage (alias or id)")
	model := cmd.flags.String("model", "", "only this model's usage")
	csv := cmd.flags.Bool("csv", false, "print CSV (the admin API's export) instead of a table")
	follow := cmd.flags.Bool("follow", false, "print every call as it finishes, live, until interrupted (Ctrl-C)")
	if _, err := cmd.parse(args); err != nil {
		return flagErr(err)
	}
	if *follow {
		c, err := cmd.client()
		if err != nil {
			return err
		}
		return followUsage(ctx, c, cmd.json, stdout)
	}
	if *csv && cmd.json {
		return fmt.Errorf("usage: give --csv or --json, not both")
	}
	if *by == "" && *tag != "" {
		*by = "tag"
	}
	q := url.Values{}
	for name, v := range map[string]string{"by": *by, "tag": *tag, "since": *since, "until": *until, "granularity": *gran,
		"tz": *tz, "user": *user, "team": *team, "key": *key, "model": *model} {
		if v != "" {
			q.Set(name, v)
		}
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	if *csv {
		raw, err := c.get(ctx, "/admin/usage.csv", q, nil)
		if err != nil {
			return err
		}
		_, err = stdout.Write(raw)
		return err
	}
	var resp usageResponse
	raw, err := c.get(ctx, "/admin/usage", q, &resp)
	if err != nil {
		return err
	}
	if cmd.json {
		return printJSON(stdout, raw)
	}
	return writeUsage(stdout, resp, *tag)
}

// writeUsage prints usage rows as a table with a total line.
func writeUsage(w io.Writer, resp usageResponse, tag string) error {
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
	var total usageRowJSON
	cells := func(r usageRowJSON) []string {
		c := cost(r.CostUSDMicros)
		if r.Unpriced > 0 {
			c += "*"
		}
		return []string{count(r.Requests), count(r.Errors), count(r.InputTokens), count(r.OutputTokens),
			count(r.CacheWrite5mTokens + r.CacheWrite1hTokens), count(r.CacheReadTokens), count(r.TotalTokens), c}
	}
	for _, r := range resp.Rows {
		total.add(r)
		name := r.Name
		if name == "" {
			name = r.Group
		}
		if name == "" {
			name = "(none)"
		}
		row := append([]string{name}, cells(r)...)
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
		row := append([]string{"TOTAL"}, cells(total)...)
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

func runSpend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newAdminCommand("spend", "[--user U|--team T|--key K] [--json]", true, stderr)
	var sf scopeFlags
	sf.register(cmd.flags, "only budgets on")
	if _, err := cmd.parse(args); err != nil {
		return flagErr(err)
	}
	q, err := sf.query()
	if err != nil {
		return fmt.Errorf("spend: %w", err)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var resp spendResponse
	raw, err := c.get(ctx, "/admin/spend", q, &resp)
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
	fmt.Fprintf(stdout, "Budgets at %s\n", when(resp.At, "now"))
	t := newTable("SCOPE", "PERIOD", ">SPENT", ">LIMIT", ">REMAINING", ">USED", "RESETS", "ID")
	pct := func(spent, limit int64) string {
		if limit <= 0 {
			return "-"
		}
		return strconv.FormatFloat(float64(spent)*100/float64(limit), 'f', 1, 64) + "%"
	}
	for _, b := range resp.Budgets {
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
func followUsage(ctx context.Context, c *adminClient, asJSON bool, stdout io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/admin/usage/live", nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", "tollgate-cli/"+build.Version)
	// The feed runs until interrupted: no client timeout, only ctx.
	resp, err := (&http.Client{Transport: c.hc.Transport}).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("cannot reach the gateway at %s: %s; check TOLLGATE_URL (or --url)", c.base, netReason(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return errorFromResponse(resp, raw)
	}
	if !asJSON {
		fmt.Fprintf(stdout, "%-8s  %-20s  %-28s  %6s  %9s  %7s  %9s  %9s  %10s  %s\n",
			"TIME", "KEY", "MODEL", "STATUS", "INPUT", "OUTPUT", "CACHE W", "CACHE R", "COST USD", "LATENCY")
	}
	events := anthropic.NewSSEReader(resp.Body)
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
		var r struct {
			Time         time.Time `json:"time"`
			Key          string    `json:"key"`
			Model        string    `json:"model"`
			Status       int       `json:"status"`
			ErrorOrigin  string    `json:"error_origin"`
			LatencyMs    int64     `json:"latency_ms"`
			InputTokens  int64     `json:"input_tokens"`
			OutputTokens int64     `json:"output_tokens"`
			CacheWrite   int64     `json:"cache_write_tokens"`
			CacheRead    int64     `json:"cache_read_tokens"`
			CostMicros   int64     `json:"cost_micros"`
			Unpriced     bool      `json:"unpriced"`
		}
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
