package providers

import (
	"context"
	"fmt"

	"github.com/acquire-forensics/acquire/custody"
)

// attempt is one try at moving a volume's snapshot into the forensic side: stage, share, copy, wait,
// then withdraw the share and remove the staging. Its steps are named "<volume>/t<n>/<step>". An
// attempt that was undone (after a failure or a cancel) is not resumed, because what it staged is gone:
// the next attempt starts afresh, keeping the forensic copy the undone one made if that copy completes.
type attempt struct {
	v Volume
	n int
}

func (a attempt) id(step string) string { return fmt.Sprintf("%s/t%d/%s", a.v.ID, a.n, step) }

func (a attempt) next() attempt { return attempt{v: a.v, n: a.n + 1} }

// currentAttempt is the latest attempt the journal knows for a volume, or the first.
func (r *run) currentAttempt(v Volume) attempt {
	a := attempt{v: v, n: 1}
	for r.journal.attempted(a.next().id("stage")) {
		a = a.next()
	}
	return a
}

// undone reports whether an attempt's share or staging was removed: it cannot continue.
func (r *run) undone(a attempt) bool {
	_, unshared := r.journal.done(a.id("unshare"))
	_, unstaged := r.journal.done(a.id("unstage"))
	return unshared || unstaged
}

// transfer moves a completed source snapshot into the forensic side and always cleans up after itself.
func (r *run) transfer(ctx context.Context, v Volume, src Snapshot) (Snapshot, error) {
	a := r.currentAttempt(v)
	for {
		if details, ok := r.journal.done(a.id("copy.wait")); ok {
			var c Snapshot
			if err := detail(details, "snapshot", &c); err == nil {
				return c, r.cleanupTransfer(ctx, a, r.recordedStage(a))
			}
		}
		if !r.undone(a) {
			break
		}
		// Finish undoing it (a crash may have stopped the cleanup half-way), then keep its copy if it made one.
		if err := r.cleanupTransfer(ctx, a, r.recordedStage(a)); err != nil {
			return Snapshot{}, err
		}
		c, ok, err := r.adoptCopy(ctx, a)
		if err != nil || ok {
			return c, err
		}
		a = a.next()
	}
	c, staged, err := r.attemptTransfer(ctx, a, src)
	if cerr := r.cleanupTransfer(ctx, a, staged); cerr != nil && err == nil {
		err = cerr
	}
	return c, err
}

func (r *run) attemptTransfer(ctx context.Context, a attempt, src Snapshot) (Snapshot, *Staged, error) {
	staged, err := r.stage(ctx, a, src)
	if err != nil {
		return Snapshot{}, staged, err
	}
	if err := r.share(ctx, a, staged.Snapshot); err != nil {
		return Snapshot{}, staged, err
	}
	release, err := slot(ctx, r.copySlots[Forensic])
	if err != nil {
		return Snapshot{}, staged, wrap(r.d, "copy", a.v.ID, err)
	}
	defer release()
	c, err := r.copy(ctx, a, staged.Snapshot)
	if err != nil {
		return c, staged, err
	}
	c, err = r.waitSnapshot(ctx, a.v, a.id("copy.wait"), "copy.wait", c)
	return c, staged, err
}

// adoptCopy keeps the forensic copy an undone attempt made, if it completes. A copy that failed is
// deleted: a failed copy is not evidence.
func (r *run) adoptCopy(ctx context.Context, a attempt) (Snapshot, bool, error) {
	var c Snapshot
	if details, ok := r.journal.done(a.id("copy")); ok {
		_ = detail(details, "copy", &c)
	} else if r.journal.attempted(a.id("copy")) {
		found, err := r.d.FindSnapshots(ctx, Forensic, r.opts.Forensic.Region, token(r.caseID, a.id("copy")))
		if err != nil {
			return Snapshot{}, false, wrap(r.d, "copy.find", a.v.ID, err)
		}
		if len(found) > 0 {
			c = found[0]
		}
	}
	if c.ID == "" {
		return Snapshot{}, false, nil
	}
	done, err := r.waitSnapshot(ctx, a.v, a.id("copy.wait"), "copy.wait", c)
	if err == nil {
		return done, true, nil
	}
	if CodeOf(err) != CodeFailed {
		return Snapshot{}, false, err
	}
	s := step{id: a.id("copy.discard"), action: "snapshot.delete", side: Forensic, region: c.Region, volume: a.v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: c.ID}}}
	_, err = r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		return outcome{note: "failed forensic copy deleted; the transfer starts again"}, r.d.DeleteSnapshot(ctx, Forensic, c.Region, c.ID)
	})
	return Snapshot{}, false, err
}

