package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Target names, in the order they are reported.
const (
	direct  = "direct"
	proxy   = "proxy"
	gateway = "gateway"
)

var targetNames = []string{direct, proxy, gateway}

// phase is one load shape: closed loop at Concurrency clients, or open loop
// at Rate calls per second; streaming or not.
type phase struct {
	Concurrency int // closed loop when > 0
	Rate        int // open loop when > 0
	Stream      bool
	// Events, when > 0, makes it a stream of that many text deltas, to
	// time the relay per event (streams.go).
	Events int
}

func (p phase) String() string {
	s := fmt.Sprintf("closed c=%d", p.Concurrency)
	if p.Rate > 0 {
		s = fmt.Sprintf("open %d/s", p.Rate)
	}
	if p.Events > 0 {
		return fmt.Sprintf("%s stream of %d events", s, p.Events)
	}
	if p.Stream {
		return s + " stream"
	}
	return s
}

// phases lists the run's phases: non-streaming first, closed loop before
// open loop, in the order of the flags.
func (o options) phases() []phase {
	var ps []phase
	for _, st := range o.Stream {
		for _, c := range o.Concurrency {
			ps = append(ps, phase{Concurrency: c, Stream: st})
		}
		for _, r := range o.Rates {
			ps = append(ps, phase{Rate: r, Stream: st})
		}
	}
	if o.Events > 0 && slices.Contains(o.Stream, true) {
		ps = append(ps, phase{Concurrency: 1, Stream: true, Events: o.Events})
	}
	return ps
}

// targetResult is one target's figures in one phase.
type targetResult struct {
	Sent, OK, Errors int
	// FirstError is why the first failed call failed.
	FirstError string
	// Wall is the time the target was driven (the sum of its slices).
	Wall time.Duration
	// Latency is to the last byte, FirstByte to the first byte of the body.
	Latency, FirstByte percentiles
	// FrontCPU is the CPU time of the process in front of the simulator
	// (the proxy or the gateway) over the whole phase, background work
	// included; zero for direct.
	FrontCPU time.Duration
	// SimCPU is the simulator's CPU time during this target's slices.
	SimCPU time.Duration
}

// perCall divides d by the calls answered, in microseconds.
func (r targetResult) perCall(d time.Duration) float64 {
	if r.OK == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(r.OK)
}

// phaseResult is one phase: every target's figures and the servers' memory
// at its end.
type phaseResult struct {
	Phase   phase
	Targets map[string]*targetResult
	RSS     map[string]int64
}

// procResult is what one server process cost over the whole run.
type procResult struct {
	Name       string
	Ready      time.Duration
	IdleRSS    int64
	End        procStats
	CPU        time.Duration // over the measured phases
	Calls      int           // answered calls it served in the measured phases
	CPUPerCall float64       // µs
}

// report is the outcome of a run.
type report struct {
	Opts      options
	Machine   machine
	Pinned    string // how pinning was applied, "" when not
	Started   time.Time
	Elapsed   time.Duration
	LoadAvg   [2]string // /proc/loadavg at start and end
	Phases    []phaseResult
	Procs     []procResult
	Warmup    map[string]int // answered warm-up calls per target
	GatewayOK int            // calls the gateway answered 200, warm-up included
	UsageRows int            // rows in usage_records after a graceful stop
	// GatewayBOK and UsageRowsB are the same for gateway-b in an A/B run.
	GatewayBOK, UsageRowsB int
	// OpenStreams is the open-streams measurement, per front server.
	OpenStreams []openStreamsResult
}

