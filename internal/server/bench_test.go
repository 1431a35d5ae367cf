package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// The request-path benchmarks compare, in one run, a call through the gateway
// (auth, model allowlist, rate limit, budget reservation, metering and the
// usage writer all on) with the same call sent straight to the simulator, so
// the ratio — not the absolute time on a shared machine — is the result:
//
//	go test ./internal/server -run '^$' -bench 'RequestPath' -benchtime 3s

func benchHarness(b *testing.B) (*testutil.Harness, testutil.Principal) {
	h := newHarness(b, testutil.WithSim(func(o *bedrocksim.Options) { o.MaxRecorded = 1 }))
	p := h.NewPrincipal(b, "bench", testutil.PrincipalSpec{KeyUSD: 1e9, UserUSD: 1e9, TeamUSD: 1e9,
		KeyLimit: &store.Limit{RPM: 1 << 30, TPM: 1 << 40, Concurrent: 1 << 20}})
	return h, p
}

func runCalls(b *testing.B, client *http.Client, url string, body []byte, hdr map[string]string) {
	b.SetBytes(int64(len(body)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

// BenchmarkLatency sends calls one at a time, so that nothing queues for the
// CPU, and reports the 50th and 99th percentile latency of each path; the
// gateway's added latency is the difference between the two sub-benchmarks
// of the same run:
//
//	go test ./internal/server -run '^$' -bench 'Latency' -benchtime 5000x
func BenchmarkLatency(b *testing.B) {
	h, p := benchHarness(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	signer := newSigner(b, h.SimURL)
	anth := []byte(`{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"benchmark [[sim:usage in=100 out=20 cw5m=10 cw1h=0 cr=50]]"}]}`)
	invoke := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"benchmark [[sim:usage in=100 out=20 cw5m=10 cw1h=0 cr=50]]"}]}`)
	const model = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
	measure := func(b *testing.B, c *http.Client, url string, body []byte, hdr map[string]string) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			start := time.Now()
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(start))
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
	b.Run("json/direct", func(b *testing.B) {
		measure(b, signer, h.SimURL+"/model/"+model+"/invoke", invoke, nil)
	})
	b.Run("json/gateway", func(b *testing.B) {
		measure(b, client, h.URL+"/v1/messages", anth, map[string]string{"x-api-key": p.Secret})
	})
}

func BenchmarkRequestPath(b *testing.B) {
	h, p := benchHarness(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	signer := newSigner(b, h.SimURL)
	anth := []byte(`{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"benchmark [[sim:usage in=100 out=20 cw5m=10 cw1h=0 cr=50]]"}]}`)
	invoke := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"benchmark [[sim:usage in=100 out=20 cw5m=10 cw1h=0 cr=50]]"}]}`)
	streamAnth := append(bytes.TrimSuffix(anth, []byte("}")), []byte(`,"stream":true}`)...)
	const model = "global.anthropic.claude-haiku-4-5-20251001-v1:0"

	b.Run("json/direct", func(b *testing.B) {
		runCalls(b, signer, h.SimURL+"/model/"+model+"/invoke", invoke, nil)
	})
	b.Run("json/gateway", func(b *testing.B) {
		runCalls(b, client, h.URL+"/v1/messages", anth, map[string]string{"x-api-key": p.Secret})
	})
	b.Run("stream/direct", func(b *testing.B) {
		runCalls(b, signer, h.SimURL+"/model/"+model+"/invoke-with-response-stream", invoke, nil)
	})
	b.Run("stream/gateway", func(b *testing.B) {
		runCalls(b, client, h.URL+"/v1/messages", streamAnth, map[string]string{"x-api-key": p.Secret})
	})
	b.StopTimer()
	st := h.Gateway.Writer.Stats()
	if st.Dropped > 0 {
		b.Errorf("usage writer dropped %d rows", st.Dropped)
	}
}

// newSigner returns a client that SigV4-signs every request with the
// simulator's credentials, as the gateway does, so that the direct and the
// gateway paths cost the simulator the same.
func newSigner(b *testing.B, _ string) *http.Client {
	creds := aws.Credentials{AccessKeyID: bedrocksim.DefaultAccessKeyID, SecretAccessKey: bedrocksim.DefaultSecretAccessKey}
	return &http.Client{Transport: &signingTransport{
		base:   &http.Transport{MaxIdleConnsPerHost: 256},
		signer: v4.NewSigner(),
		creds:  creds,
	}}
}

type signingTransport struct {
	base   http.RoundTripper
	signer *v4.Signer
	creds  aws.Credentials
}

func (s *signingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	if err := s.signer.SignHTTP(r.Context(), s.creds, r, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", time.Now()); err != nil {
		return nil, err
	}
	return s.base.RoundTrip(r)
}

// BenchmarkOpenStreams opens openStreams streams at once, each held open by
// the simulator's pacing after its first event, and reports what each costs
// while open: goroutines and heap + stack bytes of the whole process, after
// a GC. The process holds the client, the gateway and the simulator, so the
// gateway's own cost per stream is the difference between the gateway and
// the direct sub-benchmarks of the same run. It asserts nothing.
//
//	go test ./internal/server -run '^$' -bench OpenStreams -benchtime 1x
func BenchmarkOpenStreams(b *testing.B) {
	const openStreams = 1000
	h, p := benchHarness(b)
	const model = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
	// One delta every few seconds: the streams stay open while measured.
	prompt := `hold [[sim:text ` + strings.Repeat("word ", 40) + `]] [[sim:tps 1]]`
	anth := []byte(`{"model":"claude-haiku-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"` + prompt + `"}]}`)
	invoke := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"` + prompt + `"}]}`)
	measure := func(b *testing.B, client *http.Client, url string, body []byte, hdr map[string]string) {
		for b.Loop() {
			before, goroutines := heapAndStack()
			bodies := make([]io.ReadCloser, openStreams)
			var wg sync.WaitGroup
			for i := range bodies {
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					for k, v := range hdr {
						req.Header.Set(k, v)
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
					}
					var one [1]byte
					io.ReadFull(resp.Body, one[:]) // the first event has arrived
					bodies[i] = resp.Body
				})
			}
			wg.Wait()
			after, goroutinesOpen := heapAndStack()
			for _, body := range bodies {
				if body != nil {
					body.Close()
				}
			}
			b.ReportMetric(float64(goroutinesOpen-goroutines)/openStreams, "goroutines/stream")
			b.ReportMetric(float64(after-before)/openStreams/1024, "KiB/stream")
		}
		client.CloseIdleConnections()
	}
	b.Run("direct", func(b *testing.B) {
		measure(b, newSigner(b, h.SimURL), h.SimURL+"/model/"+model+"/invoke-with-response-stream", invoke, nil)
	})
	b.Run("gateway", func(b *testing.B) {
		measure(b, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: openStreams}}, h.URL+"/v1/messages", anth, map[string]string{"x-api-key": p.Secret})
	})
}

// heapAndStack returns the heap and stack bytes in use after a GC, and the
// goroutine count.
func heapAndStack() (uint64, int) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse, runtime.NumGoroutine()
}