func (r *run) recordedStage(a attempt) *Staged {
	details, ok := r.journal.done(a.id("stage"))
	if !ok {
		return nil
	}
	var st Staged
	if detail(details, "staged", &st) != nil {
		return nil
	}
	return &st
}

func (r *run) stage(ctx context.Context, a attempt, src Snapshot) (*Staged, error) {
	if st := r.recordedStage(a); st != nil {
		return r.waitStaged(ctx, a, st)
	}
	v := a.v
	var key *Key
	if r.d.NeedsShareKey(v) {
		k, err := r.ensureShareKey(ctx)
		if err != nil {
			return nil, err
		}
		key = &k
		// The intermediate copy counts against the source account's concurrent copies.
		release, err := slot(ctx, r.copySlots[Source])
		if err != nil {
			return nil, wrap(r.d, "stage", v.ID, err)
		}
		defer release()
	}
	id := a.id("stage")
	tok := token(r.caseID, id)
	req := StageRequest{Volume: v, Snapshot: src, ShareKey: key, Token: tok, Tags: r.tags(&v, "intermediate-copy", tok)}
	s := step{id: id, action: "stage", side: Source, region: src.Region, volume: v.ID, resources: []custody.Resource{{Kind: "snapshot", ID: src.ID}}, token: tok, retry: true}
	var staged Staged
	_, err := r.runStep(ctx, s, func(ctx context.Context, resumed bool) (outcome, error) {
		if resumed && r.d.NeedsShareKey(v) {
			found, err := r.d.FindSnapshots(ctx, Source, src.Region, tok)
			if err != nil {
				return outcome{}, err
			}
			if len(found) > 0 {
				staged = Staged{Snapshot: found[0], Intermediate: true}
				staged.Snapshot.VolumeID = v.ID
				return stageOutcome(staged), nil
			}
		}
		var err error
		if staged, err = r.d.Stage(ctx, req); err != nil {
			return outcome{}, err
		}
		staged.Snapshot.VolumeID = v.ID
		return stageOutcome(staged), nil
	})
	if err != nil {
		if staged.Snapshot.ID == "" {
			return nil, err
		}
		return &staged, err
	}
	return r.waitStaged(ctx, a, &staged)
}

func stageOutcome(st Staged) outcome {
	note := "shared as it is"
	switch {
	case st.Intermediate:
		note = "intermediate copy " + st.Snapshot.ID + " under the share key"
	case len(st.Grants) > 0:
		note = fmt.Sprintf("%d key grants for the forensic account", len(st.Grants))
	}
	out := outcome{details: map[string]any{"staged": asDetail(st)}, note: note}
	out.resources = append(out.resources, custody.Resource{Kind: "snapshot", ID: st.Snapshot.ID})
	for _, g := range st.Grants {
		out.resources = append(out.resources, custody.Resource{Kind: "kms-grant", ID: g.ID})
	}
	return out
}

func (r *run) waitStaged(ctx context.Context, a attempt, st *Staged) (*Staged, error) {
	if !st.Intermediate || st.Snapshot.State == StateCompleted {
		return st, nil
	}
	done, err := r.waitSnapshot(ctx, a.v, a.id("stage.wait"), "stage.wait", st.Snapshot)
	st.Snapshot = done
	return st, err
}

func (r *run) share(ctx context.Context, a attempt, sn Snapshot) error {
	id := a.id("share")
	if _, ok := r.journal.done(id); ok {
		return nil
	}
	s := step{id: id, action: "share", side: Source, region: sn.Region, volume: a.v.ID,
		resources: []custody.Resource{{Kind: "snapshot", ID: sn.ID}, {Kind: "account", ID: r.opts.Forensic.Account}}}
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		return outcome{note: "shared with the forensic account " + r.opts.Forensic.Account + " only"}, r.d.Share(ctx, sn)
	})
	return err
}

