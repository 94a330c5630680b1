package gcpsim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// snapshotSource is what a snapshot is taken from.
type snapshotSource struct {
	disk    *diskRes
	instant *instantSnapshotRes
}

// snapshotPath names a snapshot as messages do.
func snapshotPath(project, name string) string {
	return "projects/" + project + "/global/snapshots/" + name
}

// status is the snapshot's status at now: CREATING, then UPLOADING while
// its data is copied at the configured rate, then READY.
// https://cloud.google.com/compute/docs/reference/rest/v1/snapshots (status)
func (sn *snapshotRes) status(now time.Time) string {
	switch {
	case !now.Before(sn.readyAt):
		return "READY"
	case now.Before(sn.started.Add(sn.readyAt.Sub(sn.started) / 10)):
		return "CREATING"
	}
	return "UPLOADING"
}

func (sn *snapshotRes) view(now time.Time) *computepb.Snapshot {
	v := proto.Clone(sn.pb).(*computepb.Snapshot)
	st := sn.status(now)
	v.Status = proto.String(st)
	if st == "READY" {
		v.StorageBytes = proto.Int64(sn.content.dataBytes)
		v.StorageBytesStatus = proto.String("UP_TO_DATE")
		v.DownloadBytes = proto.Int64(sn.content.dataBytes)
	} else {
		v.StorageBytes = proto.Int64(0)
		v.StorageBytesStatus = proto.String("UPDATING")
	}
	return v
}

// createSnapshot is the work of snapshots.insert and disks.createSnapshot:
// a snapshot in the call's project of a disk (of any project) or an instant
// snapshot. It checks compute.snapshots.create here and
// compute.disks.createSnapshot (or compute.instantSnapshots.useReadOnly) on
// the source in the source's project, the org policy of this project, the
// labels and the CMEK.
// https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/insert
func (c *call) createSnapshot(req *computepb.Snapshot, src snapshotSource) (*snapshotRes, *apiError) {
	s := c.s
	name := req.GetName()
	path := snapshotPath(c.proj.id, name)
	if e := c.require("compute.snapshots.create", path); e != nil {
		return nil, e
	}
	if e := validName("resource.name", name); e != nil {
		return nil, e
	}
	if e := validLabels("resource.labels", req.GetLabels()); e != nil {
		return nil, e
	}
	if s.st.snapshots[key(c.proj.id, name)] != nil {
		return nil, alreadyExists(path)
	}
	var cont *content
	var zone string
	sn := &computepb.Snapshot{
		Kind: proto.String("compute#snapshot"), Id: proto.Uint64(s.ids.resourceID()), Name: proto.String(name),
		Description: req.Description, SelfLink: proto.String(snapshotURL(c.proj.id, name)),
		CreationTimestamp: proto.String(timestamp(c.now)), Labels: req.GetLabels(),
		LabelFingerprint: proto.String(labelFingerprint(req.GetLabels())), Architecture: proto.String("X86_64"),
		SnapshotType: proto.String("STANDARD"), StorageLocations: req.GetStorageLocations(),
		CreationSizeBytes: proto.Int64(0), ChainName: req.ChainName,
	}
	switch {
	case src.disk != nil:
		d := src.disk
		if e := c.storageUseAllowed(d.project, "projects/"+d.project+"/zones/"+d.zone+"/disks/"+d.pb.GetName()); e != nil {
			return nil, e
		}
		cont, zone = d.content, d.zone
		sn.SourceDisk = proto.String(d.pb.GetSelfLink())
		sn.SourceDiskId = proto.String(strconv.FormatUint(d.pb.GetId(), 10))
		sn.DiskSizeGb = proto.Int64(d.pb.GetSizeGb())
		if k := d.pb.GetDiskEncryptionKey(); k != nil {
			sn.SourceDiskEncryptionKey = &computepb.CustomerEncryptionKey{KmsKeyName: k.KmsKeyName}
		}
	case src.instant != nil:
		is := src.instant
		if e := c.storageUseAllowed(is.project, "projects/"+is.project+"/zones/"+is.zone+"/instantSnapshots/"+is.pb.GetName()); e != nil {
			return nil, e
		}
		cont, zone = is.content, is.zone
		sn.SourceInstantSnapshot = proto.String(is.pb.GetSelfLink())
		sn.SourceInstantSnapshotId = proto.String(strconv.FormatUint(is.pb.GetId(), 10))
		sn.SourceDisk = is.pb.SourceDisk
		sn.SourceDiskId = is.pb.SourceDiskId
		sn.DiskSizeGb = is.pb.DiskSizeGb
	}
	switch t := req.GetSnapshotType(); t {
	case "", "STANDARD":
	case "ARCHIVE":
		sn.SnapshotType = proto.String(t)
	default:
		return nil, invalidField("resource.snapshotType", t, "Must be STANDARD or ARCHIVE.")
	}
	if len(sn.StorageLocations) == 0 {
		sn.StorageLocations = []string{multiRegion(zone)}
	}
	if k := req.GetSnapshotEncryptionKey(); k != nil {
		if k.GetRawKey() != "" || k.GetRsaEncryptedKey() != "" {
			return nil, newError(http.StatusBadRequest, "invalid", "Customer-supplied encryption keys are not simulated; use kmsKeyName.")
		}
		if k.GetKmsKeyName() != "" {
			name, e := c.useKMSKey(k.GetKmsKeyName())
			if e != nil {
				return nil, e
			}
			sn.SnapshotEncryptionKey = &computepb.CustomerEncryptionKey{KmsKeyName: proto.String(name), KmsKeyServiceAccount: k.KmsKeyServiceAccount}
		}
	}
	if c.r.URL.Query().Get("guestFlush") == "true" && src.disk != nil {
		// An application-consistent snapshot runs an agent inside the guest
		// of the instance using the disk.
		// https://cloud.google.com/compute/docs/disks/snapshot-best-practices#prepare_for_consistency
		if e := c.guestFlush(src.disk); e != nil {
			return nil, e
		}
	}
	res := &snapshotRes{pb: sn, project: c.proj.id, content: cont, started: c.now,
		readyAt: c.now.Add(s.snapshotDuration(cont.dataBytes))}
	s.st.snapshots[key(c.proj.id, name)] = res
	return res, nil
}

