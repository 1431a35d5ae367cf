package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/gateway"
)

func newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo [--listen ADDR]",
		Short: "Run the gateway against a built-in Bedrock simulator",
		Long: `Run the gateway in front of an in-process Bedrock simulator, with a throw-away
database, so that the real Claude Code can be pointed at it without an AWS
account. It prints the settings to paste into another shell on stdout, logs on
stderr, and runs until interrupted (Ctrl-C).`,
		Example: `  tollgate demo
  tollgate demo --listen 127.0.0.1:4100 --key tg-demo-mine`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&o.listen, "listen", "127.0.0.1:4000", "gateway listen address")
	fs.StringVar(&o.simListen, "sim-listen", "127.0.0.1:0", "simulator listen address; port 0 picks a free one")
	fs.StringVar(&o.key, "key", "", "client key to accept (default: a random one, printed)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runDemo(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

// demoOptions are the flags of tollgate demo.
type demoOptions struct{ listen, simListen, key, logLevel string }

// runDemo starts the gateway in front of an in-process Bedrock simulator, so
// a newcomer can point the real Claude Code at it without an AWS account.
func runDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) error {
	key, listen, simListen, logLevel := &o.key, &o.listen, &o.simListen, &o.logLevel
	if *key == "" {
		var b [16]byte
		rand.Read(b[:])
		*key = "tg-demo-" + hex.EncodeToString(b[:])
	}
	const akid, secret, region = "AKIDTOLLGATEDEMO", "tollgate-demo-secret", "us-east-1"

	log := newLogger(stderr, *logLevel, "text")
	sim := bedrocksim.New(bedrocksim.Options{Region: region, AccessKeyID: akid, SecretAccessKey: secret, Logger: log.With("component", "bedrock-sim")})
	sln, err := net.Listen("tcp", *simListen)
	if err != nil {
		return fmt.Errorf("simulator listen on %s: %w", *simListen, err)
	}
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go simSrv.Serve(sln)
	defer simSrv.Close()

	cfg := config.Default()
	cfg.Listen = *listen
	cfg.Log.Format = "text" // the demo logs for a person watching a terminal
	dataDir, err := os.MkdirTemp("", "tollgate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	cfg.DataDir = dataDir
	cfg.Database = "sqlite://" + filepath.Join(dataDir, "tollgate.db")
	cfg.Usage.SpillPath = filepath.Join(dataDir, "usage-spill.jsonl")
	cfg.Usage.QuarantinePath = filepath.Join(dataDir, "usage-quarantine.jsonl")
	cfg.Keys = []config.Key{{Name: "demo", Secret: *key}}
	p := cfg.Providers["bedrock"]
	p.Region = region
	p.Endpoint = "http://" + sln.Addr().String()
	cfg.Providers["bedrock"] = p

	bo := gateway.BuildOptions{Credentials: map[string]aws.CredentialsProvider{
		"bedrock": credentials.NewStaticCredentialsProvider(akid, secret, ""),
	}}
	// stdout is the settings to paste, and nothing else; what the gateway
	// says about itself goes with the logs to stderr.
	return serve(ctx, cfg, "tollgate demo (Bedrock simulator at http://"+sln.Addr().String()+")", log, bo, stderr, func(addr, adminKey string) {
		base := "http://" + addr
		fmt.Fprintf(stdout, `
# Tollgate demo is running: gateway %[1]s -> Bedrock simulator. Ctrl-C stops it.
# Anthropic mode (paste into another shell, then run: claude -p "say hello"):
export ANTHROPIC_BASE_URL=%[1]s
export ANTHROPIC_API_KEY=%[2]s

# Bedrock mode (instead of the two lines above):
export CLAUDE_CODE_USE_BEDROCK=1
export ANTHROPIC_BEDROCK_BASE_URL=%[1]s
export CLAUDE_CODE_SKIP_BEDROCK_AUTH=1
export AWS_REGION=%[3]s
export ANTHROPIC_CUSTOM_HEADERS='x-api-key: %[2]s'

# The admin CLI (tollgate keys, users, budgets, usage, spend) against this demo:
export TOLLGATE_URL=%[1]s TOLLGATE_ADMIN_KEY=%[4]s

# The simulator answers deterministically; put markers in your prompt to script it,
# e.g. claude -p 'run it [[sim:tool Bash {"command":"echo hi"}]]' --allowedTools Bash
`, base, *key, region, adminKey)
	})
}
