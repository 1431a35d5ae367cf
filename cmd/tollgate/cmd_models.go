package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/adminclient"
)

func newModelsCmd() *cobra.Command {
	var af adminFlags
	g := newGroup("models", "Routes: the config file's models, runtime models, the catalog",
		`Models are the names clients send and where they go. The config file's models,
runtime models added here (stored in the database, served by every replica at
once, without a restart), the built-in catalog and pass-through patterns are
listed together with their source. On a name both hold, the file wins.`)
	af.register(g.PersistentFlags())
	rm := deleteCmd(&af, "NAME", "Remove a runtime model (calls in flight on it finish)", "  tollgate models remove team-sonnet",
		"Removed model %q.\n", (*adminclient.Client).DeleteModel)
	rm.Use, rm.Aliases = "remove NAME", []string{"delete"}
	g.AddCommand(modelsListCmd(&af), modelsAddCmd(&af), modelsUpdateCmd(&af), modelsTestCmd(&af), rm)
	return g
}

// modelTargets shows a model's targets as provider:upstream, in order.
func modelTargets(m admin.Model) string {
	if len(m.Targets) == 0 {
		return "-"
	}
	parts := make([]string, len(m.Targets))
	for i, t := range m.Targets {
		parts[i] = t.Provider + ":" + t.Model
		if t.Weight != nil {
			parts[i] += "@" + strconv.Itoa(*t.Weight)
		}
	}
	return strings.Join(parts, " ")
}

// modelPrice shows input/output USD per million tokens.
func modelPrice(m admin.Model) string {
	if m.Price == nil {
		return "-"
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return "$" + f(m.Price.Input) + "/$" + f(m.Price.Output)
}

func modelStatus(m admin.Model) string {
	switch {
	case !m.Served && m.ClashesWith != "":
		return "shadowed by file"
	case !m.Served:
		return "not served"
	}
	return "served"
}

func modelsListCmd(af *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every route with its source, targets and price",
		Long: `List every route: file, database, catalog and pattern, in the order they win.
PRICE is input/output in USD per million tokens (the first target's), from
the model itself, the file's prices or the built-in catalog (PRICE FROM).`,
		Example: `  tollgate models list
  tollgate models list --source database
  tollgate models list --json`,
		Args: noArgs,
	}
	asJSON := jsonFlag(cmd)
	source := cmd.Flags().String("source", "", "only routes from this source: file, database, catalog or pattern")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		switch *source {
		case "", admin.SourceFile, admin.SourceDatabase, admin.SourceCatalog, admin.SourcePattern:
		default:
			return usageErrorf("--source %q: want file, database, catalog or pattern", *source)
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		all, err := c.Models(cmd.Context())
		if err != nil {
			return err
		}
		ms := all[:0:0]
		for _, m := range all {
			if *source == "" || m.Source == *source {
				ms = append(ms, m)
			}
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(out, admin.ModelsResponse{Models: ms})
		}
		if len(ms) == 0 {
			fmt.Fprintln(out, "No models. Add one with: tollgate models add NAME --target PROVIDER=UPSTREAM_ID")
			return nil
		}
		t := newTable("NAME", "SOURCE", "TARGETS", "STRATEGY", "PRICE", "PRICE FROM", "STATUS")
		for _, m := range ms {
			t.add(m.Name, m.Source, modelTargets(m), m.Strategy, modelPrice(m), m.PriceSource, modelStatus(m))
		}
		return t.write(out)
	}
	return cmd
}

// modelFlags are the flags of models add and update.
type modelFlags struct {
	targets                        []string
	strategy, displayName, rename  string
	dropBetas, dropFields          string
	in, out, cw5m, cw1h, cacheRead float64
	noPrice                        bool
}

func (f *modelFlags) register(fs *pflag.FlagSet, update bool) {
	fs.StringArrayVar(&f.targets, "target", nil, "a target, PROVIDER=UPSTREAM_ID[,weight=N][,max_concurrent=N][,queue_timeout_ms=N]; repeat for fallbacks, in order")
	fs.StringVar(&f.strategy, "strategy", "", "ordered (default), weighted or least-busy")
	fs.StringVar(&f.displayName, "display-name", "", "the name /v1/models shows")
	fs.StringVar(&f.dropBetas, "drop-betas", "", "anthropic-beta values removed before the call, comma-separated")
	fs.StringVar(&f.dropFields, "drop-fields", "", "top-level body fields removed before the call, comma-separated")
	fs.Float64Var(&f.in, "price-input", 0, "own price: USD per million input tokens")
	fs.Float64Var(&f.out, "price-output", 0, "own price: USD per million output tokens")
	fs.Float64Var(&f.cw5m, "price-cache-write-5m", 0, "own price: USD per million 5-minute cache-write tokens")
	fs.Float64Var(&f.cw1h, "price-cache-write-1h", 0, "own price: USD per million 1-hour cache-write tokens")
	fs.Float64Var(&f.cacheRead, "price-cache-read", 0, "own price: USD per million cache-read tokens")
	if update {
		fs.StringVar(&f.rename, "name", "", "rename the model")
		fs.BoolVar(&f.noPrice, "no-price", false, "drop the model's own price: the file's or the catalog's applies")
	}
}

