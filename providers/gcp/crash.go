package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Resource kinds of crash consistency, all in the source project.
const (
	kindPolicy     = "resource-policy"        // ID: projects/P/regions/R/resourcePolicies/N
	kindAttachment = "policy-attachment"      // ID: the disk; Parent: the policy
	kindGroup      = "instant-snapshot-group" // ID: projects/P/zones/Z/instantSnapshotGroups/N
)

// crashSnapshots takes all of an instance's disks at one point in time through a consistency group
// (https://cloud.google.com/compute/docs/disks/manage-consistency-groups): a resource policy with a
// diskConsistencyGroupPolicy in the source project, attached to each disk; an instant snapshot group
// of it, which takes every disk's instant snapshot together; then each snapshot, in the forensic
// project, from its instant snapshot. It writes into the compromised project, which is why it is done
// only when asked: the policy, its attachments and the group are returned as Temporary, which the
// engine removes once the snapshots are complete or when the attempt fails for good; a failure the
// engine does not retry, before any snapshot exists, removes them here at once.
func (d *Driver) crashSnapshots(ctx context.Context, req driver.SnapshotRequest, vols []driver.Volume) (driver.SnapshotResult, error) {
	res := driver.SnapshotResult{Consistency: driver.CrashConsistent}
	zone := vols[0].Location
	for _, v := range vols {
		if v.Location != zone {
			return res, invalidf("crash consistency needs the disks in one zone: %s is in %s, %s in %s", vols[0].ID, zone, v.ID, v.Location)
		}
	}
	if len(vols) > 128 {
		return res, invalidf("a consistency group holds at most 128 disks; the instance has %d", len(vols))
	}
	project, region := d.cfg.Project, zone[:strings.LastIndexByte(zone, '-')]
	c := d.sides[driver.Source]
	policyName := resourceName("acq-cg", req.Token, req.Workload.ID)
	groupName := shortName("acq-ig", req.Token, req.Workload.ID)
	policyID := "projects/" + project + "/regions/" + region + "/resourcePolicies/" + policyName
	groupID := "projects/" + project + "/zones/" + zone + "/instantSnapshotGroups/" + groupName
	policy := driver.Resource{Side: driver.Source, Location: zone, Kind: kindPolicy, ID: policyID,
		Note: "consistency group policy written into the source project for the crash-consistent snapshots"}
	res.Temporary = append(res.Temporary, policy)
	// A failure the engine will not retry undoes what was written; one it may retry (throttled,
	// unavailable, a lost answer, a wait that ran out) returns it, for the retry to find each part
	// again by its name (requestIds are fresh, so that a part removed since is made again), or for
	// the engine to remove when it retries no more.
	fail := func(err error) (driver.SnapshotResult, error) {
		if code := d.ErrorCode(err); !code.Retryable() && !driver.IsTransport(err) && !errors.Is(err, context.DeadlineExceeded) {
			d.undo(ctx, res.Temporary)
			res.Temporary = nil
		}
		return res, err
	}
	op, err := c.policies.Insert(ctx, &computepb.InsertResourcePolicyRequest{Project: project, Region: region, RequestId: proto.String(uuid.NewString()),
		ResourcePolicyResource: &computepb.ResourcePolicy{Name: proto.String(policyName), DiskConsistencyGroupPolicy: &computepb.ResourcePolicyDiskConsistencyGroupPolicy{},
			Description: proto.String("acquire: consistency group of " + req.Workload.ID + " for crash-consistent forensic snapshots; removed after")}}, d.retry())
	if err := d.created(ctx, "compute.resourcePolicies.insert", op, err); err != nil {
		return fail(err)
	}
	for _, v := range vols {
		r, _ := parseRef(v.ID)
		res.Temporary = append(res.Temporary, driver.Resource{Side: driver.Source, Location: zone, Kind: kindAttachment, ID: v.ID, Parent: policyID, Volume: v.ID,
			Note: "the consistency group policy attached to the disk"})
		op, err := c.disks.AddResourcePolicies(ctx, &computepb.AddResourcePoliciesDiskRequest{Project: project, Zone: zone, Disk: r.name,
			RequestId:                               proto.String(uuid.NewString()),
			DisksAddResourcePoliciesRequestResource: &computepb.DisksAddResourcePoliciesRequest{ResourcePolicies: []string{policyID}}}, d.retry())
		if err := d.created(ctx, "compute.disks.addResourcePolicies", op, err); err != nil {
			return fail(err)
		}
	}
	res.Temporary = append(res.Temporary, driver.Resource{Side: driver.Source, Location: zone, Kind: kindGroup, ID: groupID,
		Note: "instant snapshot group of the instance's disks, in the source project"})
	op, err = c.groups.Insert(ctx, &computepb.InsertInstantSnapshotGroupRequest{Project: project, Zone: zone, RequestId: proto.String(uuid.NewString()),
		InstantSnapshotGroupResource: &computepb.InstantSnapshotGroup{Name: proto.String(groupName), SourceConsistencyGroup: proto.String(policyID),
			Description: proto.String("acquire: the moment of the crash-consistent forensic snapshots of " + req.Workload.ID)}}, d.retry())
	sameMoment := isStatus(err, http.StatusConflict) // the group an earlier try made: its moment
	if err := d.created(ctx, "compute.instantSnapshotGroups.insert", op, err); err != nil {
		return fail(err)
	}
	members, err := d.groupMembers(ctx, c, project, zone, groupName)
	if err != nil {
		return fail(err)
	}
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
	var earlier []string
	for _, v := range vols {
		if s, ok := have[v.ID]; ok {
			res.Snapshots = append(res.Snapshots, s)
			if !sameMoment {
				earlier = append(earlier, v.ID)
			}
			continue
		}
		is, ok := members[v.ID]
		if !ok {
			return fail(fmt.Errorf("instant snapshot group %s holds no instant snapshot of %s", groupID, v.ID))
		}
		s, err := d.insertSnapshot(ctx, req, v, is)
		if err != nil {
			return res, err // returned as Temporary: the engine removes it when the attempt fails for good
		}
		res.Snapshots = append(res.Snapshots, s)
	}
	if len(earlier) > 0 && len(earlier) < len(vols) {
		// An earlier try's group was removed after some of its snapshots were made: those are of
		// another moment than this group's, and the set is not crash-consistent.
		res.Consistency = driver.PerVolume
		res.Note = fmt.Sprintf("per-volume: the snapshots of %s are from an earlier try, whose instant snapshot group was removed; "+
			"the others from instant snapshot group %s of consistency group %s, a later moment", strings.Join(earlier, ", "), groupID, policyID)
		return res, nil
	}
	res.Note = fmt.Sprintf("crash-consistent: every disk taken at one moment by instant snapshot group %s of consistency group %s, "+
		"written into the source project and removed once the snapshots are complete", groupID, policyID)
	return res, nil
}

