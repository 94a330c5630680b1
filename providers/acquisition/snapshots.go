package acquisition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// group is a workload's volumes, snapshotted together, or a volume given alone.
type group struct {
	workload string
	vols     []driver.Volume
}

func groupByWorkload(vols []driver.Volume) []group {
	var groups []group
	at := map[string]int{}
	for _, v := range vols {
		key := v.Workload
		if key == "" {
			key = "volume:" + v.ID
		}
		g, ok := at[key]
		if !ok {
			g = len(groups)
			at[key] = g
			groups = append(groups, group{workload: v.Workload})
		}
		groups[g].vols = append(groups[g].vols, v)
	}
	return groups
}

// taken is a volume's snapshot and the attempt that made it.
type taken struct {
	snap        driver.Snapshot
	attempt     int
	consistency driver.Consistency
}

// snapshotsRecord is what a snapshot.create result records.
type snapshotsRecord struct {
	Snapshots   map[string]driver.Snapshot `json:"snapshots"` // by volume ID
	Consistency driver.Consistency         `json:"consistency"`
	Temporary   []driver.Resource          `json:"temporary,omitempty"`
}

// acquireAll moves every volume at once: waiting costs nothing, since one status call per round serves
// every waiting snapshot. What the cloud or the machine limits is bounded separately: copies in flight
// on each side, and digests (CPU and the block-read quota). The volumes of one workload are snapshotted
// together first, at one point in time where the cloud can.
func (r *run) acquireAll(ctx context.Context, vols []driver.Volume) []VolumeResult {
	r.copySlots = map[driver.Side]chan struct{}{driver.Source: make(chan struct{}, r.opts.CopyConcurrency), driver.Forensic: make(chan struct{}, r.opts.CopyConcurrency)}
	r.digestSlots = make(chan struct{}, r.opts.DigestConcurrency)
	results := make(map[string]VolumeResult, len(vols))
	var mu sync.Mutex
	failedN := 0
	r.event(Event{Kind: EventVolumes, Done: 0, Total: int64(len(vols))})
	set := func(vr VolumeResult) {
		mu.Lock()
		defer mu.Unlock()
		results[vr.Volume.ID] = vr
		if vr.Error != "" && vr.Code != driver.CodeCancelled && vr.Code != driver.CodeTimeout {
			failedN++ // a volume stopped by a cancel has not failed
		}
		r.event(Event{Kind: EventVolumes, Volume: vr.Volume.ID, Done: int64(len(results)), Total: int64(len(vols)), Failed: int64(failedN), Code: vr.Code})
	}
	var wg sync.WaitGroup
	for _, g := range groupByWorkload(vols) {
		wg.Go(func() {
			snaps, failures, err := r.snapshotGroup(ctx, g)
			var vwg sync.WaitGroup
			for _, v := range g.vols {
				if err == nil && failures[v.ID] != nil {
					set(failed(v, failures[v.ID]))
					continue
				}
				if err != nil {
					set(failed(v, err))
					continue
				}
				vwg.Go(func() { set(r.acquireVolume(ctx, v, snaps[v.ID])) })
			}
			vwg.Wait()
		})
	}
	wg.Wait()
	out := make([]VolumeResult, 0, len(vols))
	for _, v := range vols {
		out = append(out, results[v.ID])
	}
	return out
}

// snapshotGroup takes the snapshots of a group's volumes and waits for them, then removes what the
// cloud needed to take them. A resumed run reuses what earlier runs made; a volume whose snapshot
// ended in error (and was discarded) is snapshotted again, in an attempt of its own.
func (r *run) snapshotGroup(ctx context.Context, g group) (map[string]taken, map[string]error, error) {
	failures := map[string]error{}
	have, k, err := r.snapshotAttempts(ctx, g, failures)
	if err != nil {
		return nil, nil, err
	}
	var need []driver.Volume
	for _, v := range g.vols {
		// A volume whose snapshot ended in error in this run is not taken again in the same run.
		if _, ok := have[v.ID]; !ok && failures[v.ID] == nil {
			need = append(need, v)
		}
	}
	if len(need) > 0 {
		rec, err := r.createSnapshots(ctx, g, need, k)
		if err != nil {
			r.abandonAttempt(ctx, g, k, rec)
			return nil, nil, err
		}
		for id, sn := range rec.Snapshots {
			have[id] = taken{snap: sn, attempt: k, consistency: rec.Consistency}
		}
		if err := r.settleAttempt(ctx, g, k, rec, have, failures); err != nil {
			return nil, nil, err
		}
	}
	return have, failures, nil
}

