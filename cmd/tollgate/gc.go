package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultGCPercent is the garbage collector's target for tollgate serve
// when GOGC is not set. A gateway's live heap is small (a few MB idle, tens
// of MB with many open streams) and its garbage comes at the request rate,
// so at Go's default of 100 it collected several times a second under load;
// on a busy host each collection's stop-the-world phases wait for threads
// the OS has not scheduled, which put millisecond pauses into the latency
// tail. At 400 the heap may grow to five times the live data before a
// collection: measured A/B in one interleaved run (docs/benchmarks.md),
// 11 % less CPU per call and a lower p99. GOGC in the environment wins.
const defaultGCPercent = 400

// cgroupMemoryMax is where cgroup v2 publishes the container's memory
// limit ("max" when there is none).
var cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// tuneGC applies defaultGCPercent unless GOGC is set and, when GOMEMLIMIT is
// not set but the process runs under a cgroup memory limit, a soft memory
// limit of 80 % of it: near the limit the collector works harder instead of
// letting the larger GOGC headroom get the process killed. It returns a
// description for the start-up log.
func tuneGC() string {
	var parts []string
	if _, ok := os.LookupEnv("GOGC"); ok {
		parts = append(parts, "GOGC from the environment")
	} else {
		debug.SetGCPercent(defaultGCPercent)
		parts = append(parts, fmt.Sprintf("GOGC=%d (default; set GOGC to override)", defaultGCPercent))
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		parts = append(parts, "GOMEMLIMIT from the environment")
	} else if limit, ok := softLimit(cgroupMemoryMax); ok {
		debug.SetMemoryLimit(limit)
		parts = append(parts, fmt.Sprintf("soft memory limit %d MiB (80%% of the cgroup's; set GOMEMLIMIT to override)", limit>>20))
	}
	return strings.Join(parts, ", ")
}

// softLimit reads a cgroup v2 memory.max file and returns 80 % of the
// limit it holds; false when there is none ("max", no file, garbage).
func softLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n / 5 * 4, true
}
