package awssim

import (
	"sort"
	"strconv"
	"time"
)

type xmlSnapshot struct {
	SnapshotID     string   `xml:"snapshotId"`
	VolumeID       string   `xml:"volumeId"`
	Status         string   `xml:"status"`
	StatusMessage  string   `xml:"statusMessage,omitempty"`
	StartTime      string   `xml:"startTime"`
	CompletionTime string   `xml:"completionTime,omitempty"`
	Progress       string   `xml:"progress"`
	OwnerID        string   `xml:"ownerId"`
	VolumeSize     int32    `xml:"volumeSize"`
	Description    string   `xml:"description"`
	Encrypted      bool     `xml:"encrypted"`
	KMSKeyID       string   `xml:"kmsKeyId,omitempty"`
	StorageTier    string   `xml:"storageTier"`
	TagSet         []xmlTag `xml:"tagSet>item"`
}

func xmlSnapshotOf(snap *snapshot, now time.Time) xmlSnapshot {
	state, pct := snap.status(now)
	x := xmlSnapshot{
		SnapshotID: snap.id, VolumeID: snap.volumeID, Status: state, StartTime: ec2Time(snap.started),
		Progress: strconv.Itoa(pct) + "%", OwnerID: snap.ownerID, VolumeSize: snap.sizeGiB,
		Description: snap.description, Encrypted: snap.encrypted, KMSKeyID: snap.kmsKeyARN,
		StorageTier: "standard", TagSet: xmlTags(snap.tags),
	}
	switch state {
	case "completed":
		x.CompletionTime = ec2Time(snap.completedAt())
	case "error":
		x.StatusMessage = snap.statusMessage
	}
	return x
}

// newSnapshot records a snapshot (or copy) that starts now and progresses at
// the configured rate. Callers hold s.mu.
func (s *Server) newSnapshot(owner, region string, src *disk, now time.Time, fill func(*snapshot)) *snapshot {
	snap := &snapshot{
		seq: s.st.nextSeq(), id: s.ids.snapshotID(), ownerID: owner, region: region,
		disk: src, sizeGiB: src.sizeGiB, started: now,
		duration:   s.snapshotDuration(src.dataBytes()),
		tags:       tags{},
		sharedWith: map[string]bool{},
		visibleAt:  now.Add(s.faults.get().ConsistencyDelay.D()),
	}
	fill(snap)
	// The failSnapshotVolumes fault: the snapshot fails halfway.
	if s.faults.snapshotFails(snap.volumeID) && !snap.fails {
		snap.fail(snap.duration/2, "Snapshot creation failed")
	}
	s.st.snapshots[snap.id] = snap
	return snap
}

