package awssim

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

type xmlVolume struct {
	VolumeID         string                `xml:"volumeId"`
	Size             int32                 `xml:"size"`
	SnapshotID       string                `xml:"snapshotId"`
	AvailabilityZone string                `xml:"availabilityZone"`
	Status           string                `xml:"status"`
	CreateTime       string                `xml:"createTime"`
	AttachmentSet    []xmlVolumeAttachment `xml:"attachmentSet>item"`
	VolumeType       string                `xml:"volumeType"`
	Iops             int32                 `xml:"iops,omitempty"`
	Encrypted        bool                  `xml:"encrypted"`
	KMSKeyID         string                `xml:"kmsKeyId,omitempty"`
	MultiAttach      bool                  `xml:"multiAttachEnabled"`
	TagSet           []xmlTag              `xml:"tagSet>item"`
}

type xmlVolumeAttachment struct {
	VolumeID            string `xml:"volumeId"`
	InstanceID          string `xml:"instanceId"`
	Device              string `xml:"device"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

// status is the volume's state: error when it could not be created.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Volume.html
func (v *volume) status() string {
	switch {
	case v.failure != "":
		return "error"
	case v.attachment != nil:
		return "in-use"
	}
	return "available"
}

func xmlVolumeOf(v *volume) xmlVolume {
	x := xmlVolume{
		VolumeID: v.id, Size: v.disk.sizeGiB, SnapshotID: v.snapshotID, AvailabilityZone: v.az,
		Status: v.status(), CreateTime: ec2Time(v.created), VolumeType: v.volumeType, Iops: v.iops,
		Encrypted: v.encrypted, KMSKeyID: v.kmsKeyARN, TagSet: xmlTags(v.tags),
	}
	if a := v.attachment; a != nil {
		x.AttachmentSet = []xmlVolumeAttachment{{VolumeID: v.id, InstanceID: a.instanceID, Device: a.device,
			Status: "attached", AttachTime: ec2Time(a.attached), DeleteOnTermination: a.deleteOnTermination}}
	}
	return x
}

func volumeFilterFields(v *volume) filterFields {
	return func(name string) ([]string, bool) {
		switch name {
		case "volume-id":
			return []string{v.id}, true
		case "status":
			return []string{v.status()}, true
		case "availability-zone":
			return []string{v.az}, true
		case "encrypted":
			return []string{boolString(v.encrypted)}, true
		case "size":
			return []string{int32String(v.disk.sizeGiB)}, true
		case "snapshot-id":
			return []string{v.snapshotID}, true
		case "volume-type":
			return []string{v.volumeType}, true
		case "attachment.instance-id", "attachment.device", "attachment.status", "attachment.delete-on-termination":
			a := v.attachment
			if a == nil {
				return nil, true
			}
			switch name {
			case "attachment.instance-id":
				return []string{a.instanceID}, true
			case "attachment.device":
				return []string{a.device}, true
			case "attachment.status":
				return []string{"attached"}, true
			default:
				return []string{boolString(a.deleteOnTermination)}, true
			}
		}
		return tagFields(v.tags, name)
	}
}

// findVolume returns the caller's visible volume in the request's region.
// Callers hold s.mu.
func (s *Server) findVolume(r *ec2Request, id string) (*volume, *apiError) {
	if e := checkVolumeID(id); e != nil {
		return nil, e
	}
	v := s.st.volumes[id]
	if v == nil || v.deleted || v.ownerID != r.accountID() || v.region != r.region || r.now.Before(v.visibleAt) {
		return nil, badRequest("InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
	}
	return v, nil
}

type describeVolumesResponse struct {
	ec2Meta
	Volumes   []xmlVolume `xml:"volumeSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVolumes.html
func (s *Server) describeVolumes(r *ec2Request) (ec2Body, *apiError) {
	ids := r.q.list("VolumeId")
	page, e := ec2Page(r.q, pagingDescribeVolumes, len(ids) > 0)
	if e != nil {
		return nil, e
	}
	filters := r.q.filters()
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*volume
	if len(ids) > 0 {
		for _, id := range ids {
			v, e := s.findVolume(r, id)
			if e != nil {
				return nil, e
			}
			found = append(found, v)
		}
	} else {
		for _, v := range s.st.volumes {
			if !v.deleted && v.ownerID == r.accountID() && v.region == r.region && !r.now.Before(v.visibleAt) {
				found = append(found, v)
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].seq < found[j].seq })
	}
	var matched []*volume
	for _, v := range found {
		ok, e := matchFilters(filters, volumeFilterFields(v))
		if e != nil {
			return nil, e
		}
		if ok {
			matched = append(matched, v)
		}
	}
	pageItems, next, e := paginate(s, pager{scope: r.accountID() + "|DescribeVolumes|" + r.region, now: r.now, badToken: errInvalidPaginationToken}, matched, page)
	if e != nil {
		return nil, e
	}
	out := &describeVolumesResponse{NextToken: next}
	for _, v := range pageItems {
		out.Volumes = append(out.Volumes, xmlVolumeOf(v))
	}
	return out, nil
}

