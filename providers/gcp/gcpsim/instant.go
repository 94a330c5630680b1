package gcpsim

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Instant snapshots are zonal, point-in-time copies that live on their
// disk: at most 32 per disk, taken at least 30 seconds apart, and deleted
// with the disk. An instant snapshot group takes one of each disk of a
// consistency group at the same moment (crash consistency across disks).
// https://cloud.google.com/compute/docs/disks/instant-snapshots
// https://cloud.google.com/compute/docs/disks/manage-consistency-groups
const (
	maxInstantSnapshotsPerDisk = 32
	instantSnapshotSpacing     = 30 * time.Second
)

func (c *call) isPath() string {
	return "projects/" + c.proj.id + "/zones/" + c.vars["zone"] + "/instantSnapshots/" + c.vars["instantSnapshot"]
}

// takeInstantSnapshot makes an instant snapshot of d named name, applying
// the per-disk limits.
func (c *call) takeInstantSnapshot(d *diskRes, name string, labels map[string]string, group *computepb.InstantSnapshotGroup) (*instantSnapshotRes, *apiError) {
	s := c.s
	diskKey := key(d.project, d.zone, d.pb.GetName())
	count := 0
	var last time.Time
	for _, is := range s.st.instantSnapshots {
		if is.disk == diskKey {
			count++
			if t := parseTime(is.pb.GetCreationTimestamp()); t.After(last) {
				last = t
			}
		}
	}
	if count >= maxInstantSnapshotsPerDisk {
		return nil, newError(http.StatusBadRequest, "invalid", "Disk %s already has %d instant snapshots, the most a disk may have.", d.pb.GetSelfLink(), count)
	}
	if count > 0 && c.now.Sub(last) < instantSnapshotSpacing {
		return nil, newError(http.StatusBadRequest, "invalid", "The last instant snapshot of disk %s was taken less than 30 seconds ago.", d.pb.GetSelfLink())
	}
	pb := &computepb.InstantSnapshot{
		Kind: proto.String("compute#instantSnapshot"), Id: proto.Uint64(s.ids.resourceID()), Name: proto.String(name),
		Zone: proto.String(zoneURL(c.proj.id, d.zone)), SelfLink: proto.String(instantSnapshotURL(c.proj.id, d.zone, name)),
		CreationTimestamp: proto.String(timestamp(c.now)), SourceDisk: proto.String(d.pb.GetSelfLink()),
		SourceDiskId: proto.String(strconv.FormatUint(d.pb.GetId(), 10)), DiskSizeGb: proto.Int64(d.pb.GetSizeGb()),
		Status: proto.String("READY"), Labels: labels, LabelFingerprint: proto.String(labelFingerprint(labels)),
		Architecture: proto.String("X86_64"),
	}
	if group != nil {
		pb.SourceInstantSnapshotGroup = group.SelfLink
		pb.SourceInstantSnapshotGroupId = proto.String(strconv.FormatUint(group.GetId(), 10))
	}
	is := &instantSnapshotRes{pb: pb, project: c.proj.id, zone: d.zone, disk: diskKey, content: d.content}
	s.st.instantSnapshots[key(c.proj.id, d.zone, name)] = is
	return is, nil
}

// insertInstantSnapshot takes an instant snapshot of a disk of the same
// project and zone.
// https://cloud.google.com/compute/docs/reference/rest/v1/instantSnapshots/insert
func (s *Server) insertInstantSnapshot(c *call) (proto.Message, *apiError) {
	var req computepb.InstantSnapshot
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	name := req.GetName()
	path := "projects/" + c.proj.id + "/zones/" + z + "/instantSnapshots/" + name
	if e := c.require("compute.instantSnapshots.create", path); e != nil {
		return nil, e
	}
	if e := validName("resource.name", name); e != nil {
		return nil, e
	}
	if e := validLabels("resource.labels", req.GetLabels()); e != nil {
		return nil, e
	}
	if s.st.instantSnapshots[key(c.proj.id, z, name)] != nil {
		return nil, alreadyExists(path)
	}
	r, ok := parseRef(req.GetSourceDisk(), "disks", c.proj.id, z)
	if !ok || r.project != c.proj.id || r.scope != "zones/"+z {
		return nil, invalidField("resource.sourceDisk", req.GetSourceDisk(), "The source disk must be in the instant snapshot's project and zone.")
	}
	if e := c.require("compute.disks.createSnapshot", r.path()); e != nil {
		return nil, e
	}
	d := s.st.disks[r.key()]
	if d == nil {
		return nil, notFound(r.path())
	}
	is, e := c.takeInstantSnapshot(d, name, req.GetLabels(), nil)
	if e != nil {
		return nil, e
	}
	return c.newOperation("insert", "zones/"+z, is.pb.GetSelfLink(), is.pb.GetId(), 0), nil
}