var priceFlags = []string{"price-input", "price-output", "price-cache-write-5m", "price-cache-write-1h", "price-cache-read"}

// request builds the admin request from the flags given.
func (f *modelFlags) request(fs *pflag.FlagSet) (admin.ModelRequest, error) {
	var req admin.ModelRequest
	if fs.Changed("target") {
		ts := make([]admin.ModelTarget, 0, len(f.targets))
		for _, s := range f.targets {
			t, err := parseTarget(s)
			if err != nil {
				return req, err
			}
			ts = append(ts, t)
		}
		req.Targets = &ts
	}
	if fs.Changed("strategy") {
		req.Strategy = &f.strategy
	}
	if fs.Changed("display-name") {
		req.DisplayName = &f.displayName
	}
	if fs.Changed("name") {
		req.Name = &f.rename
	}
	if fs.Changed("drop-betas") {
		l := nonNilList(splitList(f.dropBetas))
		req.DropBetas = &l
	}
	if fs.Changed("drop-fields") {
		l := nonNilList(splitList(f.dropFields))
		req.DropFields = &l
	}
	priced := false
	for _, n := range priceFlags {
		priced = priced || fs.Changed(n)
	}
	switch {
	case priced && f.noPrice:
		return req, usageErrorf("--no-price and --price-* exclude each other")
	case f.noPrice:
		req.Price = admin.Null[admin.ModelPrice]()
	case priced:
		req.Price = admin.Some(admin.ModelPrice{Input: f.in, Output: f.out, CacheWrite5m: f.cw5m, CacheWrite1h: f.cw1h, CacheRead: f.cacheRead})
	}
	return req, nil
}

func nonNilList(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// parseTarget reads PROVIDER=UPSTREAM_ID[,key=N...].
func parseTarget(s string) (admin.ModelTarget, error) {
	head, opts, _ := strings.Cut(s, ",")
	provider, id, ok := strings.Cut(head, "=")
	if !ok || strings.TrimSpace(provider) == "" || strings.TrimSpace(id) == "" {
		return admin.ModelTarget{}, usageErrorf("--target %q: want PROVIDER=UPSTREAM_ID, e.g. bedrock=us.anthropic.claude-sonnet-4-5-20250929-v1:0", s)
	}
	t := admin.ModelTarget{Provider: strings.TrimSpace(provider), Model: strings.TrimSpace(id)}
	for _, kv := range splitList(opts) {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return admin.ModelTarget{}, usageErrorf("--target %q: %s wants a whole number, got %q", s, k, v)
		}
		switch strings.TrimSpace(k) {
		case "weight":
			t.Weight = &n
		case "max_concurrent":
			t.MaxConcurrent = n
		case "queue_timeout_ms":
			t.QueueTimeoutMS = int64(n)
		default:
			return admin.ModelTarget{}, usageErrorf("--target %q: unknown option %q (weight, max_concurrent, queue_timeout_ms)", s, k)
		}
	}
	return t, nil
}

// printModel writes one model as aligned fields.
func printModel(cmd *cobra.Command, verb string, m admin.Model) error {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "%s model %q (%s).\n", verb, m.Name, modelStatus(m))
	fields := [][2]string{
		{"targets", modelTargets(m)},
		{"strategy", m.Strategy},
		{"price", modelPrice(m) + " per million tokens in/out (" + m.PriceSource + ")"},
	}
	if m.Problem != "" {
		fields = append(fields, [2]string{"problem", m.Problem})
	}
	return writeFields(out, fields)
}