// snapshotAttempts reads a group's finished attempts from the journal, settling any whose waits or
// removals a stopped run left undone, and returns what they made and the attempt to make next (or to
// retry, when it is unsettled).
func (r *run) snapshotAttempts(ctx context.Context, g group, failures map[string]error) (map[string]taken, int, error) {
	have := map[string]taken{}
	k := 1
	for ; ; k++ {
		details, ok := r.journal.done(r.attemptID(g, k))
		if !ok {
			return have, k, nil // not tried, or unsettled: retried under its own token
		}
		var rec snapshotsRecord
		if err := detail(details, "snapshots", &rec); err != nil {
			return nil, 0, err
		}
		for id, sn := range rec.Snapshots {
			have[id] = taken{snap: sn, attempt: k, consistency: rec.Consistency}
		}
		if err := r.settleAttempt(ctx, g, k, rec, have, failures); err != nil {
			return nil, 0, err
		}
	}
}

func (r *run) attemptID(g group, k int) string {
	key := g.workload
	if key == "" {
		key = g.vols[0].ID
	}
	return fmt.Sprintf("%s%s/snapshot.%d", r.prefix, key, k)
}

// snapshotLocation is where a volume's snapshots are looked for.
func (r *run) snapshotLocation(v driver.Volume) string {
	if r.caps.SnapshotSide == driver.Forensic && r.opts.Destination.Location != "" {
		return r.opts.Destination.Location
	}
	return v.Location
}

// createSnapshots makes attempt k of a group's snapshots, for the volumes that need one.
func (r *run) createSnapshots(ctx context.Context, g group, need []driver.Volume, k int) (snapshotsRecord, error) {
	id := r.attemptID(g, k)
	tok := r.tokens.of(id)
	side := r.caps.SnapshotSide
	consistency := consistencyFor(r.caps, r.opts.Consistency)
	req := driver.SnapshotRequest{Consistency: consistency, Token: tok, Description: fmt.Sprintf("acquire case %s: forensic snapshot", r.caseID),
		Destination: r.opts.Destination}
	role := driver.RoleSourceSnapshot
	if side == driver.Forensic {
		role = driver.RoleEvidence
	}
	var res []custody.Resource
	if g.workload != "" {
		req.Workload = &driver.Workload{ID: g.workload, Location: need[0].Location, Volumes: need}
		req.Labels = r.labels(nil, role, tok)
		req.Labels[driver.LabelSourceWorkload] = g.workload
		res = append(res, custody.Resource{Kind: "instance", ID: g.workload})
	} else {
		req.Volume = &need[0]
		req.Labels = r.labels(&need[0], role, tok)
	}
	for _, v := range need {
		res = append(res, custody.Resource{Kind: "volume", ID: v.ID})
	}
	if len(need) < len(g.vols) {
		req.Consistency = driver.PerVolume // again for some volumes only: not at the moment the others were taken
		consistency = driver.PerVolume
	}
	s := step{id: id, action: "snapshot.create", side: side, location: need[0].Location, resources: res, token: tok, retry: true}
	var rec snapshotsRecord
	_, err := r.runStep(ctx, s, func(ctx context.Context, retry bool) (outcome, error) {
		rec = snapshotsRecord{Snapshots: map[string]driver.Snapshot{}, Consistency: consistency}
		var out outcome
		// A crash-consistent attempt that wrote into the source account is handed back to the driver,
		// which finds what it made there as well as the snapshots, so that all of it is removed.
		writesSource := req.Consistency == driver.CrashConsistent && r.caps.Crash == driver.CrashWritesSource
		if retry && !writesSource {
			found, err := r.d.FindSnapshots(ctx, side, r.snapshotLocation(need[0]), tok)
			if err != nil {
				return outcome{}, err
			}
			for _, sn := range found {
				rec.Snapshots[sn.VolumeID] = sn
			}
			if covers(rec.Snapshots, need) {
				out.note = "found the " + many(len(found), "snapshot") + " an earlier attempt made"
				return r.snapshotOutcome(out, rec, need), nil
			}
			rec.Snapshots = map[string]driver.Snapshot{}
		}
		req.Retry = retry
		made, err := r.d.CreateSnapshots(ctx, req)
		for _, sn := range made.Snapshots {
			rec.Snapshots[sn.VolumeID] = sn
		}
		rec.Temporary = made.Temporary
		if made.Consistency != "" {
			rec.Consistency = made.Consistency
		}
		out = r.snapshotOutcome(out, rec, need)
		if made.Note != "" {
			out.note += "; " + made.Note
		}
		if err != nil {
			return out, err
		}
		for _, v := range need {
			if _, ok := rec.Snapshots[v.ID]; !ok {
				return out, &driver.Error{Code: driver.CodeFailed, Op: "snapshot.create", Resource: v.ID, Err: fmt.Errorf("no snapshot of volume %s was made", v.ID)}
			}
		}
		if len(made.Snapshots) > 0 {
			out.providerTime = made.Snapshots[0].StartTime
		}
		return out, nil
	})
	return rec, err
}

