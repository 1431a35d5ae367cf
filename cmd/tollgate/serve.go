package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate-gw/tollgate/internal/config"
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
		log := newLogger(cmd.ErrOrStderr(), cfg.Log.Level, cfg.Log.Format)
		return serve(cmd.Context(), cfg, source, log, server.BuildOptions{}, cmd.OutOrStdout(), nil)
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
func serve(ctx context.Context, cfg *config.Config, source string, log *slog.Logger, bo server.BuildOptions, info io.Writer, ready func(addr, adminKey string)) error {
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
	bo.Build = build
	gw, err := server.FromConfig(ctx, cfg, log, bo)
	if err != nil {
		return err
	}
	if mln != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", gw.Server.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go ms.Serve(mln)
		defer ms.Close()
		fmt.Fprintf(info, "metrics on http://%s/metrics\n", mln.Addr())
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
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "check [--config FILE]",
		Short: "Validate a config file and print what it would serve",
		Long: `Validate the config file named by --config or $TOLLGATE_CONFIG (or the built-in
defaults) as serve would, report every problem with its line, and print the
routes, keys and providers it would serve.`,
		Example: `  tollgate check --config tollgate.yaml
  TOLLGATE_CONFIG=/etc/tollgate/tollgate.yaml tollgate check`,
		Args: noArgs,
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "config file (YAML); default $TOLLGATE_CONFIG, else built-in defaults")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, source, err := loadConfig(cfgPath)
		if err != nil {
			return err
		}
		if missing := missingKeyVars(cfg); len(missing) > 0 {
			return fmt.Errorf("config: %s: %s", source, strings.Join(missing, "; "))
		}
		fmt.Fprintf(cmd.OutOrStdout(), "config: %s: OK\n%s\n", source, strings.TrimRight(cfg.Describe(), "\n"))
		return nil
	}
	return cmd
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