func (r *run) copy(ctx context.Context, a attempt, shared Snapshot) (Snapshot, error) {
	id := a.id("copy")
	if details, ok := r.journal.done(id); ok {
		var c Snapshot
		if err := detail(details, "copy", &c); err == nil {
			return c, nil
		}
	}
	v := a.v
	tok := token(r.caseID, id)
	req := CopyRequest{Source: shared, Region: r.opts.Forensic.Region, KeyID: r.opts.Forensic.KeyID, Token: tok,
		Tags: r.tags(&v, "forensic-copy", tok), Description: fmt.Sprintf("acquire case %s: evidence copy of %s", r.caseID, v.ID)}
	s := step{id: id, action: "copy", side: Forensic, region: req.Region, volume: v.ID,
		resources: []custody.Resource{{Kind: "snapshot", ID: shared.ID}, {Kind: "kms-key", ID: req.KeyID}}, token: tok, retry: true}
	var c Snapshot
	_, err := r.runStep(ctx, s, func(ctx context.Context, resumed bool) (outcome, error) {
		if resumed {
			found, err := r.d.FindSnapshots(ctx, Forensic, req.Region, tok)
			if err != nil {
				return outcome{}, err
			}
			if len(found) > 0 {
				c = found[0]
			}
		}
		if c.ID == "" {
			var err error
			if c, err = r.d.Copy(ctx, req); err != nil {
				return outcome{}, err
			}
		}
		c.VolumeID = v.ID
		return outcome{details: map[string]any{"copy": asDetail(c)}, resources: []custody.Resource{{Kind: "snapshot", ID: c.ID}},
			note: "forensic copy " + c.ID + " under key " + req.KeyID}, nil
	})
	return c, err
}

// cleanupTransfer withdraws an attempt's share and removes what it staged. It runs under a fresh, short
// context, so that it runs after a cancel too; what it cannot remove is reported as left over.
func (r *run) cleanupTransfer(ctx context.Context, a attempt, st *Staged) error {
	if st == nil || st.Snapshot.ID == "" {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.CleanupTimeout)
	defer cancel()
	var first error
	if _, done := r.journal.done(a.id("unshare")); !done && r.journal.attempted(a.id("share")) {
		s := step{id: a.id("unshare"), action: "unshare", side: Source, region: st.Snapshot.Region, volume: a.v.ID,
			resources: []custody.Resource{{Kind: "snapshot", ID: st.Snapshot.ID}, {Kind: "account", ID: r.opts.Forensic.Account}}}
		if _, err := r.runStep(cctx, s, func(ctx context.Context, _ bool) (outcome, error) {
			return outcome{note: "share withdrawn"}, r.d.Unshare(ctx, st.Snapshot)
		}); err != nil {
			r.leave(Leftover{Side: Source, Region: st.Snapshot.Region, Kind: "snapshot-share", ID: st.Snapshot.ID, Note: "STILL SHARED with " + r.opts.Forensic.Account + ": " + err.Error()})
			first = err
		}
	}
	if _, done := r.journal.done(a.id("unstage")); !done && (st.Intermediate || len(st.Grants) > 0) {
		s := step{id: a.id("unstage"), action: "unstage", side: Source, region: st.Snapshot.Region, volume: a.v.ID, resources: stagedResources(st)}
		if _, err := r.runStep(cctx, s, func(ctx context.Context, _ bool) (outcome, error) {
			return outcome{note: "intermediate copy and key grants removed"}, r.d.Unstage(ctx, *st)
		}); err != nil {
			r.leave(Leftover{Side: Source, Region: st.Snapshot.Region, Kind: "intermediate", ID: st.Snapshot.ID, Note: "not removed: " + err.Error()})
			if first == nil {
				first = err
			}
		}
	}
	return first
}

func stagedResources(st *Staged) []custody.Resource {
	res := []custody.Resource{{Kind: "snapshot", ID: st.Snapshot.ID}}
	for _, g := range st.Grants {
		res = append(res, custody.Resource{Kind: "kms-grant", ID: g.ID})
	}
	return res
}
