package router

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-gw/tollgate/internal/config"
)

// clock is a settable clock for cooldowns.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

var (
	east = Target{Provider: "east", Model: "m", Weight: 3, Cooldown: 30 * time.Second}
	west = Target{Provider: "west", Model: "m", Weight: 1, Cooldown: 10 * time.Second}
	api  = Target{Provider: "anthropic", Model: "m", Weight: 0, Cooldown: 30 * time.Second}
)

func names(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Provider)
	}
	return out
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		cool     []Target // cooled with their own cooldown, in this order
		busy     map[string]int
		want     []string
	}{
		{name: "ordered", strategy: config.StrategyOrdered, want: []string{"east", "west", "anthropic"}},
		{name: "cooling skipped", strategy: config.StrategyOrdered, cool: []Target{east}, want: []string{"west", "anthropic"}},
		{name: "all cooling: soonest end alone", strategy: config.StrategyOrdered, cool: []Target{east, api, west}, want: []string{"west"}},
		{name: "least-busy", strategy: config.StrategyLeastBusy, busy: map[string]int{"east": 2, "west": 1}, want: []string{"anthropic", "west", "east"}},
		{name: "least-busy ties in order", strategy: config.StrategyLeastBusy, busy: map[string]int{"west": 1}, want: []string{"east", "anthropic", "west"}},
		{name: "least-busy skips cooling", strategy: config.StrategyLeastBusy, cool: []Target{api}, busy: map[string]int{"east": 1}, want: []string{"west", "east"}},
		{name: "weighted, only weight 0 left: in order", strategy: config.StrategyWeighted, cool: []Target{east, west}, want: []string{"anthropic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1e9, 0)}
			h := NewHealth(clk.now, nil)
			for _, c := range tt.cool {
				h.Cool(c, 0)
			}
			for _, tg := range []Target{east, west, api} {
				for range tt.busy[tg.Provider] {
					if _, _, err := h.Acquire(context.Background(), tg); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := names(h.Order(Route{Strategy: tt.strategy, Targets: []Target{east, west, api}}))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Order = %v, want %v (-want +got):\n%s", got, tt.want, diff)
			}
		})
	}
}

// A weighted route splits first attempts by weight; the rest follow in
// order as fallbacks.
func TestOrderWeighted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := NewHealth(nil, rng.IntN)
	rt := Route{Strategy: config.StrategyWeighted, Targets: []Target{east, west, api}}
	const n = 4000
	first := map[string]int{}
	for range n {
		order := h.Order(rt)
		first[order[0].Provider]++
		if len(order) != 3 || order[len(order)-1].Provider != "anthropic" {
			t.Fatalf("Order = %v, want the weight-0 target last", names(order))
		}
	}
	// east:west = 3:1; a tolerance of 5 points covers any fair RNG at n=4000.
	if got := float64(first["east"]) / n; got < 0.70 || got > 0.80 {
		t.Errorf("east first in %.2f of calls, want 0.75±0.05 (%v)", got, first)
	}
	if first["anthropic"] != 0 {
		t.Errorf("weight-0 target first %d times, want 0", first["anthropic"])
	}
}

func TestCool(t *testing.T) {
	tests := []struct {
		name       string
		target     Target
		retryAfter time.Duration
		want       time.Duration
	}{
		{name: "configured cooldown", target: east, want: 30 * time.Second},
		{name: "retry-after wins", target: east, retryAfter: 3 * time.Second, want: 3 * time.Second},
		{name: "disabled", target: Target{Provider: "x", Cooldown: -1}, want: 0},
		{name: "disabled, retry-after still honoured", target: Target{Provider: "x", Cooldown: -1}, retryAfter: time.Second, want: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1e9, 0)}
			h := NewHealth(clk.now, nil)
			if got := h.Cool(tt.target, tt.retryAfter); got != tt.want {
				t.Fatalf("Cool(%v, %v) = %v, want %v", tt.target.Provider, tt.retryAfter, got, tt.want)
			}
			if tt.want == 0 {
				if h.Cooling(tt.target) {
					t.Errorf("Cooling after a disabled cooldown = true, want false")
				}
				return
			}
			clk.advance(tt.want - time.Nanosecond)
			if !h.Cooling(tt.target) {
				t.Errorf("Cooling just before %v = false, want true", tt.want)
			}
			clk.advance(time.Nanosecond)
			if h.Cooling(tt.target) {
				t.Errorf("Cooling at %v = true, want false", tt.want)
			}
		})
	}
}

// A shorter cooldown never cuts a longer one short.
func TestCoolKeepsLonger(t *testing.T) {
	clk := &clock{t: time.Unix(1e9, 0)}
	h := NewHealth(clk.now, nil)
	h.Cool(east, 0)
	h.Cool(east, time.Second)
	clk.advance(2 * time.Second)
	if !h.Cooling(east) {
		t.Errorf("Cooling after a 30s cooldown then a 1s retry-after, 2s later = false, want true")
	}
}

func TestAcquireQueues(t *testing.T) {
	capped := Target{Provider: "east", Model: "m", MaxConcurrent: 1, QueueTimeout: 2 * time.Second}
	synctest.Test(t, func(t *testing.T) {
		h := NewHealth(nil, nil)
		ctx := context.Background()
		release, queued, err := h.Acquire(ctx, capped)
		if err != nil || queued {
			t.Fatalf("first Acquire = %v, queued %v, want a slot at once", err, queued)
		}
		// A second call waits for the slot and gets it when it is freed.
		got := make(chan error, 1)
		go func() {
			r, queued, err := h.Acquire(ctx, capped)
			if err == nil && !queued {
				err = errors.New("not queued")
			}
			if r != nil {
				defer r()
			}
			got <- err
		}()
		synctest.Wait()
		time.Sleep(time.Second)
		release()
		release() // idempotent
		if err := <-got; err != nil {
			t.Errorf("queued Acquire = %v, want the freed slot", err)
		}

		// With the slot held past the queue timeout, the waiter gives up.
		release, _, _ = h.Acquire(ctx, capped)
		defer release()
		start := time.Now()
		if _, queued, err := h.Acquire(ctx, capped); !errors.Is(err, ErrBusy) || !queued {
			t.Errorf("Acquire at the cap = %v, queued %v, want ErrBusy after queueing", err, queued)
		}
		if waited := time.Since(start); waited != capped.QueueTimeout {
			t.Errorf("waited %v, want the queue timeout %v", waited, capped.QueueTimeout)
		}
		// Uncapped targets never wait.
		if _, queued, err := h.Acquire(ctx, east); err != nil || queued {
			t.Errorf("Acquire(uncapped) = %v, queued %v, want a slot at once", err, queued)
		}
	})
}
