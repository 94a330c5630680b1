package pace

import (
	"context"
	"math/rand/v2"
	"testing"
)

func TestHalvesWhenMostCallsAreThrottled(t *testing.T) {
	p := New(Settings{Initial: 40, Min: 1, Max: 100})
	for range 20 {
		p.Done(true)
	}
	if got := p.Limit(); got != 20 {
		t.Fatalf("rate after a window of throttles %v, want 20", got)
	}
	for range 200 {
		p.Done(true)
	}
	if got := p.Limit(); got != 1 {
		t.Fatalf("rate after many throttled windows %v, want the floor 1", got)
	}
}

func TestClimbsBackWhenThrottlingStops(t *testing.T) {
	p := New(Settings{Initial: 4, Min: 1, Max: 100})
	for range 20 * 40 {
		p.Done(false)
	}
	if got := p.Limit(); got != 100 {
		t.Fatalf("rate after many clean windows %v, want the ceiling 100", got)
	}
}

// A steady fifth of calls throttled, whatever the rate, neither collapses nor grows the rate.
func TestHoldsUnderSteadyRandomThrottling(t *testing.T) {
	p := New(Settings{Initial: 50, Min: 1, Max: 100})
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 * 500 {
		p.Done(rng.Float64() < 0.2)
	}
	if got := p.Limit(); got < 25 {
		t.Fatalf("rate under 20%% random throttling fell to %v", got)
	}
}

func TestSetSharesOneLimiterPerKey(t *testing.T) {
	s := NewSet(Settings{Initial: 10})
	if s.Get("a") != s.Get("a") || s.Get("a") == s.Get("b") {
		t.Fatal("a set must give one limiter per key")
	}
}

// Burst lets that many seconds' worth of calls go at once, and follows the rate when it halves.
func TestBurstIsSecondsOfCalls(t *testing.T) {
	ctx := context.Background()
	at := func(p *Limiter) int {
		n := 0
		for p.rl.Tokens() >= 1 {
			if err := p.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	if got := at(New(Settings{Initial: 40, Min: 1, Max: 100})); got != 4 {
		t.Errorf("default burst at 40 calls/s: %d calls at once, want 4", got)
	}
	p := New(Settings{Initial: 40, Min: 1, Max: 100, Burst: 1})
	if got := at(p); got != 40 {
		t.Errorf("one second's burst at 40 calls/s: %d calls at once, want 40", got)
	}
	for range 20 {
		p.Done(true)
	}
	if got := p.rl.Burst(); got != 20 {
		t.Errorf("burst after the rate halved to 20: %d, want 20", got)
	}
}
