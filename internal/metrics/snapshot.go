package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BudgetSample is one budget's state in its current period, as the budget
// ledger reports it (limits.Ledger.Statuses, with each scope id replaced by
// the owner's alias).
type BudgetSample struct {
	Scope  string // "key", "user" or "team"
	Name   string // the key's, user's or team's ALIAS — never an id or a secret
	Period string // "day", "week", "month" or "total"

	SpentMicros, ReservedMicros int64 // settled spend and in-flight reservations, micro-USD
	LimitMicros                 int64 // micro-USD per period; 0 means no limit in money
	SpentTokens, ReservedTokens int64
	LimitTokens                 int64     // tokens per period; 0 means no limit in tokens
	ResetAt                     time.Time // end of the current period; zero for a total budget
}

// WriterStats are the usage writer's counters.
type WriterStats struct {
	QueueDepth    int    // records waiting to be written
	QueueCapacity int    // the queue's bound
	Written       uint64 // records persisted since start
	Dropped       uint64 // records dropped because the queue was full
	FailedFlushes uint64 // batches the store refused (each retried or dropped per the writer's policy)
}

// RegisterBudgets makes the budget gauges read budgets at every scrape.
// Calling it again replaces the function; nil removes the gauges. Budgets
// sharing scope, name and period with an earlier one in the same snapshot
// are skipped, since a series can be exported only once.
func (m *Metrics) RegisterBudgets(budgets func() []BudgetSample) {
	if m == nil {
		return
	}
	m.budgets.fn.Store(&budgets)
}

// RegisterWriter makes the usage-writer metrics read stats at every scrape.
// Calling it again replaces the function; nil removes the metrics.
func (m *Metrics) RegisterWriter(stats func() WriterStats) {
	if m == nil {
		return
	}
	m.writer.fn.Store(&stats)
}

var (
	budgetLabels = []string{labelScope, labelName, labelPeriod}

	descBudgetUsedUSD = prometheus.NewDesc(nameBudgetUsedUSD,
		"Settled spend of a budget in its current period, in USD.", budgetLabels, nil)
	descBudgetReservedUSD = prometheus.NewDesc(nameBudgetReservedUSD,
		"Worst-case cost reserved by calls in flight against a budget, in USD.", budgetLabels, nil)
	descBudgetLimitUSD = prometheus.NewDesc(nameBudgetLimitUSD,
		"A budget's limit per period in USD; absent for budgets without a money limit.", budgetLabels, nil)
	descBudgetRemainingUSD = prometheus.NewDesc(nameBudgetRemainingUSD,
		"What a new call can still reserve, limit - spent - reserved (at least 0), in USD; absent without a money limit.", budgetLabels, nil)
	descBudgetUsedTokens = prometheus.NewDesc(nameBudgetUsedTokens,
		"Settled tokens of every kind counted against a budget in its current period.", budgetLabels, nil)
	descBudgetReservedTokens = prometheus.NewDesc(nameBudgetReservedTokens,
		"Tokens reserved by calls in flight against a budget.", budgetLabels, nil)
	descBudgetLimitTokens = prometheus.NewDesc(nameBudgetLimitTokens,
		"A budget's limit per period in tokens; absent for budgets without a token limit.", budgetLabels, nil)
	descBudgetRemainingTokens = prometheus.NewDesc(nameBudgetRemainingTokens,
		"Tokens a new call can still reserve, limit - spent - reserved (at least 0); absent without a token limit.", budgetLabels, nil)
	descBudgetResetTime = prometheus.NewDesc(nameBudgetResetTime,
		"When a budget's current period ends, as a Unix time; absent for total budgets.", budgetLabels, nil)

	descWriterQueueDepth = prometheus.NewDesc(nameWriterQueueDepth,
		"Usage records waiting in the writer's queue.", nil, nil)
	descWriterQueueCapacity = prometheus.NewDesc(nameWriterQueueCapacity,
		"Capacity of the usage writer's queue; records are dropped when it is full.", nil, nil)
	descWriterWritten = prometheus.NewDesc(nameWriterWritten,
		"Usage records persisted.", nil, nil)
	descWriterDropped = prometheus.NewDesc(nameWriterDropped,
		"Usage records dropped because the writer's queue was full.", nil, nil)
	descWriterFailedFlushes = prometheus.NewDesc(nameWriterFailedFlushes,
		"Batches of usage records the store failed to write.", nil, nil)
)