// bench runs the benchmark described by o, logging progress to progress.
func bench(ctx context.Context, o options, progress io.Writer) (rep *report, err error) {
	rep = &report{Opts: o, Started: time.Now(), Machine: describeMachine(), Warmup: map[string]int{}}
	rep.LoadAvg[0] = loadAvg()
	dir, err := os.MkdirTemp("", "tollgate-bench-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			os.RemoveAll(dir)
		} else {
			fmt.Fprintf(progress, "kept %s for the servers' logs\n", dir)
		}
	}()

	var bins binaries
	if o.BinDir != "" {
		bins, err = locateBinaries(o.BinDir)
	} else {
		bins, err = buildBinaries(ctx, filepath.Join(dir, "bin"), progress)
	}
	if err != nil {
		return nil, err
	}

	serverCPUs := ""
	if o.Pin != "" {
		s, l, _ := strings.Cut(o.Pin, ":")
		if err := pinSelf(ctx, l); err != nil {
			return nil, err
		}
		serverCPUs = s
		rep.Pinned = fmt.Sprintf("servers on CPU %s, load generator on CPU %s (taskset)", s, l)
	}

	st, err := startServers(ctx, o, bins, dir, serverCPUs, progress)
	if st != nil {
		defer st.stopAll()
	}
	if err != nil {
		return nil, err
	}

	maxConns := 64
	for _, c := range o.Concurrency {
		maxConns = max(maxConns, c)
	}
	targets := map[string]*target{
		direct:  newTarget(direct, st.sim.URL, simAPIKey, maxConns),
		proxy:   newTarget(proxy, st.proxy.URL, simAPIKey, maxConns),
		gateway: newTarget(gateway, st.gateway.URL, st.virtualKey, maxConns),
	}
	if st.gatewayB != nil {
		targets[gatewayB] = newTarget(gatewayB, st.gatewayB.URL, st.virtualKeyB, maxConns)
	}

	// Warm-up: every target, both operations, a few clients at once.
	fmt.Fprintf(progress, "warm-up: %d calls per target\n", o.Warmup)
	for _, name := range o.names() {
		for _, stream := range o.Stream {
			var s samples
			sent := closedLoop(ctx, targets[name], newCall(o.Model, o.MaxTokens, stream), stream, 4, 30*time.Second, o.Warmup/len(o.Stream)+1, &s)
			rep.Warmup[name] += len(s.latency)
			if s.errors > 0 {
				return nil, fmt.Errorf("warm-up: %s: %d of %d calls failed, the first: %s", name, s.errors, sent, s.firstError)
			}
		}
	}
	rep.GatewayOK = rep.Warmup[gateway]
	rep.GatewayBOK = rep.Warmup[gatewayB]

	procs := map[string]*process{"sim": st.sim, proxy: st.proxy, gateway: st.gateway}
	procNames := []string{"sim", proxy, gateway}
	if st.gatewayB != nil {
		procs[gatewayB] = st.gatewayB
		procNames = append(procNames, gatewayB)
	}
	totals := map[string]*procResult{}
	for _, name := range procNames {
		totals[name] = &procResult{Name: name, Ready: procs[name].Ready, IdleRSS: st.idleRSS[name]}
	}

	// Open streams first, on servers that have only served the warm-up:
	// what 1,000 streams cost a fresh process, not one whose heap a
	// saturating phase has grown.
	if o.OpenStreams > 0 {
		for _, name := range o.names() {
			if name == direct {
				continue
			}
			fmt.Fprintf(progress, "open streams: %d at once through %s\n", o.OpenStreams, name)
			res, err := openStreams(ctx, o, targets[name], procs[name], st.debugURL[name], o.OpenStreams)
			if err != nil {
				return nil, err
			}
			rep.OpenStreams = append(rep.OpenStreams, res)
			if isGateway(name) {
				if name == gateway {
					rep.GatewayOK += res.Streams
				} else {
					rep.GatewayBOK += res.Streams
				}
			}
		}
	}

	for i, ph := range o.phases() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "phase %d/%d: %s\n", i+1, len(o.phases()), ph)
		pr, err := runPhase(ctx, o, ph, targets, procs)
		if err != nil {
			return nil, fmt.Errorf("phase %s: %w", ph, err)
		}
		rep.Phases = append(rep.Phases, *pr)
		rep.GatewayOK += pr.Targets[gateway].OK
		if t := pr.Targets[gatewayB]; t != nil {
			rep.GatewayBOK += t.OK
		}
		for _, name := range o.names() {
			r := pr.Targets[name]
			totals["sim"].CPU += r.SimCPU
			totals["sim"].Calls += r.OK
			if name != direct {
				totals[name].CPU += r.FrontCPU
				totals[name].Calls += r.OK
			}
		}
		for _, name := range o.names() {
			if t := pr.Targets[name]; t.Errors > 0 {
				fmt.Fprintf(progress, "  %s: %d calls failed, the first: %s\n", name, t.Errors, t.FirstError)
			}
		}
	}

	for _, name := range procNames {
		t := totals[name]
		t.End, _ = readProcStats(procs[name].pid())
		if t.Calls > 0 {
			t.CPUPerCall = float64(t.CPU.Microseconds()) / float64(t.Calls)
		}
		rep.Procs = append(rep.Procs, *t)
	}
	rep.LoadAvg[1] = loadAvg()

	// A graceful stop makes the gateway drain its usage writer; then the
	// rows are counted in its database.
	fmt.Fprintln(progress, "stopping the gateway and counting its usage rows")
	if err := st.gateway.stop(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if rep.UsageRows, err = countUsageRows(ctx, st.dbPath); err != nil {
		return nil, err
	}
	if st.gatewayB != nil {
		if err := st.gatewayB.stop(); err != nil {
			return nil, fmt.Errorf("gateway-b: %w", err)
		}
		if rep.UsageRowsB, err = countUsageRows(ctx, st.dbPathB); err != nil {
			return nil, err
		}
	}
	rep.Elapsed = time.Since(rep.Started)
	return rep, nil
}

