// Command bedrock-sim serves the Bedrock Runtime simulator of package
// internal/bedrocksim on a local address, for demos, manual testing and
// benchmarks of the gateway. Run it with --help for the flags and the marker
// language that scripts its answers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bedrock-sim:", err)
		os.Exit(1)
	}
}

// listFlag is a repeatable string flag; each value may also hold several
// comma-separated items.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// shutdownGrace bounds how long in-flight streams may run after a signal.
const shutdownGrace = 5 * time.Second

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bedrock-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // --help is handled below, on stdout
	var (
		listen        = fs.String("listen", "127.0.0.1:4010", "`address` to listen on")
		region        = fs.String("region", bedrocksim.DefaultRegion, "AWS `region` SigV4 scopes must name")
		akid          = fs.String("access-key-id", bedrocksim.DefaultAccessKeyID, "SigV4 access key `id` accepted")
		secret        = fs.String("secret-access-key", bedrocksim.DefaultSecretAccessKey, "SigV4 secret `key` accepted")
		sessionToken  = fs.String("session-token", "", "session `token` required as X-Amz-Security-Token (default none)")
		apiKey        = fs.String("api-key", "", "Bedrock API `key` accepted as \"Authorization: Bearer <key>\" (default none)")
		allowUnsigned = fs.Bool("allow-unsigned", false, "accept requests without any Authorization header")
		reply         = fs.String("reply", bedrocksim.DefaultReply, "default reply `text`")
		latency       = fs.Duration("latency", 0, "delay before every response starts")
		tps           = fs.Float64("tps", 0, "output tokens per second (0 = as fast as possible)")
		fault         = fs.String("fault", "", "`fault` applied to every invoke without a fault marker, e.g. \"throttle 2\"")
		minCache      = fs.Int("min-cache-tokens", 0, "smallest cacheable prefix in `tokens`")
		seed          = fs.Uint64("seed", 0, "`seed` for ids and padding (0 = random)")
		logLevel      = fs.String("log-level", "info", "`level`: debug, info, warn or error")
		rejectBetas   listFlag
		rejectFields  listFlag
	)
	fs.Var(&rejectBetas, "reject-beta", "beta `flag` rejected with \"invalid beta flag\" (repeatable, comma-separated)")
	fs.Var(&rejectFields, "reject-field", "body field `path` rejected as an extra input, e.g. output_config or tools.*.defer_loading (repeatable)")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fs)
			return nil
		}
		return fmt.Errorf("%w (see --help)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	opts := bedrocksim.Options{
		Region:             *region,
		AccessKeyID:        *akid,
		SecretAccessKey:    *secret,
		SessionToken:       *sessionToken,
		APIKey:             *apiKey,
		AllowUnsigned:      *allowUnsigned,
		Reply:              *reply,
		FirstByteLatency:   *latency,
		TokensPerSecond:    *tps,
		Fault:              *fault,
		RejectBetas:        rejectBetas,
		RejectFields:       rejectFields,
		MinCacheableTokens: *minCache,
		Seed:               *seed,
		Logger:             logger,
	}
	if err := opts.Validate(); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           bedrocksim.New(opts),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// No WriteTimeout: streams may run for minutes.
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "bedrock-sim serving Bedrock Runtime (%s) on %s\n", *region, url)
	fmt.Fprintf(stdout, "  AWS SDKs:    AWS_ENDPOINT_URL_BEDROCK_RUNTIME=%s AWS_REGION=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n",
		url, *region, *akid, *secret)
	fmt.Fprintf(stdout, "  Claude Code: CLAUDE_CODE_USE_BEDROCK=1 ANTHROPIC_BEDROCK_BASE_URL=%s AWS_REGION=%s\n", url, *region)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("bedrock-sim: shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: bedrock-sim [flags]

bedrock-sim simulates Bedrock Runtime for Claude: InvokeModel,
InvokeModelWithResponseStream (AWS event stream), CountTokens,
ListInferenceProfiles and GetInferenceProfile. Requests must be SigV4-signed
for service "bedrock" with the configured key pair, carry the configured API
key as a bearer token, or (with --allow-unsigned) carry no auth at all.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintf(w, `
Markers
%s

Usage numbers (tokens(n bytes) = ceil(n/4))
  input: the compact JSON of each tool, each system block (or the system
  string) and each message content block (or string content), summed: the
  prompt has max(1, tokens(bytes)) tokens. cache_control breakpoints split it:
  the longest cached, unexpired prefix is cache_read; later breakpoints are
  written (5m, or 1h with "ttl":"1h"); input_tokens is the rest.
  output: sum of tokens(text | thinking | compact tool input) per block, at
  least 1; max_tokens when the answer is cut by max_tokens.
  CountTokens reports the whole prompt estimate. See README.md for details.
`, bedrocksim.MarkerHelp)
}
