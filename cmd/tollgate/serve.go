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
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/gateway"
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

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (YAML); default $TOLLGATE_CONFIG, else built-in defaults")
	listen := fs.String("listen", "", "listen address, overriding the config's listen")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, source, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	// Defaults come from the environment (AWS_REGION) and flags override the
	// file, so validate what will actually run.
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	return serve(ctx, cfg, source, log, gateway.BuildOptions{}, stdout, nil)
}

// serve builds the gateway from cfg, prints what it serves and runs until ctx
// ends. ready, if set, is called with the bound address once it listens.
func serve(ctx context.Context, cfg *config.Config, source string, log *slog.Logger, bo gateway.BuildOptions, stdout io.Writer, ready func(addr string)) error {
	bo.Build = build
	gw, err := gateway.FromConfig(ctx, cfg, log, bo)
	if err != nil {
		return err
	}
	if cfg.Metrics.Listen != "" {
		mln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			gw.Close(ctx)
			return fmt.Errorf("metrics listen on %s: %w", cfg.Metrics.Listen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", gw.Server.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go ms.Serve(mln)
		defer ms.Close()
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", mln.Addr())
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		gw.Close(ctx)
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	fmt.Fprintf(stdout, "tollgate %s serving on %s://%s\nconfig: %s\n%s\n", build.Version, gw.Scheme(), ln.Addr(), source, strings.TrimRight(cfg.Describe(), "\n"))
	if gw.AdminSecret != "" {
		fmt.Fprintf(stdout, "\nA new admin key was created for this database. It is shown only this once; keep it:\n\n    export TOLLGATE_ADMIN_KEY=%s\n\n(or set TOLLGATE_ADMIN_KEY before starting to choose your own)\n\n", gw.AdminSecret)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	err = gw.Serve(ctx, ln)
	log.Info("tollgate stopped")
	return err
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (YAML); default $TOLLGATE_CONFIG, else built-in defaults")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, source, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if missing := missingKeyVars(cfg); len(missing) > 0 {
		return fmt.Errorf("config: %s: %s", source, strings.Join(missing, "; "))
	}
	fmt.Fprintf(stdout, "config: %s: OK\n%s\n", source, strings.TrimRight(cfg.Describe(), "\n"))
	return nil
}

// missingKeyVars lists the API-key environment variables the config names
// that are unset, which serve would refuse to start with.
func missingKeyVars(cfg *config.Config) []string {
	var out []string
	for _, name := range cfg.ProviderNames() {
		p := cfg.Providers[name]
		env := p.APIKeyEnv
		if env == "" {
			continue // a bedrock provider on the AWS credential chain
		}
		if os.Getenv(env) == "" {
			out = append(out, fmt.Sprintf("provider %s: the API key variable %s is empty or unset", name, env))
		}
	}
	return out
}