// budgetCollector exports budget gauges from a snapshot function at scrape
// time.
type budgetCollector struct {
	fn atomic.Pointer[func() []BudgetSample]
}

func (c *budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBudgetUsedUSD, descBudgetReservedUSD, descBudgetLimitUSD,
		descBudgetRemainingUSD, descBudgetUsedTokens, descBudgetReservedTokens, descBudgetLimitTokens,
		descBudgetRemainingTokens, descBudgetResetTime} {
		ch <- d
	}
}

func (c *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.fn.Load()
	if p == nil || *p == nil {
		return
	}
	type id struct{ scope, name, period string }
	seen := map[id]bool{}
	gauge := func(d *prometheus.Desc, v float64, lv id) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv.scope, lv.name, lv.period)
	}
	for _, b := range (*p)() {
		lv := id{
			scope:  oneOf(b.Scope, "key", "user", "team"),
			name:   labelValue(b.Name),
			period: oneOf(b.Period, "day", "week", "month", "total"),
		}
		if seen[lv] {
			continue
		}
		seen[lv] = true
		gauge(descBudgetUsedUSD, usd(b.SpentMicros), lv)
		gauge(descBudgetReservedUSD, usd(b.ReservedMicros), lv)
		if b.LimitMicros > 0 {
			gauge(descBudgetLimitUSD, usd(b.LimitMicros), lv)
			gauge(descBudgetRemainingUSD, usd(max(b.LimitMicros-b.SpentMicros-b.ReservedMicros, 0)), lv)
		}
		gauge(descBudgetUsedTokens, float64(b.SpentTokens), lv)
		gauge(descBudgetReservedTokens, float64(b.ReservedTokens), lv)
		if b.LimitTokens > 0 {
			gauge(descBudgetLimitTokens, float64(b.LimitTokens), lv)
			gauge(descBudgetRemainingTokens, float64(max(b.LimitTokens-b.SpentTokens-b.ReservedTokens, 0)), lv)
		}
		if !b.ResetAt.IsZero() {
			gauge(descBudgetResetTime, float64(b.ResetAt.UnixMilli())/1e3, lv)
		}
	}
}

func usd(micros int64) float64 { return float64(micros) / 1e6 }

// writerCollector exports the usage writer's stats at scrape time.
type writerCollector struct {
	fn atomic.Pointer[func() WriterStats]
}

func (c *writerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWriterQueueDepth, descWriterQueueCapacity,
		descWriterWritten, descWriterDropped, descWriterFailedFlushes} {
		ch <- d
	}
}

func (c *writerCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.fn.Load()
	if p == nil || *p == nil {
		return
	}
	s := (*p)()
	ch <- prometheus.MustNewConstMetric(descWriterQueueDepth, prometheus.GaugeValue, float64(s.QueueDepth))
	ch <- prometheus.MustNewConstMetric(descWriterQueueCapacity, prometheus.GaugeValue, float64(s.QueueCapacity))
	ch <- prometheus.MustNewConstMetric(descWriterWritten, prometheus.CounterValue, float64(s.Written))
	ch <- prometheus.MustNewConstMetric(descWriterDropped, prometheus.CounterValue, float64(s.Dropped))
	ch <- prometheus.MustNewConstMetric(descWriterFailedFlushes, prometheus.CounterValue, float64(s.FailedFlushes))
}
