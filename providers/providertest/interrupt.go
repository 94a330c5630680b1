package providertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// interrupt wraps a driver and cancels the run at one call: before it is made, or after it returned
// (the cloud did the work; the journal holds only the step's intent). It keeps the inner driver's
// features, each wrapped.
type interrupt struct {
	driver.Driver
	inner  driver.Features
	method string
	nth    int32 // the call of method to interrupt: 1 for the first
	after  bool
	cancel context.CancelFunc
	hits   atomic.Int32

	mu   sync.Mutex
	seen map[string]int // when counting: calls made, by name
}

func (d *interrupt) at(name string, call func() error) error {
	if d.seen != nil {
		d.mu.Lock()
		d.seen[name]++
		d.mu.Unlock()
	}
	if name != d.method || d.hits.Add(1) != d.nth {
		return call()
	}
	// The run is cancelled just before the call or just after it returned; the call itself runs under
	// the context it was given, as it would: a cleanup's fresh context is not cancelled.
	if !d.after {
		d.cancel()
		return call()
	}
	err := call()
	d.cancel()
	return err
}

func (d *interrupt) Features() driver.Features {
	f := d.inner
	if f.Transfer != nil {
		f.Transfer = interruptTransfer{d}
	}
	if f.Blocks != nil {
		f.Blocks = interruptBlocks{d}
	}
	if f.Digest != nil {
		f.Digest = interruptDigest{d}
	}
	if f.Lock != nil {
		f.Lock = interruptLock{d}
	}
	return f
}

func (d *interrupt) CreateSnapshots(ctx context.Context, req driver.SnapshotRequest) (res driver.SnapshotResult, err error) {
	err = d.at("CreateSnapshots", func() error { res, err = d.Driver.CreateSnapshots(ctx, req); return err })
	return res, err
}

func (d *interrupt) Delete(ctx context.Context, r driver.Resource) error {
	return d.at("Delete", func() error { return d.Driver.Delete(ctx, r) })
}

type interruptTransfer struct{ d *interrupt }

func (t interruptTransfer) PrepareTransfers(ctx context.Context, req driver.PrepareRequest) (res []driver.Resource, err error) {
	err = t.d.at("PrepareTransfers", func() error { res, err = t.d.inner.Transfer.PrepareTransfers(ctx, req); return err })
	return res, err
}

func (t interruptTransfer) Transfer(ctx context.Context, req driver.TransferRequest) (res driver.TransferResult, err error) {
	name := fmt.Sprintf("Transfer.%d", req.Phase)
	if req.FindOnly {
		name = "Transfer.find"
	}
	err = t.d.at(name, func() error { res, err = t.d.inner.Transfer.Transfer(ctx, req); return err })
	return res, err
}

func (t interruptTransfer) TransferPlan(v driver.Volume) []string {
	return t.d.inner.Transfer.TransferPlan(v)
}

type interruptBlocks struct{ d *interrupt }

func (b interruptBlocks) OpenBlocks(ctx context.Context, s driver.Snapshot) (src driver.BlockSource, err error) {
	err = b.d.at("OpenBlocks", func() error { src, err = b.d.inner.Blocks.OpenBlocks(ctx, s); return err })
	return src, err
}

type interruptDigest struct{ d *interrupt }

func (g interruptDigest) Digest(ctx context.Context, req driver.DigestRequest) (res driver.DigestResult, err error) {
	err = g.d.at("Digest", func() error { res, err = g.d.inner.Digest.Digest(ctx, req); return err })
	return res, err
}

func (g interruptDigest) DigestPlan(v driver.Volume) []string { return g.d.inner.Digest.DigestPlan(v) }

type interruptLock struct{ d *interrupt }

func (l interruptLock) LockModes() []driver.LockMode           { return l.d.inner.Lock.LockModes() }
func (l interruptLock) CheckLock(req driver.LockRequest) error { return l.d.inner.Lock.CheckLock(req) }
func (l interruptLock) Lock(ctx context.Context, s driver.Snapshot, req driver.LockRequest) (res driver.LockResult, err error) {
	err = l.d.at("Lock", func() error { res, err = l.d.inner.Lock.Lock(ctx, s, req); return err })
	return res, err
}

// boundaries runs an acquisition of a scenario through a counting wrapper and returns the calls that
// make or remove something, each with how many times it was made: the step boundaries an
// interruption can fall on.
func boundaries(t *testing.T, h Harness, name string) map[string]int {
	t.Helper()
	env := h.New(t)
	d := &interrupt{Driver: env.Driver, inner: driver.FeaturesOf(env.Driver), seen: map[string]int{}}
	probe := *env
	probe.Driver = d
	if _, err := Acquire(context.Background(), t, &probe, NewCase(t), scenario(t, env, name), func(o *acquisition.Options) { lockIfAble(env, o) }); err != nil {
		t.Fatalf("the uninterrupted acquisition of %s failed: %v", name, err)
	}
	return d.seen
}

func lockIfAble(env *Env, o *acquisition.Options) {
	if driver.FeaturesOf(env.Driver).Lock != nil && env.LockMode != nil {
		o.Lock = env.LockMode
	}
}

// testInterrupted cancels an acquisition at every step boundary (the first and the last time each
// call that makes or removes something is made), before and after the cloud call, then runs it again
// in the same case: the end state must be the same as an uninterrupted run's.
func testInterrupted(t *testing.T, h Harness) {
	probe := h.New(t)
	scenarios := []string{"two-volume-instance"}
	if _, ok := probe.Scenarios["default-key"]; ok {
		scenarios = append(scenarios, "default-key") // the longest transfer, where the cloud has one
	}
	for _, name := range scenarios {
		seen := boundaries(t, h, name)
		for _, method := range slices.Sorted(maps.Keys(seen)) {
			for _, nth := range slices.Compact([]int{1, seen[method]}) {
				for _, after := range []bool{false, true} {
					when := "before"
					if after {
						when = "after"
					}
					t.Run(fmt.Sprintf("%s/%s#%d/%s", name, method, nth, when), func(t *testing.T) {
						t.Parallel()
						env := h.New(t)
						sc := scenario(t, env, name)
						c := NewCase(t)
						ctx, cancel := context.WithCancel(context.Background())
						defer cancel()
						d := &interrupt{Driver: env.Driver, inner: driver.FeaturesOf(env.Driver), method: method, nth: int32(nth), after: after, cancel: cancel}
						first := *env
						first.Driver = d
						_, err := Acquire(ctx, t, &first, c, sc, func(o *acquisition.Options) { lockIfAble(env, o) })
						if d.hits.Load() < int32(nth) {
							t.Fatalf("the acquisition made %s %d times, not %d as before", method, d.hits.Load(), nth)
						}
						if err == nil {
							// The interruption came when nothing was left to do but to end the run.
							CheckEndState(t, env, c, sc, nil)
							return
						}
						if driver.CodeOf(err) != driver.CodeCancelled {
							t.Fatalf("interrupted run: %v, want cancelled", err)
						}
						if tmp := env.Inspect.Temporaries(); len(tmp) > 0 {
							t.Errorf("after the interruption, temporary resources are alive: %v", tmp)
						}
						res, err := Acquire(context.Background(), t, env, c, sc, func(o *acquisition.Options) { lockIfAble(env, o) })
						if err != nil {
							t.Fatalf("resumed run: %v", err)
						}
						CheckEndState(t, env, c, sc, res)
					})
				}
			}
		}
	}
}

func (t interruptTransfer) PhaseCopies(v driver.Volume, phase int) (driver.Side, bool) {
	return t.d.inner.Transfer.PhaseCopies(v, phase)
}
