package acquisition

import (
	"context"
	"errors"
	"fmt"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// attempt is one try at moving a volume's source snapshot to the forensic side, in the driver's
// phases. Its steps are named "<prefix><volume>/t<n>/<step>" and share one token. An attempt that was
// abandoned (after a failure or a cancel) is not continued, because what it made for its own use was
// removed: the next attempt starts afresh, keeping the forensic copy the abandoned one made if that
// copy completes.
type attempt struct {
	prefix string
	v      driver.Volume
	n      int
}

func (a attempt) id(s string) string { return fmt.Sprintf("%s%s/t%d/%s", a.prefix, a.v.ID, a.n, s) }

func (a attempt) phase(p int) string { return a.id(fmt.Sprintf("transfer.%d", p)) }

func (a attempt) next() attempt { return attempt{prefix: a.prefix, v: a.v, n: a.n + 1} }

// phaseRecord is what a transfer phase's result records.
type phaseRecord struct {
	Made []driver.Resource `json:"made,omitempty"`
	Wait *driver.Snapshot  `json:"wait,omitempty"`
	Copy *driver.Snapshot  `json:"copy,omitempty"`
}

// abandonedRecord is what an abandoned attempt left: everything it made, as far as it is known.
type abandonedRecord struct {
	Made []driver.Resource `json:"made,omitempty"`
	Copy *driver.Snapshot  `json:"copy,omitempty"`
}

// transfer moves a completed source snapshot to the forensic side, and removes what the transfer made
// for its own use. It returns the forensic snapshot; a removal that failed is returned as cleanupErr
// beside it, the evidence being safe.
func (r *run) transfer(ctx context.Context, v driver.Volume, src driver.Snapshot) (ev driver.Snapshot, cleanupErr, err error) {
	a := attempt{prefix: r.prefix, v: v, n: 1}
	for r.journal.attempted(a.next().phase(1)) {
		a = a.next()
	}
	for {
		st := r.attemptState(a)
		if details, ok := r.journal.done(a.id("copy.wait")); ok {
			var c driver.Snapshot
			if err := detail(details, "snapshot", &c); err != nil {
				return driver.Snapshot{}, nil, err
			}
			return c, r.removeMade(ctx, a, st.made), nil
		}
		details, abandoned := r.journal.done(a.id("abandoned"))
		if !abandoned {
			break
		}
		var rec abandonedRecord
		if err := detail(details, "abandoned", &rec); err != nil {
			return driver.Snapshot{}, nil, err
		}
		// Finish removing what it made (a crash may have stopped that half-way), then keep its copy if
		// that completes.
		if err := r.removeMade(ctx, a, mergeResources(st.made, rec.Made)); err != nil {
			return driver.Snapshot{}, nil, err
		}
		if c := rec.Copy; c != nil && !r.journal.attempted(a.id("copy.discard")) {
			release, err := r.copySlot(ctx, c.Side, v)
			if err != nil {
				return driver.Snapshot{}, nil, err
			}
			done, err := r.waitSnapshot(ctx, v, a.id("copy.wait"), "copy.wait", *c)
			release()
			if err == nil {
				return done, nil, nil
			}
			if driver.CodeOf(err) != driver.CodeFailed {
				return driver.Snapshot{}, nil, err
			}
			if err := r.discard(ctx, v, a.id("copy.discard"), done); err != nil {
				return driver.Snapshot{}, nil, err
			}
		}
		a = a.next()
	}
	return r.runAttempt(ctx, a, src)
}

// attemptState is what the journal says an attempt made in its finished phases.
type attemptResult struct {
	made   []driver.Resource
	waited *driver.Snapshot
	copy   *driver.Snapshot
	next   int // the phase to run next
}

func (r *run) attemptState(a attempt) attemptResult {
	st := attemptResult{next: 1}
	for ; ; st.next++ {
		details, ok := r.journal.done(a.phase(st.next))
		if !ok {
			return st
		}
		var rec phaseRecord
		if detail(details, "phase", &rec) != nil {
			return st
		}
		st.made = mergeResources(st.made, rec.Made)
		switch {
		case rec.Copy != nil:
			st.copy = rec.Copy
			st.next++
			return st
		case rec.Wait != nil:
			w := *rec.Wait
			if details, ok := r.journal.done(a.id(fmt.Sprintf("wait.%d", st.next))); ok {
				_ = detail(details, "snapshot", &w)
			}
			st.waited = &w
		}
	}
}

// runAttempt runs an attempt's phases from where the journal says it stopped, then waits for the copy.
// A copy in flight holds a place among its side's copies from before the phase that starts it until it
// completes.
func (r *run) runAttempt(ctx context.Context, a attempt, src driver.Snapshot) (driver.Snapshot, error, error) {
	st := r.attemptState(a)
	made, waited, cp := st.made, st.waited, st.copy
	p := st.next
	held := func() {}
	defer func() { held() }()
	hold := func(side driver.Side) error {
		held()
		release, err := r.copySlot(ctx, side, a.v)
		if err != nil {
			return err
		}
		held = release
		return nil
	}
	if waited != nil && cp == nil {
		// The last finished phase asked to wait: finish the wait (a resumed run finds it recorded).
		if err := hold(waited.Side); err != nil {
			return driver.Snapshot{}, nil, r.abandon(ctx, a, src, p-1, made, nil, err)
		}
		w, err := r.waitSnapshot(ctx, a.v, a.id(fmt.Sprintf("wait.%d", p-1)), "transfer.wait", *waited)
		if err != nil {
			return driver.Snapshot{}, nil, r.abandon(ctx, a, src, p-1, made, nil, err)
		}
		held()
		held = func() {}
		waited = &w
	}
	if cp != nil {
		if err := hold(cp.Side); err != nil {
			return driver.Snapshot{}, nil, r.abandon(ctx, a, src, 0, made, cp, err)
		}
	}
	for cp == nil {
		if side, ok := r.f.Transfer.PhaseCopies(a.v, p); ok {
			if err := hold(side); err != nil {
				return driver.Snapshot{}, nil, r.abandon(ctx, a, src, 0, made, nil, err)
			}
		}
		rec, err := r.transferPhase(ctx, a, src, p, made, waited)
		made = mergeResources(made, rec.Made)
		if err != nil {
			return driver.Snapshot{}, nil, r.abandon(ctx, a, src, p, made, rec.Copy, err)
		}
		switch {
		case rec.Copy != nil:
			cp = rec.Copy
		case rec.Wait != nil:
			w, err := r.waitSnapshot(ctx, a.v, a.id(fmt.Sprintf("wait.%d", p)), "transfer.wait", *rec.Wait)
			if err != nil {
				return driver.Snapshot{}, nil, r.abandon(ctx, a, src, p, made, nil, err)
			}
			held()
			held = func() {}
			waited = &w
			p++
		default:
			err := &driver.Error{Code: driver.CodeUnknown, Op: "transfer", Resource: a.v.ID, Err: fmt.Errorf("the %s driver's transfer phase %d made no copy and asked for no wait", r.d.Cloud(), p)}
			return driver.Snapshot{}, nil, r.abandon(ctx, a, src, p, made, nil, err)
		}
	}
	done, err := r.waitSnapshot(ctx, a.v, a.id("copy.wait"), "copy.wait", *cp)
	held()
	held = func() {}
	if err != nil {
		return driver.Snapshot{}, nil, r.abandon(ctx, a, src, 0, made, &done, err)
	}
	return done, r.removeMade(ctx, a, made), nil
}

// copySlot takes a place among the copies a side may have in flight.
func (r *run) copySlot(ctx context.Context, side driver.Side, v driver.Volume) (func(), error) {
	release, err := slot(ctx, r.copySlots[side])
	if err != nil {
		return nil, driver.Wrap(r.d, "transfer", v.ID, err)
	}
	return release, nil
}

// transferPhase runs one phase of an attempt as a step.
func (r *run) transferPhase(ctx context.Context, a attempt, src driver.Snapshot, p int, made []driver.Resource, waited *driver.Snapshot) (phaseRecord, error) {
	tok := r.tokens.of(a.id("transfer"))
	s := step{id: a.phase(p), action: "transfer", side: driver.Source, location: src.Location, volume: a.v.ID,
		resources: []custody.Resource{{Kind: "snapshot", ID: src.ID}}, token: tok, retry: true}
	var rec phaseRecord
	_, err := r.runStep(ctx, s, func(ctx context.Context, retry bool) (outcome, error) {
		res, err := r.f.Transfer.Transfer(ctx, r.transferRequest(a, src, p, made, waited, retry, false))
		rec = phaseRecord(res)
		out := outcome{details: map[string]any{"phase": asDetail(rec)}}
		for _, m := range res.Made {
			out.resources = append(out.resources, resourceOf(m))
		}
		switch {
		case res.Copy != nil:
			out.resources = append(out.resources, custody.Resource{Kind: "snapshot", ID: res.Copy.ID})
			out.note = fmt.Sprintf("forensic copy %s on its way", res.Copy.ID)
		case res.Wait != nil:
			out.note = fmt.Sprintf("waiting for %s before the next phase", res.Wait.ID)
		}
		return out, err
	})
	if rec.Copy != nil {
		rec.Copy.VolumeID = a.v.ID
	}
	return rec, err
}

func (r *run) transferRequest(a attempt, src driver.Snapshot, p int, made []driver.Resource, waited *driver.Snapshot, retry, findOnly bool) driver.TransferRequest {
	tok := r.tokens.of(a.id("transfer"))
	r.mu.Lock()
	prepared := r.prepared
	r.mu.Unlock()
	return driver.TransferRequest{Volume: a.v, Snapshot: src, Phase: p, Prepared: prepared, Made: made, Waited: waited, Destination: r.opts.Destination, Token: tok,
		Labels: r.labels(&a.v, "", tok), Description: fmt.Sprintf("acquire case %s: evidence of %s", r.caseID, a.v.ID), Retry: retry, FindOnly: findOnly}
}

// abandon gives an attempt up after cause: what its phase in flight may have made is looked up,
// everything it made for its own use is removed, and a copy that ended in error is discarded. A copy
// still on its way is left on the forensic side for the next run to adopt. It returns cause.
func (r *run) abandon(ctx context.Context, a attempt, src driver.Snapshot, p int, made []driver.Resource, cp *driver.Snapshot, cause error) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.CleanupTimeout)
	defer cancel()
	if p > 0 {
		found, err := r.f.Transfer.Transfer(cctx, r.transferRequest(a, src, p, made, nil, true, true))
		if err != nil {
			r.leave(Leftover{Side: driver.Source, Location: src.Location, Kind: "unknown", ID: a.id("transfer"),
				Note: "what the interrupted transfer made could not be looked up: " + err.Error()})
		}
		made = mergeResources(made, found.Made)
		if cp == nil && found.Copy != nil {
			cp = found.Copy
		}
	}
	var errs []error
	if err := r.removeMade(cctx, a, made); err != nil {
		errs = append(errs, err)
	}
	rec := abandonedRecord{Made: made, Copy: cp}
	if cp != nil && cp.ID != "" {
		if driver.CodeOf(cause) == driver.CodeFailed {
			if err := r.discard(cctx, a.v, a.id("copy.discard"), *cp); err != nil {
				errs = append(errs, err)
			}
		} else {
			r.leave(Leftover{Side: driver.Forensic, Location: cp.Location, Kind: "snapshot", ID: cp.ID,
				Note: "forensic copy on its way, not yet evidence: run the same command again to finish it"})
		}
	}
	s := step{id: a.id("abandoned"), action: "transfer.abandoned", side: driver.Source, location: src.Location, volume: a.v.ID, readOnly: true}
	_, err := r.runStep(cctx, s, func(context.Context, bool) (outcome, error) {
		return outcome{details: map[string]any{"abandoned": asDetail(rec)}, note: "transfer given up after: " + cause.Error()}, nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(append([]error{cause}, errs...)...)
}

// removeMade removes what an attempt made for its own use.
func (r *run) removeMade(ctx context.Context, a attempt, made []driver.Resource) error {
	return r.removeAll(ctx, a.id("transfer"), made)
}
