package awssim

import (
	"sort"
	"strconv"
)

// permissionChange is one add or remove of createVolumePermission.
type permissionChange struct {
	add     bool
	userID  string
	isGroup bool // group "all": public
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html
func (s *Server) modifySnapshotAttribute(r *ec2Request) (ec2Body, *apiError) {
	attr := r.q.get("Attribute")
	if attr == "" && r.q.count("CreateVolumePermission.Add")+r.q.count("CreateVolumePermission.Remove") > 0 {
		attr = "createVolumePermission"
	}
	if attr != "createVolumePermission" {
		return nil, errInvalidParameterValue("Attribute", attr)
	}
	changes, e := permissionChanges(r.q)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, e := s.findOwnSnapshot(r, r.q.get("SnapshotId"))
	if e != nil {
		return nil, e
	}
	for _, c := range changes {
		if !c.add {
			continue
		}
		// Only unencrypted snapshots can be public; snapshots under the AWS
		// managed key cannot be shared at all.
		// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html
		if c.isGroup && snap.encrypted {
			return nil, badRequest("OperationNotPermitted", "Encrypted snapshots cannot be shared publicly")
		}
		if !c.isGroup && snap.encrypted {
			if key := s.st.keyByARN(snap.kmsKeyARN); key == nil || key.awsManaged {
				return nil, badRequest("OperationNotPermitted", "Encrypted snapshots with EBS default key cannot be shared")
			}
		}
	}
	for _, c := range changes {
		switch {
		case c.isGroup:
			snap.public = c.add
		case c.add:
			snap.sharedWith[c.userID] = true
		default:
			delete(snap.sharedWith, c.userID)
		}
	}
	return &ec2Return{Return: true}, nil
}

// permissionChanges reads both request forms: OperationType with UserId.N /
// UserGroup.N, and CreateVolumePermission.Add.N / .Remove.N.
func permissionChanges(q queryParams) ([]permissionChange, *apiError) {
	var out []permissionChange
	addAll := func(add bool, users, groups []string) *apiError {
		for _, u := range users {
			if !accountIDPattern.MatchString(u) {
				return badRequest("InvalidUserID.Malformed", "User ID '%s' is not valid", u)
			}
			out = append(out, permissionChange{add: add, userID: u})
		}
		for _, g := range groups {
			if g != "all" {
				return errInvalidParameterValue("UserGroup", g)
			}
			out = append(out, permissionChange{add: add, isGroup: true})
		}
		return nil
	}
	users, groups := q.list("UserId"), q.list("UserGroup")
	if len(users)+len(groups) > 0 {
		op := q.get("OperationType")
		if op != "add" && op != "remove" {
			return nil, errInvalidParameterValue("OperationType", op)
		}
		if e := addAll(op == "add", users, groups); e != nil {
			return nil, e
		}
	}
	for _, side := range []struct {
		prefix string
		add    bool
	}{{"CreateVolumePermission.Add", true}, {"CreateVolumePermission.Remove", false}} {
		for i := 1; i <= q.count(side.prefix); i++ {
			p := side.prefix + "." + strconv.Itoa(i)
			var users, groups []string
			if u := q.get(p + ".UserId"); u != "" {
				users = append(users, u)
			}
			if g := q.get(p + ".Group"); g != "" {
				groups = append(groups, g)
			}
			if e := addAll(side.add, users, groups); e != nil {
				return nil, e
			}
		}
	}
	if len(out) == 0 {
		return nil, errMissingParameter("UserId")
	}
	return out, nil
}

type xmlCreateVolumePermission struct {
	Group  string `xml:"group,omitempty"`
	UserID string `xml:"userId,omitempty"`
}

type describeSnapshotAttributeResponse struct {
	ec2Meta
	SnapshotID             string                      `xml:"snapshotId"`
	CreateVolumePermission []xmlCreateVolumePermission `xml:"createVolumePermission>item"`
	ProductCodes           *struct{}                   `xml:"productCodes,omitempty"`
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshotAttribute.html
func (s *Server) describeSnapshotAttribute(r *ec2Request) (ec2Body, *apiError) {
	attr := r.q.get("Attribute")
	if attr == "" {
		return nil, errMissingParameter("Attribute")
	}
	if attr != "createVolumePermission" && attr != "productCodes" {
		return nil, errInvalidParameterValue("Attribute", attr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, e := s.findOwnSnapshot(r, r.q.get("SnapshotId"))
	if e != nil {
		return nil, e
	}
	out := &describeSnapshotAttributeResponse{SnapshotID: snap.id}
	if attr == "productCodes" {
		out.ProductCodes = &struct{}{}
		return out, nil
	}
	if snap.public {
		out.CreateVolumePermission = append(out.CreateVolumePermission, xmlCreateVolumePermission{Group: "all"})
	}
	var users []string
	for u := range snap.sharedWith {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		out.CreateVolumePermission = append(out.CreateVolumePermission, xmlCreateVolumePermission{UserID: u})
	}
	return out, nil
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ResetSnapshotAttribute.html
func (s *Server) resetSnapshotAttribute(r *ec2Request) (ec2Body, *apiError) {
	if attr := r.q.get("Attribute"); attr != "createVolumePermission" {
		if attr == "" {
			return nil, errMissingParameter("Attribute")
		}
		return nil, errInvalidParameterValue("Attribute", attr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, e := s.findOwnSnapshot(r, r.q.get("SnapshotId"))
	if e != nil {
		return nil, e
	}
	snap.public = false
	clear(snap.sharedWith)
	return &ec2Return{Return: true}, nil
}
