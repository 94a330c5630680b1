package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// CreateSnapshots snapshots each disk straight into the forensic project: snapshots.insert in that
// project with the source disk in the source project
// (https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/insert), labelled with the case
// and the token, under the forensic key and in the forensic location when given. The disks of an
// instance are snapshotted together, each on its own (per-volume); the note says how far apart they
// started. Each insert's requestId derives from the token and the disk, so a repeat of a call whose
// answer was lost returns its operation; with Retry, the snapshots are looked up by label first.
func (d *Driver) CreateSnapshots(ctx context.Context, req driver.SnapshotRequest) (driver.SnapshotResult, error) {
	var vols []driver.Volume
	switch {
	case req.Workload != nil:
		vols = req.Workload.Volumes
	case req.Volume != nil:
		vols = []driver.Volume{*req.Volume}
	default:
		return driver.SnapshotResult{}, errors.New("a snapshot request names a workload or a volume")
	}
	if req.Consistency == driver.CrashConsistent {
		if req.Workload == nil {
			return driver.SnapshotResult{}, invalidf("crash consistency is for an instance's disks, not a disk given alone")
		}
		return d.crashSnapshots(ctx, req, vols)
	}
	res := driver.SnapshotResult{Consistency: driver.PerVolume}
	have := map[string]driver.Snapshot{}
	if req.Retry {
		found, err := d.FindSnapshots(ctx, d.snapshotSide(), "", req.Token)
		if err != nil {
			return res, err
		}
		for _, s := range found {
			have[s.VolumeID] = s
		}
	}
	out := make([]driver.Snapshot, len(vols))
	errs := make([]error, len(vols))
	var wg sync.WaitGroup
	for i, v := range vols {
		if s, ok := have[v.ID]; ok {
			out[i] = s
			continue
		}
		wg.Go(func() { out[i], errs[i] = d.insertSnapshot(ctx, req, v, "") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		// What was made is returned with the error: the engine looks it up by token before trying again.
		for i := range out {
			if errs[i] == nil {
				res.Snapshots = append(res.Snapshots, out[i])
			}
		}
		return res, firstError(errs)
	}
	res.Snapshots = out
	if len(vols) > 1 {
		res.Note = "each disk snapshotted on its own, as asked; " + spread(out)
	}
	return res, nil
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// spread says how far apart the snapshots of one request started.
func spread(snaps []driver.Snapshot) string {
	var first, last time.Time
	for _, s := range snaps {
		if first.IsZero() || s.StartTime.Before(first) {
			first = s.StartTime
		}
		if s.StartTime.After(last) {
			last = s.StartTime
		}
	}
	return fmt.Sprintf("they started within %s of each other", last.Sub(first).Round(time.Millisecond))
}

// insertSnapshot makes the snapshot of v, from the disk itself or from its instant snapshot: the
// evidence, in the forensic project; or, staged, the source snapshot in the source project, by the
// source side, under the disk's own encryption, which the transfer copies.
func (d *Driver) insertSnapshot(ctx context.Context, req driver.SnapshotRequest, v driver.Volume, instant string) (driver.Snapshot, error) {
	side := d.snapshotSide()
	project := d.project(side)
	labels := driver.Labels{}
	for k, val := range req.Labels {
		labels[k] = val
	}
	labels[driver.LabelSourceVolume] = v.ID
	name := resourceName("ev", req.Token, v.ID)
	snap := &computepb.Snapshot{
		Name: proto.String(name), SourceDisk: proto.String(v.ID), Labels: encodeLabels(labels),
		Description: proto.String(req.Description),
	}
	if instant != "" {
		snap.SourceDisk, snap.SourceInstantSnapshot = nil, proto.String(instant)
	}
	dest := req.Destination
	if side == driver.Source {
		dest = driver.Destination{}
	}
	if loc := dest.Location; loc != "" {
		snap.StorageLocations = []string{loc}
	}
	if key := dest.Key; key != "" {
		snap.SnapshotEncryptionKey = &computepb.CustomerEncryptionKey{KmsKeyName: proto.String(key)}
	}
	c := d.sides[side]
	start := time.Now()
	op, err := c.snapshots.Insert(ctx, &computepb.InsertSnapshotRequest{
		Project: project, SnapshotResource: snap, RequestId: proto.String(requestID(req.Token, v.ID)),
	}, d.retry())
	if isStatus(err, http.StatusConflict) {
		// Made by an earlier attempt whose answer was lost, under the same name: the same snapshot.
		got, gerr := c.snapshots.Get(ctx, &computepb.GetSnapshotRequest{Project: project, Snapshot: name}, d.retry())
		if gerr == nil && got.GetLabels()[tokenLabel] == labelValue(req.Token) {
			return d.snapshotOf(got, side), nil
		}
	}
	if err != nil {
		return driver.Snapshot{}, explainPolicy(err, d.cfg.ForensicProject, d.cfg.Project)
	}
	record(ctx, "compute.snapshots.insert", op)
	s := driver.Snapshot{ID: name, Name: name, VolumeID: v.ID, Side: side, Account: project,
		Location: dest.Location, State: driver.StatePending, Encrypted: true, KeyID: dest.Key,
		StartTime: start, SizeBytes: v.SizeBytes}
	// The operation runs until the snapshot is READY, which the engine waits for with one list call
	// for many snapshots. One that already ended in error is this disk's snapshot in error: the
	// engine discards it and fails this disk only, while the others of the instance carry on.
	if op.Done() {
		s.State = driver.StateCompleted
		if err := operationError(op.Proto()); err != nil {
			s.State, s.Message = driver.StateError, explainPolicy(err, d.cfg.ForensicProject, d.cfg.Project).Error()
		}
	}
	return s, nil
}

// record reports a call that made an operation, named by the operation (what Cloud Audit Logs name as
// the operation's id), for the step's custody record.
func record(ctx context.Context, method string, op *compute.Operation) {
	if op == nil {
		return
	}
	p := op.Proto()
	driver.RecordCall(ctx, method, fmt.Sprintf("%s (id %d)", p.GetName(), p.GetId()))
}

// FindSnapshots lists the snapshots of a side's project that carry a token label, in any state.
// Snapshots are global: location is not needed.
func (d *Driver) FindSnapshots(ctx context.Context, side driver.Side, _ string, token string) ([]driver.Snapshot, error) {
	return d.listSnapshots(ctx, side, fmt.Sprintf("labels.%s = %q", tokenLabel, labelValue(token)))
}

// SnapshotStatus lists the asked snapshots in one call per batch, by a filter on their names (names
// are [a-z0-9-], nothing to escape); unknown names are left out.
func (d *Driver) SnapshotStatus(ctx context.Context, side driver.Side, _ string, ids []string) ([]driver.Snapshot, error) {
	var out []driver.Snapshot
	for len(ids) > 0 {
		n := min(len(ids), 100)
		for _, id := range ids[:n] {
			if !ValidName(id) {
				return nil, invalidf("%q is not a snapshot name", id)
			}
		}
		got, err := d.listSnapshots(ctx, side, fmt.Sprintf("name eq \"(%s)\"", strings.Join(ids[:n], "|")))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		failed, err := d.failedInserts(ctx, side, missing(ids[:n], got))
		if err != nil {
			return nil, err
		}
		out = append(out, failed...)
		ids = ids[n:]
	}
	return out, nil
}

func missing(ids []string, got []driver.Snapshot) []string {
	seen := map[string]bool{}
	for _, s := range got {
		seen[s.ID] = true
	}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			out = append(out, id)
		}
	}
	return out
}

// failedInserts reports, as snapshots in error, the snapshots whose snapshots.insert operation ended
// in error: such a snapshot never exists, and only its operation says what became of it.
// https://cloud.google.com/compute/docs/reference/rest/v1/globalOperations/list
func (d *Driver) failedInserts(ctx context.Context, side driver.Side, names []string) ([]driver.Snapshot, error) {
	if len(names) == 0 {
		return nil, nil
	}
	filter := fmt.Sprintf("(operationType = \"insert\") AND (status = \"DONE\") AND (targetLink eq \".*/global/snapshots/(%s)\")", strings.Join(names, "|"))
	it := d.sides[side].globalOps.List(ctx, &computepb.ListGlobalOperationsRequest{Project: d.project(side), Filter: proto.String(filter)}, d.retry())
	var out []driver.Snapshot
	for {
		op, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if oerr := operationError(op); oerr != nil {
			name := lastSegment(op.GetTargetLink())
			out = append(out, driver.Snapshot{ID: name, Name: name, Side: side, Account: d.project(side), State: driver.StateError,
				Message: explainPolicy(oerr, d.cfg.ForensicProject, d.cfg.Project).Error()})
		}
	}
}

func (d *Driver) listSnapshots(ctx context.Context, side driver.Side, filter string) ([]driver.Snapshot, error) {
	it := d.sides[side].snapshots.List(ctx, &computepb.ListSnapshotsRequest{Project: d.project(side), Filter: proto.String(filter),
		MaxResults: proto.Uint32(500)}, d.retry())
	var out []driver.Snapshot
	for {
		s, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d.snapshotOf(s, side))
	}
}