func covers(snaps map[string]driver.Snapshot, vols []driver.Volume) bool {
	for _, v := range vols {
		if _, ok := snaps[v.ID]; !ok {
			return false
		}
	}
	return len(vols) > 0
}

func (r *run) snapshotOutcome(out outcome, rec snapshotsRecord, need []driver.Volume) outcome {
	out.details = map[string]any{"snapshots": asDetail(rec)}
	ids := make([]string, 0, len(rec.Snapshots))
	for _, sn := range rec.Snapshots {
		ids = append(ids, sn.ID)
	}
	slices.Sort(ids)
	for _, id := range ids {
		out.resources = append(out.resources, custody.Resource{Kind: "snapshot", ID: id})
	}
	for _, t := range rec.Temporary {
		out.resources = append(out.resources, resourceOf(t))
	}
	where := "in the source account"
	if r.caps.SnapshotSide == driver.Forensic {
		where = "in the forensic account"
	}
	msg := fmt.Sprintf("%s %s, %s", many(len(rec.Snapshots), "snapshot"), where, rec.Consistency)
	if rec.Consistency == driver.CrashConsistent && len(need) > 1 {
		msg = fmt.Sprintf("%d volumes snapshotted at one point in time (crash-consistent) %s", len(need), where)
	}
	if out.note != "" {
		msg = out.note + ": " + msg
	}
	out.note = msg
	return out
}

// settleAttempt waits for the snapshots of attempt k, discards those that ended in error (the volume
// fails in this run, and the next run takes it again), and then removes what the cloud needed to take
// them. It returns the errors of the volumes that failed.
func (r *run) settleAttempt(ctx context.Context, g group, k int, rec snapshotsRecord, have map[string]taken, failures map[string]error) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	type pendingWait struct {
		v driver.Volume
		t taken
	}
	var waits []pendingWait
	for _, v := range g.vols {
		t, ok := have[v.ID]
		if !ok || t.attempt != k {
			continue
		}
		if _, gone := r.journal.done(fmt.Sprintf("%s%s/snapshot.discard.%d", r.prefix, v.ID, k)); gone {
			delete(have, v.ID)
			continue
		}
		waits = append(waits, pendingWait{v, t})
	}
	for _, pw := range waits {
		v, t := pw.v, pw.t
		discardID := fmt.Sprintf("%s%s/snapshot.discard.%d", r.prefix, v.ID, k)
		wg.Go(func() {
			done, err := r.waitSnapshot(ctx, v, fmt.Sprintf("%s%s/snapshot.wait.%d", r.prefix, v.ID, k), "snapshot.wait", t.snap)
			if err != nil && driver.CodeOf(err) == driver.CodeFailed {
				if derr := r.discard(ctx, v, discardID, done); derr != nil {
					err = errors.Join(err, derr)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				t.snap = done
				have[v.ID] = t
			case driver.CodeOf(err) == driver.CodeFailed:
				delete(have, v.ID)
				failures[v.ID] = err
			case firstErr == nil:
				firstErr = err
			}
		})
	}
	wg.Wait()
	if err := r.removeAll(ctx, r.attemptID(g, k), rec.Temporary); err != nil && firstErr == nil {
		firstErr = err
	}
	return firstErr
}

// abandonAttempt removes what the cloud needed to take an attempt's snapshots (a consistency group
// written into the source account) when the attempt failed for good: no settle will come to remove
// it, and a later run that retries the attempt makes it again. What cannot be removed is listed
// among what is left in place. The removals' step IDs carry the case's length at that moment, so
// that the removals of the same attempt failing again in a later run are not taken as done already.
func (r *run) abandonAttempt(ctx context.Context, g group, k int, rec snapshotsRecord) {
	if len(rec.Temporary) == 0 {
		return
	}
	base := fmt.Sprintf("%s/abandoned.%d", r.attemptID(g, k), r.opts.Ledger.Len())
	if err := r.removeAll(ctx, base, rec.Temporary); err != nil {
		r.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "removing what a failed snapshot attempt made", slog.String("step", r.attemptID(g, k)), slog.Any("error", err))
	}
}
