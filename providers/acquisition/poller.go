package acquisition

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// poller waits for snapshots on one side and region to leave the pending state. However many volumes
// wait, it makes one status call per round for all of them, so that polling costs grow with time, not
// with the number of volumes; rounds slow down while nothing changes and speed up again when
// something does.
type poller struct {
	ctx      context.Context // the run's: the loop stops with it
	d        driver.Driver
	side     driver.Side
	location string
	min      time.Duration
	max      time.Duration
	// missingLimit is how long a snapshot may be unknown to the cloud (eventual consistency) before the
	// wait fails.
	missingLimit time.Duration

	mu      sync.Mutex
	waiters map[string][]*waiter
	running bool
}

type waiter struct {
	ctx      context.Context
	progress func(driver.Snapshot)
	done     chan waitResult
	missing  time.Time // when the snapshot was first not found, if it is not
}

type waitResult struct {
	snap driver.Snapshot
	err  error
}

// batchSize is how many snapshots one status call asks about.
const batchSize = 100

// wait blocks until snapshot id is completed or in error, or ctx ends. progress is called on each change.
func (p *poller) wait(ctx context.Context, id string, progress func(driver.Snapshot)) (driver.Snapshot, error) {
	w := &waiter{ctx: ctx, progress: progress, done: make(chan waitResult, 1)}
	p.mu.Lock()
	if p.waiters == nil {
		p.waiters = map[string][]*waiter{}
	}
	p.waiters[id] = append(p.waiters[id], w)
	if !p.running {
		p.running = true
		go p.loop()
	}
	p.mu.Unlock()
	select {
	case res := <-w.done:
		return res.snap, res.err
	case <-ctx.Done():
		p.drop(id, w)
		return driver.Snapshot{}, ctx.Err()
	}
}

func (p *poller) drop(id string, w *waiter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waiters[id] = slices.DeleteFunc(p.waiters[id], func(x *waiter) bool { return x == w })
	if len(p.waiters[id]) == 0 {
		delete(p.waiters, id)
	}
}

// loop polls until nobody waits.
func (p *poller) loop() {
	interval := p.min
	for {
		if sleep(p.ctx, interval) != nil {
			p.failAll(p.pending(), p.ctx.Err())
			return
		}
		ids := p.pending()
		if len(ids) == 0 {
			return
		}
		changed := false
		for batch := range slices.Chunk(ids, batchSize) {
			if p.round(batch) {
				changed = true
			}
		}
		if changed {
			interval = p.min
		} else {
			interval = min(interval*3/2, p.max)
		}
	}
}

// pending lists the IDs waited for, or stops the loop when there are none.
func (p *poller) pending() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.waiters))
	for id, ws := range p.waiters {
		ws = slices.DeleteFunc(ws, func(w *waiter) bool { return w.ctx.Err() != nil })
		if len(ws) == 0 {
			delete(p.waiters, id)
			continue
		}
		p.waiters[id] = ws
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		p.running = false
	}
	slices.Sort(ids)
	return ids
}

// round asks about one batch and settles whom it can. It reports whether anything changed.
func (p *poller) round(ids []string) bool {
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	snaps, err := p.d.SnapshotStatus(ctx, p.side, p.location, ids)
	if err != nil {
		if !p.d.ErrorCode(err).Retryable() {
			p.failAll(ids, driver.Wrap(p.d, "snapshot.status", ids[0], err))
			return true
		}
		return false // transient: the next round asks again
	}
	found := map[string]driver.Snapshot{}
	for _, s := range snaps {
		found[s.ID] = s
	}
	now := time.Now()
	changed := false
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		s, ok := found[id]
		var still []*waiter
		for _, w := range p.waiters[id] {
			var res *waitResult
			switch {
			case !ok && w.missing.IsZero():
				w.missing = now
			case !ok && now.Sub(w.missing) > p.missingLimit:
				res = &waitResult{err: &driver.Error{Code: driver.CodeNotFound, Op: "snapshot.wait", Resource: id, Err: fmt.Errorf("the %s side does not know snapshot %s", p.side, id)}}
			case !ok:
			case s.State == driver.StateCompleted:
				res = &waitResult{snap: s}
			case s.State == driver.StateError:
				res = &waitResult{snap: s, err: &driver.Error{Code: driver.CodeFailed, Op: "snapshot.wait", Resource: id, Err: fmt.Errorf("snapshot %s ended in state error: %s", id, s.Message)}}
			default:
				w.missing = time.Time{}
				if w.progress != nil {
					w.progress(s)
				}
			}
			if res != nil {
				w.done <- *res // buffered, and each waiter is answered once: it leaves the list here
				changed = true
				continue
			}
			still = append(still, w)
		}
		if len(still) == 0 {
			delete(p.waiters, id)
		} else {
			p.waiters[id] = still
		}
	}
	return changed
}

func (p *poller) failAll(ids []string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		for _, w := range p.waiters[id] {
			w.done <- waitResult{err: err}
		}
		delete(p.waiters, id)
	}
}
