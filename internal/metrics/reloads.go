package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metric names of configuration reloads; see names.go for the rest.
const nameConfigReloads = namespace + "_config_reloads_total"

// RegisterConfigReloads adds tollgate_config_reloads_total{result}: config
// file reloads (SIGHUP) that were applied (result="ok") and that were
// refused because the new file did not validate or could not be built
// (result="invalid"; the running config stays). counts returns both
// totals. Call it once.
func (m *Metrics) RegisterConfigReloads(counts func() (ok, invalid int64)) {
	if m == nil {
		return
	}
	desc := prometheus.NewDesc(nameConfigReloads,
		"Config file reloads (SIGHUP) by result: ok (applied) or invalid (refused; the running config stays).",
		[]string{"result"}, nil)
	m.reg.MustRegister(&reloadCollector{desc: desc, counts: counts})
}

type reloadCollector struct {
	desc   *prometheus.Desc
	counts func() (ok, invalid int64)
}

func (c *reloadCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *reloadCollector) Collect(ch chan<- prometheus.Metric) {
	ok, invalid := c.counts()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(ok), "ok")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(invalid), "invalid")
}
