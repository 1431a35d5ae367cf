package gateway

import (
	"fmt"
	"log/slog"

	"github.com/tollgate-gw/tollgate/internal/alerts"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/metrics"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// startAlerts builds the budget-alert notifier from the config's alerts
// block and hooks it to the ledger: threshold crossings (at settlement) and
// refusals (at reservation) are queued, claimed once in the store across
// replicas, and delivered in the background. Call it before serving.
func startAlerts(cfg config.Alerts, st *store.Store, a *Accounts, m *metrics.Metrics, log *slog.Logger) (*alerts.Notifier, error) {
	var sinks []alerts.Sink
	for _, s := range cfg.Sinks {
		switch s.Type {
		case config.SinkWebhook:
			w, err := alerts.NewWebhook(s.Name, s.URL, s.Secret, nil)
			if err != nil {
				return nil, err
			}
			sinks = append(sinks, w)
		case config.SinkSlack:
			sinks = append(sinks, alerts.NewSlack(s.Name, s.URL, nil))
		default:
			return nil, fmt.Errorf("alerts: sink %s: unknown type %q", s.Name, s.Type)
		}
	}
	n := alerts.New(alerts.Options{
		Store: st, Sinks: sinks, Metrics: m, Logger: log.With("component", "alerts"),
		Names: a.alias, Status: a.Ledger.Status,
		QueueSize: cfg.QueueSize, MaxAttempts: cfg.MaxAttempts, Backoff: cfg.RetryBackoff,
	})
	a.Ledger.SetAlerts(n.Threshold, n.Refused)
	m.RegisterAlertQueue(n.Depth)
	return n, nil
}

// alias returns the alias of a key, user or team, "" when unknown.
func (a *Accounts) alias(kind, id string) string {
	if p := a.names.Load(); p != nil {
		return (*p)[kind+"/"+id]
	}
	return ""
}