// guestFlush records that a guest agent ran in every instance using the
// disk. The API refuses it for a disk no running instance uses.
func (c *call) guestFlush(d *diskRes) *apiError {
	if len(d.pb.GetUsers()) == 0 {
		return newError(http.StatusBadRequest, "invalid", "Guest flush requires the disk to be attached to a running instance.")
	}
	for _, u := range d.pb.GetUsers() {
		r, _ := parseRef(u, "instances", "", "")
		if in := c.s.st.instances[r.key()]; in != nil {
			if in.pb.GetStatus() != "RUNNING" {
				return newError(http.StatusBadRequest, "invalid", "Guest flush requires the instance %s to be running.", u)
			}
			in.guestFlushes++
		}
	}
	return nil
}

// multiRegion is the default storage location of a snapshot of a disk in
// zone: the multi-region nearest it.
// https://cloud.google.com/compute/docs/disks/snapshots#selecting_a_storage_location
func multiRegion(zone string) string {
	switch {
	case strings.HasPrefix(zone, "europe-"):
		return "eu"
	case strings.HasPrefix(zone, "asia-"), strings.HasPrefix(zone, "australia-"):
		return "asia"
	}
	return "us"
}

// insertSnapshot is snapshots.insert: the snapshot lands in the call's
// project, its source disk may be in another; the client waits on a global
// operation of this project.
// https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/insert
func (s *Server) insertSnapshot(c *call) (proto.Message, *apiError) {
	var req computepb.Snapshot
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	// The destination first: the call's own project.
	if e := c.require("compute.snapshots.create", snapshotPath(c.proj.id, req.GetName())); e != nil {
		return nil, e
	}
	var src snapshotSource
	switch {
	case req.GetSourceDisk() != "" && req.GetSourceInstantSnapshot() != "":
		return nil, newError(http.StatusBadRequest, "invalid", "Give one of sourceDisk and sourceInstantSnapshot.")
	case req.GetSourceDisk() != "":
		r, ok := parseRef(req.GetSourceDisk(), "disks", c.proj.id, "")
		if !ok || !strings.HasPrefix(r.scope, "zones/") {
			return nil, invalidField("resource.sourceDisk", req.GetSourceDisk(), "The URL is malformed.")
		}
		if e := c.requireIn(s.st.projects[r.project], "compute.disks.createSnapshot", r.path()); e != nil {
			return nil, e
		}
		if src.disk = s.st.disks[r.key()]; src.disk == nil {
			return nil, notFound(r.path())
		}
	case req.GetSourceInstantSnapshot() != "":
		r, ok := parseRef(req.GetSourceInstantSnapshot(), "instantSnapshots", c.proj.id, "")
		if !ok || !strings.HasPrefix(r.scope, "zones/") {
			return nil, invalidField("resource.sourceInstantSnapshot", req.GetSourceInstantSnapshot(), "The URL is malformed.")
		}
		if e := c.requireIn(s.st.projects[r.project], "compute.instantSnapshots.useReadOnly", r.path()); e != nil {
			return nil, e
		}
		if src.instant = s.st.instantSnapshots[r.key()]; src.instant == nil {
			return nil, notFound(r.path())
		}
	default:
		return nil, required("resource.sourceDisk")
	}
	snap, e := c.createSnapshot(&req, src)
	if e != nil {
		return nil, e
	}
	return c.newOperation("insert", "global", snap.pb.GetSelfLink(), snap.pb.GetId(), snap.readyAt.Sub(c.now)), nil
}

