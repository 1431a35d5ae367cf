// Package gateway is Tollgate's composition root: it builds a running
// gateway from a validated config — database, in-memory accounts, usage
// writer, providers, routes, prices, metrics, admin API — hands the call
// pipeline (package server) what it needs through server.Options, and owns
// the lifecycle: background work, serving, graceful shutdown, close.
package gateway

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/alerts"
	"github.com/tollgate-gw/tollgate/internal/buildinfo"
	"github.com/tollgate-gw/tollgate/internal/certs"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/keys"
	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/metrics"
	"github.com/tollgate-gw/tollgate/internal/provider"
	"github.com/tollgate-gw/tollgate/internal/router"
	"github.com/tollgate-gw/tollgate/internal/server"
	"github.com/tollgate-gw/tollgate/internal/signin"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/ui"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// BuildOptions adjust FromConfig for embedders such as `tollgate demo` and
// tests.
type BuildOptions struct {
	// Build identifies the running binary, for the build_info metric.
	Build buildinfo.Info

	// Clock, when set, is the clock of key expiry and of the credential
	// exchanges (tests move it instead of sleeping); nil: time.Now.
	Clock func() time.Time

	// Credentials overrides the AWS credential chain per Bedrock provider
	// name.
	Credentials map[string]aws.CredentialsProvider

	// TargetHealth, when set, holds the router's target cooldowns and
	// in-flight counts (tests set its clock); nil makes a fresh one.
	TargetHealth *router.Health

	// LogDropped, when set, counts the log lines the process's asynchronous
	// log writer dropped; exported as tollgate_log_lines_dropped_total.
	LogDropped func() uint64
}

