package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // schemas for the PostgreSQL replicas, and their statistics
)

// The `replicas` scenario: what sharing budgets through PostgreSQL costs a
// call. One run, interleaved slice by slice like the main benchmark, drives
//
//   - direct: the simulator itself, the baseline;
//   - sqlite×1: one `tollgate serve` on SQLite (in-process budgets);
//   - pg×1: one replica on PostgreSQL (the budget enforced through leases);
//   - pg×3: three replicas on one PostgreSQL schema, a round-robin client
//     spreading calls over them, one budget shared through leases;
//
// with the same InvokeModel call at a fixed concurrency, each gateway with
// a virtual key carrying a budget and a rate limit. It reports throughput,
// latency added over direct, CPU per call summed over a target's replicas,
// and the writes to the lease tables (budget_leases, budget_spend) per
// call, from PostgreSQL's own statistics for the target's schema.

// replicaOptions is one run of the scenario.
type replicaOptions struct {
	Duration    time.Duration // per target, over all rounds
	Rounds      int
	Concurrency int
	Warmup      int
	Postgres    string // base URL; a schema per PostgreSQL target is created and dropped
	BinDir      string
	Model       string
	MaxTokens   int
	Args        []string
}

// envBenchPostgres names the PostgreSQL the scenario uses when --postgres
// is not given (the test server's variable).
const envBenchPostgres = "TOLLGATE_TEST_POSTGRES_URL"

func parseReplicaFlags(args []string, stdout, stderr io.Writer) (*replicaOptions, error) {
	fs := flag.NewFlagSet("tollgate-bench replicas", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &replicaOptions{Args: append([]string{"replicas"}, args...)}
	size := fs.String("size", "default", "`preset`: default (8s per target in 8 rounds, 16 clients) or small (a smoke run)")
	dur := fs.Duration("duration", 0, "time each target is driven, over all rounds (default: the preset's)")
	rounds := fs.Int("rounds", 0, "slices; targets alternate slice by slice (default: the preset's)")
	conc := fs.Int("concurrency", 0, "concurrent clients, closed loop (default: the preset's)")
	fs.StringVar(&o.Postgres, "postgres", os.Getenv(envBenchPostgres), "PostgreSQL `url` (default $"+envBenchPostgres+"); two schemas are created in it and dropped")
	fs.StringVar(&o.BinDir, "bin", "", "`dir`ectory with prebuilt tollgate, bedrock-sim and tollgate-bench (default: go build them)")
	fs.StringVar(&o.Model, "model", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "Bedrock model `id` in the request path")
	fs.IntVar(&o.MaxTokens, "max-tokens", 64, "max_tokens of the request")
	fs.Usage = func() {
		fmt.Fprint(stdout, `Usage: tollgate-bench replicas [flags]

Compares, in one interleaved run on 127.0.0.1, the simulator called directly,
one tollgate on SQLite, one on PostgreSQL and three on one PostgreSQL behind a
round-robin client, each gateway with a virtual key whose budget is enforced
(through leases on PostgreSQL). Prints a Markdown table on stdout.

Flags:
`)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w (see replicas --help)", err)
	}
	switch *size {
	case "default":
		o.Duration, o.Rounds, o.Concurrency, o.Warmup = 8*time.Second, 8, 16, 300
	case "small":
		o.Duration, o.Rounds, o.Concurrency, o.Warmup = 600*time.Millisecond, 2, 4, 20
	default:
		return nil, fmt.Errorf("--size %q: want default or small", *size)
	}
	if *dur > 0 {
		o.Duration = *dur
	}
	if *rounds > 0 {
		o.Rounds = *rounds
	}
	if *conc > 0 {
		o.Concurrency = *conc
	}
	if o.Postgres == "" {
		return nil, errors.New("replicas: no PostgreSQL: pass --postgres or set $" + envBenchPostgres + ` (eval "$(scripts/postgres.sh)")`)
	}
	return o, nil
}

// replicaTarget is one row of the report: one or more processes called
// round-robin.
type replicaTarget struct {
	Name    string
	targets []*target
	procs   []*process
	schema  string // the PostgreSQL schema, "" for none
	next    atomic.Uint64

	samples samples
	sent    int
	wall    time.Duration
	cpu     time.Duration
	calls   int   // every answered call, warm-up included, for the lease writes
	writes  int64 // rows written to the lease tables over the run
}

func (rt *replicaTarget) pick() *target {
	return rt.targets[int(rt.next.Add(1)-1)%len(rt.targets)]
}

func (rt *replicaTarget) cpuNow() (time.Duration, error) {
	var sum time.Duration
	for _, p := range rt.procs {
		s, err := readProcStats(p.pid())
		if err != nil {
			return 0, err
		}
		sum += s.CPU
	}
	return sum, nil
}

// loop runs n clients against rt for d, each call going to the next
// replica in turn.
func (rt *replicaTarget) loop(ctx context.Context, c call, n int, d time.Duration, into *samples) int {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	end := time.Now().Add(d)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			var b bytes.Buffer
			var rs []result
			for time.Now().Before(end) && ctx.Err() == nil {
				sent.Add(1)
				rs = append(rs, rt.pick().do(ctx, c, false, time.Now(), &b))
			}
			into.add(rs)
		})
	}
	wg.Wait()
	return int(sent.Load())
}

