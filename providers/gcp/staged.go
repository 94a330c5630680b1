package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// The staged path is for teams whose forensic principal may not act on the source disks. The source
// side snapshots each disk in the source project (CreateSnapshots); the transfer then grants the
// forensic principal read-only use of that snapshot through the snapshot's own IAM policy, and the
// forensic side makes its own copy: a disk in the forensic project from the source snapshot, then
// the evidence snapshot of that disk (Compute Engine makes snapshots from disks only). The grant and
// the disk are returned as made for the engine to remove once the evidence is complete, or when the
// transfer fails or is cancelled; the source snapshot is deleted once the evidence is recorded,
// unless kept. https://cloud.google.com/compute/docs/images/sharing-images-across-projects (the same
// rules hold for snapshots: compute.snapshots.useReadOnly on the snapshot, and the org policy
// constraints/compute.storageResourceUseRestrictions of the project that uses it).

// kindGrant is a binding of the snapshot-user role to the forensic principal on a source snapshot.
// ID: the snapshot's name; Parent: the member granted.
const kindGrant = "snapshot-grant"

// snapshotUserRole lets a principal read a snapshot to make disks from it, and nothing else.
// https://cloud.google.com/compute/docs/access/iam#compute.snapshotUser
const snapshotUserRole = "roles/compute.snapshotUser"

// PrepareTransfers: the transfers share nothing.
func (d *Driver) PrepareTransfers(context.Context, driver.PrepareRequest) ([]driver.Resource, error) {
	return nil, nil
}

// PhaseCopies: Compute Engine sets no limit on snapshots in flight that the engine must respect.
func (d *Driver) PhaseCopies(driver.Volume, int) (driver.Side, bool) { return "", false }

// TransferPlan says what copying a source snapshot involves.
func (d *Driver) TransferPlan(v driver.Volume) []string {
	return []string{
		fmt.Sprintf("grant the forensic principal read-only use of the source snapshot (%s on that snapshot only)", snapshotUserRole),
		fmt.Sprintf("make a disk in %s from the source snapshot (%d GiB)", d.cfg.ForensicProject, v.SizeBytes>>30),
		fmt.Sprintf("snapshot that disk into %s: the evidence, labelled with the case", d.cfg.ForensicProject),
		"remove the grant and the disk once the evidence snapshot is complete",
	}
}

// Transfer copies a completed source snapshot into the forensic project in one phase: the grant, the
// disk, the evidence snapshot. Each part is named from the token, so a retry or a resumed run finds
// what an earlier call made; with FindOnly it only reports what exists.
func (d *Driver) Transfer(ctx context.Context, req driver.TransferRequest) (driver.TransferResult, error) {
	var res driver.TransferResult
	if req.Phase != 1 {
		return res, fmt.Errorf("gcp: a staged transfer has one phase, not phase %d", req.Phase)
	}
	member, err := d.forensicMember(ctx)
	if err != nil {
		return res, err
	}
	v, src := req.Volume, req.Snapshot
	zone := v.Location
	if r, ok := parseRef(v.ID); ok {
		zone = r.zone
	}
	fp := d.cfg.ForensicProject
	diskName := resourceName("xf", req.Token, v.ID)
	snapName := resourceName("ev", req.Token, v.ID)
	grant := driver.Resource{Side: driver.Source, Kind: kindGrant, ID: src.ID, Parent: member, Volume: v.ID,
		Note: "read-only use (" + snapshotUserRole + ") of the source snapshot, granted to the forensic principal for its copy"}
	disk := driver.Resource{Side: driver.Forensic, Location: zone, Kind: kindDisk, ID: diskID(fp, zone, diskName), Volume: v.ID,
		Note: "disk made in the forensic project from the source snapshot " + src.ID + ", which the evidence snapshot is taken from"}
	if req.FindOnly {
		return d.findTransfer(ctx, grant, disk, snapName, v)
	}

	res.Made = append(res.Made, grant)
	if err := d.grantSnapshotUse(ctx, src.ID, member); err != nil {
		return res, fmt.Errorf("granting %s read-only use of source snapshot %s: %w", member, src.ID, err)
	}

	res.Made = append(res.Made, disk)
	c := d.sides[driver.Forensic]
	diskLabels := driver.Labels{}
	for k, val := range req.Labels {
		diskLabels[k] = val
	}
	diskLabels[driver.LabelRole] = driver.RoleTemporary
	pd := &computepb.Disk{Name: proto.String(diskName), SourceSnapshot: proto.String("projects/" + d.cfg.Project + "/global/snapshots/" + src.ID),
		Labels: encodeLabels(diskLabels), Description: proto.String("acquire: copy of source snapshot " + src.ID + " for the evidence snapshot; deleted after")}
	if key := req.Destination.Key; key != "" {
		pd.DiskEncryptionKey = &computepb.CustomerEncryptionKey{KmsKeyName: proto.String(key)}
	}
	op, err := c.disks.Insert(ctx, &computepb.InsertDiskRequest{Project: fp, Zone: zone, RequestId: proto.String(uuid.NewString()), DiskResource: pd}, d.retry())
	if err := d.created(ctx, "compute.disks.insert", op, err); err != nil {
		return res, explainPolicy(err, fp, d.cfg.Project)
	}

	cp, err := d.evidenceOfDisk(ctx, req, disk.ID, snapName)
	if err != nil {
		return res, err
	}
	res.Copy = &cp
	return res, nil
}

