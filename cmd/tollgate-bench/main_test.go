package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
)

// EnvSmoke turns on TestSmoke, which builds the binaries and runs the whole
// harness at its smallest size (tens of seconds, most of it `go build`).
// scripts/test.sh sets it.
const EnvSmoke = "TOLLGATE_BENCH_SMOKE"

// TestSmoke runs the benchmark end to end at --size small: three real
// processes on loopback, every phase and target. It checks that every call
// was answered, that the report has a row for each, and that the gateway
// persisted exactly one usage row per call it answered. It asserts nothing
// about time.
func TestSmoke(t *testing.T) {
	if os.Getenv(EnvSmoke) != "1" {
		const how = EnvSmoke + "=1 is not set; the benchmark smoke test builds three binaries and runs them"
		if os.Getenv("CI") == "true" {
			t.Fatal(how + " (CI=true: the smoke test must run)")
		}
		t.Skip(how)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	opts, err := parseFlags([]string{"--size", "small"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	rep, err := bench(ctx, *opts, &progress)
	if err != nil {
		t.Fatalf("bench: %v\nprogress:\n%s", err, progress.String())
	}
	var out bytes.Buffer
	if err := rep.writeMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	t.Logf("report:\n%s", md)

	phases := opts.phases()
	if len(rep.Phases) != len(phases) {
		t.Fatalf("report has %d phases, want %d", len(rep.Phases), len(phases))
	}
	for _, ph := range rep.Phases {
		for _, name := range targetNames {
			tr := ph.Targets[name]
			if tr.OK == 0 || tr.Errors != 0 {
				t.Errorf("%s %s: %d answered, %d failed (first: %q), want some answered and none failed", ph.Phase, name, tr.OK, tr.Errors, tr.FirstError)
			}
			if row := "| " + ph.Phase.String() + " | " + name + " |"; !strings.Contains(md, row) {
				t.Errorf("report lacks the row %q", row)
			}
		}
		if ph.Phase.Stream && !strings.Contains(md, "| "+ph.Phase.String()+", first byte |") {
			t.Errorf("report lacks the first-byte row of %s", ph.Phase)
		}
	}
	if rep.GatewayOK == 0 || rep.UsageRows != rep.GatewayOK {
		t.Errorf("usage rows = %d, want %d (one per call the gateway answered 200)", rep.UsageRows, rep.GatewayOK)
	}
	// The stream path's figures: a per-event row per front server, and
	// every open stream opened (no time is checked).
	if len(rep.OpenStreams) != 2 {
		t.Errorf("open streams measured for %d servers, want 2 (proxy, gateway)", len(rep.OpenStreams))
	}
	for _, s := range rep.OpenStreams {
		if s.Streams != opts.OpenStreams || s.Failed != 0 {
			t.Errorf("open streams through %s: %d open, %d failed, want %d and 0", s.Target, s.Streams, s.Failed, opts.OpenStreams)
		}
		if s.Target == gateway && s.GoroutinesOpen <= s.GoroutinesBefore {
			t.Errorf("gateway goroutines %d → %d with %d streams open, want more", s.GoroutinesBefore, s.GoroutinesOpen, s.Streams)
		}
	}
	for _, want := range []string{"### Processes", "| gateway |", "### Against TARGETS.md", "Usage rows persisted",
		"### Stream relay: added time per event", "### Open streams"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--size", "small", "--concurrency", "2,8", "--rates", "none", "--stream", "on", "--pin", "0:1"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := o.phases()
	want := []phase{{Concurrency: 2, Stream: true}, {Concurrency: 8, Stream: true}, {Concurrency: 1, Stream: true, Events: presets["small"].Events}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("phases (-want +got):\n%s", diff)
	}
	if o.Pin != "0:1" || o.MaxCalls != presets["small"].MaxCalls {
		t.Errorf("Pin, MaxCalls = %q, %d, want 0:1, %d", o.Pin, o.MaxCalls, presets["small"].MaxCalls)
	}

	for name, args := range map[string][]string{
		"unknown size":        {"--size", "huge"},
		"bad list":            {"--concurrency", "1,x"},
		"zero rate":           {"--rates", "0"},
		"bad stream":          {"--stream", "sometimes"},
		"bad pin":             {"--pin", "0"},
		"bad upstream auth":   {"--upstream-auth", "none"},
		"nothing to run":      {"--concurrency", "none", "--rates", "none"},
		"positional argument": {"extra"},
	} {
		if _, err := parseFlags(args, io.Discard, io.Discard); err == nil {
			t.Errorf("%s: parseFlags(%q) = nil error, want one", name, args)
		}
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-concurrency", "-rates", "-pin", "-size", "open loop"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := percentilesOf(ds)
	want := percentiles{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond, N: 100}
	if got != want {
		t.Errorf("percentilesOf(1..100 ms) = %+v, want %+v", got, want)
	}
	if got := percentilesOf(nil); got != (percentiles{}) {
		t.Errorf("percentilesOf(nil) = %+v, want zero", got)
	}
	if got := percentilesOf([]time.Duration{7}); got.P50 != 7 || got.P99 != 7 || got.Max != 7 {
		t.Errorf("percentilesOf([7]) = %+v, want 7 everywhere", got)
	}
}

func TestReadProcStats(t *testing.T) {
	s, err := readProcStats(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS || s.Threads < 1 {
		t.Errorf("readProcStats(self) = %+v, want RSS > 0, HWM ≥ RSS, threads ≥ 1", s)
	}
}

// startProxy runs the proxy subcommand in front of upstream until the test
// ends and returns its URL.
func startProxy(t *testing.T, upstream string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runProxy(ctx, []string{"--upstream", upstream}, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("proxy printed no start line")
	}
	go io.Copy(io.Discard, pr)
	m := servingRE.FindStringSubmatch(sc.Text())
	if m == nil {
		t.Fatalf("proxy start line %q has no URL", sc.Text())
	}
	return m[1]
}

// TestLoops drives an in-process simulator through the proxy subcommand
// with both loops and both operations, and checks the counts.
func TestLoops(t *testing.T) {
	sim := httptest.NewServer(bedrocksim.New(bedrocksim.Options{APIKey: simAPIKey, MaxRecorded: 1}))
	defer sim.Close()
	proxyURL := startProxy(t, sim.URL)
	for _, stream := range []bool{false, true} {
		tg := newTarget("proxy", proxyURL, simAPIKey, 4)
		c := newCall("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 16, stream)
		var s samples
		if n := closedLoop(t.Context(), tg, c, stream, 3, 10*time.Second, 12, &s); n != 12 {
			t.Errorf("closedLoop(stream=%v) sent %d, want 12", stream, n)
		}
		if n := openLoop(t.Context(), tg, c, stream, 1000, 10*time.Second, 9, &s); n != 9 {
			t.Errorf("openLoop(stream=%v) scheduled %d, want 9", stream, n)
		}
		if len(s.latency) != 21 || s.errors != 0 {
			t.Errorf("stream=%v: %d answered, %d failed (first: %q), want 21 and 0", stream, len(s.latency), s.errors, s.firstError)
		}
		for _, fb := range s.firstByte {
			if fb <= 0 {
				t.Errorf("stream=%v: a first-byte time of %v, want > 0", stream, fb)
				break
			}
		}
	}
	// A wrong key is a failure with its reason.
	tg := newTarget("direct", sim.URL, "wrong", 1)
	var s samples
	closedLoop(t.Context(), tg, newCall("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 16, false), false, 1, 10*time.Second, 1, &s)
	if s.errors != 1 || !strings.Contains(s.firstError, "403") {
		t.Errorf("wrong key: %d failed, first %q, want 1 failure with 403", s.errors, s.firstError)
	}
}
