package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// gatewayB is the second gateway of an A/B run: the same config in front of
// the same simulator, another binary (--gateway-b) or other environment
// (--gateway-b-env), driven in the same interleaved slices as the others.
// On a shared, busy machine absolute figures swing between runs by more
// than most changes are worth; A and B measured slice by slice in one run
// see the same noise, so their ratio is the figure to trust.
const gatewayB = "gateway-b"

// names lists the run's targets in report order: direct, proxy, gateway,
// and gateway-b in an A/B run.
func (o options) names() []string {
	if o.abRun() {
		return []string{direct, proxy, gateway, gatewayB}
	}
	return targetNames
}

// abRun reports whether a second gateway runs.
func (o options) abRun() bool { return o.GatewayB != "" || len(o.GatewayBEnv) > 0 }

// isGateway reports whether a target is one of the gateways.
func isGateway(name string) bool { return name == gateway || name == gatewayB }

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, ",") }

func (e *envList) Set(v string) error {
	k, _, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

// gatewayBBinary returns the B gateway's binary: a.Tollgate when
// --gateway-b is unset, the file it names, or else the binary built from it
// as a git revision of the module (git archive into a temporary directory,
// then go build), so that a change can be measured against its base with
// one command.
func gatewayBBinary(ctx context.Context, o options, a binaries, dir string, progress io.Writer) (string, error) {
	if o.GatewayB == "" {
		return a.Tollgate, nil
	}
	if st, err := os.Stat(o.GatewayB); err == nil && st.Mode().IsRegular() {
		return filepath.Abs(o.GatewayB)
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("gateway-b: go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	rev, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--verify", o.GatewayB+"^{commit}").Output()
	if err != nil {
		return "", fmt.Errorf("--gateway-b %q is neither a file nor a git revision of %s", o.GatewayB, root)
	}
	src := filepath.Join(dir, "src-b")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(progress, "building tollgate at %s (%.12s) for gateway-b\n", o.GatewayB, rev)
	tarPath := filepath.Join(dir, "src-b.tar")
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "archive", "-o", tarPath, strings.TrimSpace(string(rev))).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gateway-b: git archive: %w: %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "tar", "-xf", tarPath, "-C", src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gateway-b: tar: %w: %s", err, out)
	}
	bin := filepath.Join(dir, "bin-b", "tollgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tollgate")
	cmd.Dir = src
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("gateway-b: go build at %s: %w\n%s", o.GatewayB, err, stderr.String())
	}
	return bin, nil
}

// startGatewayB starts the second gateway with its own database and data
// directory under dir/b, and creates its virtual key.
func startGatewayB(ctx context.Context, o options, bin, simURL, dir, cpus, logDir string, progress io.Writer) (p *process, key, dbPath string, err error) {
	fmt.Fprintln(progress, "starting tollgate serve (gateway-b)")
	bdir := filepath.Join(dir, "b")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return nil, "", "", err
	}
	gw, err := writeGatewayConfig(bdir, simURL, o.UpstreamAuth, "127.0.0.1:0")
	if err != nil {
		return nil, "", "", err
	}
	env := append(append([]string(nil), gw.env...), o.GatewayBEnv...)
	p, err = startProcess(ctx, gatewayB, []string{bin, "serve", "--config", gw.configPath}, env, cpus, logDir, "/readyz")
	if err != nil {
		return nil, "", "", err
	}
	key, err = createVirtualKey(ctx, p.URL, gw.adminKey)
	if err != nil {
		return p, "", "", errors.Join(err, fmt.Errorf("gateway-b log: %s", filepath.Join(logDir, gatewayB+".err")))
	}
	return p, key, gw.dbPath, nil
}

// writeAB prints the A/B comparison: per phase, the two gateways' latency
// percentiles and CPU per call, and B's figures divided by A's.
func (r *report) writeAB(b *strings.Builder) {
	if !r.Opts.abRun() {
		return
	}
	bdesc := "the same binary"
	if r.Opts.GatewayB != "" {
		bdesc = "`" + r.Opts.GatewayB + "`"
	}
	aenv, benv := "default", "default"
	if len(r.Opts.GatewayEnv) > 0 {
		aenv = "`" + strings.Join(r.Opts.GatewayEnv, " ") + "`"
	}
	if len(r.Opts.GatewayBEnv) > 0 {
		benv = "`" + strings.Join(r.Opts.GatewayBEnv, " ") + "`"
	}
	fmt.Fprintf(b, "\n### A/B: gateway (A: this tree, environment %s) against gateway-b (B: %s, environment %s)\n\n", aenv, bdesc, benv)
	b.WriteString("Both in the same interleaved slices. Ratios are A ÷ B: below 1 means A is faster or cheaper. " +
		"Added latency is over the bare proxy of the same phase.\n\n")
	b.WriteString("| Phase | p50 A / B (ms) | p99 A / B (ms) | added p50 A / B (ms) | added p99 A / B (ms) | CPU µs/call A / B | CPU A÷B | p99 A÷B |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, ph := range r.Phases {
		a, bb, p := ph.Targets[gateway], ph.Targets[gatewayB], ph.Targets[proxy]
		if a == nil || bb == nil || p == nil {
			continue
		}
		ca, cb := a.perCall(a.FrontCPU), bb.perCall(bb.FrontCPU)
		fmt.Fprintf(b, "| %s | %s / %s | %s / %s | %+.3f / %+.3f | %+.3f / %+.3f | %.1f / %.1f | %s | %s |\n", ph.Phase,
			ms(a.Latency.P50), ms(bb.Latency.P50), ms(a.Latency.P99), ms(bb.Latency.P99),
			msf(a.Latency.P50-p.Latency.P50), msf(bb.Latency.P50-p.Latency.P50),
			msf(a.Latency.P99-p.Latency.P99), msf(bb.Latency.P99-p.Latency.P99),
			ca, cb, ratio(ca, cb), ratio(float64(a.Latency.P99), float64(bb.Latency.P99)))
	}
	var pa, pb *procResult
	for i := range r.Procs {
		switch r.Procs[i].Name {
		case gateway:
			pa = &r.Procs[i]
		case gatewayB:
			pb = &r.Procs[i]
		}
	}
	if pa != nil && pb != nil {
		fmt.Fprintf(b, "| **all phases** | | | | | %.1f / %.1f | **%s** | |\n", pa.CPUPerCall, pb.CPUPerCall, ratio(pa.CPUPerCall, pb.CPUPerCall))
		fmt.Fprintf(b, "\nPeak RSS A / B: %s / %s. Usage rows persisted by B: %d for %d calls answered 200.\n",
			mib(pa.End.HWM), mib(pb.End.HWM), r.UsageRowsB, r.GatewayBOK)
	}
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}
