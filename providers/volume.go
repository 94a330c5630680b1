package providers

import (
	"context"
	"errors"
	"fmt"

	"github.com/acquire-forensics/acquire/custody"
)

// tags labels what the acquisition creates.
func (r *run) tags(v *Volume, role, tok string) Tags {
	t := Tags{
		"acquire:case":     r.caseID,
		"acquire:operator": r.opts.Ledger.Operator(),
		"acquire:role":     role,
		"acquire:token":    tok,
	}
	if v != nil {
		t["acquire:source-volume"] = v.ID
		if v.Workload != "" {
			t["acquire:source-workload"] = v.Workload
		}
	}
	return t
}

// groupSnapshots takes the source snapshots of a workload's volumes in one call (crash-consistent when
// the cloud can), or of a lone volume. It returns them by volume ID. A resumed run reuses the snapshots
// an earlier run recorded or left in flight.
func (r *run) groupSnapshots(ctx context.Context, g workloadGroup, all []Volume) (map[string]Snapshot, error) {
	var vols []Volume
	for _, i := range g.index {
		vols = append(vols, all[i])
	}
	id := vols[0].ID + "/snapshot"
	req := SnapshotRequest{Region: r.opts.Target.Region, Volume: &vols[0]}
	res := []custody.Resource{{Kind: "volume", ID: vols[0].ID}}
	if g.workload != "" {
		id = g.workload + "/snapshot"
		w := &Workload{ID: g.workload, Region: r.opts.Target.Region, Volumes: vols}
		req = SnapshotRequest{Region: r.opts.Target.Region, Workload: w}
		res = []custody.Resource{{Kind: "instance", ID: g.workload}}
	}
	if details, ok := r.journal.done(id); ok {
		var snaps map[string]Snapshot
		err := detail(details, "snapshots", &snaps)
		return snaps, err
	}
	tok := token(r.caseID, id)
	req.Token = tok
	req.Tags = r.tags(req.Volume, "source-snapshot", tok)
	if g.workload != "" {
		req.Tags["acquire:source-workload"] = g.workload
	}
	req.Description = fmt.Sprintf("acquire case %s: forensic snapshot", r.caseID)
	s := step{id: id, action: "snapshot.create", side: Source, region: req.Region, resources: res, token: tok, retry: true}
	snaps := map[string]Snapshot{}
	_, err := r.runStep(ctx, s, func(ctx context.Context, resumed bool) (outcome, error) {
		var got []Snapshot
		var err error
		if resumed {
			if got, err = r.d.FindSnapshots(ctx, Source, req.Region, tok); err != nil {
				return outcome{}, err
			}
		}
		if len(got) == 0 {
			if got, err = r.d.CreateSnapshots(ctx, req); err != nil {
				return outcome{}, err
			}
		}
		var out outcome
		for _, sn := range got {
			snaps[sn.VolumeID] = sn
			out.resources = append(out.resources, custody.Resource{Kind: "snapshot", ID: sn.ID})
		}
		for _, v := range vols {
			if _, ok := snaps[v.ID]; !ok {
				return out, &Error{Code: CodeFailed, Op: "snapshot.create", Resource: v.ID, Err: fmt.Errorf("no snapshot of volume %s was made", v.ID)}
			}
		}
		out.details = map[string]any{"snapshots": asDetail(snaps)}
		if g.workload != "" && r.d.Capabilities().CrashConsistentGroups {
			out.note = fmt.Sprintf("%d volumes of %s snapshotted at one point in time (crash-consistent)", len(vols), g.workload)
		}
		if len(got) > 0 {
			out.providerTime = got[0].StartTime
		}
		return out, nil
	})
	return snaps, err
}