// runReplicas runs the scenario and prints its table on stdout.
func runReplicas(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseReplicaFlags(args, stdout, stderr)
	if err != nil || o == nil {
		return err
	}
	started := time.Now()
	load0 := loadAvg()
	dir, err := os.MkdirTemp("", "tollgate-bench-replicas-")
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			os.RemoveAll(dir)
		} else {
			fmt.Fprintf(stderr, "kept %s for the servers' logs\n", dir)
		}
	}()
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	var bins binaries
	if o.BinDir != "" {
		bins, err = locateBinaries(o.BinDir)
	} else {
		bins, err = buildBinaries(ctx, filepath.Join(dir, "bin"), stderr)
	}
	if err != nil {
		return err
	}

	db, err := sql.Open("pgx", o.Postgres)
	if err != nil {
		return fmt.Errorf("replicas: %w", err)
	}
	defer db.Close()
	var rnd [4]byte
	rand.Read(rnd[:])
	schemas := []string{"tg_bench_" + hex.EncodeToString(rnd[:]) + "_1", "tg_bench_" + hex.EncodeToString(rnd[:]) + "_3"}
	for _, s := range schemas {
		if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+s); err != nil {
			return fmt.Errorf("replicas: create schema: %w", err)
		}
		defer db.ExecContext(context.WithoutCancel(ctx), "DROP SCHEMA "+s+" CASCADE")
	}

	var all []*process
	defer func() {
		for _, p := range all {
			_ = p.stop()
		}
	}()
	start := func(name string, argv, env []string, probe string) (*process, error) {
		p, err := startProcess(ctx, name, argv, env, "", logDir, probe)
		if err == nil {
			all = append(all, p)
		}
		return p, err
	}
	fmt.Fprintln(stderr, "starting bedrock-sim")
	sim, err := start("sim", []string{bins.Sim, "--listen", "127.0.0.1:0", "--api-key", simAPIKey}, nil, "")
	if err != nil {
		return err
	}
	// gateway starts one `tollgate serve` on dsn ("" for SQLite).
	gateway := func(name, dsn, adminKey string) (*process, string, error) {
		gdir := filepath.Join(dir, name)
		if err := os.MkdirAll(gdir, 0o755); err != nil {
			return nil, "", err
		}
		g, err := writeGatewayConfig(gdir, sim.URL, "bearer", "")
		if err != nil {
			return nil, "", err
		}
		if adminKey != "" {
			// Replicas of one database share its admin key (the last
			// entry of a variable wins).
			g.adminKey = adminKey
			g.env = append(g.env, "TOLLGATE_ADMIN_KEY="+adminKey)
		}
		if dsn != "" {
			if err := usePostgres(g.configPath, dsn); err != nil {
				return nil, "", err
			}
		}
		fmt.Fprintf(stderr, "starting tollgate serve (%s)\n", name)
		p, err := start(name, []string{bins.Tollgate, "serve", "--config", g.configPath}, g.env, "/readyz")
		return p, g.adminKey, err
	}
	dsn := func(schema string) string {
		u, _ := url.Parse(o.Postgres)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}

	maxConns := max(64, o.Concurrency)
	direct := &replicaTarget{Name: "direct", targets: []*target{newTarget(direct, sim.URL, simAPIKey, maxConns)}, procs: []*process{sim}}
	sqliteT := &replicaTarget{Name: "sqlite×1"}
	pg1 := &replicaTarget{Name: "pg×1", schema: schemas[0]}
	pg3 := &replicaTarget{Name: "pg×3", schema: schemas[1]}
	for _, spec := range []struct {
		rt   *replicaTarget
		n    int
		dsn  string
		name string
	}{{sqliteT, 1, "", "sqlite"}, {pg1, 1, dsn(schemas[0]), "pg1"}, {pg3, 3, dsn(schemas[1]), "pg3"}} {
		var admin string
		for i := range spec.n {
			p, key, err := gateway(fmt.Sprintf("%s-%d", spec.name, i), spec.dsn, admin)
			if err != nil {
				return err
			}
			if i == 0 {
				admin = key
			}
			spec.rt.procs = append(spec.rt.procs, p)
		}
		// One key for the target, created on its first replica; the
		// others hear of it through LISTEN/NOTIFY.
		secret, err := createVirtualKey(ctx, spec.rt.procs[0].URL, admin)
		if err != nil {
			return err
		}
		for _, p := range spec.rt.procs {
			spec.rt.targets = append(spec.rt.targets, newTarget(spec.rt.Name, p.URL, secret, maxConns))
		}
	}
	targets := []*replicaTarget{direct, sqliteT, pg1, pg3}
	c := newCall(o.Model, o.MaxTokens, false)

	// Warm-up, which also waits for every replica to know its key.
	fmt.Fprintf(stderr, "warm-up: %d calls per target\n", o.Warmup)
	for _, rt := range targets {
		for _, t := range rt.targets {
			deadline := time.Now().Add(10 * time.Second)
			for {
				var b bytes.Buffer
				r := t.do(ctx, c, false, time.Now(), &b)
				if r.OK {
					rt.calls++
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s: %s does not answer: %s", rt.Name, t.base, r.Why)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		var s samples
		sent := closedLoopRR(ctx, rt, c, 4, o.Warmup, &s)
		if s.errors > 0 {
			return fmt.Errorf("warm-up: %s: %d of %d calls failed, the first: %s", rt.Name, s.errors, sent, s.firstError)
		}
		rt.calls += len(s.latency)
	}
	slice := o.Duration / time.Duration(o.Rounds)
	for r := range o.Rounds {
		fmt.Fprintf(stderr, "round %d/%d\n", r+1, o.Rounds)
		for k := range targets {
			rt := targets[(r+k)%len(targets)]
			cpu0, err := rt.cpuNow()
			if err != nil {
				return err
			}
			t0 := time.Now()
			rt.sent += rt.loop(ctx, c, o.Concurrency, slice, &rt.samples)
			rt.wall += time.Since(t0)
			cpu1, err := rt.cpuNow()
			if err != nil {
				return err
			}
			rt.cpu += cpu1 - cpu0
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	// PostgreSQL publishes table statistics within a second or so.
	time.Sleep(1500 * time.Millisecond)
	for _, rt := range targets {
		rt.calls += len(rt.samples.latency)
		if rt.schema != "" {
			if rt.writes, err = leaseWrites(ctx, db, rt.schema); err != nil {
				return err
			}
		}
	}
	load1 := loadAvg()
	return writeReplicaReport(stdout, o, targets, started, load0, load1)
}

// closedLoopRR sends n calls over 4 clients to rt, round-robin, for the
// warm-up.
func closedLoopRR(ctx context.Context, rt *replicaTarget, c call, clients, n int, into *samples) int {
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var b bytes.Buffer
			var rs []result
			for left.Add(-1) >= 0 && ctx.Err() == nil {
				rs = append(rs, rt.pick().do(ctx, c, false, time.Now(), &b))
			}
			into.add(rs)
		})
	}
	wg.Wait()
	return n
}

// leaseWrites is the number of rows inserted, updated or deleted in the
// lease tables of schema (created by this run, so counted from zero): every lease
// grant, renewal, flush and give-back writes some.
func leaseWrites(ctx context.Context, db *sql.DB, schema string) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables
		WHERE schemaname = $1 AND relname IN ('budget_leases', 'budget_spend')`, schema).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("replicas: lease statistics: %w", err)
	}
	return n, nil
}

// usePostgres points the config file at dsn instead of its SQLite file.
func usePostgres(path, dsn string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "database: ") {
			line = fmt.Sprintf("database: %q", dsn)
		}
		out = append(out, line)
	}
	return os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o600)
}

func writeReplicaReport(w io.Writer, o *replicaOptions, targets []*replicaTarget, started time.Time, load0, load1 string) error {
	m := describeMachine()
	fmt.Fprintf(w, "## Replicas: shared budgets on PostgreSQL\n\n")
	fmt.Fprintf(w, "`tollgate-bench %s` on %d CPUs (%s), %s RAM, Linux %s, %s; load average %s at the start, %s at the end; %v.\n\n",
		strings.Join(o.Args, " "), m.CPUs, m.CPUModel, m.MemTotal, m.Kernel, m.GoVer, load0, load1, time.Since(started).Round(time.Second))
	fmt.Fprintf(w, "Closed loop, %d clients, non-streaming InvokeModel, %v per target in %d interleaved slices. "+
		"CPU is the target's processes (all its replicas; not the simulator's, not PostgreSQL's). "+
		"Lease writes are rows inserted, updated or deleted in budget_leases and budget_spend, per answered call, warm-up included.\n\n",
		o.Concurrency, o.Duration, o.Rounds)
	fmt.Fprintln(w, "| Target | Calls OK | Errors | Calls/s | p50 ms | p99 ms | Added p50 ms | Added p99 ms | CPU µs/call | Lease writes/call |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	base := percentilesOf(targets[0].samples.latency)
	for _, rt := range targets {
		p := percentilesOf(rt.samples.latency)
		ok := len(rt.samples.latency)
		rate := 0.0
		if rt.wall > 0 {
			rate = float64(ok) / rt.wall.Seconds()
		}
		cpu := 0.0
		if ok > 0 {
			cpu = float64(rt.cpu.Microseconds()) / float64(ok)
		}
		added, writes := "— | —", "—"
		if rt != targets[0] {
			added = fmt.Sprintf("%+.3f | %+.3f", ms64(p.P50-base.P50), ms64(p.P99-base.P99))
		}
		if rt.schema != "" && rt.calls > 0 {
			writes = fmt.Sprintf("%.3f", float64(rt.writes)/float64(rt.calls))
		}
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %s | %s | %s | %.0f | %s |\n",
			rt.Name, ok, rt.samples.errors, rate, ms(p.P50), ms(p.P99), added, cpu, writes)
	}
	fmt.Fprintln(w)
	for _, rt := range targets {
		if rt.samples.errors > 0 {
			fmt.Fprintf(w, "%s: the first error: %s\n", rt.Name, rt.samples.firstError)
		}
	}
	return nil
}

func ms64(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
