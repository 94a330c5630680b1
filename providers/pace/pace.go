// Package pace paces the calls a run makes to one cloud API, shared by all its workers, on
// golang.org/x/time/rate: the rate halves when most recent calls were throttled, and climbs back
// while few are. It reacts to the share of throttled calls over a window of calls, not to each
// throttle: a cloud that throttles a steady fraction of calls whatever the rate (a fault, a noisy
// neighbour) does not drive the rate to nothing, while one that throttles because the calls come too
// fast slows them down.
package pace

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// Settings of a Limiter.
type Settings struct {
	Initial, Min, Max rate.Limit // calls per second
	Window            int        // calls judged together; default 20
	SlowDown          float64    // the share of throttled calls in a window that halves the rate; default 0.5
	SpeedUp           float64    // the share below which the rate grows by a quarter; default 0.1
	// Burst is how many seconds' worth of calls may go at once, at any rate; default 0.1.
	Burst float64
}

// Limiter is one API's pace. It is safe for concurrent use.
type Limiter struct {
	s  Settings
	rl *rate.Limiter

	mu                sync.Mutex
	calls, throttled  int
	slowdowns, speeds int
}

// New returns a limiter at the initial rate.
func New(s Settings) *Limiter {
	if s.Window <= 0 {
		s.Window = 20
	}
	if s.SlowDown <= 0 {
		s.SlowDown = 0.5
	}
	if s.SpeedUp <= 0 {
		s.SpeedUp = 0.1
	}
	if s.Min <= 0 {
		s.Min = 1
	}
	if s.Max < s.Min {
		s.Max = s.Min
	}
	if s.Burst <= 0 {
		s.Burst = 0.1
	}
	s.Initial = min(max(s.Initial, s.Min), s.Max)
	return &Limiter{s: s, rl: rate.NewLimiter(s.Initial, s.burst(s.Initial))}
}

func (s Settings) burst(l rate.Limit) int { return max(1, int(float64(l)*s.Burst)) }

// Wait blocks until a call may go, or ctx ends.
func (p *Limiter) Wait(ctx context.Context) error { return p.rl.Wait(ctx) }

// Done records how a call went: throttled or not. Other failures say nothing about the pace.
func (p *Limiter) Done(throttled bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if throttled {
		p.throttled++
	}
	if p.calls < p.s.Window {
		return
	}
	share := float64(p.throttled) / float64(p.calls)
	p.calls, p.throttled = 0, 0
	l := p.rl.Limit()
	switch {
	case share >= p.s.SlowDown:
		l = max(l/2, p.s.Min)
		p.slowdowns++
	case share < p.s.SpeedUp:
		l = min(l*5/4, p.s.Max)
		p.speeds++
	default:
		return
	}
	p.rl.SetLimit(l)
	p.rl.SetBurst(p.s.burst(l))
}

// Limit is the current rate, in calls per second.
func (p *Limiter) Limit() rate.Limit { return p.rl.Limit() }

// Stats says how often the pace changed.
func (p *Limiter) Stats() (slowdowns, speedups int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slowdowns, p.speeds
}

// Set is one limiter per key (an account and an API), made on first use with the same settings.
type Set struct {
	s  Settings
	mu sync.Mutex
	m  map[string]*Limiter
}

// NewSet returns an empty set.
func NewSet(s Settings) *Set { return &Set{s: s, m: map[string]*Limiter{}} }

// Get returns the limiter of a key.
func (ps *Set) Get(key string) *Limiter {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	l, ok := ps.m[key]
	if !ok {
		l = New(ps.s)
		ps.m[key] = l
	}
	return l
}