func modelsAddCmd(af *adminFlags) *cobra.Command {
	var f modelFlags
	cmd := &cobra.Command{
		Use:   "add NAME --target PROVIDER=UPSTREAM_ID [--target ...]",
		Short: "Add a runtime model, served at once by every replica",
		Long: `Add a model clients can name. It is stored in the database and served by the
next call on every replica, without a restart. Targets are tried in order
(after the strategy's pick); each names a provider of the config file and the
upstream model id (on Bedrock: a model id, inference-profile id or ARN).
Without --price-* flags the model is priced by the file's prices or the
built-in catalog.`,
		Example: `  tollgate models add team-sonnet --target bedrock=us.anthropic.claude-sonnet-4-5-20250929-v1:0
  tollgate models add team-sonnet --strategy weighted \
      --target east=us.anthropic.claude-sonnet-4-5-20250929-v1:0,weight=3 \
      --target west=us.anthropic.claude-sonnet-4-5-20250929-v1:0,weight=1
  tollgate models add in-house --target anthropic=claude-sonnet-4-5-20250929 --price-input 3 --price-output 15`,
		Args: exactArgs("NAME"),
	}
	f.register(cmd.Flags(), false)
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		req, err := f.request(cmd.Flags())
		if err != nil {
			return err
		}
		if req.Targets == nil {
			return usageErrorf("models add needs at least one --target PROVIDER=UPSTREAM_ID")
		}
		req.Name = &args[0]
		c, err := af.client()
		if err != nil {
			return err
		}
		m, err := c.CreateModel(cmd.Context(), req)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.ModelResponse{Model: m})
		}
		if err := printModel(cmd, "Added", m); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Try it with: tollgate models test %s\n", m.Name)
		return nil
	}
	return cmd
}

func modelsUpdateCmd(af *adminFlags) *cobra.Command {
	var f modelFlags
	cmd := &cobra.Command{
		Use:   "update NAME [flags]",
		Short: "Change a runtime model; flags not given are left as they are",
		Long: `Change a runtime model. The next call uses the change; calls in flight finish
on the route and price they started with. --target replaces the whole list of
targets. Models of the config file are changed in the file (then SIGHUP).`,
		Example: `  tollgate models update team-sonnet --target west=us.anthropic.claude-sonnet-4-5-20250929-v1:0
  tollgate models update team-sonnet --price-input 3 --price-output 15
  tollgate models update team-sonnet --no-price`,
		Args: exactArgs("NAME"),
	}
	f.register(cmd.Flags(), true)
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		req, err := f.request(cmd.Flags())
		if err != nil {
			return err
		}
		if cmd.Flags().NFlag() == 0 || (cmd.Flags().NFlag() == 1 && *asJSON) {
			return usageErrorf("models update: nothing to change; give at least one flag")
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		m, err := c.UpdateModel(cmd.Context(), args[0], req)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), admin.ModelResponse{Model: m})
		}
		return printModel(cmd, "Updated", m)
	}
	return cmd
}

// errModelTest is returned when a test call failed, so that the exit
// status says so.
var errModelTest = errors.New("the test call failed")

func modelsTestCmd(af *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test NAME",
		Short: "Send a one-token call through a model's route",
		Long: `Send a one-token, non-streamed call through the route of NAME, as a client's
call would go (target order, retries, fallback), without a key, budget or usage
row. Prints the target that answered, the status, the latency and the
upstream's request id; a failure says whose it is (client, gateway, upstream)
and exits non-zero.`,
		Example: `  tollgate models test team-sonnet
  tollgate models test claude-sonnet-4-5 --json`,
		Args: exactArgs("NAME"),
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := af.client()
		if err != nil {
			return err
		}
		r, err := c.TestModel(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			if err := printJSON(out, r); err != nil {
				return err
			}
		} else {
			verdict := "OK"
			if !r.OK {
				verdict = "FAILED"
			}
			fields := [][2]string{
				{"result", verdict},
				{"model", r.Model},
				{"target", targetOrDash(r.Provider, r.Target)},
				{"status", strconv.Itoa(r.Status)},
				{"latency", strconv.FormatFloat(r.LatencyMS, 'f', 1, 64) + " ms"},
				{"attempts", strconv.Itoa(r.Attempts)},
				{"request id", r.RequestID},
				{"upstream id", cmpOr(r.UpstreamRequestID, "-")},
			}
			if !r.OK {
				fields = append(fields, [2]string{"error", r.ErrorOrigin + ": " + r.Error})
			}
			if err := writeFields(out, fields); err != nil {
				return err
			}
		}
		if !r.OK {
			return errModelTest
		}
		return nil
	}
	return cmd
}

// targetOrDash is "provider:target", or "-" when the test reached no target.
func targetOrDash(provider, target string) string {
	if provider == "" && target == "" {
		return "-"
	}
	return provider + ":" + target
}