func (c *call) theInstantSnapshot(permission string) (*instantSnapshotRes, *apiError) {
	if e := c.require(permission, c.isPath()); e != nil {
		return nil, e
	}
	is := c.s.st.instantSnapshots[key(c.proj.id, c.vars["zone"], c.vars["instantSnapshot"])]
	if is == nil {
		return nil, notFound(c.isPath())
	}
	return is, nil
}

func (s *Server) getInstantSnapshot(c *call) (proto.Message, *apiError) {
	is, e := c.theInstantSnapshot("compute.instantSnapshots.get")
	if e != nil {
		return nil, e
	}
	return is.pb, nil
}

func (s *Server) deleteInstantSnapshot(c *call) (proto.Message, *apiError) {
	is, e := c.theInstantSnapshot("compute.instantSnapshots.delete")
	if e != nil {
		return nil, e
	}
	delete(s.st.instantSnapshots, key(c.proj.id, is.zone, is.pb.GetName()))
	return c.newOperation("delete", "zones/"+is.zone, is.pb.GetSelfLink(), is.pb.GetId(), 0), nil
}

func (s *Server) listInstantSnapshots(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.instantSnapshots.list", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	var items []proto.Message
	for _, is := range s.st.instantSnapshots {
		if is.project == c.proj.id && is.zone == z {
			items = append(items, is.pb)
		}
	}
	page, e := c.page(items)
	if e != nil {
		return nil, e
	}
	out := &computepb.InstantSnapshotList{Kind: proto.String("compute#instantSnapshotList"), NextPageToken: page.next,
		SelfLink: proto.String(zoneURL(c.proj.id, z) + "/instantSnapshots")}
	for _, m := range page.items {
		out.Items = append(out.Items, m.(*computepb.InstantSnapshot))
	}
	return out, nil
}

func (c *call) groupPath() string {
	return "projects/" + c.proj.id + "/zones/" + c.vars["zone"] + "/instantSnapshotGroups/" + c.vars["instantSnapshotGroup"]
}

