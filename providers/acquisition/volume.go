package acquisition

import (
	"context"
	"fmt"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// labels are what the acquisition puts on what it makes, in neutral keys the driver encodes.
func (r *run) labels(v *driver.Volume, role, tok string) driver.Labels {
	l := driver.Labels{
		driver.LabelCase:     r.caseID,
		driver.LabelOperator: r.opts.Ledger.Operator(),
		driver.LabelRole:     role,
		driver.LabelToken:    tok,
	}
	if v != nil {
		l[driver.LabelSourceVolume] = v.ID
		if v.Workload != "" {
			l[driver.LabelSourceWorkload] = v.Workload
		}
	}
	return l
}

// acquireVolume takes one volume from its completed snapshot to recorded evidence: moved to the
// forensic side where the cloud snapshots on the source side, locked when asked, digested, and
// recorded. On failure it still removes what it made for its own use, and says what is left.
func (r *run) acquireVolume(ctx context.Context, v driver.Volume, t taken) VolumeResult {
	res := VolumeResult{Volume: v, Consistency: t.consistency}
	fail := func(err error) VolumeResult {
		res.Error, res.Code, res.err = err.Error(), driver.CodeOf(err), err
		return res
	}
	ev := t.snap
	var cleanupErr error
	if r.caps.SnapshotSide == driver.Source {
		src := t.snap
		res.SourceSnapshot = &src
		var err error
		if ev, cleanupErr, err = r.transfer(ctx, v, src); err != nil {
			return fail(err)
		}
	}
	res.Evidence = &ev
	if r.opts.Lock != nil {
		note, err := r.lock(ctx, v, ev)
		if err != nil {
			return fail(err)
		}
		res.Locked = note
	}
	dg, deferred, err := r.digest(ctx, v, ev)
	if err != nil {
		return fail(err)
	}
	res.Digest, res.Deferred = dg, deferred
	if err := r.recordEvidence(ctx, res); err != nil {
		return fail(err)
	}
	res.Recorded = true
	if r.opts.DeleteSourceSnapshots && res.SourceSnapshot != nil {
		if err := r.deleteSource(ctx, v, *res.SourceSnapshot); err != nil {
			return fail(err)
		}
	}
	if cleanupErr != nil {
		// The evidence is safe, but the source side is not as it should be: the volume does not count
		// as acquired until what is listed as left in place is removed.
		return fail(fmt.Errorf("evidence recorded, but what the transfer made could not all be removed: %w", cleanupErr))
	}
	return res
}

// waitSnapshot waits for a snapshot to complete and records how it ended, as step id.
func (r *run) waitSnapshot(ctx context.Context, v driver.Volume, id, action string, sn driver.Snapshot) (driver.Snapshot, error) {
	if details, ok := r.journal.done(id); ok {
		var done driver.Snapshot
		if err := detail(details, "snapshot", &done); err == nil && done.ID == sn.ID {
			return done, nil
		}
	}
	s := step{id: id, action: action, side: sn.Side, location: sn.Location, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: sn.ID}}, readOnly: true}
	var done driver.Snapshot
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		var err error
		done, err = r.poller(sn.Side, sn.Location).wait(ctx, sn.ID, func(p driver.Snapshot) {
			r.event(Event{Kind: EventProgress, Step: id, Volume: v.ID, Resource: sn.ID, Done: int64(p.Progress), Total: 100, Unit: "%"})
		})
		if done.ID != "" {
			done.VolumeID = v.ID
		}
		out := outcome{details: map[string]any{"snapshot": asDetail(done)}}
		if err == nil {
			out.note = fmt.Sprintf("%s snapshot %s completed", sn.Side, sn.ID)
		}
		return out, err
	})
	if done.ID == "" {
		done = sn
	}
	return done, err
}

// discard deletes a snapshot that ended in error: it is not evidence, and must not be left for
// anyone to mistake for it.
func (r *run) discard(ctx context.Context, v driver.Volume, id string, sn driver.Snapshot) error {
	if _, ok := r.journal.done(id); ok {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.CleanupTimeout)
	defer cancel()
	s := step{id: id, action: "snapshot.discard", side: sn.Side, location: sn.Location, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: sn.ID}}}
	_, err := r.runStep(cctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		return outcome{note: fmt.Sprintf("snapshot %s ended in error (%s) and was deleted: it is not evidence", sn.ID, sn.Message)},
			r.d.Delete(ctx, driver.Resource{Side: sn.Side, Location: sn.Location, Kind: "snapshot", ID: sn.ID, Volume: v.ID})
	})
	if err != nil {
		r.leave(Leftover{Side: sn.Side, Location: sn.Location, Kind: "snapshot", ID: sn.ID, Note: "FAILED snapshot (not evidence), not deleted: " + err.Error()})
	}
	return err
}

func (r *run) lock(ctx context.Context, v driver.Volume, ev driver.Snapshot) (string, error) {
	id := r.prefix + v.ID + "/lock"
	if details, ok := r.journal.done(id); ok {
		note, _ := details["lock"].(string)
		return note, nil
	}
	req := *r.opts.Lock
	req.Token = r.tokens.of(id)
	s := step{id: id, action: "lock", side: driver.Forensic, location: ev.Location, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: ev.ID}}, token: req.Token, retry: true}
	var note string
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		res, err := r.f.Lock.Lock(ctx, ev, req)
		note = lockWords(&req)
		if res.Note != "" {
			note += ": " + res.Note
		}
		out := outcome{details: map[string]any{"lock": note, "mode": req.Mode, "days": req.Days, "coolOffHours": req.CoolOffHours}, note: note}
		if res.Resource != nil {
			out.resources = append(out.resources, resourceOf(*res.Resource))
		}
		return out, err
	})
	return note, err
}

func (r *run) deleteSource(ctx context.Context, v driver.Volume, src driver.Snapshot) error {
	id := r.prefix + v.ID + "/source.delete"
	if _, ok := r.journal.done(id); ok {
		return nil
	}
	s := step{id: id, action: "snapshot.delete", side: driver.Source, location: src.Location, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: src.ID}}}
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		return outcome{note: "source snapshot deleted, as asked"},
			r.d.Delete(ctx, driver.Resource{Side: driver.Source, Location: src.Location, Kind: "snapshot", ID: src.ID, Volume: v.ID})
	})
	return err
}
