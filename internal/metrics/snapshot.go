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
	Spilled       uint64 // records moved to the local spill file because the store failed
	Replayed      uint64 // records written back from the spill file
	Quarantined   uint64 // records the store rejected, set aside in the quarantine file
	SpillBytes    int64  // the spill file's size now

	// FailingSince is when the current run of failed writes began; zero
	// while writes succeed.
	FailingSince time.Time
	// LastWrite is the last successful write; zero before the first.
	LastWrite time.Time
	// Ready is false when usage is being, or about to be, lost: writes fail
	// and the backlog cannot be spilled.
	Ready bool
	// Now is the scrape time; zero means time.Now. Tests set it.
	Now time.Time
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
	descWriterSpilled = prometheus.NewDesc(nameWriterSpilled,
		"Usage records moved to the local spill file because the database could not take them; they are replayed when it answers.", nil, nil)
	descWriterReplayed = prometheus.NewDesc(nameWriterReplayed,
		"Usage records written back to the database from the spill file.", nil, nil)
	descWriterQuarantined = prometheus.NewDesc(nameWriterQuarantined,
		"Usage records the database rejected, set aside in the quarantine file so they cannot block the others. Should stay 0.", nil, nil)
	descWriterSpillBytes = prometheus.NewDesc(nameWriterSpillBytes,
		"Size of the usage spill file in bytes; 0 when nothing waits on disk.", nil, nil)
	descWriterFailing = prometheus.NewDesc(nameWriterFailing,
		"How long the usage writer's writes have been failing without a success, in seconds; 0 while they succeed.", nil, nil)
	descWriterLastWrite = prometheus.NewDesc(nameWriterLastWrite,
		"When the usage writer last wrote to the database, as a Unix time; absent before the first write.", nil, nil)
	descWriterReady = prometheus.NewDesc(nameWriterReady,
		"1 while usage is safe (written, or spilled while the database fails); 0 when it is being lost, which also fails /readyz.", nil, nil)
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
		descWriterWritten, descWriterDropped, descWriterFailedFlushes, descWriterSpilled, descWriterReplayed,
		descWriterQuarantined, descWriterSpillBytes, descWriterFailing, descWriterLastWrite, descWriterReady} {
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
	ch <- prometheus.MustNewConstMetric(descWriterSpilled, prometheus.CounterValue, float64(s.Spilled))
	ch <- prometheus.MustNewConstMetric(descWriterReplayed, prometheus.CounterValue, float64(s.Replayed))
	ch <- prometheus.MustNewConstMetric(descWriterQuarantined, prometheus.CounterValue, float64(s.Quarantined))
	ch <- prometheus.MustNewConstMetric(descWriterSpillBytes, prometheus.GaugeValue, float64(s.SpillBytes))
	failing := 0.0
	if !s.FailingSince.IsZero() {
		now := s.Now
		if now.IsZero() {
			now = time.Now()
		}
		failing = max(0, now.Sub(s.FailingSince).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(descWriterFailing, prometheus.GaugeValue, failing)
	if !s.LastWrite.IsZero() {
		ch <- prometheus.MustNewConstMetric(descWriterLastWrite, prometheus.GaugeValue, float64(s.LastWrite.UnixNano())/1e9)
	}
	ready := 0.0
	if s.Ready {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descWriterReady, prometheus.GaugeValue, ready)
}