// shortName is a name of at most 54 characters: an instant snapshot group's, whose members are named
// after it.
func shortName(prefix, token, source string) string {
	n := resourceName(prefix, token, source)
	if len(n) <= 54 {
		return n
	}
	return prefix + "-" + n[len(n)-12:]
}

// groupMembers maps each disk to its instant snapshot in a group.
func (d *Driver) groupMembers(ctx context.Context, c *clients, project, zone, group string) (map[string]string, error) {
	it := c.instants.List(ctx, &computepb.ListInstantSnapshotsRequest{Project: project, Zone: zone}, d.retry())
	out := map[string]string{}
	for {
		is, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if lastSegment(is.GetSourceInstantSnapshotGroup()) == group {
			out[sourceOf(is.GetSourceDisk())] = is.GetSelfLink()
		}
	}
}

// undo removes, in reverse order and under a fresh context, what a failed attempt wrote into the
// source project.
func (d *Driver) undo(ctx context.Context, made []driver.Resource) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.OperationTimeout)
	defer cancel()
	for i := len(made) - 1; i >= 0; i-- {
		if err := d.Delete(cctx, made[i]); err != nil {
			d.log.Warn("removing what a failed crash-consistent attempt made", "resource", made[i].ID, "error", err)
		}
	}
}

// deleteCrash removes a consistency group's resources: the group (its instant snapshots first), a
// policy's attachment to a disk, the policy. What is gone already is fine.
func (d *Driver) deleteCrash(ctx context.Context, r driver.Resource) error {
	c := d.sides[driver.Source]
	parts := strings.Split(r.ID, "/")
	var op *compute.Operation
	var err error
	switch r.Kind {
	case kindGroup:
		if len(parts) != 6 {
			return fmt.Errorf("gcp: %q is not an instant snapshot group", r.ID)
		}
		project, zone, name := parts[1], parts[3], parts[5]
		members, err := d.groupMembers(ctx, c, project, zone, name)
		if err != nil {
			return err
		}
		for _, is := range members {
			op, err := c.instants.Delete(ctx, &computepb.DeleteInstantSnapshotRequest{Project: project, Zone: zone, InstantSnapshot: lastSegment(is)}, d.retry())
			if err := d.deleted(ctx, "compute.instantSnapshots.delete", op, err); err != nil {
				return err
			}
		}
		op, err = c.groups.Delete(ctx, &computepb.DeleteInstantSnapshotGroupRequest{Project: project, Zone: zone, InstantSnapshotGroup: name}, d.retry())
		return d.deleted(ctx, "compute.instantSnapshotGroups.delete", op, err)
	case kindAttachment:
		ref, ok := parseRef(r.ID)
		if !ok {
			return fmt.Errorf("gcp: %q is not a disk", r.ID)
		}
		disk, err := c.disks.Get(ctx, &computepb.GetDiskRequest{Project: ref.project, Zone: ref.zone, Disk: ref.name}, d.retry())
		if isStatus(err, http.StatusNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(disk.GetResourcePolicies(), func(p string) bool { return strings.HasSuffix(p, r.Parent) }) {
			return nil
		}
		op, err = c.disks.RemoveResourcePolicies(ctx, &computepb.RemoveResourcePoliciesDiskRequest{Project: ref.project, Zone: ref.zone, Disk: ref.name,
			DisksRemoveResourcePoliciesRequestResource: &computepb.DisksRemoveResourcePoliciesRequest{ResourcePolicies: []string{r.Parent}}}, d.retry())
		return d.deleted(ctx, "compute.disks.removeResourcePolicies", op, err)
	case kindPolicy:
		if len(parts) != 6 {
			return fmt.Errorf("gcp: %q is not a resource policy", r.ID)
		}
		op, err = c.policies.Delete(ctx, &computepb.DeleteResourcePolicyRequest{Project: parts[1], Region: parts[3], ResourcePolicy: parts[5]}, d.retry())
		return d.deleted(ctx, "compute.resourcePolicies.delete", op, err)
	}
	return fmt.Errorf("gcp: cannot delete a %q", r.Kind)
}

// deleted waits for a removal's operation; a resource gone already is fine.
func (d *Driver) deleted(ctx context.Context, method string, op *compute.Operation, err error) error {
	if isStatus(err, http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	record(ctx, method, op)
	return d.wait(ctx, op)
}
