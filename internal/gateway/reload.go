package gateway

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/tollgate-gw/tollgate/internal/config"
)

// reloadState is the outcome of the config file reloads so far, for the
// metric and /readyz?verbose=1.
type reloadState struct {
	mu          sync.Mutex
	ok, invalid int64
	last        *ReloadHealth
}

// ReloadHealth is the last config file reload, in /readyz?verbose=1.
type ReloadHealth struct {
	At time.Time `json:"at"`
	// Result is "ok" or "invalid" (the running config stayed).
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	// NeedsRestart lists the changed settings a reload cannot apply.
	NeedsRestart []string `json:"needs_restart,omitempty"`
}

func (r *reloadState) counts() (ok, invalid int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok, r.invalid
}

func (r *reloadState) health() *ReloadHealth {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		return nil
	}
	h := *r.last
	return &h
}

func (r *reloadState) record(h ReloadHealth) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h.Result == "ok" {
		r.ok++
	} else {
		r.invalid++
	}
	r.last = &h
}

// ReloadConfig applies a config file read again (tollgate serve does it
// on SIGHUP). load returns the new config, loaded and validated; when it
// fails, or the new config cannot be built (a provider's credentials), the
// running config stays, the error is logged at error level, counted
// (tollgate_config_reloads_total{result="invalid"}) and returned.
// Otherwise what can change at run time is swapped in at once — models,
// providers, prices, routing rules, access rules — without touching calls
// in flight, and each changed setting that only a restart applies
// (listeners, database, TLS files, server timeouts, usage, replicas,
// static keys, alerts, log) is logged as needing one.
func (g *Gateway) ReloadConfig(ctx context.Context, load func() (*config.Config, error)) error {
	fail := func(err error) error {
		g.reload.record(ReloadHealth{At: time.Now().UTC(), Result: "invalid", Error: err.Error()})
		g.log.Error("config reload refused; the running config stays", "err", err)
		return err
	}
	next, err := load()
	if err != nil {
		return fail(err)
	}
	rules, err := next.Access.Compile()
	if err != nil {
		return fail(fmt.Errorf("access rules: %w", err))
	}
	if err := g.Models.setFile(ctx, next); err != nil {
		return fail(err)
	}
	g.Server.SetAccess(rules)
	restart := needsRestart(g.cfg, next)
	g.reload.record(ReloadHealth{At: time.Now().UTC(), Result: "ok", NeedsRestart: restart})
	g.log.Info("config reloaded: models, providers, prices, routing and access rules applied", "models", len(next.Models), "providers", len(next.Providers))
	if len(restart) > 0 {
		g.log.Warn("config reload: these changed settings need a restart to apply", "settings", restart)
	}
	return nil
}

// needsRestart names the top-level settings that differ between the
// config the gateway started with and next and that only a restart
// applies.
func needsRestart(running, next *config.Config) []string {
	var out []string
	for _, f := range []struct {
		name string
		a, b any
	}{
		{"listen", running.Listen, next.Listen},
		{"tls", running.TLS, next.TLS},
		{"data_dir", running.DataDir, next.DataDir},
		{"database", running.Database, next.Database},
		{"log", running.Log, next.Log},
		{"server", running.Server, next.Server},
		{"usage", running.Usage, next.Usage},
		{"replicas", running.Replicas, next.Replicas},
		{"metrics", running.Metrics, next.Metrics},
		{"keys", running.Keys, next.Keys},
		{"alerts", running.Alerts, next.Alerts},
	} {
		if !reflect.DeepEqual(f.a, f.b) {
			out = append(out, f.name)
		}
	}
	return out
}
