package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// binaries are the release builds the benchmark runs.
type binaries struct {
	Tollgate, Sim, Bench string
}

// buildBinaries builds the gateway, the simulator and this command with
// `go build` into dir, without -race or coverage whatever the caller was
// built with, so that the figures are those of a release build.
func buildBinaries(ctx context.Context, dir string, progress io.Writer) (binaries, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return binaries{}, fmt.Errorf("build: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return binaries{}, errors.New("build: not inside the Tollgate module; run from the repository or pass --bin")
	}
	fmt.Fprintf(progress, "building tollgate, bedrock-sim and tollgate-bench into %s\n", dir)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator),
		"./cmd/tollgate", "./cmd/bedrock-sim", "./cmd/tollgate-bench")
	cmd.Dir = filepath.Dir(gomod)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return binaries{}, fmt.Errorf("build: go build: %w\n%s", err, stderr.String())
	}
	return locateBinaries(dir)
}

// locateBinaries finds the three binaries in dir.
func locateBinaries(dir string) (binaries, error) {
	b := binaries{
		Tollgate: filepath.Join(dir, "tollgate"),
		Sim:      filepath.Join(dir, "bedrock-sim"),
		Bench:    filepath.Join(dir, "tollgate-bench"),
	}
	for _, p := range []string{b.Tollgate, b.Sim, b.Bench} {
		if _, err := os.Stat(p); err != nil {
			return binaries{}, fmt.Errorf("binaries: %w", err)
		}
	}
	return b, nil
}

// process is one server the benchmark started.
type process struct {
	Name string
	// URL is the base URL it announced on stdout.
	URL string
	// Ready is how long it took from exec to answering its readiness
	// probe (or announcing its URL, for servers without one).
	Ready time.Duration

	cmd  *exec.Cmd
	done chan error
}

// servingRE finds the base URL in a server's start line ("… serving … on
// http://127.0.0.1:PORT").
var servingRE = regexp.MustCompile(`serving .*?on (http://[0-9.]+:[0-9]+)`)

// startProcess starts argv (under taskset -c cpus when cpus is set) with env
// added to the environment, waits until it prints its URL and, when probe is
// set, until GET URL+probe answers 200. Its stdout and stderr go to
// logDir/name.{out,err}: a server's default logging is part of its cost, so
// the log is written, to a file that never blocks it.
func startProcess(ctx context.Context, name string, argv []string, env []string, cpus, logDir, probe string) (*process, error) {
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	errf, err := os.Create(filepath.Join(logDir, name+".err"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer errf.Close() // the child holds its own descriptor
	outf, err := os.Create(filepath.Join(logDir, name+".out"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Not CommandContext: a cancelled run must still stop the servers with
	// SIGTERM, so that the gateway persists its usage rows; stop does it.
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = errf
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		outf.Close()
		return nil, fmt.Errorf("%s: start: %w", name, err)
	}
	p := &process{Name: name, cmd: cmd, done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		pw.Close()
		p.done <- err
	}()
	urlc := make(chan string, 1)
	go func() {
		defer outf.Close()
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(outf, sc.Text())
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				urlc <- m[1]
				sent = true
			}
		}
		io.Copy(io.Discard, pr)
	}()

	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	select {
	case p.URL = <-urlc:
	case err := <-p.done:
		p.done <- err
		return nil, fmt.Errorf("%s exited before serving: %v (log: %s)", name, err, filepath.Join(logDir, name+".err"))
	case <-deadline.C:
		p.stop()
		return nil, fmt.Errorf("%s: no start line within 30s (log: %s)", name, filepath.Join(logDir, name+".err"))
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	if probe != "" {
		if err := waitReady(ctx, p.URL+probe, deadline.C); err != nil {
			p.stop()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	p.Ready = time.Since(start)
	return p, nil
}

// waitReady polls url every 2 ms until it answers 200.
func waitReady(ctx context.Context, url string, deadline <-chan time.Time) error {
	c := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := c.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-time.After(2 * time.Millisecond):
		case <-deadline:
			return fmt.Errorf("%s not ready within 30s", url)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pid is the server's own pid: taskset execs it in place.
func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits up to 30 s for a graceful exit (the gateway
// drains and persists its usage rows), then kills. It is safe to call twice.
func (p *process) stop() error {
	if p == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == -1 {
			return nil // ended by our signal
		}
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
		return fmt.Errorf("%s did not stop within 30s of SIGTERM; killed", p.Name)
	}
}

// procStats is what Linux accounts for one process.
type procStats struct {
	// CPU is user plus system time of all its threads.
	CPU time.Duration
	// RSS is the resident set now (VmRSS); HWM its peak (VmHWM).
	RSS, HWM int64
	// Threads is the number of OS threads.
	Threads int
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports, whatever CONFIG_HZ is.
const clockTick = 10 * time.Millisecond

// readProcStats reads /proc/PID/stat and /proc/PID/status.
func readProcStats(pid int) (procStats, error) {
	var s procStats
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("proc stats: %w", err)
	}
	// The command name (field 2) may hold spaces; fields are counted from
	// the closing parenthesis, after which field 3 (state) comes.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return s, fmt.Errorf("proc stats: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("proc stats: /proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("proc stats: /proc/%d/stat: %w", pid, err)
	}
	s.CPU = time.Duration(utime+stime) * clockTick
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("proc stats: %w", err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fs[0], 10, 64)
		switch name {
		case "VmRSS":
			s.RSS = n << 10
		case "VmHWM":
			s.HWM = n << 10
		case "Threads":
			s.Threads = int(n)
		}
	}
	return s, nil
}

// pinSelf moves every thread of this process onto cpus, so that the load
// generator stays off the servers' CPUs.
func pinSelf(ctx context.Context, cpus string) error {
	out, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", cpus, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pin: taskset: %w: %s", err, out)
	}
	return nil
}
