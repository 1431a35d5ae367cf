package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/gateway"
	"github.com/tollgate-gw/tollgate/internal/logbuf"
	"github.com/tollgate-gw/tollgate/internal/server"
)

// loadConfig reads the config named by --config or TOLLGATE_CONFIG, or the
// embedded defaults when neither is set.
func loadConfig(path string) (*config.Config, string, error) {
	if path == "" {
		path = os.Getenv("TOLLGATE_CONFIG")
	}
	if path == "" {
		return config.Default(), "built-in defaults (no --config or TOLLGATE_CONFIG)", nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, "", err
	}
	return cfg, path, nil
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func newServeCmd() *cobra.Command {
	var cfgPath, listen string
	cmd := &cobra.Command{
		Use:   "serve [--config FILE] [--listen ADDR]",
		Short: "Run the gateway",
		Long: `Run the gateway with the config file named by --config or $TOLLGATE_CONFIG, or
the built-in defaults: listen on 127.0.0.1:4000, data in ./tollgate-data, Claude
on Bedrock in $AWS_REGION with the default AWS credential chain. At the first
start of a database without $TOLLGATE_ADMIN_KEY it prints a new admin key, once.`,
		Example: `  tollgate serve
  tollgate serve --config /etc/tollgate/tollgate.yaml
  TOLLGATE_CONFIG=tollgate.yaml tollgate serve --listen 0.0.0.0:4000`,
		Args: noArgs,
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "config file (YAML); default $TOLLGATE_CONFIG, else built-in defaults")
	cmd.Flags().StringVar(&listen, "listen", "", "listen address, overriding the config's listen")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, source, err := loadConfig(cfgPath)
		if err != nil {
			return err
		}
		if listen != "" {
			cfg.Listen = listen
		}
		// Defaults come from the environment (AWS_REGION) and flags override the
		// file, so validate what will actually run.
		if err := cfg.Validate(); err != nil {
			return err
		}
		// The log goes through a buffer drained by its own goroutine, so that
		// no request waits for a write to stderr (see internal/logbuf); Close
		// writes out what is left when serve returns.
		lb := logbuf.New(cmd.ErrOrStderr(), 0)
		defer lb.Close()
		log := newLogger(lb, cfg.Log.Level, cfg.Log.Format)
		log.Info("garbage collector", "settings", tuneGC())
		// SIGHUP reads the file again the same way: load, flags, validate.
		reload := func() (*config.Config, error) {
			next, _, err := loadConfig(cfgPath)
			if err != nil {
				return nil, err
			}
			if listen != "" {
				next.Listen = listen
			}
			if err := next.Validate(); err != nil {
				return nil, err
			}
			return next, nil
		}
		stop := onSIGHUP(cmd.Context(), log, reload)
		defer stop()
		return serve(cmd.Context(), cfg, source, log, gateway.BuildOptions{LogDropped: lb.Dropped}, cmd.OutOrStdout(), nil)
	}
	return cmd
}