func (d *Driver) snapshotOf(s *computepb.Snapshot, side driver.Side) driver.Snapshot {
	out := driver.Snapshot{ID: s.GetName(), Name: s.GetName(), Side: side, Account: d.project(side),
		State: snapshotState(s.GetStatus()), Encrypted: true, KeyID: s.GetSnapshotEncryptionKey().GetKmsKeyName(),
		SizeBytes: s.GetDiskSizeGb() * gib}
	if r, ok := parseRef(s.GetSourceDisk()); ok {
		out.VolumeID = r.id()
	}
	if locs := s.GetStorageLocations(); len(locs) > 0 {
		out.Location = locs[0]
	}
	if t, err := time.Parse(time.RFC3339, s.GetCreationTimestamp()); err == nil {
		out.StartTime = t
	}
	if out.State == driver.StateCompleted {
		out.Progress = 100
	}
	if out.State == driver.StateError {
		out.Message = "snapshot status " + s.GetStatus()
	}
	return out
}

// snapshotState maps a snapshot's status
// (https://cloud.google.com/compute/docs/reference/rest/v1/snapshots#Snapshot.FIELDS.status).
func snapshotState(status string) driver.SnapshotState {
	switch status {
	case "READY":
		return driver.StateCompleted
	case "FAILED", "DELETING":
		return driver.StateError
	}
	return driver.StatePending
}