func errSnapshotNotFound(id string) *apiError {
	return badRequest("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
}

// findUsableSnapshot returns a snapshot in region that the caller owns or
// that is shared with it. Callers hold s.mu.
func (s *Server) findUsableSnapshot(r *ec2Request, id, region string) (*snapshot, *apiError) {
	if e := checkSnapshotID(id); e != nil {
		return nil, e
	}
	snap := s.st.snapshots[id]
	if snap == nil || snap.region != region || !snap.canUse(r.accountID()) || r.now.Before(snap.visibleAt) {
		return nil, errSnapshotNotFound(id)
	}
	return snap, nil
}

// findOwnSnapshot returns a snapshot the caller owns in the request's region.
// A snapshot merely shared with the caller cannot be changed by it.
func (s *Server) findOwnSnapshot(r *ec2Request, id string) (*snapshot, *apiError) {
	if id == "" {
		return nil, errMissingParameter("SnapshotId")
	}
	snap, e := s.findUsableSnapshot(r, id, r.region)
	if e != nil {
		return nil, e
	}
	if snap.ownerID != r.accountID() {
		return nil, errUnauthorizedOperation(r.principal.arn, "ec2:"+r.action)
	}
	return snap, nil
}

type createSnapshotResponse struct {
	ec2Meta
	xmlSnapshot
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshot.html
func (s *Server) createSnapshot(r *ec2Request) (ec2Body, *apiError) {
	volumeID := r.q.get("VolumeId")
	if volumeID == "" {
		return nil, errMissingParameter("VolumeId")
	}
	description := r.q.get("Description")
	if len(description) > 255 {
		return nil, errInvalidParameterValue("Description", description)
	}
	snapTags, e := r.q.tagSpecs("snapshot")
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vol, e := s.findVolume(r, volumeID)
	if e != nil {
		return nil, e
	}
	if vol.failure != "" {
		return nil, badRequest("IncorrectState", "The volume '%s' is in state error.", vol.id)
	}
	snap := s.newSnapshot(r.accountID(), r.region, vol.disk, r.now, func(snap *snapshot) {
		snap.volumeID, snap.description, snap.tags = vol.id, description, snapTags
		snap.encrypted, snap.kmsKeyARN = vol.encrypted, vol.kmsKeyARN
	})
	out := &createSnapshotResponse{xmlSnapshot: xmlSnapshotOf(snap, r.now)}
	out.Status, out.Progress, out.CompletionTime = "pending", "", ""
	return out, nil
}

type xmlSnapshotInfo struct {
	SnapshotID  string   `xml:"snapshotId"`
	VolumeID    string   `xml:"volumeId"`
	State       string   `xml:"state"`
	StartTime   string   `xml:"startTime"`
	Progress    string   `xml:"progress"`
	OwnerID     string   `xml:"ownerId"`
	VolumeSize  int32    `xml:"volumeSize"`
	Description string   `xml:"description"`
	Encrypted   bool     `xml:"encrypted"`
	TagSet      []xmlTag `xml:"tagSet>item"`
}

type createSnapshotsResponse struct {
	ec2Meta
	Snapshots []xmlSnapshotInfo `xml:"snapshotSet>item"`
}

// maxExcludedDataVolumes: "You can specify up to 40 volume IDs per request."
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceSpecification.html
const maxExcludedDataVolumes = 40

// CreateSnapshots takes crash-consistent snapshots of an instance's volumes:
// every snapshot has the same point in time.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html
func (s *Server) createSnapshots(r *ec2Request) (ec2Body, *apiError) {
	instanceID := r.q.get("InstanceSpecification.InstanceId")
	if instanceID == "" {
		return nil, errMissingParameter("InstanceSpecification.InstanceId")
	}
	excludeBoot := r.q.boolean("InstanceSpecification.ExcludeBootVolume")
	excludedIDs := r.q.list("InstanceSpecification.ExcludeDataVolumeId")
	if len(excludedIDs) > maxExcludedDataVolumes {
		return nil, badRequest("InvalidParameterValue", "ExcludeDataVolumeIds lists %d volumes; at most %d may be excluded.", len(excludedIDs), maxExcludedDataVolumes)
	}
	excluded := map[string]bool{}
	for _, id := range excludedIDs {
		if e := checkVolumeID(id); e != nil {
			return nil, e
		}
		excluded[id] = true
	}
	copyTags := r.q.get("CopyTagsFromSource")
	if copyTags != "" && copyTags != "volume" {
		return nil, errInvalidParameterValue("CopyTagsFromSource", copyTags)
	}
	description := r.q.get("Description")
	snapTags, e := r.q.tagSpecs("snapshot")
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, e := s.findInstance(r, instanceID)
	if e != nil {
		return nil, e
	}
	// Choose the volumes first: a refused request creates nothing.
	var chosen []*volume
	for _, vol := range s.instanceVolumes(in) {
		boot := vol.attachment.device == in.rootDevice
		// "If you specify the ID of the root volume, the request fails. To
		// exclude the root volume, use ExcludeBootVolume."
		// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceSpecification.html
		if boot && excluded[vol.id] {
			return nil, badRequest("InvalidParameterValue", "The volume %s is the root volume of %s; exclude it with ExcludeBootVolume, not ExcludeDataVolumeIds.", vol.id, in.id)
		}
		if (boot && excludeBoot) || (!boot && excluded[vol.id]) {
			continue
		}
		chosen = append(chosen, vol)
	}
	if len(chosen) == 0 {
		return nil, badRequest("InvalidParameterValue", "The instance %s has no volumes to snapshot after exclusions", in.id)
	}
	out := &createSnapshotsResponse{}
	for _, vol := range chosen {
		snap := s.newSnapshot(r.accountID(), r.region, vol.disk, r.now, func(snap *snapshot) {
			snap.volumeID, snap.description = vol.id, description
			snap.encrypted, snap.kmsKeyARN = vol.encrypted, vol.kmsKeyARN
			if copyTags == "volume" {
				for k, v := range vol.tags {
					snap.tags[k] = v
				}
			}
			for k, v := range snapTags {
				snap.tags[k] = v
			}
		})
		out.Snapshots = append(out.Snapshots, xmlSnapshotInfo{
			SnapshotID: snap.id, VolumeID: vol.id, State: "pending", StartTime: ec2Time(snap.started),
			Progress: "", OwnerID: snap.ownerID, VolumeSize: snap.sizeGiB, Description: description,
			Encrypted: snap.encrypted, TagSet: xmlTags(snap.tags),
		})
	}
	return out, nil
}

func snapshotFilterFields(snap *snapshot, now time.Time) filterFields {
	return func(name string) ([]string, bool) {
		state, pct := snap.status(now)
		switch name {
		case "snapshot-id":
			return []string{snap.id}, true
		case "volume-id":
			return []string{snap.volumeID}, true
		case "status":
			return []string{state}, true
		case "progress":
			return []string{strconv.Itoa(pct) + "%"}, true
		case "owner-id":
			return []string{snap.ownerID}, true
		case "owner-alias":
			return nil, true
		case "description":
			return []string{snap.description}, true
		case "encrypted":
			return []string{boolString(snap.encrypted)}, true
		case "volume-size":
			return []string{int32String(snap.sizeGiB)}, true
		case "start-time":
			return []string{ec2Time(snap.started)}, true
		case "storage-tier":
			return []string{"standard"}, true
		}
		return tagFields(snap.tags, name)
	}
}

type describeSnapshotsResponse struct {
	ec2Meta
	Snapshots []xmlSnapshot `xml:"snapshotSet>item"`
	NextToken string        `xml:"nextToken,omitempty"`
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html
func (s *Server) describeSnapshots(r *ec2Request) (ec2Body, *apiError) {
	ids := r.q.list("SnapshotId")
	page, e := ec2Page(r.q, pagingDescribeSnapshots, len(ids) > 0)
	if e != nil {
		return nil, e
	}
	filters := r.q.filters()
	owners := map[string]bool{}
	for _, o := range r.q.list("Owner") {
		if o == "self" {
			o = r.accountID()
		}
		owners[o] = true
	}
	restorableBy := r.q.list("RestorableBy")
	for _, id := range restorableBy {
		if id != "self" && id != "all" && !accountIDPattern.MatchString(id) {
			return nil, badRequest("InvalidUserID.Malformed", "Invalid user id: \"%s\"", id)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*snapshot
	if len(ids) > 0 {
		for _, id := range ids {
			snap, e := s.findUsableSnapshot(r, id, r.region)
			if e != nil {
				return nil, e
			}
			found = append(found, snap)
		}
	} else {
		for _, snap := range s.st.snapshots {
			if snap.region == r.region && snap.canUse(r.accountID()) && !r.now.Before(snap.visibleAt) {
				found = append(found, snap)
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].seq < found[j].seq })
	}
	var matched []*snapshot
	for _, snap := range found {
		if len(owners) > 0 && !owners[snap.ownerID] {
			continue
		}
		if len(restorableBy) > 0 && !restorable(snap, restorableBy, r.accountID()) {
			continue
		}
		ok, e := matchFilters(filters, snapshotFilterFields(snap, r.now))
		if e != nil {
			return nil, e
		}
		if ok {
			matched = append(matched, snap)
		}
	}
	pageItems, next, e := paginate(s, pager{scope: r.accountID() + "|DescribeSnapshots|" + r.region, now: r.now, badToken: errInvalidPaginationToken}, matched, page)
	if e != nil {
		return nil, e
	}
	out := &describeSnapshotsResponse{NextToken: next}
	for _, snap := range pageItems {
		out.Snapshots = append(out.Snapshots, xmlSnapshotOf(snap, r.now))
	}
	return out, nil
}

// restorable reports whether any of the accounts in by ("self", "all" or an
// account ID) may create volumes from snap.
func restorable(snap *snapshot, by []string, caller string) bool {
	for _, id := range by {
		switch id {
		case "all":
			if snap.public {
				return true
			}
		case "self":
			if snap.canUse(caller) {
				return true
			}
		default:
			if snap.canUse(id) {
				return true
			}
		}
	}
	return false
}

// A locked snapshot cannot be deleted until its lock expires.
// https://docs.aws.amazon.com/ebs/latest/userguide/snapshot-lock-concepts.html
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSnapshot.html
func (s *Server) deleteSnapshot(r *ec2Request) (ec2Body, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, e := s.findOwnSnapshot(r, r.q.get("SnapshotId"))
	if e != nil {
		return nil, e
	}
	if lock := snap.activeLock(r.now); lock != nil {
		if state := lock.state(r.now); state != "expired" {
			// The documentation names no error code for this refusal; EC2 uses
			// OperationNotPermitted for the analogous refusal to terminate a
			// protected instance.
			return nil, badRequest("OperationNotPermitted", "The snapshot '%s' is locked in %s mode and cannot be deleted.", snap.id, state)
		}
	}
	delete(s.st.snapshots, snap.id)
	delete(s.limiters, snap.id)
	return &ec2Return{Return: true}, nil
}