// serve binds cfg's listen addresses, builds the gateway from cfg, prints
// what it serves on info and runs until ctx ends. The listeners come first:
// a busy port or a bad address must fail before the data directory is
// created, the database opened or migrated, or an admin key minted for a
// gateway that never ran. ready, if set, is called once the gateway
// listens, with the bound address and the admin key — the new one printed
// at the first start of a database, else $TOLLGATE_ADMIN_KEY — and then the
// admin key is left to ready to print.
func serve(ctx context.Context, cfg *config.Config, source string, log *slog.Logger, bo gateway.BuildOptions, info io.Writer, ready func(addr, adminKey string)) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close() // after a failed build; Serve closes it otherwise
	var mln net.Listener
	if cfg.Metrics.Listen != "" {
		if mln, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics listen on %s: %w", cfg.Metrics.Listen, err)
		}
		defer mln.Close()
	}
	var dln net.Listener
	if cfg.Server.DebugListen != "" {
		addr, err := config.DebugAddr(cfg.Server.DebugListen)
		if err != nil {
			return fmt.Errorf("server.debug_listen: %w", err)
		}
		if dln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("debug listen on %s: %w", addr, err)
		}
		defer dln.Close()
	}
	bo.Build = build
	gw, err := gateway.FromConfig(ctx, cfg, log, bo)
	if err != nil {
		return err
	}
	running.Store(gw)
	defer running.Store(nil)
	if mln != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", gw.Server.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go ms.Serve(mln)
		defer ms.Close()
		fmt.Fprintf(info, "metrics on http://%s/metrics\n", mln.Addr())
	}
	if dln != nil {
		// No write timeout: a CPU profile or a trace streams for as long as
		// its ?seconds= asks.
		ds := &http.Server{Handler: server.DebugHandler(), ReadHeaderTimeout: 10 * time.Second}
		go ds.Serve(dln)
		defer ds.Close()
		fmt.Fprintf(info, "debug (pprof, trace) on http://%s/debug/pprof/\n", dln.Addr())
	}
	fmt.Fprintf(info, "tollgate %s serving on %s://%s\nconfig: %s\n%s\n", build.Version, gw.Scheme(), ln.Addr(), source, strings.TrimRight(cfg.Describe(), "\n"))
	if ready != nil {
		key := gw.AdminSecret
		if key == "" {
			key = os.Getenv("TOLLGATE_ADMIN_KEY")
		}
		ready(ln.Addr().String(), key)
	} else if gw.AdminSecret != "" {
		fmt.Fprintf(info, "\nA new admin key was created for this database. It is shown only this once; keep it:\n\n    export TOLLGATE_URL=%s://%s TOLLGATE_ADMIN_KEY=%s\n\n(or set TOLLGATE_ADMIN_KEY before starting to choose your own)\n\n", gw.Scheme(), advertised(ln.Addr()), gw.AdminSecret)
	}
	err = gw.Serve(ctx, ln)
	log.Info("tollgate stopped")
	return err
}

// running is the gateway serve runs, for the SIGHUP handler; nil before it
// is built and after it stops.
var running atomic.Pointer[gateway.Gateway]

// onSIGHUP reloads the running gateway's config with load at every SIGHUP
// until ctx ends or stop is called. A SIGHUP that arrives before the
// gateway is built, or after it stopped, is logged and ignored. The
// outcome is logged by Gateway.ReloadConfig, counted in
// tollgate_config_reloads_total and shown in /readyz?verbose=1.
func onSIGHUP(ctx context.Context, log *slog.Logger, load func() (*config.Config, error)) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
			gw := running.Load()
			if gw == nil {
				log.Warn("SIGHUP before the gateway runs; ignored")
				continue
			}
			log.Info("SIGHUP: reloading the config file")
			rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
			_ = gw.ReloadConfig(rctx, load) // logged and counted there
			rcancel()
		}
	}()
	return func() {
		signal.Stop(ch)
		cancel()
		<-done
	}
}

// advertised is the address a client on this host dials for a listener:
// an unspecified address (0.0.0.0, ::) becomes loopback.
func advertised(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}

func newCheckCmd() *cobra.Command {
	var (
		cfgPath        string
		asJSON, strict bool
	)
	cmd := &cobra.Command{
		Use:   "check [--config FILE] [--strict] [--json]",
		Short: "Validate a config file and print what it would serve",
		Long: `Validate the config file named by --config or $TOLLGATE_CONFIG (or the built-in
defaults) as serve would, and report every problem of the file in one run, each
with its line, then print the routes, keys and providers it would serve.

Errors are problems of the file itself. Warnings are environment variables that
are not set here — ${VAR} references and providers' api_key_env — which serve
needs but a workstation or a CI job without the deployment's secrets lacks;
check fails on them only with --strict, which is for where the real environment
is (the host, the deploy job). The exit code is 1 when check fails.`,
		Example: `  tollgate check --config tollgate.yaml
  tollgate check --config /etc/tollgate/tollgate.yaml --strict   # on the host, with its environment
  tollgate check --config tollgate.yaml --json | jq '.errors[]'`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&cfgPath, "config", "", "config file (YAML); default $TOLLGATE_CONFIG, else built-in defaults")
	fs.BoolVar(&strict, "strict", false, "fail on warnings too: unset environment variables that serve needs")
	fs.BoolVar(&asJSON, "json", false, `print the result as JSON: {"source", "ok", "errors", "warnings"}`)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		r, cfg, err := checkConfig(cfgPath, strict)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON {
			if err := printJSON(out, r); err != nil {
				return err
			}
		} else {
			r.write(out, cfg)
		}
		if !r.OK {
			return fmt.Errorf("config: %s: %s", r.Source, r.summary())
		}
		return nil
	}
	return cmd
}

