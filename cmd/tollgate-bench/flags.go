package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// options is one benchmark run, as the flags describe it.
type options struct {
	// Size names the preset the run started from ("default" or "small").
	Size string
	// Duration is how long each target is driven in each phase, split
	// over Rounds slices.
	Duration time.Duration
	// Rounds is how many slices each phase is cut into; targets take
	// turns slice by slice (A,B,C, B,C,A, …).
	Rounds int
	// MaxCalls bounds the calls sent to one target in one phase; 0 means
	// only Duration bounds it.
	MaxCalls int
	// Concurrency lists the closed-loop phases: that many clients, each
	// sending its next call when the previous one is answered.
	Concurrency []int
	// Rates lists the open-loop phases, in calls per second, sent on a
	// fixed schedule whatever the answers do.
	Rates []int
	// Stream selects the non-streaming phases (false), streaming (true),
	// or both.
	Stream []bool
	// Warmup is the number of calls sent to each target before the first
	// phase, so that connections are open and heaps sized before anything
	// is measured. They count in the usage rows, not in the figures.
	Warmup int
	// Pin, when set, is "SERVERS:LOAD", two CPU lists for taskset: the
	// three servers on the first, the load generator on the second.
	Pin string
	// BinDir holds prebuilt tollgate, bedrock-sim and tollgate-bench
	// binaries; empty means build them from the module.
	BinDir string
	// LogDir, when set, keeps the servers' stdout and stderr there;
	// otherwise they go to a temporary directory removed after a
	// successful run.
	LogDir string
	// UpstreamAuth is how the gateway authenticates to the simulator:
	// "bearer" (a Bedrock API key, what the proxy sends too) or "sigv4".
	UpstreamAuth string
	// DebugListen, when set, is the gateway's server.debug_listen: pprof
	// and execution traces of the gateway under load.
	DebugListen string
	// Model is the Bedrock model id in the request path.
	Model string
	// MaxTokens is the request's max_tokens.
	MaxTokens int
	// GatewayB, when set, runs a second gateway in the same slices: a
	// tollgate binary, or a git revision of the module to build one from.
	GatewayB string
	// GatewayEnv and GatewayBEnv are KEY=VALUE settings added to the
	// environment of the gateway and of gateway-b (GOGC=200, …); setting
	// GatewayBEnv alone runs gateway-b with A's binary.
	GatewayEnv, GatewayBEnv []string
	// Events, when > 0, adds a closed c=1 phase streaming that many text
	// deltas per call, for the relay's time per event.
	Events int
	// OpenStreams, when > 0, opens that many streams at once through the
	// proxy and each gateway at the end, for memory and goroutines per
	// open stream.
	OpenStreams int
	// Args is the command line, echoed in the report.
	Args []string
}

// presets are the starting points of --size; other flags override them.
var presets = map[string]options{
	"default": {
		Duration:    4 * time.Second,
		Rounds:      4,
		Concurrency: []int{1, 16, 64},
		Rates:       []int{200, 500, 1000},
		Warmup:      300,
		Events:      200,
		OpenStreams: 1000,
	},
	// small is the CI smoke run: every phase and target, a few dozen
	// calls each, seconds in all.
	"small": {
		Duration:    300 * time.Millisecond,
		Rounds:      2,
		MaxCalls:    40,
		Concurrency: []int{1, 4},
		Rates:       []int{100},
		Warmup:      10,
		Events:      20,
		OpenStreams: 20,
	},
}

