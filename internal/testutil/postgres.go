package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Postgres is a private PostgreSQL cluster for one test: its own data
// directory, port on 127.0.0.1 and socket directory, so that a test may stop
// and restart it without disturbing the shared test server other packages
// use at the same time. It runs the Debian binaries as the postgres user,
// with the flags of scripts/postgres.sh.
type Postgres struct {
	// DSN connects as the superuser to the database "tollgate".
	DSN string

	bin, base, data, logFile string
	port                     int
}

// StartPostgres initialises and starts a private cluster, stopped and
// removed when the test ends. It needs root and the Debian postgresql
// package (/usr/lib/postgresql/*/bin); without them it skips the test, or
// fails it when CI=true.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		const how = "; install the Debian postgresql package and run the tests as root (scripts/postgres.sh does both)"
		if os.Getenv("CI") == "true" {
			t.Fatal("a private PostgreSQL cannot start: " + why + how + " (CI=true: this suite must run)")
		}
		t.Skip("a private PostgreSQL cannot start: " + why + how)
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		missing("no /usr/lib/postgresql/*/bin/initdb")
	}
	sort.Strings(bins)
	if os.Geteuid() != 0 {
		missing("not root (the server runs as the postgres user through runuser)")
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		missing("no runuser")
	}
	pg := &Postgres{bin: filepath.Dir(bins[len(bins)-1])}
	// Not t.TempDir: its parents are private to root, and the server runs
	// as postgres.
	base, err := os.MkdirTemp("", "tollgate-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg.base, pg.data, pg.logFile = base, filepath.Join(base, "data"), filepath.Join(base, "postgres.log")
	t.Cleanup(func() {
		pg.run(t, "pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(base)
	})
	if out, err := exec.Command("chown", "postgres:postgres", base).CombinedOutput(); err != nil {
		t.Fatalf("testutil: chown %s: %v: %s", base, err, out)
	}
	pg.port = freePort(t)
	if out, err := pg.run(t, "initdb", "-D", pg.data, "-U", "postgres", "--auth-local=peer", "--auth-host=trust",
		"--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		t.Fatalf("testutil: initdb: %v\n%s", err, out)
	}
	pg.Start(t)
	if out, err := pg.run(t, "psql", "-h", base, "-p", strconv.Itoa(pg.port), "-U", "postgres", "-d", "postgres",
		"-v", "ON_ERROR_STOP=1", "-qAt", "-c", "CREATE DATABASE tollgate"); err != nil {
		t.Fatalf("testutil: create database: %v\n%s", err, out)
	}
	pg.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/tollgate?sslmode=disable", pg.port)
	return pg
}

// Start starts the (stopped) cluster and waits until it accepts connections.
func (pg *Postgres) Start(t testing.TB) {
	t.Helper()
	// Loopback only, its own socket directory; durability is not what these
	// tests are about (a fast stop still writes a checkpoint).
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100", pg.port, pg.base)
	if out, err := pg.run(t, "pg_ctl", "-D", pg.data, "-l", pg.logFile, "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(pg.logFile)
		t.Fatalf("testutil: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the cluster with mode fast: open transactions are rolled
// back and every client is disconnected at once.
func (pg *Postgres) Stop(t testing.TB) {
	t.Helper()
	if out, err := pg.run(t, "pg_ctl", "-D", pg.data, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		t.Fatalf("testutil: pg_ctl stop: %v\n%s", err, out)
	}
}

func (pg *Postgres) run(t testing.TB, prog string, args ...string) ([]byte, error) {
	t.Helper()
	argv := append([]string{"-u", "postgres", "--", filepath.Join(pg.bin, prog)}, args...)
	cmd := exec.Command("runuser", argv...)
	cmd.Dir = pg.base // postgres cannot read the test's working directory
	return cmd.CombinedOutput()
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