// acquireVolume takes one volume from its source snapshot to a digested forensic copy, then removes
// what it created on the source side. On failure it still removes those, and says what is left.
func (r *run) acquireVolume(ctx context.Context, v Volume, src Snapshot) VolumeResult {
	res := VolumeResult{Volume: v}
	fail := func(err error) VolumeResult {
		res.Error, res.Code = err.Error(), CodeOf(err)
		return res
	}
	src, err := r.waitSnapshot(ctx, v, v.ID+"/snapshot.wait", "snapshot.wait", src)
	if src.ID != "" {
		res.SourceSnapshot = &src
	}
	if err != nil {
		return fail(err)
	}
	copySnap, err := r.transfer(ctx, v, src)
	if copySnap.ID != "" {
		res.ForensicCopy = &copySnap
	}
	if err != nil {
		return fail(err)
	}
	if r.opts.Lock != nil {
		if err := r.lock(ctx, v, copySnap); err != nil {
			return fail(err)
		}
		res.Locked = true
	}
	dg, err := r.digest(ctx, v, copySnap)
	if err != nil {
		return fail(err)
	}
	res.Digest = &dg
	if r.opts.DeleteSourceSnapshots {
		if err := r.deleteSource(ctx, v, src); err != nil {
			return fail(err)
		}
	}
	return res
}

// waitSnapshot waits for a snapshot to complete and records how it ended, as step id.
func (r *run) waitSnapshot(ctx context.Context, v Volume, id, action string, sn Snapshot) (Snapshot, error) {
	if details, ok := r.journal.done(id); ok {
		var done Snapshot
		if err := detail(details, "snapshot", &done); err == nil && done.ID == sn.ID {
			return done, nil
		}
	}
	s := step{id: id, action: action, side: sn.Side, region: sn.Region, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: sn.ID}}, readOnly: true}
	var done Snapshot
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		var err error
		done, err = r.poller(sn.Side, sn.Region).wait(ctx, sn.ID, func(p Snapshot) {
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

func (r *run) lock(ctx context.Context, v Volume, c Snapshot) error {
	id := v.ID + "/lock"
	if _, ok := r.journal.done(id); ok {
		return nil
	}
	s := step{id: id, action: "lock", side: Forensic, region: c.Region, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: c.ID}}}
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		l := *r.opts.Lock
		return outcome{details: map[string]any{"mode": l.Mode, "days": l.Days, "coolOffHours": l.CoolOffHours},
			note: fmt.Sprintf("%s lock for %d days", l.Mode, l.Days)}, r.d.Lock(ctx, c, l)
	})
	return err
}

func (r *run) digest(ctx context.Context, v Volume, c Snapshot) (Digest, error) {
	id := v.ID + "/digest"
	if details, ok := r.journal.done(id); ok {
		var dg Digest
		if err := detail(details, "digest", &dg); err == nil {
			return dg, nil
		}
	}
	if !r.d.Capabilities().BlockDigest {
		return Digest{}, &Error{Code: CodeInvalid, Op: "digest", Resource: c.ID, Err: errors.New("this cloud has no block-read API; the digest is deferred to export")}
	}
	release, err := slot(ctx, r.digestSlots)
	if err != nil {
		return Digest{}, wrap(r.d, "digest", v.ID, err)
	}
	defer release()
	s := step{id: id, action: "digest", side: Forensic, region: c.Region, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: c.ID}}, readOnly: true}
	var dg Digest
	_, err = r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		var err error
		dg, err = r.d.Digest(ctx, c, func(done, total int64) {
			r.event(Event{Kind: EventProgress, Step: id, Volume: v.ID, Resource: c.ID, Done: done, Total: total, Unit: "bytes"})
		})
		if err != nil {
			return outcome{}, err
		}
		sub := custody.Subject{
			Name:        fmt.Sprintf("%s:snapshot:%s", r.d.Cloud(), c.ID),
			Digest:      map[string]string{"sha256": dg.ImageSHA256},
			Annotations: map[string]string{"kind": custody.KindEvidence, "sourceVolume": v.ID, "sizeBytes": fmt.Sprint(dg.SizeBytes)},
		}
		return outcome{subjects: []custody.Subject{sub}, details: map[string]any{"digest": asDetail(dg)},
			note: fmt.Sprintf("image SHA-256 %s of %d bytes", dg.ImageSHA256, dg.SizeBytes)}, nil
	})
	return dg, err
}

func (r *run) deleteSource(ctx context.Context, v Volume, src Snapshot) error {
	id := v.ID + "/source.delete"
	if _, ok := r.journal.done(id); ok {
		return nil
	}
	s := step{id: id, action: "snapshot.delete", side: Source, region: src.Region, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: src.ID}}}
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		return outcome{note: "source snapshot deleted, as asked"}, r.d.DeleteSnapshot(ctx, Source, src.Region, src.ID)
	})
	return err
}