// checkProblem is one finding of tollgate check, as --json prints it.
type checkProblem struct {
	Source  string `json:"source,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Variable is the unset environment variable a warning is about.
	Variable string `json:"variable,omitempty"`
	text     string
}

// checkResult is what tollgate check found.
type checkResult struct {
	Source   string         `json:"source"`
	OK       bool           `json:"ok"`
	Errors   []checkProblem `json:"errors"`
	Warnings []checkProblem `json:"warnings"`
}

// checkConfig checks the config at path (or $TOLLGATE_CONFIG, or the
// defaults). cfg is nil when the file could not be decoded.
func checkConfig(path string, strict bool) (checkResult, *config.Config, error) {
	if path == "" {
		path = os.Getenv("TOLLGATE_CONFIG")
	}
	r := checkResult{Source: path, Errors: []checkProblem{}, Warnings: []checkProblem{}}
	var (
		cfg      *config.Config
		problems []config.Problem
	)
	if path == "" {
		r.Source = "built-in defaults (no --config or TOLLGATE_CONFIG)"
		cfg = config.Default()
		if err := cfg.Validate(); err != nil {
			var ve *config.ValidationError
			if !errors.As(err, &ve) {
				return r, nil, err
			}
			problems = ve.Problems
		}
	} else {
		var err error
		if cfg, problems, err = config.CheckFile(path); err != nil {
			return r, nil, err
		}
	}
	for _, p := range problems {
		cp := checkProblem{Source: p.Source, Line: p.Line, Column: p.Column, Path: p.Path, Message: p.Message, Variable: p.Unset, text: p.String()}
		if p.Unset != "" {
			cp.text += "; serve needs it"
			r.Warnings = append(r.Warnings, cp)
		} else {
			r.Errors = append(r.Errors, cp)
		}
	}
	if cfg != nil {
		for _, m := range missingKeyVars(cfg) {
			r.Warnings = append(r.Warnings, checkProblem{Source: r.Source, Path: "providers." + m.provider + ".api_key_env",
				Message: m.String(), Variable: m.env, text: r.Source + ": " + m.String()})
		}
	}
	r.OK = len(r.Errors) == 0 && (!strict || len(r.Warnings) == 0)
	return r, cfg, nil
}

// summary counts the findings: "2 errors, 1 warning".
func (r checkResult) summary() string {
	plural := func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	var parts []string
	if len(r.Errors) > 0 {
		parts = append(parts, plural(len(r.Errors), "error"))
	}
	if len(r.Warnings) > 0 {
		parts = append(parts, plural(len(r.Warnings), "warning"))
	}
	return strings.Join(parts, ", ")
}

// write prints the findings, errors first, and what the config serves
// when it could be decoded and has no errors.
func (r checkResult) write(w io.Writer, cfg *config.Config) {
	for _, p := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", p.text)
	}
	for _, p := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", p.text)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "config: %s: %s\n", r.Source, r.summary())
		return
	}
	status := "OK"
	if !r.OK {
		status = "FAILED (--strict)"
	}
	if len(r.Warnings) > 0 {
		status += " with " + r.summary() + ": set these variables where the gateway runs"
	}
	fmt.Fprintf(w, "config: %s: %s\n%s\n", r.Source, status, strings.TrimRight(cfg.Describe(), "\n"))
}

// missingKey is a provider whose API-key environment variable is unset.
type missingKey struct{ provider, env string }

func (m missingKey) String() string {
	return fmt.Sprintf("provider %s: the API key variable %s is empty or unset", m.provider, m.env)
}

// missingKeyVars lists the API-key environment variables the config names
// that are unset, which serve would refuse to start with.
func missingKeyVars(cfg *config.Config) []missingKey {
	var out []missingKey
	for _, name := range cfg.ProviderNames() {
		env := cfg.Providers[name].APIKeyEnv
		if env == "" {
			continue // a bedrock provider on the AWS credential chain
		}
		if os.Getenv(env) == "" {
			out = append(out, missingKey{name, env})
		}
	}
	return out
}