func (c *call) theSnapshot(permission string) (*snapshotRes, *apiError) {
	path := snapshotPath(c.proj.id, c.vars["snapshot"])
	snap := c.s.st.snapshots[key(c.proj.id, c.vars["snapshot"])]
	var policy *computepb.Policy
	if snap != nil {
		policy = snap.policy
	}
	if !c.s.allowed(c.who, c.proj, permission, policy) {
		return nil, forbidden(permission, path)
	}
	if snap == nil {
		return nil, notFound(path)
	}
	return snap, nil
}

func (s *Server) getSnapshot(c *call) (proto.Message, *apiError) {
	snap, e := c.theSnapshot("compute.snapshots.get")
	if e != nil {
		return nil, e
	}
	return snap.view(c.now), nil
}

func (s *Server) listSnapshots(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.snapshots.list", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	var items []proto.Message
	for _, sn := range s.st.snapshots {
		if sn.project == c.proj.id {
			items = append(items, sn.view(c.now))
		}
	}
	page, e := c.page(items)
	if e != nil {
		return nil, e
	}
	out := &computepb.SnapshotList{Kind: proto.String("compute#snapshotList"), NextPageToken: page.next,
		SelfLink: proto.String(projectURL(c.proj.id) + "/global/snapshots")}
	for _, m := range page.items {
		out.Items = append(out.Items, m.(*computepb.Snapshot))
	}
	return out, nil
}

func (s *Server) deleteSnapshot(c *call) (proto.Message, *apiError) {
	snap, e := c.theSnapshot("compute.snapshots.delete")
	if e != nil {
		return nil, e
	}
	delete(s.st.snapshots, key(c.proj.id, snap.pb.GetName()))
	return c.newOperation("delete", "global", snap.pb.GetSelfLink(), snap.pb.GetId(), 0), nil
}

// setSnapshotLabels replaces a snapshot's labels; the request must carry
// the current labelFingerprint, else 412 conditionNotMet.
// https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/setLabels
// https://cloud.google.com/compute/docs/labeling-resources#label_fingerprint
func (s *Server) setSnapshotLabels(c *call) (proto.Message, *apiError) {
	snap, e := c.theSnapshot("compute.snapshots.setLabels")
	if e != nil {
		return nil, e
	}
	var req computepb.GlobalSetLabelsRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.LabelFingerprint == nil {
		return nil, required("labelFingerprint")
	}
	if req.GetLabelFingerprint() != snap.pb.GetLabelFingerprint() {
		return nil, newError(http.StatusPreconditionFailed, "conditionNotMet",
			"Labels fingerprint either invalid or resource labels have changed")
	}
	if e := validLabels("labels", req.GetLabels()); e != nil {
		return nil, e
	}
	snap.pb.Labels = req.GetLabels()
	snap.pb.LabelFingerprint = proto.String(labelFingerprint(req.GetLabels()))
	return c.newOperation("setLabels", "global", snap.pb.GetSelfLink(), snap.pb.GetId(), 0), nil
}

// emptyPolicyEtag is the etag of a resource's empty IAM policy.
const emptyPolicyEtag = "ACAB"

func policyView(p *computepb.Policy) *computepb.Policy {
	if p == nil {
		return &computepb.Policy{Version: proto.Int32(1), Etag: proto.String(emptyPolicyEtag)}
	}
	return p
}

func (s *Server) getSnapshotIAMPolicy(c *call) (proto.Message, *apiError) {
	snap, e := c.theSnapshot("compute.snapshots.getIamPolicy")
	if e != nil {
		return nil, e
	}
	return policyView(snap.policy), nil
}

// setSnapshotIAMPolicy replaces a snapshot's own IAM policy; an etag given
// must be the current one. Roles are those that apply to snapshots.
// https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/setIamPolicy
func (s *Server) setSnapshotIAMPolicy(c *call) (proto.Message, *apiError) {
	snap, e := c.theSnapshot("compute.snapshots.setIamPolicy")
	if e != nil {
		return nil, e
	}
	var req computepb.GlobalSetPolicyRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	p := req.GetPolicy()
	if p == nil {
		return nil, required("policy")
	}
	if p.Etag != nil && p.GetEtag() != policyView(snap.policy).GetEtag() {
		return nil, newError(http.StatusConflict, "conflict", "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
	}
	for _, b := range p.GetBindings() {
		if _, ok := resourceRoles[b.GetRole()]; !ok {
			return nil, newError(http.StatusBadRequest, "badRequest", "Role %s is not supported for this resource.", b.GetRole())
		}
		for _, m := range b.GetMembers() {
			if !validMember(m) {
				return nil, newError(http.StatusBadRequest, "badRequest", "Invalid member: %s", m)
			}
		}
	}
	np := proto.Clone(p).(*computepb.Policy)
	if np.Version == nil {
		np.Version = proto.Int32(1)
	}
	np.Etag = proto.String("Bw" + strconv.FormatUint(s.ids.resourceID()%1e12, 36))
	snap.policy = np
	return np, nil
}