// Resource kinds the driver makes and removes.
const (
	kindSnapshot = "snapshot"
	kindDisk     = "disk"
	kindInstance = "instance"
)

// Delete removes what the driver made, waiting (bounded) for the operation and reading its error.
// What is gone already is fine.
func (d *Driver) Delete(ctx context.Context, r driver.Resource) error {
	c := d.sides[r.Side]
	project := d.project(r.Side)
	var op *compute.Operation
	var err error
	method := "compute." + r.Kind + "s.delete"
	switch r.Kind {
	case kindSnapshot:
		op, err = c.snapshots.Delete(ctx, &computepb.DeleteSnapshotRequest{Project: project, Snapshot: r.ID}, d.retry())
	case kindDisk, kindInstance:
		ref, ok := parseRef(r.ID)
		if !ok {
			return fmt.Errorf("gcp: %q is not a zonal resource name", r.ID)
		}
		if r.Kind == kindDisk {
			op, err = c.disks.Delete(ctx, &computepb.DeleteDiskRequest{Project: ref.project, Zone: ref.zone, Disk: ref.name}, d.retry())
		} else {
			op, err = c.instances.Delete(ctx, &computepb.DeleteInstanceRequest{Project: ref.project, Zone: ref.zone, Instance: ref.name}, d.retry())
		}
	case kindGroup, kindAttachment, kindPolicy:
		return d.deleteCrash(ctx, r)
	case kindGrant:
		return d.revokeSnapshotUse(ctx, r.ID, r.Parent)
	default:
		return fmt.Errorf("gcp: cannot delete a %q", r.Kind)
	}
	if isStatus(err, http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	record(ctx, method, op)
	return d.wait(ctx, op)
}

// wait polls an operation until it is DONE, within the operation timeout, and returns its error: the
// client's own Wait would return nil for an error without httpErrorStatusCode.
func (d *Driver) wait(ctx context.Context, op *compute.Operation) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.OperationTimeout)
	defer cancel()
	pause := d.cfg.PollInterval
	for !op.Done() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("operation %s not done after %s: %w", op.Name(), d.cfg.OperationTimeout, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 10*time.Second)
		if err := op.Poll(ctx, d.retry()); err != nil {
			if oerr := operationError(op.Proto()); op.Done() && oerr != nil {
				return oerr
			}
			return err
		}
	}
	return operationError(op.Proto())
}