// evidenceOfDisk makes the evidence snapshot of the intermediate disk, in the forensic location and
// under the forensic key, labelled as evidence of the source volume.
func (d *Driver) evidenceOfDisk(ctx context.Context, req driver.TransferRequest, disk, name string) (driver.Snapshot, error) {
	v, fp := req.Volume, d.cfg.ForensicProject
	labels := driver.Labels{}
	for k, val := range req.Labels {
		labels[k] = val
	}
	labels[driver.LabelSourceVolume] = v.ID
	labels[driver.LabelRole] = driver.RoleEvidence
	snap := &computepb.Snapshot{Name: proto.String(name), SourceDisk: proto.String(disk), Labels: encodeLabels(labels),
		Description: proto.String(req.Description + " (through source snapshot " + req.Snapshot.ID + ")")}
	if loc := req.Destination.Location; loc != "" {
		snap.StorageLocations = []string{loc}
	}
	if key := req.Destination.Key; key != "" {
		snap.SnapshotEncryptionKey = &computepb.CustomerEncryptionKey{KmsKeyName: proto.String(key)}
	}
	c := d.sides[driver.Forensic]
	out := driver.Snapshot{ID: name, Name: name, VolumeID: v.ID, Side: driver.Forensic, Account: fp, Location: req.Destination.Location,
		State: driver.StatePending, Encrypted: true, KeyID: req.Destination.Key, SizeBytes: v.SizeBytes}
	op, err := c.snapshots.Insert(ctx, &computepb.InsertSnapshotRequest{Project: fp, SnapshotResource: snap,
		RequestId: proto.String(requestID(req.Token, "evidence:"+v.ID))}, d.retry())
	if isStatus(err, http.StatusConflict) {
		got, gerr := c.snapshots.Get(ctx, &computepb.GetSnapshotRequest{Project: fp, Snapshot: name}, d.retry())
		if gerr == nil && got.GetLabels()[tokenLabel] == labelValue(req.Token) {
			s := d.snapshotOf(got, driver.Forensic)
			s.VolumeID = v.ID
			return s, nil
		}
	}
	if err != nil {
		return driver.Snapshot{}, explainPolicy(err, fp, d.cfg.Project)
	}
	record(ctx, "compute.snapshots.insert", op)
	if op.Done() {
		out.State = driver.StateCompleted
		if err := operationError(op.Proto()); err != nil {
			out.State, out.Message = driver.StateError, err.Error()
		}
	}
	return out, nil
}