// insertInstantSnapshotGroup takes, at one moment, an instant snapshot of
// every disk in the consistency group (sourceConsistencyGroup, a
// diskConsistencyGroupPolicy resource policy of the zone's region). The
// members are the instant snapshots whose sourceInstantSnapshotGroup is the
// group, named GROUP-<8 hex digits of the disk's URL>.
// https://cloud.google.com/compute/docs/reference/rest/v1/instantSnapshotGroups/insert
func (s *Server) insertInstantSnapshotGroup(c *call) (proto.Message, *apiError) {
	var req computepb.InstantSnapshotGroup
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	name := req.GetName()
	path := "projects/" + c.proj.id + "/zones/" + z + "/instantSnapshotGroups/" + name
	if e := c.require("compute.instantSnapshotGroups.create", path); e != nil {
		return nil, e
	}
	if e := c.require("compute.instantSnapshots.create", "projects/"+c.proj.id+"/zones/"+z+"/instantSnapshots"); e != nil {
		return nil, e
	}
	if e := validName("resource.name", name); e != nil {
		return nil, e
	}
	if len(name) > 54 {
		return nil, invalidField("resource.name", name, "The simulator names member instant snapshots NAME-xxxxxxxx: keep the group name to 54 characters.")
	}
	if s.st.isGroups[key(c.proj.id, z, name)] != nil {
		return nil, alreadyExists(path)
	}
	if req.GetSourceConsistencyGroup() == "" {
		return nil, required("resource.sourceConsistencyGroup")
	}
	pol, e := c.resourcePolicy(req.GetSourceConsistencyGroup(), zoneRegion(z))
	if e != nil {
		return nil, e
	}
	if pol.pb.GetDiskConsistencyGroupPolicy() == nil {
		return nil, invalidField("resource.sourceConsistencyGroup", req.GetSourceConsistencyGroup(), "The resource policy is not a disk consistency group policy.")
	}
	members := s.groupDisks(pol.pb.GetSelfLink())
	if len(members) == 0 {
		return nil, newError(http.StatusBadRequest, "invalid", "Consistency group %s has no disks.", pol.pb.GetSelfLink())
	}
	for _, d := range members {
		if d.zone != z {
			return nil, newError(http.StatusBadRequest, "invalid", "Disk %s of the consistency group is not in zone %s.", d.pb.GetSelfLink(), z)
		}
	}
	pb := &computepb.InstantSnapshotGroup{
		Kind: proto.String("compute#instantSnapshotGroup"), Id: proto.Uint64(s.ids.resourceID()), Name: proto.String(name),
		Description: req.Description, Zone: proto.String(zoneURL(c.proj.id, z)), SelfLink: proto.String(isGroupURL(c.proj.id, z, name)),
		CreationTimestamp: proto.String(timestamp(c.now)), SourceConsistencyGroup: proto.String(pol.pb.GetSelfLink()),
		Status: proto.String("READY"),
		ResourceStatus: &computepb.InstantSnapshotGroupResourceStatus{
			ConsistencyMembershipResolutionTime: proto.String(timestamp(c.now)),
			SourceInfo: &computepb.InstantSnapshotGroupSourceInfo{ConsistencyGroup: proto.String(pol.pb.GetSelfLink()),
				ConsistencyGroupId: proto.String(strconv.FormatUint(pol.pb.GetId(), 10))}},
	}
	// Check every member first: the group is all or nothing.
	taken := []string{}
	for _, d := range members {
		sum := sha256.Sum256([]byte(d.pb.GetSelfLink()))
		isName := name + "-" + hex.EncodeToString(sum[:4])
		if _, e := c.takeInstantSnapshot(d, isName, nil, pb); e != nil {
			for _, k := range taken {
				delete(s.st.instantSnapshots, k)
			}
			return nil, e
		}
		taken = append(taken, key(c.proj.id, z, isName))
	}
	s.st.isGroups[key(c.proj.id, z, name)] = &instantSnapshotGroupRes{pb: pb, project: c.proj.id, zone: z}
	return c.newOperation("insert", "zones/"+z, pb.GetSelfLink(), pb.GetId(), 0), nil
}

func (c *call) theGroup(permission string) (*instantSnapshotGroupRes, *apiError) {
	if e := c.require(permission, c.groupPath()); e != nil {
		return nil, e
	}
	g := c.s.st.isGroups[key(c.proj.id, c.vars["zone"], c.vars["instantSnapshotGroup"])]
	if g == nil {
		return nil, notFound(c.groupPath())
	}
	return g, nil
}

func (s *Server) getInstantSnapshotGroup(c *call) (proto.Message, *apiError) {
	g, e := c.theGroup("compute.instantSnapshotGroups.get")
	if e != nil {
		return nil, e
	}
	return g.pb, nil
}

// deleteInstantSnapshotGroup deletes the group and its member instant
// snapshots.
func (s *Server) deleteInstantSnapshotGroup(c *call) (proto.Message, *apiError) {
	g, e := c.theGroup("compute.instantSnapshotGroups.delete")
	if e != nil {
		return nil, e
	}
	for k, is := range s.st.instantSnapshots {
		if is.pb.GetSourceInstantSnapshotGroup() == g.pb.GetSelfLink() {
			delete(s.st.instantSnapshots, k)
		}
	}
	delete(s.st.isGroups, key(c.proj.id, g.zone, g.pb.GetName()))
	return c.newOperation("delete", "zones/"+g.zone, g.pb.GetSelfLink(), g.pb.GetId(), 0), nil
}

func (s *Server) listInstantSnapshotGroups(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.instantSnapshotGroups.list", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	var items []proto.Message
	for _, g := range s.st.isGroups {
		if g.project == c.proj.id && g.zone == z {
			items = append(items, g.pb)
		}
	}
	page, e := c.page(items)
	if e != nil {
		return nil, e
	}
	out := &computepb.ListInstantSnapshotGroups{Kind: proto.String("compute#instantSnapshotGroupsList"), NextPageToken: page.next,
		SelfLink: proto.String(zoneURL(c.proj.id, z) + "/instantSnapshotGroups")}
	for _, m := range page.items {
		out.Items = append(out.Items, m.(*computepb.InstantSnapshotGroup))
	}
	return out, nil
}
