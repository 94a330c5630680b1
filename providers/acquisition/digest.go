package acquisition

import (
	"context"
	"fmt"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// digest computes the evidence's digests the way the driver allows: through a digester that computes
// them elsewhere, or by reading the snapshot's blocks through the driver's block reader and hashing
// them here. A digest the cloud cannot compute now is deferred, with the reason, not failed.
func (r *run) digest(ctx context.Context, v driver.Volume, ev driver.Snapshot) (*driver.Digest, string, error) {
	switch {
	case r.opts.Digest == DigestDefer:
		return nil, "deferred, as asked: export or a later digest computes it", nil
	case r.f.Digest == nil && r.f.Blocks == nil:
		return nil, fmt.Sprintf("deferred: %s cannot read snapshot content during an acquisition; export computes it", r.d.Cloud()), nil
	}
	id := r.prefix + v.ID + "/digest"
	if details, ok := r.journal.done(id); ok {
		var dg driver.Digest
		if err := detail(details, "digest", &dg); err == nil {
			// A run stopped after the digest and before its removals: what the digester made goes now
			// (removals already recorded are skipped).
			var temporary []driver.Resource
			if detail(details, "temporary", &temporary) == nil && len(temporary) > 0 {
				if err := r.removeAll(ctx, id, temporary); err != nil {
					return nil, "", err
				}
			}
			return &dg, "", nil
		}
	}
	release, err := slot(ctx, r.digestSlots)
	if err != nil {
		return nil, "", driver.Wrap(r.d, "digest", v.ID, err)
	}
	defer release()
	if r.f.Digest != nil {
		return r.digestElsewhere(ctx, id, v, ev)
	}
	s := step{id: id, action: "digest", side: driver.Forensic, location: ev.Location, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: ev.ID}}, retry: true}
	var dg driver.Digest
	_, err = r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		src, err := r.f.Blocks.OpenBlocks(ctx, ev)
		if err != nil {
			return outcome{}, err
		}
		dg, err = evidence.Compute(ctx, src, r.progress(id, v, ev))
		// Access ends even when the read failed or was cancelled.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.CleanupTimeout)
		cerr := src.Close(cctx)
		cancel()
		if err == nil {
			err = cerr
		}
		if err != nil {
			return outcome{}, err
		}
		return digestOutcome(dg), nil
	})
	return &dg, "", err
}

// digestElsewhere runs the driver's digester as a resumable step, then removes what it made.
func (r *run) digestElsewhere(ctx context.Context, id string, v driver.Volume, ev driver.Snapshot) (*driver.Digest, string, error) {
	tok := r.tokens.of(id)
	s := step{id: id, action: "digest", side: driver.Forensic, location: ev.Location, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: ev.ID}}, token: tok, retry: true}
	var res driver.DigestResult
	req := driver.DigestRequest{Volume: v, Snapshot: ev, Token: tok, Labels: r.labels(&v, driver.RoleTemporary, tok), Progress: r.progress(id, v, ev)}
	_, err := r.runStep(ctx, s, func(ctx context.Context, retry bool) (outcome, error) {
		req.Retry = retry
		var err error
		res, err = r.f.Digest.Digest(ctx, req)
		out := outcome{details: map[string]any{"temporary": asDetail(res.Temporary), "kept": asDetail(res.Kept)}}
		for _, t := range append(append([]driver.Resource(nil), res.Temporary...), res.Kept...) {
			out.resources = append(out.resources, resourceOf(t))
		}
		if err == nil && res.Digest == nil {
			err = &driver.Error{Code: driver.CodeUnknown, Op: "digest", Resource: ev.ID, Err: fmt.Errorf("the %s digester returned no digest", r.d.Cloud())}
		}
		if err != nil {
			return out, err
		}
		d := digestOutcome(*res.Digest)
		d.details["temporary"], d.details["kept"] = out.details["temporary"], out.details["kept"]
		d.resources = out.resources
		return d, nil
	})
	temporary := res.Temporary
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.CleanupTimeout)
		found, ferr := r.f.Digest.Digest(cctx, driver.DigestRequest{Volume: v, Snapshot: ev, Token: tok, Retry: true, FindOnly: true})
		cancel()
		if ferr == nil {
			temporary = mergeResources(temporary, found.Temporary)
		}
	}
	if rerr := r.removeAll(ctx, id, temporary); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return nil, "", err
	}
	return res.Digest, "", nil
}

func digestOutcome(dg driver.Digest) outcome {
	note := fmt.Sprintf("image SHA-256 %s of %d bytes", dg.ImageSHA256, dg.SizeBytes)
	if dg.IntegrityRetries > 0 {
		note += fmt.Sprintf("; %d blocks were read again because their content did not match the cloud's checksum", dg.IntegrityRetries)
	}
	return outcome{details: map[string]any{"digest": asDetail(dg)}, note: note}
}

func (r *run) progress(id string, v driver.Volume, ev driver.Snapshot) func(done, total int64) {
	return func(done, total int64) {
		r.event(Event{Kind: EventProgress, Step: id, Volume: v.ID, Resource: ev.ID, Done: done, Total: total, Unit: "bytes"})
	}
}

// recordEvidence writes the record that defines the evidence item, once: the forensic snapshot, where
// it came from, its digests or why they are deferred.
func (r *run) recordEvidence(ctx context.Context, res VolumeResult) error {
	id := r.prefix + res.Volume.ID + "/evidence"
	if _, ok := r.journal.done(id); ok {
		return nil
	}
	ev := res.Evidence
	it := evidence.Item{
		Name: evidence.SubjectName(r.d.Cloud(), ev.ID), Cloud: r.d.Cloud(), Account: r.principals[driver.Forensic].Account, Location: ev.Location,
		Snapshot: ev.ID, SourceVolume: res.Volume.ID, SourceWorkload: res.Volume.Workload, Consistency: res.Consistency,
		SizeBytes: res.Volume.SizeBytes, Digest: res.Digest, DigestStatus: evidence.DigestComputed, Deferred: res.Deferred, Locked: res.Locked,
	}
	if ev.SizeBytes > 0 {
		it.SizeBytes = ev.SizeBytes
	}
	if res.Digest != nil && res.Digest.SizeBytes > 0 {
		it.SizeBytes = res.Digest.SizeBytes
	}
	if res.SourceSnapshot != nil {
		it.SourceSnapshot = res.SourceSnapshot.ID
	}
	note := fmt.Sprintf("evidence %s of volume %s", ev.ID, res.Volume.ID)
	if res.Digest == nil {
		it.DigestStatus = evidence.DigestDeferred
		note += "; digest " + res.Deferred
	} else {
		note += ", image SHA-256 " + res.Digest.ImageSHA256
	}
	s := step{id: id, action: evidence.Action, side: driver.Forensic, location: ev.Location, volume: res.Volume.ID, resources: []custody.Resource{{Kind: "snapshot", ID: ev.ID}}, readOnly: true}
	_, err := r.runStep(ctx, s, func(context.Context, bool) (outcome, error) {
		out := outcome{details: map[string]any{evidence.DetailKey: asDetail(it)}, note: note}
		if sub, ok := it.Subject(); ok {
			out.subjects = []custody.Subject{sub}
		}
		return out, nil
	})
	return err
}