func parseFlags(args []string, stdout, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("tollgate-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	size := fs.String("size", "default", "`preset`: default (the figures in docs/benchmarks.md) or small (a smoke run of seconds)")
	duration := fs.Duration("duration", 0, "time each target is driven per phase (default: the preset's)")
	rounds := fs.Int("rounds", 0, "slices per phase; targets alternate slice by slice (default: the preset's)")
	maxCalls := fs.Int("max-calls", -1, "most calls per target per phase, 0 = no bound but --duration (default: the preset's)")
	conc := fs.String("concurrency", "", "closed-loop `list` of concurrent clients, e.g. 1,16,64; \"none\" skips closed loop")
	rates := fs.String("rates", "", "open-loop `list` of calls per second, e.g. 200,500,1000; \"none\" skips open loop")
	stream := fs.String("stream", "both", "`mode`: off (InvokeModel), on (InvokeModelWithResponseStream) or both")
	warmup := fs.Int("warmup", -1, "unmeasured calls per target before the first phase (default: the preset's)")
	pin := fs.String("pin", "", "pin with taskset: `SERVERS:LOAD` CPU lists, e.g. 0:1 (servers on CPU 0, load generator on CPU 1)")
	binDir := fs.String("bin", "", "`dir`ectory with prebuilt tollgate, bedrock-sim and tollgate-bench (default: go build them)")
	logDir := fs.String("logs", "", "keep the servers' logs in `dir` (default: a temporary directory, removed after a successful run)")
	upAuth := fs.String("upstream-auth", "bearer", "`auth` the gateway uses toward the simulator: bearer (as the proxy) or sigv4")
	model := fs.String("model", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "Bedrock model `id` in the request path")
	maxTokens := fs.Int("max-tokens", 64, "max_tokens of the request")
	debugListen := fs.String("debug-listen", "", "serve the gateway's pprof and execution traces on this loopback `address` (server.debug_listen), e.g. 127.0.0.1:6060")
	gatewayBFlag := fs.String("gateway-b", "", "A/B run: also drive this tollgate `binary-or-git-rev` (built from that revision) as gateway-b, slice by slice with the others, and report A÷B ratios")
	var gwEnv, gwBEnv envList
	fs.Var(&gwEnv, "gateway-env", "`KEY=VALUE` added to the gateway's environment (repeatable), e.g. GOGC=200")
	fs.Var(&gwBEnv, "gateway-b-env", "`KEY=VALUE` added to gateway-b's environment (repeatable); alone, runs gateway-b with the same binary")
	events := fs.Int("events", -1, "add a closed c=1 phase streaming `N` text deltas per call (relay time per event); 0 skips it (default: the preset's)")
	nOpen := fs.Int("open-streams", -1, "open `N` streams at once through the proxy and the gateway at the end (RSS and goroutines per stream); 0 skips it (default: the preset's)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fs)
			return nil, nil
		}
		return nil, fmt.Errorf("%w (see --help)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	p, ok := presets[*size]
	if !ok {
		return nil, fmt.Errorf("--size %q: want default or small", *size)
	}
	o := p
	o.Size = *size
	o.Args = append([]string(nil), args...)
	if *duration > 0 {
		o.Duration = *duration
	}
	if *rounds > 0 {
		o.Rounds = *rounds
	}
	if *maxCalls >= 0 {
		o.MaxCalls = *maxCalls
	}
	if *warmup >= 0 {
		o.Warmup = *warmup
	}
	if *events >= 0 {
		o.Events = *events
	}
	if *nOpen >= 0 {
		o.OpenStreams = *nOpen
	}
	var err error
	if *conc != "" {
		if o.Concurrency, err = parseInts("--concurrency", *conc); err != nil {
			return nil, err
		}
	}
	if *rates != "" {
		if o.Rates, err = parseInts("--rates", *rates); err != nil {
			return nil, err
		}
	}
	switch *stream {
	case "off":
		o.Stream = []bool{false}
	case "on":
		o.Stream = []bool{true}
	case "both":
		o.Stream = []bool{false, true}
	default:
		return nil, fmt.Errorf("--stream %q: want off, on or both", *stream)
	}
	if *pin != "" {
		s, l, ok := strings.Cut(*pin, ":")
		if !ok || s == "" || l == "" {
			return nil, fmt.Errorf("--pin %q: want SERVERS:LOAD CPU lists, e.g. 0:1", *pin)
		}
	}
	o.Pin = *pin
	o.BinDir = *binDir
	o.LogDir = *logDir
	switch *upAuth {
	case "bearer", "sigv4":
	default:
		return nil, fmt.Errorf("--upstream-auth %q: want bearer or sigv4", *upAuth)
	}
	o.UpstreamAuth = *upAuth
	o.DebugListen = *debugListen
	o.GatewayB = *gatewayBFlag
	o.GatewayEnv, o.GatewayBEnv = gwEnv, gwBEnv
	o.Model = *model
	if *maxTokens < 1 {
		return nil, fmt.Errorf("--max-tokens %d: want at least 1", *maxTokens)
	}
	o.MaxTokens = *maxTokens
	if len(o.Concurrency)+len(o.Rates) == 0 {
		return nil, errors.New("--concurrency none and --rates none leave nothing to run")
	}
	return &o, nil
}

// parseInts parses "1,16,64"; "none" is the empty list.
func parseInts(name, s string) ([]int, error) {
	if s == "none" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a whole number ≥ 1", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: tollgate-bench [flags]

Builds and starts, on 127.0.0.1, the Bedrock simulator, a bare Go reverse
proxy in front of it and the gateway in front of it (SQLite, a virtual key
with a budget and a rate limit, metering and logging on), then sends the same
InvokeModel call to each — direct, proxy, gateway — in interleaved slices:
closed loop at each --concurrency, open loop at each --rates (latency counted
from each call's scheduled send, so a stall is not hidden), streaming and not.
Prints Markdown tables on stdout; progress goes to stderr.

Phases x targets x --duration is the running time (default 12 x 3 x 4s).

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}
