package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The stream path's own figures: the relay's cost per event, and what an
// open stream holds while it waits for the model.

// scriptedCall is a call whose answer the simulator scripts with markers:
// words of text (two per delta event) and, when tps > 0, paced at tps
// output tokens per second so that the stream stays open.
func scriptedCall(model string, maxTokens, words int, tps float64, stream bool) call {
	c := newCall(model, maxTokens, stream)
	var text strings.Builder
	for i := range words {
		if i > 0 {
			text.WriteByte(' ')
		}
		fmt.Fprintf(&text, "w%d", i)
	}
	pace := ""
	if tps > 0 {
		pace = fmt.Sprintf(" [[sim:tps %g]]", tps)
	}
	prompt := fmt.Sprintf("Benchmark. [[sim:text %s]]%s", text.String(), pace)
	body := fmt.Sprintf(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":%d,"messages":[{"role":"user","content":%s}]}`,
		max(maxTokens, 4*words), strconv.Quote(prompt))
	c.body = []byte(body)
	return c
}

// phaseCall is what a phase sends: the standard call, or for an events
// phase a stream of ph.Events text deltas.
func phaseCall(o options, ph phase) call {
	if ph.Events > 0 {
		return scriptedCall(o.Model, o.MaxTokens, 2*ph.Events, 0, true)
	}
	return newCall(o.Model, o.MaxTokens, ph.Stream)
}

// perEvent is the relay's added time per event in an events phase: the
// target's time from first to last byte, minus the direct call's, at the
// median, divided by the events of the stream. Time to first byte is
// subtracted so that the per-call work (authentication, routing, the
// upstream's connection) is left out.
func perEvent(t, d *targetResult, events int) time.Duration {
	if events <= 0 {
		return 0
	}
	span := func(r *targetResult) time.Duration { return r.Latency.P50 - r.FirstByte.P50 }
	return (span(t) - span(d)) / time.Duration(events)
}

// openStreamsResult is what N streams held open at once cost a server.
type openStreamsResult struct {
	Target  string
	Streams int // opened: first byte received
	Failed  int
	// RSSBefore and RSSOpen are VmRSS before the streams and with all open.
	RSSBefore, RSSOpen int64
	// GoroutinesBefore and GoroutinesOpen come from the debug listener's
	// goroutine profile; -1 when the server has none (the bare proxy).
	GoroutinesBefore, GoroutinesOpen int
	// Open is how long it took to open them all.
	Open time.Duration
}

func (r openStreamsResult) rssPerStream() float64 {
	if r.Streams == 0 {
		return 0
	}
	return float64(r.RSSOpen-r.RSSBefore) / float64(r.Streams)
}

func (r openStreamsResult) goroutinesPerStream() float64 {
	if r.Streams == 0 || r.GoroutinesOpen < 0 {
		return -1
	}
	return float64(r.GoroutinesOpen-r.GoroutinesBefore) / float64(r.Streams)
}

// openStreams opens n streams to t at once, each paced by the simulator to
// last far longer than the measurement; once every one has its first byte
// (or a minute has passed) it reads the server's RSS and goroutines, then
// hangs up on all of them and waits until the server's goroutines are back
// near where they were.
func openStreams(ctx context.Context, o options, t *target, p *process, debugURL string, n int) (openStreamsResult, error) {
	res := openStreamsResult{Target: t.Name, GoroutinesBefore: -1, GoroutinesOpen: -1}
	// Twenty deltas at one token per second: each stream stays open for
	// tens of seconds unless hung up on.
	c := scriptedCall(o.Model, o.MaxTokens, 40, 1, true)
	before, err := readProcStats(p.pid())
	if err != nil {
		return res, err
	}
	res.RSSBefore = before.RSS
	if debugURL != "" {
		if res.GoroutinesBefore, err = goroutines(ctx, debugURL); err != nil {
			return res, err
		}
	}
	// Its own transport: n connections, none kept afterwards.
	client := &http.Client{Transport: &http.Transport{
		Proxy:              nil,
		DialContext:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableKeepAlives:  true,
		DisableCompression: true,
	}}
	defer client.CloseIdleConnections()
	sctx, hangUp := context.WithCancel(ctx)
	defer hangUp()
	var (
		wg     sync.WaitGroup
		opened atomic.Int64
		failed atomic.Int64
		ready  = make(chan struct{}, n)
	)
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(sctx, http.MethodPost, t.base+c.path, strings.NewReader(string(c.body)))
			if err != nil {
				failed.Add(1)
				ready <- struct{}{}
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/vnd.amazon.eventstream")
			req.Header.Set("Authorization", "Bearer "+t.key)
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				ready <- struct{}{}
				return
			}
			defer resp.Body.Close()
			var one [1]byte
			if _, err := io.ReadFull(resp.Body, one[:]); err != nil || resp.StatusCode != http.StatusOK {
				failed.Add(1)
				ready <- struct{}{}
				return
			}
			opened.Add(1)
			ready <- struct{}{}
			io.Copy(io.Discard, resp.Body) // until the hang-up
		}()
	}
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for range n {
		select {
		case <-ready:
		case <-timeout.C:
			hangUp()
			wg.Wait()
			return res, fmt.Errorf("open streams: %s: %d of %d open after a minute", t.Name, opened.Load(), n)
		}
	}
	res.Open = time.Since(start)
	time.Sleep(500 * time.Millisecond) // let buffers and stacks settle at their size while open
	res.Streams, res.Failed = int(opened.Load()), int(failed.Load())
	if debugURL != "" {
		if res.GoroutinesOpen, err = goroutines(ctx, debugURL); err != nil {
			hangUp()
			wg.Wait()
			return res, err
		}
	}
	open, err := readProcStats(p.pid())
	hangUp()
	wg.Wait()
	if err != nil {
		return res, err
	}
	res.RSSOpen = open.RSS
	// Give the server time to notice the hang-ups and close its upstream
	// streams, so that the next target starts from quiet.
	if debugURL != "" {
		for range 100 {
			g, err := goroutines(ctx, debugURL)
			if err != nil || g <= res.GoroutinesBefore+n/100+5 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	} else {
		time.Sleep(time.Second)
	}
	return res, nil
}