type createVolumeResponse struct {
	ec2Meta
	xmlVolume
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html
func (s *Server) createVolume(r *ec2Request) (ec2Body, *apiError) {
	az := r.q.get("AvailabilityZone")
	if az == "" {
		return nil, errMissingParameter("AvailabilityZone")
	}
	if !strings.HasPrefix(az, r.region) || len(az) != len(r.region)+1 {
		return nil, badRequest("InvalidParameterValue", "Invalid availability zone: [%s]", az)
	}
	keyRef, encrypted := r.q.get("KmsKeyId"), r.q.boolean("Encrypted")
	if keyRef != "" && !encrypted {
		return nil, badRequest("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	volumeTags, e := r.q.tagSpecs("volume")
	if e != nil {
		return nil, e
	}
	size, ok := r.q.integer("Size", 0)
	if !ok || (r.q.has("Size") && (size < 1 || size > 65536)) {
		return nil, errInvalidParameterValue("Size", r.q.get("Size"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// ClientToken makes the call idempotent: the same token with the same
	// parameters returns the first volume, with others it is refused.
	// https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
	tokenKey, fingerprint := "", ""
	if token := r.q.get("ClientToken"); token != "" {
		tokenKey = r.accountID() + "|" + r.region + "|CreateVolume|" + token
		fingerprint = requestFingerprint(r.q, "ClientToken")
		if rec, seen := s.st.clientTokens[tokenKey]; seen {
			if rec.fingerprint != fingerprint {
				return nil, badRequest("IdempotentParameterMismatch", "Client token %s was used with different parameters.", token)
			}
			out := &createVolumeResponse{xmlVolume: xmlVolumeOf(s.st.volumes[rec.resourceID])}
			return out, nil
		}
	}
	vol := &volume{
		ownerID: r.accountID(), region: r.region, az: az,
		volumeType: orDefault(r.q.get("VolumeType"), "gp2"), created: r.now, tags: volumeTags,
		visibleAt: r.now.Add(s.faults.get().ConsistencyDelay.D()),
	}
	if n, ok := r.q.integer("Iops", 0); ok {
		vol.iops = int32(n)
	}
	// Key problems do not fail the call: "AWS authenticates the KMS key
	// asynchronously", so the volume is created and ends in state error.
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html
	if snapID := r.q.get("SnapshotId"); snapID != "" {
		snap, e := s.findUsableSnapshot(r, snapID, r.region)
		if e != nil {
			return nil, e
		}
		if state, _ := snap.status(r.now); state != "completed" {
			return nil, badRequest("IncorrectState", "Snapshot is in invalid state - %s", state)
		}
		if size == 0 {
			size = int(snap.sizeGiB)
		}
		if size < int(snap.sizeGiB) {
			return nil, badRequest("InvalidParameterValue", "Volume of %dGiB is smaller than snapshot '%s', expect size >= %dGiB", size, snapID, snap.sizeGiB)
		}
		vol.snapshotID, vol.disk = snap.id, snap.disk.resized(int32(size))
		if snap.encrypted {
			vol.failure = s.ebsKeyProblem(r.principal, s.st.keyByARN(snap.kmsKeyARN), snap.kmsKeyARN)
			encrypted = true
			if keyRef == "" && strings.Contains(snap.kmsKeyARN, ":"+r.accountID()+":") {
				keyRef = snap.kmsKeyARN
			}
		}
	} else {
		if size == 0 {
			return nil, errMissingParameter("Size")
		}
		vol.disk = emptyDisk(int32(size))
	}
	if encrypted || s.st.accounts[r.accountID()].encryptionByDefault[r.region] {
		vol.encrypted = true
		key, e := s.ebsKey(r.accountID(), r.region, keyRef, r.now)
		switch {
		case e != nil:
			vol.kmsKeyARN = keyRef
			vol.failure = orDefault(vol.failure, fmt.Sprintf("The KMS key %s does not exist in %s.", keyRef, r.region))
		default:
			vol.kmsKeyARN = key.arn
			vol.failure = orDefault(vol.failure, s.ebsKeyProblem(r.principal, key, key.arn))
		}
	}
	// The ID is minted only now that the call succeeds, so that refused
	// calls leave the ID sequence alone.
	vol.seq, vol.id = s.st.nextSeq(), s.ids.volumeID()
	s.st.volumes[vol.id] = vol
	if tokenKey != "" {
		s.st.clientTokens[tokenKey] = clientTokenRecord{fingerprint: fingerprint, resourceID: vol.id}
	}
	out := &createVolumeResponse{xmlVolume: xmlVolumeOf(vol)}
	out.Status = "creating"
	return out, nil
}

// requestFingerprint identifies a request's parameters, less the named ones
// and the protocol's own.
func requestFingerprint(q queryParams, omit ...string) string {
	v := url.Values{}
	for k, vals := range q {
		switch k {
		case "Action", "Version":
			continue
		}
		skip := false
		for _, o := range omit {
			if k == o {
				skip = true
			}
		}
		if !skip {
			v[k] = vals
		}
	}
	return v.Encode()
}

type attachVolumeResponse struct {
	ec2Meta
	xmlVolumeAttachment
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AttachVolume.html
func (s *Server) attachVolume(r *ec2Request) (ec2Body, *apiError) {
	device, instanceID, volumeID := r.q.get("Device"), r.q.get("InstanceId"), r.q.get("VolumeId")
	// Checked in a fixed order, so that the same request always gets the
	// same error.
	for _, p := range []struct{ name, value string }{{"Device", device}, {"InstanceId", instanceID}, {"VolumeId", volumeID}} {
		if p.value == "" {
			return nil, errMissingParameter(p.name)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vol, e := s.findVolume(r, volumeID)
	if e != nil {
		return nil, e
	}
	in, e := s.findInstance(r, instanceID)
	if e != nil {
		return nil, e
	}
	switch {
	case vol.attachment != nil:
		return nil, badRequest("VolumeInUse", "%s is already attached to an instance", vol.id)
	case vol.failure != "":
		return nil, badRequest("IncorrectState", "The volume '%s' is in state error and cannot be attached.", vol.id)
	case vol.az != in.az:
		return nil, badRequest("InvalidVolume.ZoneMismatch", "The volume '%s' is not in the same availability zone as instance '%s'", vol.id, in.id)
	case in.state != "running" && in.state != "stopped":
		return nil, badRequest("IncorrectInstanceState", "The instance '%s' is not in the 'running' or 'stopped' state.", in.id)
	}
	for _, other := range s.instanceVolumes(in) {
		if other.attachment.device == device {
			return nil, badRequest("InvalidParameterValue", "Invalid value '%s' for unixDevice. Attachment point %s is already in use", device, device)
		}
	}
	vol.attachment = &attachment{instanceID: in.id, device: device, attached: r.now}
	in.devices = append(in.devices, vol.id)
	return &attachVolumeResponse{xmlVolumeAttachment: xmlVolumeAttachment{
		VolumeID: vol.id, InstanceID: in.id, Device: device, Status: "attaching", AttachTime: ec2Time(r.now),
	}}, nil
}

type ebsEncryptionByDefaultResponse struct {
	ec2Meta
	EBSEncryptionByDefault bool `xml:"ebsEncryptionByDefault"`
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetEbsEncryptionByDefault.html
func (s *Server) getEBSEncryptionByDefault(r *ec2Request) (ec2Body, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &ebsEncryptionByDefaultResponse{EBSEncryptionByDefault: s.st.accounts[r.accountID()].encryptionByDefault[r.region]}, nil
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableEbsEncryptionByDefault.html
func (s *Server) enableEBSEncryptionByDefault(r *ec2Request) (ec2Body, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.accounts[r.accountID()].encryptionByDefault[r.region] = true
	return &ebsEncryptionByDefaultResponse{EBSEncryptionByDefault: true}, nil
}

type ebsDefaultKMSKeyIDResponse struct {
	ec2Meta
	KMSKeyID string `xml:"kmsKeyId"`
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetEbsDefaultKmsKeyId.html
func (s *Server) getEBSDefaultKMSKeyID(r *ec2Request) (ec2Body, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := s.st.accounts[r.accountID()].ebsDefaultKey[r.region]
	if ref == "" {
		ref = aliasARN(r.region, r.accountID(), ebsManagedAlias)
	}
	return &ebsDefaultKMSKeyIDResponse{KMSKeyID: ref}, nil
}
