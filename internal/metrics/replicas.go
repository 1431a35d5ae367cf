package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metric names of replicas sharing PostgreSQL; see names.go for the rest.
const (
	nameChangeFeedListening = namespace + "_change_feed_listening"
	nameLeaseFailures       = namespace + "_budget_lease_failures_total"
)

// RegisterReplicas adds the metrics of a replica sharing PostgreSQL with
// others: tollgate_change_feed_listening (1 while it hears the others'
// changes through LISTEN/NOTIFY, else 0: changes then arrive only with the
// periodic reload) and tollgate_budget_lease_failures_total (budget lease
// and flush calls to the database that failed). Call it once.
func (m *Metrics) RegisterReplicas(listening func() bool, leaseFailures func() int64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: nameChangeFeedListening,
			Help: "1 while this replica hears the other replicas' admin changes (PostgreSQL LISTEN/NOTIFY), else 0; changes then arrive only with the periodic reload.",
		}, func() float64 {
			if listening() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: nameLeaseFailures,
			Help: "Budget lease and flush calls to PostgreSQL that failed or timed out; calls are then served from the leases in hand, then by the outage policy.",
		}, func() float64 { return float64(leaseFailures()) }),
	)
}