// goroutineTotalRE finds the count in a debug=1 goroutine profile.
var goroutineTotalRE = regexp.MustCompile(`goroutine profile: total (\d+)`)

// goroutines reads the number of goroutines of a server from its debug
// listener (server.debug_listen).
func goroutines(ctx context.Context, debugURL string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, debugURL+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("goroutines: %w", err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil && line == "" {
		return 0, fmt.Errorf("goroutines: %w", err)
	}
	m := goroutineTotalRE.FindStringSubmatch(line)
	if m == nil {
		return 0, fmt.Errorf("goroutines: unexpected first line %q", line)
	}
	return strconv.Atoi(m[1])
}

// debugURLRE finds the debug listener's URL in tollgate serve's stdout.
var debugURLRE = regexp.MustCompile(`debug \(pprof, trace\) on (http://[0-9.]+:[0-9]+)/debug/pprof/`)

// debugURLOf reads a gateway's debug listener URL from its stdout log.
func debugURLOf(logDir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(logDir, name+".out"))
	if err != nil {
		return "", fmt.Errorf("%s: debug listener: %w", name, err)
	}
	m := debugURLRE.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s: no debug listener line in %s", name, filepath.Join(logDir, name+".out"))
	}
	return string(m[1]), nil
}

// writeStreams prints the per-event and open-stream figures.
func (r *report) writeStreams(b *strings.Builder) {
	var evs []phaseResult
	for _, ph := range r.Phases {
		if ph.Phase.Events > 0 {
			evs = append(evs, ph)
		}
	}
	if len(evs) > 0 {
		b.WriteString("\n### Stream relay: added time per event\n\n")
		b.WriteString("A stream of N text deltas (the simulator unpaced, so events arrive back to back); per event = (p50 last byte − p50 first byte) of the target minus the same of direct, ÷ N.\n\n")
		b.WriteString("| Phase | Events | Target | first → last byte p50 (ms) | added per event (µs) | CPU µs per event |\n|---|--:|---|--:|--:|--:|\n")
		for _, ph := range evs {
			d := ph.Targets[direct]
			for _, name := range r.Opts.names() {
				t := ph.Targets[name]
				add, cpu := "–", "–"
				if name != direct {
					add = fmt.Sprintf("%+.2f", float64(perEvent(t, d, ph.Phase.Events))/float64(time.Microsecond))
					cpu = fmt.Sprintf("%.2f", t.perCall(t.FrontCPU)/float64(ph.Phase.Events))
				}
				fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", ph.Phase, ph.Phase.Events, name, ms(t.Latency.P50-t.FirstByte.P50), add, cpu)
			}
		}
	}
	if len(r.OpenStreams) > 0 {
		b.WriteString("\n### Open streams\n\n")
		fmt.Fprintf(b, "%d streams opened at once and held open by the simulator's pacing; RSS and goroutines of the server with all of them open, minus before. Goroutines come from the gateway's debug listener (none for the bare proxy).\n\n", r.Opts.OpenStreams)
		b.WriteString("| Target | Open | Failed | Time to open all | RSS before → open | RSS per stream | Goroutines before → open | Goroutines per stream |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, s := range r.OpenStreams {
			g, gp := "–", "–"
			if s.GoroutinesOpen >= 0 {
				g = fmt.Sprintf("%d → %d", s.GoroutinesBefore, s.GoroutinesOpen)
				gp = fmt.Sprintf("%.2f", s.goroutinesPerStream())
			}
			fmt.Fprintf(b, "| %s | %d | %d | %v | %s → %s | %.1f KiB | %s | %s |\n", s.Target, s.Streams, s.Failed, s.Open.Round(time.Millisecond),
				mib(s.RSSBefore), mib(s.RSSOpen), s.rssPerStream()/1024, g, gp)
		}
	}
}

// streamChecks are the stream path's targets next to this run's figures.
func (r *report) streamChecks() []check {
	var cs []check
	for _, ph := range r.Phases {
		if ph.Phase.Events == 0 {
			continue
		}
		add := perEvent(ph.Targets[gateway], ph.Targets[direct], ph.Phase.Events)
		padd := perEvent(ph.Targets[proxy], ph.Targets[direct], ph.Phase.Events)
		cs = append(cs, check{"Streaming: per-event relay delay, p50 (" + ph.Phase.String() + ", over direct)", "≤ 50 µs",
			fmt.Sprintf("%+.2f µs (proxy %+.2f µs)", float64(add)/1e3, float64(padd)/1e3), yesNo(add <= 50*time.Microsecond)})
	}
	for _, s := range r.OpenStreams {
		if s.Target != gateway {
			continue
		}
		total := float64(s.RSSOpen) / (1 << 20)
		cs = append(cs, check{fmt.Sprintf("%d open streams: gateway RSS", s.Streams), "≤ 100 MiB (1,000 streams)",
			fmt.Sprintf("%.1f MiB in all, %.1f KiB per stream", total, s.rssPerStream()/1024), yesNo(total <= 100 && s.Streams >= 1000)})
		cs = append(cs, check{fmt.Sprintf("%d open streams: gateway goroutines per stream", s.Streams), "≤ 3",
			fmt.Sprintf("%.2f", s.goroutinesPerStream()), yesNo(s.goroutinesPerStream() <= 3)})
	}
	return cs
}