// Gateway is a running Tollgate: the HTTP handler and what it owns — the
// store, the in-memory accounts, the usage writer — with their lifecycle.
type Gateway struct {
	Server   *server.Server
	Store    *store.Store
	Accounts *Accounts
	Writer   *usage.Writer
	// SignIn is the OIDC relying party (config sign_in) that the console
	// and Claude Code's /login build on; nil when sign-in is off.
	SignIn *signin.RP
	// Alerts delivers budget alerts; closed before the store.
	Alerts *alerts.Notifier
	// Models keeps the routes in step with the config file and the
	// runtime models in the database.
	Models *Models
	// AdminSecret is a newly generated admin key, set only on the first
	// start of a database without TOLLGATE_ADMIN_KEY; print it once.
	AdminSecret string

	cfg    *config.Config
	log    *slog.Logger
	tls    *certs.Reloader // nil: plain HTTP
	reload *reloadState

	// stopBackground ends what startBackground started; background waits
	// for it.
	stopBackground context.CancelFunc
	background     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// FromConfig builds a Gateway from a validated config: it opens (and
// migrates) the database, loads keys and budgets into memory, starts the
// usage writer and resolves AWS credentials and API keys, all once.
func FromConfig(ctx context.Context, cfg *config.Config, log *slog.Logger, bo BuildOptions) (*Gateway, error) {
	tlsCerts, err := loadTLS(cfg, log)
	if err != nil {
		return nil, err
	}
	rules, err := cfg.Access.Compile()
	if err != nil {
		return nil, fmt.Errorf("access rules: %w", err)
	}
	if err := ensureSQLiteDir(cfg.Database); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.Database, log)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	mods := newModels(st, log, bo.Credentials)
	err = mods.setFile(ctx, cfg)
	if err == nil {
		err = mods.ReloadDatabase(ctx)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	routing := mods.view.Load().routing
	var ks []keys.StaticKey
	for _, k := range cfg.Keys {
		ks = append(ks, keys.StaticKey{Name: k.Name, Secret: k.Secret})
	}
	accts := NewAccounts(st, keys.NewStatic(ks), log)
	if bo.Clock != nil {
		accts.Keys.SetClock(bo.Clock)
	}
	var (
		shared        *limits.Shared
		sharedLimiter *limits.SharedLimiter
	)
	if st.Engine() == store.EnginePostgres {
		shared, sharedLimiter = accts.Share(sharedOptions(cfg.Replicas))
	}
	openMode(cfg, accts.Keys, len(ks), log)
	if err := accts.Reload(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("load keys and budgets: %w", err)
	}
	spill, quarantine, err := openSpools(cfg.Usage)
	if err != nil {
		st.Close()
		return nil, err
	}
	writer := usage.NewWriter(st, usage.WriterOptions{
		QueueSize:     cfg.Usage.QueueSize,
		BatchSize:     cfg.Usage.BatchSize,
		FlushInterval: cfg.Usage.FlushInterval,
		Logger:        log,
		Spill:         spill,
		Quarantine:    quarantine,
	})
	adminSecret, err := admin.Bootstrap(ctx, st, os.Getenv("TOLLGATE_ADMIN_KEY"))
	if err != nil {
		writer.Close(ctx)
		st.Close()
		return nil, fmt.Errorf("admin credential: %w", err)
	}
	adminAPI := admin.New(st, admin.Options{
		Logger:   log,
		Live:     writer.Subscribe,
		Enforcer: accts.Ledger,
		// The audit log records the client address the access rules
		// resolve (through trusted proxies), not the load balancer's.
		ClientIP: func(r *http.Request) string {
			if ip := rules.ClientIP(r); ip.IsValid() {
				return ip.String()
			}
			return ""
		},
		Models: mods,
		// Reload before the admin call answers, so that a key created by
		// the CLI works on the very next request.
		OnChange: func() {
			if err := accts.Reload(context.WithoutCancel(ctx)); err != nil {
				log.Error("reloading keys and budgets after an admin change failed", "err", err)
			}
			if err := mods.ReloadDatabase(context.WithoutCancel(ctx)); err != nil {
				log.Error("reloading runtime models after an admin change failed; serving the previous routes", "err", err)
			}
			// And on every other replica, at once.
			nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Replicas.DatabaseTimeout)
			defer cancel()
			if err := st.NotifyChange(nctx); err != nil {
				log.Warn("announcing an admin change to the other replicas failed; they apply it at their next periodic reload", "err", err)
			}
		},
	})
	console, err := ui.New(ui.Options{Store: st, Admin: adminAPI, Accounts: adminAPI, ClientIP: rules.ClientIP, Logger: log})
	if err != nil {
		writer.Close(ctx)
		st.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	exchanges := newExchanges(cfg, st, accts, bo.Clock, log)
	m := metrics.New(bo.Build)
	m.RegisterBudgets(accts.BudgetSamples)
	m.RegisterOpenMode(accts.Keys.OpenNow)
	m.RegisterLogDropped(bo.LogDropped)
	reloads := &reloadState{}
	m.RegisterConfigReloads(reloads.counts)
	notifier, err := startAlerts(cfg.Alerts, st, accts, m, log)
	if err != nil {
		writer.Close(ctx)
		st.Close()
		return nil, err
	}
	m.RegisterWriter(func() metrics.WriterStats {
		st := writer.Stats()
		return metrics.WriterStats{QueueDepth: st.Depth, QueueCapacity: cfg.Usage.QueueSize,
			Written: uint64(st.Written), Dropped: uint64(st.Dropped), FailedFlushes: uint64(st.FailedFlushes),
			Spilled: uint64(st.Spilled), Replayed: uint64(st.Replayed), Quarantined: uint64(st.Quarantined),
			SpillBytes: st.SpillBytes, FailingSince: st.FailingSince, LastWrite: st.LastWrite,
			Ready: writer.Ready() == nil}
	})
	// Readiness is the usage writer's verdict alone: whether the database
	// answers is a detail for operators (see server.Options.Ready).
	ready := func(context.Context) error { return writer.Ready() }
	var feed *changeFeed
	if st.Engine() == store.EnginePostgres {
		feed = newChangeFeed(accts, mods, st, log)
		m.RegisterReplicas(func() bool { return feed.listening.Load() }, func() int64 {
			n, _ := shared.Failures()
			k, _ := sharedLimiter.Failures()
			return n + k
		})
	}
	health := func(ctx context.Context) any {
		h := gatewayHealth(ctx, st, writer, cfg.Usage.QueueSize, cfg.Usage.SpillPath)
		h.ConfigReload = reloads.health()
		if feed != nil {
			n, msg := shared.Failures()
			k, kmsg := sharedLimiter.Failures()
			h.Replicas = &ReplicasHealth{ChangeFeed: feed.health(), LeaseFailures: n + k, LeaseError: cmp.Or(msg, kmsg)}
		}
		return h
	}
	srv, err := server.New(server.Options{
		Metrics:         m,
		MetricsOnMain:   cfg.Metrics.Listen == "",
		Router:          routing.Router,
		TargetHealth:    bo.TargetHealth,
		Providers:       routing.Providers,
		Auth:            accts.Keys,
		Logger:          log,
		MaxBodyBytes:    cfg.Server.MaxBodyBytes,
		PingInterval:    cfg.Server.PingInterval,
		BodyReadTimeout: cfg.Server.BodyReadTimeout,
		MaxRetries:      routing.MaxRetries,
		RetryBackoff:    config.DefaultRetryBackoff,
		MaxRetryAfter:   config.DefaultMaxRetryAfter,
		Region:          routing.Region,
		ProviderTypes:   routing.ProviderTypes,
		ProviderRegions: routing.ProviderRegions,
		Access:          rules,
		Admin:           adminAPI,
		Console:         console,
		Exchanges:       exchanges,
		Ready:           ready,
		Health:          health,
		Budgets:         accts.Ledger,
		Limiter:         accts.Limiter,
		Prices:          routing.Prices,
		Usage:           writer,
	})
	if err != nil {
		notifier.Close(ctx)
		writer.Close(ctx)
		st.Close()
		return nil, err
	}
	mods.mu.Lock()
	mods.srv = srv
	mods.mu.Unlock()
	g := &Gateway{Server: srv, Store: st, Accounts: accts, Writer: writer, Alerts: notifier, AdminSecret: adminSecret, Models: mods,
		cfg: cfg, log: log, tls: tlsCerts, reload: reloads}
	g.startBackground(feed, shared, sharedLimiter)
	if cfg.SignIn.Enabled() {
		g.SignIn = signin.New(cfg.SignIn, st, signin.Options{Now: bo.Clock})
	}
	return g, nil
}

// startBackground starts what must run for as long as the gateway is open,
// whether or not Run is called: the shared ledger's flusher, which writes
// settled spend to the database and gives unused leases back, and the
// change feed. Close stops them after the last call has settled.
func (g *Gateway) startBackground(feed *changeFeed, shared *limits.Shared, limiter *limits.SharedLimiter) {
	ctx, cancel := context.WithCancel(context.Background())
	g.stopBackground = cancel
	if shared != nil {
		g.background.Go(func() { shared.Run(ctx) })
		g.background.Go(func() { limiter.Run(ctx) })
	}
	if feed != nil {
		g.background.Go(func() { feed.run(ctx) })
	}
}

// sharedOptions maps the replicas config onto the shared ledger's options.
func sharedOptions(r config.Replicas) limits.SharedOptions {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return limits.SharedOptions{
		Replica:         fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b),
		SharePercent:    r.LeaseSharePercent,
		TTL:             r.LeaseTTL,
		FlushInterval:   r.FlushInterval,
		Timeout:         r.DatabaseTimeout,
		OutageAllowance: limits.Amount{Micros: int64(r.OutageAllowanceUSD * 1e6)},
	}
}

