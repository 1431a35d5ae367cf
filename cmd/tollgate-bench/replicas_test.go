package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestReplicasSmoke runs the replicas scenario at --size small: the
// simulator and five `tollgate serve` processes (one on SQLite, one and
// three on PostgreSQL), every target answering without an error and each
// with its row in the report. It turns on with TestSmoke
// (TOLLGATE_BENCH_SMOKE=1) and needs TOLLGATE_TEST_POSTGRES_URL; under
// CI=true either missing fails it. It asserts nothing about time.
func TestReplicasSmoke(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	if os.Getenv(EnvSmoke) != "1" {
		const how = EnvSmoke + "=1 is not set; the replicas smoke test builds three binaries and runs six processes"
		if ci {
			t.Fatal(how + " (CI=true: the smoke test must run)")
		}
		t.Skip(how)
	}
	if os.Getenv(envBenchPostgres) == "" {
		const how = envBenchPostgres + ` is not set; start a PostgreSQL on loopback with: eval "$(scripts/postgres.sh)"`
		if ci {
			t.Fatal(how + " (CI=true: the replicas smoke test must run)")
		}
		t.Skip(how)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	if err := runReplicas(ctx, []string{"--size", "small"}, &out, &progress); err != nil {
		t.Fatalf("replicas: %v\nprogress:\n%s", err, progress.String())
	}
	md := out.String()
	t.Logf("report:\n%s", md)
	for _, name := range []string{"direct", "sqlite×1", "pg×1", "pg×3"} {
		row := ""
		for _, line := range strings.Split(md, "\n") {
			if strings.HasPrefix(line, "| "+name+" | ") {
				row = line
			}
		}
		if row == "" {
			t.Errorf("report lacks the row of %s", name)
			continue
		}
		// | name | calls OK | errors | …
		f := strings.Split(row, " | ")
		if len(f) < 3 || f[1] == "0" || f[2] != "0" {
			t.Errorf("%s: %q, want some calls answered and none failed", name, row)
		}
	}
	if strings.Contains(md, "the first error") {
		t.Errorf("report names errors")
	}
}

func TestParseReplicaFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string
		want    replicaOptions
		wantErr string
	}{
		{"small", []string{"--size", "small", "--postgres", "postgres://x"}, "", replicaOptions{Duration: 600 * time.Millisecond, Rounds: 2, Concurrency: 4, Postgres: "postgres://x"}, ""},
		{"from the environment, overridden", []string{"--concurrency", "8", "--rounds", "3", "--duration", "2s"}, "postgres://env", replicaOptions{Duration: 2 * time.Second, Rounds: 3, Concurrency: 8, Postgres: "postgres://env"}, ""},
		{"no database", nil, "", replicaOptions{}, "no PostgreSQL"},
		{"bad size", []string{"--size", "huge", "--postgres", "postgres://x"}, "", replicaOptions{}, `--size "huge"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envBenchPostgres, tt.env)
			o, err := parseReplicaFlags(tt.args, io.Discard, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseReplicaFlags(%q) error = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Duration != tt.want.Duration || o.Rounds != tt.want.Rounds || o.Concurrency != tt.want.Concurrency || o.Postgres != tt.want.Postgres {
				t.Errorf("parseReplicaFlags(%q) = %v/%d/%d/%q, want %v/%d/%d/%q", tt.args, o.Duration, o.Rounds, o.Concurrency, o.Postgres,
					tt.want.Duration, tt.want.Rounds, tt.want.Concurrency, tt.want.Postgres)
			}
		})
	}
}
