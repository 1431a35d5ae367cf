package testutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tollgate binary is built once per test binary run: every process-level
// test of the run starts the same build, and BuildCleanup (from TestMain)
// removes it.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// BuildTollgate builds ./cmd/tollgate, without -race or coverage whatever
// the test binary was built with, so that processes under test behave like
// a release build, and returns the binary's path. The first call of a test
// run builds it; later calls return the same binary.
func BuildTollgate(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			built.err = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			built.err = errors.New("not inside the Tollgate module")
			return
		}
		if built.dir, err = os.MkdirTemp("", "tollgate-bin-"); err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(built.dir, "tollgate")
		cmd := exec.Command("go", "build", "-o", built.path, "./cmd/tollgate")
		cmd.Dir = filepath.Dir(gomod)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/tollgate: %w\n%s", err, stderr.String())
		}
	})
	if built.err != nil {
		t.Fatalf("testutil: build tollgate: %v", built.err)
	}
	return built.path
}

// BuildCleanup removes the binary BuildTollgate built, if any. Call it from
// TestMain after m.Run.
func BuildCleanup() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// Process is a server started by StartProcess: a `tollgate serve` or any
// command that prints "serving … on http://ADDR" on stdout when it is ready.
type Process struct {
	// Name labels the process in failures and names its log files.
	Name string
	// URL is the base URL from its start line.
	URL string

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	logPath string
}

// servingRE finds the base URL in a start line ("tollgate … serving on
// http://127.0.0.1:PORT").
var servingRE = regexp.MustCompile(`serving .*?on (https?://[0-9.]+:[0-9]+)`)

// StartProcess starts argv with env added to the environment and waits (up
// to 30 s) until it prints its URL. stdout and stderr go to a log file in
// t.TempDir, printed when the test fails. The process is killed when the
// test ends if it still runs.
func StartProcess(t testing.TB, name string, argv, env []string) *Process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("%s: start: %v", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{}), logPath: logPath}
	go func() {
		p.waitErr = cmd.Wait()
		pw.Close()
		logf.Close()
		close(p.done)
	}()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				urlc <- m[1]
				sent = true
			}
		}
		io.Copy(io.Discard, pr)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4<<10 {
				b = b[len(b)-4<<10:]
			}
			t.Logf("%s log (tail):\n%s", name, b)
		}
	})
	select {
	case p.URL = <-urlc:
	case <-p.done:
		b, _ := os.ReadFile(logPath)
		t.Fatalf("%s exited before serving: %v\n%s", name, p.waitErr, b)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no start line within 30s", name)
	}
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and waits for it. Safe to call on a process that has ended.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop ends the process with SIGTERM (a graceful shutdown: the gateway
// drains and persists its usage rows) and waits up to 30 s, then kills it.
// It reports an error when the process had to be killed or exited with an
// error of its own.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(30 * time.Second):
		p.Kill()
		return fmt.Errorf("%s did not stop within 30s of SIGTERM; killed", p.Name)
	}
}

func (p *Process) exitErr() error {
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) && ee.ExitCode() == -1 {
		return nil // ended by a signal we sent
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w", p.Name, p.waitErr)
	}
	return nil
}

// Log returns what the process wrote to stdout and stderr so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}