// Run runs the gateway's background work until ctx ends: reloading keys and
// budgets when they change, and purging raw usage rows past retention (on
// PostgreSQL by one replica at a time: the others skip the round).
func (g *Gateway) Run(ctx context.Context) {
	go g.Accounts.Run(ctx, 30*time.Second)
	go g.Models.run(ctx, 30*time.Second)
	go checkUpstreams(ctx, g.Server.Routing().Providers, g.log)
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := g.Store.PurgeUsage(ctx, time.Now().Add(-g.cfg.Usage.Retention))
		switch {
		case errors.Is(err, store.ErrPurgeBusy):
			g.log.Debug("another replica is purging old usage rows; skipped")
		case err != nil && ctx.Err() == nil:
			g.log.Warn("purging old usage rows failed", "err", err)
		case n > 0:
			g.log.Info("purged usage rows past retention", "rows", n, "retention", g.cfg.Usage.Retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Serve runs the gateway on ln until ctx ends, then shuts down without losing
// usage: new connections stop, open streams get the config's shutdown grace
// to finish, streams still open after it are cut, every handler is waited for
// so that it settles its budget and queues its usage row, and the usage
// writer is flushed before the database closes.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go g.Run(runCtx)
	hs := g.Server.HTTPServer(ln.Addr().String(), g.cfg.Server.ReadHeaderTimeout, g.cfg.Server.IdleTimeout)
	ln = g.secure(hs, ln)
	err := g.Server.Serve(ctx, hs, ln, g.cfg.Server.ShutdownGrace)
	if errors.Is(err, server.ErrGraceExpired) {
		g.log.Warn("shutdown: streams still open after the grace period were cut; they are charged for what they generated",
			"grace", g.cfg.Server.ShutdownGrace)
		err = nil
	}

	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if derr := g.Server.Drain(cctx); derr != nil {
		g.log.Error("shutdown: handlers still running; their usage may be lost", "err", derr)
	}
	if cerr := g.Close(cctx); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// Close flushes every queued usage row and closes the database. Call it after
// the HTTP server has drained, so that the last requests are recorded. It is
// safe to call more than once.
func (g *Gateway) Close(ctx context.Context) error {
	g.closeOnce.Do(func() {
		if aerr := g.Alerts.Close(ctx); aerr != nil {
			g.log.Warn("shutdown: budget alerts not all delivered", "err", aerr)
		}
		werr := g.Writer.Close(ctx)
		// The shared ledger's last flush (settled spend in, leases back)
		// needs the store.
		if g.stopBackground != nil {
			g.stopBackground()
		}
		g.background.Wait()
		serr := g.Store.Close()
		if werr != nil {
			g.closeErr = fmt.Errorf("flush usage: %w", werr)
		} else {
			g.closeErr = serr
		}
	})
	return g.closeErr
}

// openSpools opens the usage writer's spill and quarantine files; an empty
// path (a config built in code without defaults) disables that file.
func openSpools(u config.Usage) (spill, quarantine *usage.Spool, err error) {
	max := u.SpillMaxBytes
	if max <= 0 {
		max = config.DefaultUsageSpillMaxBytes
	}
	if u.SpillPath != "" {
		if spill, err = usage.OpenSpool(u.SpillPath, max); err != nil {
			return nil, nil, fmt.Errorf("usage spill file: %w", err)
		}
	}
	if u.QuarantinePath != "" {
		if quarantine, err = usage.OpenSpool(u.QuarantinePath, max); err != nil {
			return nil, nil, fmt.Errorf("usage quarantine file: %w", err)
		}
	}
	return spill, quarantine, nil
}

// ensureSQLiteDir creates the directory of a sqlite:// database file.
func ensureSQLiteDir(dsn string) error {
	path, ok := strings.CutPrefix(dsn, "sqlite://")
	if !ok {
		return nil
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if dir := filepath.Dir(path); dir != "" && dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create data directory %s: %w", dir, err)
		}
	}
	return nil
}

func priceOverrides(ps []config.Price) []usage.PriceOverride {
	out := make([]usage.PriceOverride, 0, len(ps))
	for _, p := range ps {
		out = append(out, usage.PriceOverride{Match: p.Match, Provider: p.Provider, Price: usage.Price{
			Input:        usage.USDPerMillion(p.Input),
			Output:       usage.USDPerMillion(p.Output),
			CacheWrite5m: usage.USDPerMillion(p.CacheWrite5m),
			CacheWrite1h: usage.USDPerMillion(p.CacheWrite1h),
			CacheRead:    usage.USDPerMillion(p.CacheRead),
		}})
	}
	return out
}

func newProvider(ctx context.Context, name string, pc config.Provider, creds aws.CredentialsProvider, log *slog.Logger) (provider.Provider, error) {
	to := provider.TransportOptions{
		ConnectTimeout:      pc.ConnectTimeout,
		FirstByteTimeout:    pc.FirstByteTimeout,
		NonStreamTimeout:    pc.NonStreamTimeout,
		ReadIdleTimeout:     pc.ReadIdleTimeout,
		MaxIdleConnsPerHost: pc.MaxIdleConnsPerHost,
	}
	switch pc.Type {
	case config.ProviderBedrock:
		o := provider.BedrockOptions{Name: name, Region: pc.Region, Endpoint: pc.Endpoint, Profile: pc.Profile,
			Credentials: creds, Transport: to, Logger: log.With("provider", name)}
		if pc.APIKeyEnv != "" {
			o.APIKey = os.Getenv(pc.APIKeyEnv)
			if o.APIKey == "" {
				return nil, fmt.Errorf("api_key_env %s is empty or unset", pc.APIKeyEnv)
			}
		}
		return provider.NewBedrock(ctx, o)
	case config.ProviderAnthropic:
		env := pc.APIKeyEnv
		if env == "" {
			env = "ANTHROPIC_API_KEY"
		}
		key := os.Getenv(env)
		if key == "" {
			return nil, fmt.Errorf("the Anthropic API key variable %s is empty or unset", env)
		}
		return provider.NewAnthropic(provider.AnthropicOptions{Name: name, BaseURL: pc.BaseURL, APIKey: key, Transport: to})
	}
	return nil, fmt.Errorf("unknown provider type %q", pc.Type)
}

// checkUpstreams resolves each Bedrock provider's credentials once and logs
// the outcome, so a missing AWS setup shows at start, not on the first call.
func checkUpstreams(ctx context.Context, providers map[string]provider.Provider, log *slog.Logger) {
	names := make([]string, 0, len(providers))
	for n := range providers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, ok := providers[n].(*provider.Bedrock)
		if !ok {
			continue
		}
		src, err := b.CheckCredentials(ctx)
		if err != nil {
			log.Warn("no usable AWS credentials yet; Bedrock calls will fail until they are available",
				"provider", n, "region", b.Region(), "err", strings.TrimSpace(err.Error()))
			continue
		}
		log.Info("AWS credentials found", "provider", n, "region", b.Region(), "source", src)
	}
}