// findTransfer reports which parts of a transfer exist, making nothing.
func (d *Driver) findTransfer(ctx context.Context, grant, disk driver.Resource, snapName string, v driver.Volume) (driver.TransferResult, error) {
	var res driver.TransferResult
	pol, err := d.sides[driver.Source].snapshots.GetIamPolicy(ctx, &computepb.GetIamPolicySnapshotRequest{Project: d.cfg.Project, Resource: grant.ID}, d.retry())
	switch {
	case isStatus(err, http.StatusNotFound):
	case err != nil:
		return res, err
	case holds(pol, grant.Parent):
		res.Made = append(res.Made, grant)
	}
	r, _ := parseRef(disk.ID)
	_, err = d.sides[driver.Forensic].disks.Get(ctx, &computepb.GetDiskRequest{Project: r.project, Zone: r.zone, Disk: r.name}, d.retry())
	switch {
	case isStatus(err, http.StatusNotFound):
	case err != nil:
		return res, err
	default:
		res.Made = append(res.Made, disk)
	}
	got, err := d.sides[driver.Forensic].snapshots.Get(ctx, &computepb.GetSnapshotRequest{Project: d.cfg.ForensicProject, Snapshot: snapName}, d.retry())
	switch {
	case isStatus(err, http.StatusNotFound):
	case err != nil:
		return res, err
	default:
		s := d.snapshotOf(got, driver.Forensic)
		s.VolumeID = v.ID
		res.Copy = &s
	}
	return res, nil
}

// forensicMember is the forensic principal as an IAM member: the service account its credentials
// name, or the user the cloud says they belong to.
func (d *Driver) forensicMember(ctx context.Context) (string, error) {
	if e := d.emails[driver.Forensic]; e != "" {
		return "serviceAccount:" + e, nil
	}
	if d.users[driver.Forensic] {
		e, err := d.userEmail(ctx, driver.Forensic)
		if err != nil {
			return "", err
		}
		return "user:" + e, nil
	}
	return "", invalidf("a staged acquisition grants the forensic principal use of each source snapshot, and these forensic credentials " +
		"do not name their principal: give --forensic-credentials a service account's key or a user's credentials")
}

func holds(p *computepb.Policy, member string) bool {
	for _, b := range p.GetBindings() {
		if b.GetRole() == snapshotUserRole && slices.Contains(b.GetMembers(), member) {
			return true
		}
	}
	return false
}

// grantSnapshotUse adds member to the snapshot-user binding of a source snapshot's IAM policy, and
// revokeSnapshotUse takes it out; both read, change and write back under the policy's etag, reading
// again when another writer changed it in between
// (https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/setIamPolicy).
func (d *Driver) grantSnapshotUse(ctx context.Context, snapshot, member string) error {
	return d.editSnapshotPolicy(ctx, snapshot, func(p *computepb.Policy) bool {
		if holds(p, member) {
			return false
		}
		for _, b := range p.Bindings {
			if b.GetRole() == snapshotUserRole && b.Condition == nil {
				b.Members = append(b.Members, member)
				return true
			}
		}
		p.Bindings = append(p.Bindings, &computepb.Binding{Role: proto.String(snapshotUserRole), Members: []string{member}})
		return true
	})
}

func (d *Driver) revokeSnapshotUse(ctx context.Context, snapshot, member string) error {
	return d.editSnapshotPolicy(ctx, snapshot, func(p *computepb.Policy) bool {
		changed := false
		kept := p.Bindings[:0]
		for _, b := range p.Bindings {
			if b.GetRole() == snapshotUserRole {
				if i := slices.Index(b.Members, member); i >= 0 {
					b.Members = slices.Delete(b.Members, i, i+1)
					changed = true
				}
				if len(b.Members) == 0 {
					continue
				}
			}
			kept = append(kept, b)
		}
		p.Bindings = kept
		return changed
	})
}

// editSnapshotPolicy applies change to a source snapshot's policy and writes it when it changed. A
// snapshot that is gone holds no grant.
func (d *Driver) editSnapshotPolicy(ctx context.Context, snapshot string, change func(*computepb.Policy) bool) error {
	c := d.sides[driver.Source]
	for range 5 {
		p, err := c.snapshots.GetIamPolicy(ctx, &computepb.GetIamPolicySnapshotRequest{Project: d.cfg.Project, Resource: snapshot}, d.retry())
		if isStatus(err, http.StatusNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !change(p) {
			return nil
		}
		_, err = c.snapshots.SetIamPolicy(ctx, &computepb.SetIamPolicySnapshotRequest{Project: d.cfg.Project, Resource: snapshot,
			GlobalSetPolicyRequestResource: &computepb.GlobalSetPolicyRequest{Policy: p}}, d.retry())
		if isStatus(err, http.StatusConflict) {
			continue // changed by another writer since it was read
		}
		return err
	}
	return errors.New("the snapshot's IAM policy kept changing under concurrent writers")
}