// runPhase drives every target through ph in o.Rounds interleaved slices:
// round r starts with target r mod 3, so that no target always follows the
// same one.
func runPhase(ctx context.Context, o options, ph phase, targets map[string]*target, procs map[string]*process) (*phaseResult, error) {
	pr := &phaseResult{Phase: ph, Targets: map[string]*targetResult{}, RSS: map[string]int64{}}
	all := map[string]*samples{}
	names := o.names()
	for _, name := range names {
		pr.Targets[name] = &targetResult{}
		all[name] = &samples{}
	}
	front := map[string]*process{proxy: procs[proxy], gateway: procs[gateway]}
	if p := procs[gatewayB]; p != nil {
		front[gatewayB] = p
	}
	before := map[string]procStats{}
	for name, p := range front {
		s, err := readProcStats(p.pid())
		if err != nil {
			return nil, err
		}
		before[name] = s
	}
	c := phaseCall(o, ph)
	slice := o.Duration / time.Duration(o.Rounds)
	for r := range o.Rounds {
		for k := range names {
			name := names[(r+k)%len(names)]
			tr := pr.Targets[name]
			left := 0 // calls this slice may send; 0 = no bound
			if o.MaxCalls > 0 {
				left = (o.MaxCalls - tr.Sent) / (o.Rounds - r)
				if left < 1 {
					continue
				}
			}
			simBefore, err := readProcStats(procs["sim"].pid())
			if err != nil {
				return nil, err
			}
			start := time.Now()
			if ph.Rate > 0 {
				tr.Sent += openLoop(ctx, targets[name], c, ph.Stream, ph.Rate, slice, left, all[name])
			} else {
				tr.Sent += closedLoop(ctx, targets[name], c, ph.Stream, ph.Concurrency, slice, left, all[name])
			}
			tr.Wall += time.Since(start)
			simAfter, err := readProcStats(procs["sim"].pid())
			if err != nil {
				return nil, err
			}
			tr.SimCPU += simAfter.CPU - simBefore.CPU
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	for name, p := range front {
		s, err := readProcStats(p.pid())
		if err != nil {
			return nil, err
		}
		pr.Targets[name].FrontCPU = s.CPU - before[name].CPU
		pr.RSS[name] = s.RSS
	}
	if s, err := readProcStats(procs["sim"].pid()); err == nil {
		pr.RSS["sim"] = s.RSS
	}
	for name, s := range all {
		tr := pr.Targets[name]
		tr.OK, tr.Errors, tr.FirstError = len(s.latency), s.errors, s.firstError
		tr.Latency, tr.FirstByte = percentilesOf(s.latency), percentilesOf(s.firstByte)
	}
	return pr, nil
}

// servers are the processes under test.
type servers struct {
	sim, proxy, gateway *process
	virtualKey          string
	dbPath              string
	idleRSS             map[string]int64
	// debugURL is each gateway's debug listener.
	debugURL map[string]string
	// gatewayB runs only in an A/B run.
	gatewayB             *process
	virtualKeyB, dbPathB string
}

// stopAll stops every server still running, gateway first (it drains into
// the simulator), and reports nothing: errors that matter were reported by
// the explicit stop in bench.
func (s *servers) stopAll() {
	for _, p := range []*process{s.gateway, s.gatewayB, s.proxy, s.sim} {
		if p != nil {
			_ = p.stop()
		}
	}
}

// simAPIKey is the Bedrock API key the simulator accepts; the load generator
// sends it to the simulator and the proxy, the gateway sends it upstream.
const simAPIKey = "tollgate-bench-sim-key"

// startServers starts the simulator, the proxy and the gateway, and creates
// the gateway's virtual key. On error the servers already started are
// returned too, for the caller to stop.
func startServers(ctx context.Context, o options, bins binaries, dir, cpus string, progress io.Writer) (*servers, error) {
	st := &servers{idleRSS: map[string]int64{}, debugURL: map[string]string{}}
	logDir := o.LogDir
	if logDir == "" {
		logDir = filepath.Join(dir, "logs")
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return st, err
	}
	var err error
	fmt.Fprintln(progress, "starting bedrock-sim")
	st.sim, err = startProcess(ctx, "sim", []string{bins.Sim, "--listen", "127.0.0.1:0", "--api-key", simAPIKey}, nil, cpus, logDir, "")
	if err != nil {
		return st, err
	}
	fmt.Fprintln(progress, "starting the bare proxy")
	st.proxy, err = startProcess(ctx, "proxy", []string{bins.Bench, "proxy", "--listen", "127.0.0.1:0", "--upstream", st.sim.URL}, nil, cpus, logDir, "")
	if err != nil {
		return st, err
	}
	fmt.Fprintln(progress, "starting tollgate serve")
	debugListen := o.DebugListen
	if debugListen == "" {
		// Always on, on a free loopback port: the open-streams phase counts
		// the gateway's goroutines there. Idle, it costs nothing.
		debugListen = "127.0.0.1:0"
	}
	gw, err := writeGatewayConfig(dir, st.sim.URL, o.UpstreamAuth, debugListen)
	if err != nil {
		return st, err
	}
	st.dbPath = gw.dbPath
	st.gateway, err = startProcess(ctx, "gateway", []string{bins.Tollgate, "serve", "--config", gw.configPath}, append(gw.env, o.GatewayEnv...), cpus, logDir, "/readyz")
	if err != nil {
		return st, err
	}
	if st.debugURL[gateway], err = debugURLOf(logDir, gateway); err != nil {
		return st, err
	}
	if o.abRun() {
		bin, err := gatewayBBinary(ctx, o, bins, dir, progress)
		if err != nil {
			return st, err
		}
		st.gatewayB, st.virtualKeyB, st.dbPathB, err = startGatewayB(ctx, o, bin, st.sim.URL, dir, cpus, logDir, progress)
		if err != nil {
			return st, err
		}
		if st.debugURL[gatewayB], err = debugURLOf(logDir, gatewayB); err != nil {
			return st, err
		}
	}
	running := map[string]*process{"sim": st.sim, proxy: st.proxy, gateway: st.gateway}
	if st.gatewayB != nil {
		running[gatewayB] = st.gatewayB
	}
	for name, p := range running {
		s, err := readProcStats(p.pid())
		if err != nil {
			return st, err
		}
		st.idleRSS[name] = s.RSS
	}
	st.virtualKey, err = createVirtualKey(ctx, st.gateway.URL, gw.adminKey)
	if err != nil {
		return st, errors.Join(err, fmt.Errorf("gateway log: %s", filepath.Join(logDir, "gateway.err")))
	}
	return st, nil
}
