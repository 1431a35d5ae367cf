package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/anthropic"
	"github.com/tollgate-gw/tollgate/internal/bedrock"
	"github.com/tollgate-gw/tollgate/internal/provider"
)

// The relay benchmarks push one recorded stream — message_start, a text
// block of deltaCount deltas, message_delta, message_stop — from upstream
// bytes through the provider's decoder, attempt and relay, to a door's
// stream writer over a ResponseWriter that discards, so that what is
// measured is the gateway's own work per event. Besides time and
// allocations per stream they report, per event, the reads of the upstream
// body (each a syscall on a real connection), the writes to the
// ResponseWriter and its flushes (each a syscall on a real connection).
// The whole upstream stream is available at once: back-to-back events, the
// case where flushes must coalesce.
//
//	go test ./internal/server -run '^$' -bench RelayEvents -count 10 | tee new.txt
//	go run golang.org/x/perf/cmd/benchstat@latest old.txt new.txt

const deltaCount = 100

// recordedStream returns the events of a typical short answer.
func recordedStream() []anthropic.Event {
	evs := []anthropic.Event{
		{Type: "message_start", Data: []byte(`{"type":"message_start","message":{"id":"msg_bdrk_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1200,"cache_creation_input_tokens":0,"cache_read_input_tokens":30000,"output_tokens":1}}}`)},
		{Type: "content_block_start", Data: []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)},
	}
	for i := range deltaCount {
		evs = append(evs, anthropic.Event{Type: "content_block_delta",
			Data: fmt.Appendf(nil, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"token %03d of the answer "}}`, i)})
	}
	return append(evs,
		anthropic.Event{Type: "content_block_stop", Data: []byte(`{"type":"content_block_stop","index":0}`)},
		anthropic.Event{Type: "message_delta", Data: []byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":300}}`)},
		anthropic.Event{Type: "message_stop", Data: []byte(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":1200,"outputTokenCount":300,"invocationLatency":2000,"firstByteLatency":300}}`)},
	)
}

func bedrockBody(evs []anthropic.Event) []byte {
	var buf bytes.Buffer
	fw := bedrock.NewFrameWriter(&buf)
	for _, ev := range evs {
		if err := fw.WriteEvent(ev); err != nil {
			panic(err)
		}
	}
	return buf.Bytes()
}

func sseBody(evs []anthropic.Event) []byte {
	var buf []byte
	for _, ev := range evs {
		buf = anthropic.AppendSSE(buf, ev)
	}
	return buf
}

// countingBody is an upstream body that counts its reads.
type countingBody struct {
	r     bytes.Reader
	reads int
}

func (c *countingBody) Read(p []byte) (int, error) { c.reads++; return c.r.Read(p) }
func (c *countingBody) Close() error               { return nil }

// discardWriter is a ResponseWriter that counts writes and flushes.
type discardWriter struct {
	h               http.Header
	writes, flushes int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.writes++; return len(p), nil }
func (d *discardWriter) Flush()                      { d.flushes++ }

// streamProvider answers every call with a stream read from body.
type streamProvider struct {
	open func() provider.EventStream
}

func (streamProvider) Name() string { return "bench" }
func (p streamProvider) Send(context.Context, *provider.Call) (*provider.Response, error) {
	return &provider.Response{Events: p.open()}, nil
}
func (streamProvider) CountTokens(context.Context, *provider.Call) (int64, error) { return 0, nil }

func BenchmarkRelayEvents(b *testing.B) {
	evs := recordedStream()
	upstreams := []struct {
		name   string
		body   []byte
		events func(io.ReadCloser) provider.EventStream
	}{
		{"bedrock", bedrockBody(evs), provider.BedrockEvents},
		{"anthropic", sseBody(evs), provider.SSEEvents},
	}
	doors := []door{anthropicDoor{}, bedrockDoor{}}
	for _, up := range upstreams {
		for _, d := range doors {
			b.Run(fmt.Sprintf("upstream=%s/door=%s", up.name, d.name()), func(b *testing.B) {
				s := &Server{opts: Options{PingInterval: 15 * time.Second}}
				body := &countingBody{}
				p := streamProvider{open: func() provider.EventStream {
					body.r.Reset(up.body)
					return up.events(body)
				}}
				w := &discardWriter{h: http.Header{}}
				ctx := context.Background()
				b.SetBytes(int64(len(up.body)))
				b.ReportAllocs()
				for b.Loop() {
					c := &call{door: d, start: time.Now(), acct: &account{}}
					res, err := s.attempt(ctx, p, &provider.Call{Stream: true})
					if err != nil {
						b.Fatal(err)
					}
					if err := s.relay(ctx, w, c, res); err != nil {
						b.Fatal(err)
					}
				}
				n := float64(b.N * len(evs))
				b.ReportMetric(float64(body.reads)/n, "reads/event")
				b.ReportMetric(float64(w.writes)/n, "writes/event")
				b.ReportMetric(float64(w.flushes)/n, "flushes/event")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
			})
		}
	}
}
