package provider_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
	"github.com/tollgate-gw/tollgate/internal/provider"
)

func newBedrock(t *testing.T, to provider.TransportOptions) (*provider.Bedrock, *bedrocksim.Server) {
	t.Helper()
	sim := bedrocksim.New(bedrocksim.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	b, err := provider.NewBedrock(context.Background(), provider.BedrockOptions{
		Name: "bedrock", Region: "us-east-1", Endpoint: srv.URL, Transport: to,
		Credentials: credentials.NewStaticCredentialsProvider(bedrocksim.DefaultAccessKeyID, bedrocksim.DefaultSecretAccessKey, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, sim
}

const model = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"

// TestNonStreamTimeoutNotRetryable: a non-streaming call whose answer is late
// times out as a 504 that must not be retried — the upstream may have
// generated and billed it.
func TestNonStreamTimeoutNotRetryable(t *testing.T) {
	b, sim := newBedrock(t, provider.TransportOptions{NonStreamTimeout: 100 * time.Millisecond})
	_, err := b.Send(context.Background(), &provider.Call{Model: model,
		Body: []byte(`{"max_tokens":10,"messages":[{"role":"user","content":"[[sim:latency 400ms]]"}]}`)})
	var e *apierror.Error
	if !errors.As(err, &e) || e.Status != 504 || e.Type != apierror.TypeTimeout || e.Retryable {
		t.Fatalf("Send = %v, want a non-retryable 504 timeout_error", err)
	}
	if n := len(sim.Requests()); n != 1 {
		t.Errorf("simulator saw %d requests, want 1", n)
	}
	// A streaming call has its own, separate first-byte bound.
	res, err := b.Send(context.Background(), &provider.Call{Model: model, Stream: true,
		Body: []byte(`{"max_tokens":10,"messages":[{"role":"user","content":"[[sim:latency 200ms]]"}]}`)})
	if err != nil {
		t.Fatalf("stream with a 200 ms first byte under the default first-byte timeout: %v", err)
	}
	res.Events.Close()
}

// TestCountTokensCancelDoesNotDisableCounting: a client abandoning one
// count_tokens call must not switch Bedrock counting off for the model.
func TestCountTokensCancelDoesNotDisableCounting(t *testing.T) {
	b, sim := newBedrock(t, provider.TransportOptions{})
	body := []byte(`{"messages":[{"role":"user","content":"count me"}]}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.CountTokens(ctx, &provider.Call{Model: model, Body: body}); err == nil {
		t.Fatal("cancelled count succeeded")
	}
	n, err := b.CountTokens(context.Background(), &provider.Call{Model: model, Body: body})
	if err != nil || n <= 0 {
		t.Fatalf("count after a cancelled call = %d, %v", n, err)
	}
	var counted int
	for _, r := range sim.Requests() {
		if r.Op == bedrocksim.OpCountTokens {
			counted++
		}
	}
	if counted != 1 {
		t.Errorf("after a cancelled call, %d CountTokens calls reached Bedrock; want it asked again", counted)
	}
}
