package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // read the gateway's database after it stops

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
)

// gatewaySetup is how the benchmark starts `tollgate serve`.
type gatewaySetup struct {
	configPath, dbPath, adminKey string
	env                          []string
}

// writeGatewayConfig writes the gateway's config into dir: SQLite in dir,
// one Bedrock provider whose endpoint is the simulator, everything else at
// its defaults (metering on, info logging in JSON, usage flushed every
// second). The admin key is chosen here and passed as TOLLGATE_ADMIN_KEY.
func writeGatewayConfig(dir, simURL, upstreamAuth, debugListen string) (gatewaySetup, error) {
	data := filepath.Join(dir, "gateway-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return gatewaySetup{}, fmt.Errorf("gateway config: %w", err)
	}
	var b [16]byte
	rand.Read(b[:])
	g := gatewaySetup{
		configPath: filepath.Join(dir, "tollgate.yaml"),
		dbPath:     filepath.Join(data, "tollgate.db"),
		adminKey:   "tga-bench-" + hex.EncodeToString(b[:]),
	}
	auth := "    api_key_env: TOLLGATE_BENCH_SIM_KEY   # a Bedrock API key, as the proxy's clients send\n"
	g.env = []string{"TOLLGATE_ADMIN_KEY=" + g.adminKey, "TOLLGATE_BENCH_SIM_KEY=" + simAPIKey}
	if upstreamAuth == "sigv4" {
		auth = "    # SigV4 with the simulator's key pair, from the environment\n"
		g.env = append(g.env,
			"AWS_ACCESS_KEY_ID="+bedrocksim.DefaultAccessKeyID,
			"AWS_SECRET_ACCESS_KEY="+bedrocksim.DefaultSecretAccessKey,
			"AWS_SESSION_TOKEN=",
			"AWS_PROFILE=",
			"AWS_CONFIG_FILE="+filepath.Join(dir, "no-aws-config"),
			"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-aws-credentials"),
			"AWS_EC2_METADATA_DISABLED=true")
	}
	cfg := fmt.Sprintf(`# Written by tollgate-bench: defaults but for where things are.
listen: 127.0.0.1:0
data_dir: %[1]s
database: sqlite://%[2]s
usage:
  spill_path: %[1]s/usage-spill.jsonl
  quarantine_path: %[1]s/usage-quarantine.jsonl
metrics:
  listen: ""
providers:
  bedrock:
    type: bedrock
    region: us-east-1
    endpoint: %[3]s
%[4]s`, data, g.dbPath, simURL, auth)
	if debugListen != "" {
		cfg += fmt.Sprintf("server:\n  debug_listen: %q\n", debugListen)
	}
	if err := os.WriteFile(g.configPath, []byte(cfg), 0o600); err != nil {
		return gatewaySetup{}, fmt.Errorf("gateway config: %w", err)
	}
	return g, nil
}

// createVirtualKey creates, through the admin API, the key the benchmark
// calls the gateway with: a budget and a rate limit on it, both far above
// what the run spends, so that every call pays for the checks and none is
// refused.
func createVirtualKey(ctx context.Context, base, adminKey string) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"alias":      "bench",
		"budget_usd": "1000000",
		"period":     "month",
		"rpm":        1_000_000_000,
		"tpm":        1_000_000_000_000,
		"concurrent": 1_000_000,
		"tags":       map[string]string{"source": "tollgate-bench"},
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/keys", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("create key: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("create key: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("create key: POST /admin/keys: %s: %s", resp.Status, raw)
	}
	var out struct {
		Secret string `json:"secret"`
		Budget *struct {
			ID string `json:"id"`
		} `json:"budget"`
		Limit *struct {
			ID string `json:"id"`
		} `json:"limit"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", fmt.Errorf("create key: %w", err)
	}
	if out.Secret == "" || out.Budget == nil || out.Limit == nil {
		return "", fmt.Errorf("create key: want a secret, a budget and a limit, got %s", raw)
	}
	return out.Secret, nil
}

// countUsageRows counts the usage rows in the gateway's SQLite database,
// opened read-only once the gateway has stopped.
func countUsageRows(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, fmt.Errorf("usage rows: %w", err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM usage_records").Scan(&n); err != nil {
		return 0, fmt.Errorf("usage rows: %w", err)
	}
	return n, nil
}
