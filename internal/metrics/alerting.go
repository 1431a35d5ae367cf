package metrics

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names for open mode and budget alerts; see names.go for the rest.
const (
	nameOpenMode        = namespace + "_open_mode"
	nameBudgetAlerts    = namespace + "_budget_alerts_total"
	nameAlertDeliveries = namespace + "_alert_deliveries_total"
	nameAlertsDropped   = namespace + "_alert_queue_dropped_total"
	nameAlertQueueDepth = namespace + "_alert_queue_depth"

	labelScopeKind = "scope_kind"
	labelEvent     = "event"
	labelThreshold = "threshold"
	labelSink      = "sink"
	labelOutcome   = "outcome"
)

// Budget alert events (the event label) and delivery outcomes (the outcome
// label).
const (
	AlertThreshold = "threshold" // settled spend reached a threshold
	AlertRefused   = "refused"   // the budget refused a call

	DeliveryDelivered = "delivered" // the sink answered 2xx
	DeliveryRetried   = "retried"   // an attempt failed and will be retried
	DeliveryFailed    = "failed"    // every attempt failed; the alert is lost for that sink
)

// alerting holds the open-mode gauge and the budget-alert counters.
type alerting struct {
	open       atomic.Pointer[func() bool]
	alerts     *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	dropped    prometheus.Counter
	depth      atomic.Pointer[func() int]
}

func newAlerting(reg *prometheus.Registry) *alerting {
	a := &alerting{}
	openMode := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: nameOpenMode,
		Help: "1 while the gateway admits model calls without a key (no client key exists and open mode is allowed: a loopback listener or server.open_without_keys), else 0.",
	}, func() float64 {
		if f := a.open.Load(); f != nil && (*f)() {
			return 1
		}
		return 0
	})
	a.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameBudgetAlerts,
		Help: "Budget alerts raised, by budget scope kind (key, user, team), event (threshold: settled spend reached a threshold; refused: the budget refused a call) and threshold in percent (none for refusals). Each budget, threshold and period counts once across all replicas.",
	}, []string{labelScopeKind, labelEvent, labelThreshold})
	a.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameAlertDeliveries,
		Help: "Attempts to deliver budget alerts to notification sinks, by sink name and outcome (delivered, retried, failed).",
	}, []string{labelSink, labelOutcome})
	a.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: nameAlertsDropped,
		Help: "Budget alerts dropped because the notification queue was full; each is still logged.",
	})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: nameAlertQueueDepth,
		Help: "Budget alerts waiting to be claimed and delivered.",
	}, func() float64 {
		if f := a.depth.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	reg.MustRegister(openMode, a.alerts, a.deliveries, a.dropped, depth)
	return a
}

// RegisterOpenMode makes tollgate_open_mode read open at every scrape.
func (m *Metrics) RegisterOpenMode(open func() bool) {
	if m == nil {
		return
	}
	m.alerting.open.Store(&open)
}

// RegisterAlertQueue makes tollgate_alert_queue_depth read depth at every
// scrape.
func (m *Metrics) RegisterAlertQueue(depth func() int) {
	if m == nil {
		return
	}
	m.alerting.depth.Store(&depth)
}

// BudgetAlert counts one budget alert, on the replica that claimed it.
// threshold is a percentage, or 0 for a refusal.
func (m *Metrics) BudgetAlert(scopeKind, event string, threshold int) {
	if m == nil {
		return
	}
	th := valueNone
	if threshold > 0 {
		th = strconv.Itoa(threshold)
	}
	m.alerting.alerts.WithLabelValues(oneOf(scopeKind, "key", "user", "team"), oneOf(event, AlertThreshold, AlertRefused), th).Inc()
}

// AlertDelivery counts one delivery attempt to the named sink. Sink names
// come from the config file, so their number is bounded by it.
func (m *Metrics) AlertDelivery(sink, outcome string) {
	if m == nil {
		return
	}
	m.alerting.deliveries.WithLabelValues(labelValue(sink), oneOf(outcome, DeliveryDelivered, DeliveryRetried, DeliveryFailed)).Inc()
}

// AlertDropped counts one alert dropped at a full queue.
func (m *Metrics) AlertDropped() {
	if m == nil {
		return
	}
	m.alerting.dropped.Inc()
}
