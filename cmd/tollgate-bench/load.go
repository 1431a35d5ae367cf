package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// target is one way to reach the simulator: straight, through the bare
// proxy, or through the gateway. All three get the same path, body and
// headers but for the key.
type target struct {
	Name string
	// base is the target's base URL; key goes in Authorization: Bearer
	// (the simulator's Bedrock API key for direct and proxy, the virtual
	// key for the gateway).
	base, key string
	client    *http.Client
}

// newTarget gives each target its own connection pool, sized for the
// largest phase, so that no target waits on another's connections.
func newTarget(name, base, key string, maxConns int) *target {
	tr := &http.Transport{
		Proxy:               nil, // loopback only, whatever HTTP_PROXY says
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &target{Name: name, base: base, key: key, client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// call is what the load generator sends.
type call struct {
	path string
	body []byte
}

func newCall(model string, maxTokens int, stream bool) call {
	op := "invoke"
	if stream {
		op = "invoke-with-response-stream"
	}
	body := fmt.Sprintf(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":%d,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}`, maxTokens)
	return call{path: "/model/" + url.PathEscape(model) + "/" + op, body: []byte(body)}
}

// result is one answered call. Latency runs from the scheduled send (open
// loop) or the actual send (closed loop) to the last byte; FirstByte to the
// first byte of the body.
type result struct {
	Latency, FirstByte time.Duration
	OK                 bool
	// Why says what went wrong when !OK.
	Why string
}

// do sends c to t and reads the whole answer into buf. A call is OK when the
// status is 200 and, for a stream, no exception frame came.
func (t *target) do(ctx context.Context, c call, stream bool, start time.Time, buf *bytes.Buffer) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+c.path, bytes.NewReader(c.body))
	if err != nil {
		return result{Latency: time.Since(start), Why: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if stream {
		req.Header.Set("Accept", "application/vnd.amazon.eventstream")
	}
	req.Header.Set("Authorization", "Bearer "+t.key)
	resp, err := t.client.Do(req)
	if err != nil {
		return result{Latency: time.Since(start), Why: err.Error()}
	}
	defer resp.Body.Close()
	buf.Reset()
	var first time.Duration
	var chunk [4096]byte
	for {
		n, err := resp.Body.Read(chunk[:])
		if n > 0 {
			if first == 0 {
				first = time.Since(start)
			}
			buf.Write(chunk[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return result{Latency: time.Since(start), FirstByte: first, Why: "reading the body: " + err.Error()}
		}
	}
	r := result{Latency: time.Since(start), FirstByte: first, OK: true}
	switch {
	case resp.StatusCode != http.StatusOK:
		r.OK, r.Why = false, fmt.Sprintf("%s: %.200s", resp.Status, buf.Bytes())
	case buf.Len() == 0:
		r.OK, r.Why = false, "empty body"
	case stream && bytes.Contains(buf.Bytes(), []byte(":exception-type")):
		r.OK, r.Why = false, "exception frame in the stream"
	}
	return r
}

// samples collects the results of one target in one phase.
type samples struct {
	mu        sync.Mutex
	latency   []time.Duration
	firstByte []time.Duration
	errors    int
	// firstError is the first failure's reason, for the progress log.
	firstError string
}

func (s *samples) add(rs []result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		if !r.OK {
			if s.errors == 0 {
				s.firstError = r.Why
			}
			s.errors++
			continue
		}
		s.latency = append(s.latency, r.Latency)
		s.firstByte = append(s.firstByte, r.FirstByte)
	}
}

// closedLoop runs n clients against t, each sending its next call when its
// previous one is answered, until d has passed or maxCalls (if > 0) calls
// have been sent. It returns the number of calls sent.
func closedLoop(ctx context.Context, t *target, c call, stream bool, n int, d time.Duration, maxCalls int, into *samples) int {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second) // bounds a hung call
	defer cancel()
	end := time.Now().Add(d)
	var (
		mu   sync.Mutex
		sent int
		wg   sync.WaitGroup
	)
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if (maxCalls > 0 && sent >= maxCalls) || !time.Now().Before(end) || ctx.Err() != nil {
			return false
		}
		sent++
		return true
	}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			var rs []result
			for take() {
				rs = append(rs, t.do(ctx, c, stream, time.Now(), &buf))
			}
			into.add(rs)
		}()
	}
	wg.Wait()
	return sent
}

// maxOpenInFlight bounds the calls an open loop keeps in flight; beyond it
// a scheduled call is not sent and counts as an error, so that a target
// that stops answering cannot make the generator grow without bound.
const maxOpenInFlight = 4096

// openLoop sends calls to t on a fixed schedule of rate per second for d (or
// maxCalls calls, if > 0), each on its own goroutine, without waiting for
// earlier answers. Each latency is measured from the call's scheduled send
// time, not from when the generator got round to it, so that a stall in the
// target shows in full rather than delaying — and hiding — the calls behind
// it (coordinated omission). It returns the number of calls scheduled.
func openLoop(ctx context.Context, t *target, c call, stream bool, rate int, d time.Duration, maxCalls int, into *samples) int {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	interval := time.Second / time.Duration(rate)
	total := int(d / interval)
	if maxCalls > 0 && total > maxCalls {
		total = maxCalls
	}
	if total < 1 {
		total = 1
	}
	sem := make(chan struct{}, maxOpenInFlight)
	var wg sync.WaitGroup
	bufs := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	start := time.Now()
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				into.add([]result{{Why: "not sent: " + ctx.Err().Error()}})
				continue
			}
		}
		select {
		case sem <- struct{}{}:
		default:
			into.add([]result{{Why: "not sent: too many calls in flight"}}) // the target has stalled
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			buf := bufs.Get().(*bytes.Buffer)
			r := t.do(ctx, c, stream, at, buf)
			bufs.Put(buf)
			into.add([]result{r})
		}()
	}
	wg.Wait()
	return total
}

// percentiles of a set of durations, by nearest rank.
type percentiles struct {
	P50, P90, P99, Max time.Duration
	N                  int
}

func percentilesOf(ds []time.Duration) percentiles {
	if len(ds) == 0 {
		return percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1 // ceil(q*n) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1], N: len(s)}
}

// minus is p - q percentile by percentile: what one target adds over another.
func (p percentiles) minus(q percentiles) percentiles {
	return percentiles{P50: p.P50 - q.P50, P90: p.P90 - q.P90, P99: p.P99 - q.P99, Max: p.Max - q.Max, N: p.N}
}
