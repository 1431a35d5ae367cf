package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

const nameLogDropped = namespace + "_log_lines_dropped_total"

// logging exports what the asynchronous log writer (internal/logbuf) lost.
type logging struct {
	dropped atomic.Pointer[func() uint64]
}

func newLogging(reg *prometheus.Registry) *logging {
	l := &logging{}
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: nameLogDropped,
		Help: "Log lines dropped because the log's buffer was full: the destination (stderr, a pipe, a file) did not keep up. Requests never wait for the log; this counts what it lost instead.",
	}, func() float64 {
		if f := l.dropped.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	}))
	return l
}

// RegisterLogDropped makes tollgate_log_lines_dropped_total read dropped at
// every scrape.
func (m *Metrics) RegisterLogDropped(dropped func() uint64) {
	if m == nil || dropped == nil {
		return
	}
	m.logging.dropped.Store(&dropped)
}
