package ui

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

// chart is a stacked bar chart of cost over time, drawn as SVG by the
// chart template: every coordinate is computed here, so the template only
// places rectangles and no script or chart library is needed.
type chart struct {
	Label  string
	W, H   int
	Bars   []bar
	Legend []legendItem
	Ticks  []tick
	Max    string
	Empty  bool
}

// bar is one group's part of one bucket. Group is the group's id (or the
// model name), for tests and the tooltip.
type bar struct {
	X, Y, W, H float64
	Class      string
	Group      string
	Title      string
}

type legendItem struct {
	Class, Name string
}

type tick struct {
	X     float64
	Label string
}

const (
	chartW, chartH = 720, 220
	chartPad       = 24 // room for axis labels at the bottom
	maxSeries      = 7  // the rest are summed as "other"
)

// buildChart turns usage rows (granularity hour or day) into a chart of
// cost per bucket from since to until, stacked by group.
func buildChart(l *lang, label string, rows []admin.UsageRow, since, until time.Time, step time.Duration) *chart {
	c := &chart{Label: label, W: chartW, H: chartH}
	totals := map[string]int64{}
	names := map[string]string{}
	for _, r := range rows {
		totals[r.Group] += r.CostUSDMicros
		names[r.Group] = cmp.Or(r.Name, r.Group, "—")
	}
	groups := make([]string, 0, len(totals))
	for g := range totals {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b string) int { return cmp.Or(cmp.Compare(totals[b], totals[a]), cmp.Compare(a, b)) })
	const other = "\x00other"
	series := map[string]int{}
	for i, g := range groups {
		if i >= maxSeries {
			series[g] = maxSeries
			continue
		}
		series[g] = i
		c.Legend = append(c.Legend, legendItem{Class: fmt.Sprintf("s%d", i), Name: names[g]})
	}
	if len(groups) > maxSeries {
		c.Legend = append(c.Legend, legendItem{Class: fmt.Sprintf("s%d", maxSeries), Name: "…"})
		names[other] = "…"
	}
	start := since.UTC().Truncate(step)
	if step == 24*time.Hour {
		start = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	}
	n := int(until.Sub(start)/step) + 1
	if n < 1 {
		n = 1
	}
	// cost[bucket][series]
	cost := make([][maxSeries + 1]int64, n)
	groupOf := make([][maxSeries + 1]string, n)
	for _, r := range rows {
		if r.Time == nil {
			continue
		}
		i := int(r.Time.Sub(start) / step)
		if i < 0 || i >= n {
			continue
		}
		s := series[r.Group]
		cost[i][s] += r.CostUSDMicros
		if s < maxSeries {
			groupOf[i][s] = r.Group
		} else {
			groupOf[i][s] = other
		}
	}
	var max int64
	for _, b := range cost {
		var sum int64
		for _, v := range b {
			sum += v
		}
		max = max2(max, sum)
	}
	if max == 0 {
		c.Empty = true
		return c
	}
	c.Max = l.Money(max)
	plotH := float64(chartH - chartPad)
	bw := float64(chartW) / float64(n)
	for i, b := range cost {
		y := plotH
		for s, v := range b {
			if v == 0 {
				continue
			}
			h := float64(v) / float64(max) * plotH
			y -= h
			g := groupOf[i][s]
			c.Bars = append(c.Bars, bar{X: float64(i) * bw, Y: y, W: max1(bw-1, 1), H: h, Class: fmt.Sprintf("s%d", s), Group: g,
				Title: fmt.Sprintf("%s · %s · %s", l.Short(start.Add(time.Duration(i)*step), step < 24*time.Hour), names[g], l.Money(v))})
		}
	}
	every := max2(int64(n/6), 1)
	for i := 0; i < n; i += int(every) {
		c.Ticks = append(c.Ticks, tick{X: float64(i) * bw, Label: l.Short(start.Add(time.Duration(i)*step), step < 24*time.Hour)})
	}
	return c
}

func max2(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func max1(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}
