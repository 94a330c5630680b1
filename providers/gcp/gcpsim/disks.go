package gcpsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// maxConsistencyGroupDisks is how many disks one consistency group holds.
// https://cloud.google.com/compute/docs/disks/manage-consistency-groups#limitations
const maxConsistencyGroupDisks = 128

func (c *call) diskPath() string {
	return "projects/" + c.proj.id + "/zones/" + c.vars["zone"] + "/disks/" + c.vars["disk"]
}

// theDisk finds the call's disk after checking permission on it.
func (c *call) theDisk(permission string) (*diskRes, *apiError) {
	if e := c.require(permission, c.diskPath()); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	d := c.s.st.disks[key(c.proj.id, z, c.vars["disk"])]
	if d == nil {
		return nil, notFound(c.diskPath())
	}
	return d, nil
}

func (s *Server) getDisk(c *call) (proto.Message, *apiError) {
	d, e := c.theDisk("compute.disks.get")
	if e != nil {
		return nil, e
	}
	return d.pb, nil
}

func (s *Server) listDisks(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.disks.list", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	var items []proto.Message
	for _, d := range s.st.disks {
		if d.project == c.proj.id && d.zone == z {
			items = append(items, d.pb)
		}
	}
	page, e := c.page(items)
	if e != nil {
		return nil, e
	}
	out := &computepb.DiskList{Kind: proto.String("compute#diskList"), NextPageToken: page.next, SelfLink: proto.String(zoneURL(c.proj.id, z) + "/disks")}
	for _, m := range page.items {
		out.Items = append(out.Items, m.(*computepb.Disk))
	}
	return out, nil
}

// aggregatedDisks lists the disks of every zone, keyed "zones/Z"; a zone with
// none carries the NO_RESULTS_ON_PAGE warning (gcloud compute disks list asks
// for this). https://cloud.google.com/compute/docs/reference/rest/v1/disks/aggregatedList
func (s *Server) aggregatedDisks(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.disks.list", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	var items []proto.Message
	for _, d := range s.st.disks {
		if d.project == c.proj.id {
			items = append(items, d.pb)
		}
	}
	page, e := c.page(items)
	if e != nil {
		return nil, e
	}
	out := &computepb.DiskAggregatedList{Kind: proto.String("compute#diskAggregatedList"), NextPageToken: page.next,
		SelfLink: proto.String(projectURL(c.proj.id) + "/aggregated/disks"), Items: map[string]*computepb.DisksScopedList{}}
	for _, z := range c.proj.zones {
		out.Items["zones/"+z] = &computepb.DisksScopedList{Warning: noResults("zones/" + z)}
	}
	for _, m := range page.items {
		d := m.(*computepb.Disk)
		scope := "zones/" + lastSegment(d.GetZone())
		l := out.Items[scope]
		if l == nil {
			l = &computepb.DisksScopedList{}
			out.Items[scope] = l
		}
		l.Warning = nil
		l.Disks = append(l.Disks, d)
	}
	return out, nil
}

// noResults is the warning of an aggregated list's scope that has nothing on the page.
func noResults(scope string) *computepb.Warning {
	return &computepb.Warning{Code: proto.String("NO_RESULTS_ON_PAGE"), Message: proto.String("There are no results for scope '" + scope + "' on this page."),
		Data: []*computepb.Data{{Key: proto.String("scope"), Value: proto.String(scope)}}}
}

// insertDisk creates a disk, blank or from a snapshot (this project's or
// another's, read with compute.snapshots.useReadOnly).
// https://cloud.google.com/compute/docs/reference/rest/v1/disks/insert
func (s *Server) insertDisk(c *call) (proto.Message, *apiError) {
	var req computepb.Disk
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	name := req.GetName()
	if e := c.require("compute.disks.create", "projects/"+c.proj.id+"/zones/"+z+"/disks/"+name); e != nil {
		return nil, e
	}
	if e := validName("resource.name", name); e != nil {
		return nil, e
	}
	if e := validLabels("resource.labels", req.GetLabels()); e != nil {
		return nil, e
	}
	k := key(c.proj.id, z, name)
	if s.st.disks[k] != nil {
		return nil, alreadyExists("projects/" + c.proj.id + "/zones/" + z + "/disks/" + name)
	}
	if req.SizeGb != nil && req.GetSizeGb() <= 0 {
		return nil, invalidField("resource.sizeGb", strconv.FormatInt(req.GetSizeGb(), 10), "Disk size must be greater than 0.")
	}
	var src *content
	var fromSnap *snapshotRes
	switch {
	case req.GetSourceSnapshot() != "":
		snap, e := c.useSnapshot(req.GetSourceSnapshot())
		if e != nil {
			return nil, e
		}
		fromSnap, src = snap, snap.content
	case req.GetSourceImage() != "" || req.GetSourceDisk() != "" || req.GetSourceInstantSnapshot() != "":
		return nil, newError(http.StatusBadRequest, "invalid", "The simulator makes disks from snapshots or blank only.")
	}
	size := req.GetSizeGb()
	switch {
	case src != nil && size == 0:
		size = src.sizeGb
	case src != nil && size < src.sizeGb:
		return nil, invalidField("resource.sizeGb", strconv.FormatInt(size, 10),
			"Requested disk size cannot be smaller than the snapshot size ("+strconv.FormatInt(src.sizeGb, 10)+" GB).")
	case src == nil && size == 0:
		size = 10
	}
	var keyName string
	if kek := req.GetDiskEncryptionKey(); kek != nil && kek.GetKmsKeyName() != "" {
		var e *apiError
		if keyName, e = c.useKMSKey(kek.GetKmsKeyName()); e != nil {
			return nil, e
		}
	}
	diskType := ""
	if t := req.GetType(); t != "" {
		diskType = lastSegment(t)
	}
	pb := s.newDiskProto(c.proj.id, z, name, size, diskType, req.GetLabels(), c.now)
	pb.Description = req.Description
	if keyName != "" {
		pb.DiskEncryptionKey = &computepb.CustomerEncryptionKey{KmsKeyName: proto.String(keyName)}
	}
	content := emptyContent(size)
	if src != nil {
		content = src.resized(size)
		pb.SourceSnapshot = proto.String(fromSnap.pb.GetSelfLink())
		pb.SourceSnapshotId = proto.String(strconv.FormatUint(fromSnap.pb.GetId(), 10))
	}
	s.st.disks[k] = &diskRes{pb: pb, project: c.proj.id, zone: z, content: content}
	return c.newOperation("insert", "zones/"+z, pb.GetSelfLink(), pb.GetId(), 0), nil
}

// useSnapshot resolves a snapshot a call reads from: the caller needs
// compute.snapshots.useReadOnly on it (its project's policy or its own), the
// org policy must allow its project here, and it must be READY.
// https://cloud.google.com/compute/docs/images/sharing-images-across-projects
func (c *call) useSnapshot(refText string) (*snapshotRes, *apiError) {
	r, ok := parseRef(refText, "snapshots", c.proj.id, "")
	if !ok {
		return nil, invalidField("resource.sourceSnapshot", refText, "The URL is malformed.")
	}
	snap := c.s.st.snapshots[r.key()]
	srcProject := c.s.st.projects[r.project]
	var policy *computepb.Policy
	if snap != nil {
		policy = snap.policy
	}
	if !c.s.allowed(c.who, srcProject, "compute.snapshots.useReadOnly", policy) {
		return nil, forbidden("compute.snapshots.useReadOnly", r.path())
	}
	if snap == nil {
		return nil, notFound(r.path())
	}
	if e := c.storageUseAllowed(r.project, r.path()); e != nil {
		return nil, e
	}
	if snap.status(c.now) != "READY" {
		return nil, resourceNotReady(r.path())
	}
	return snap, nil
}

// storageUseAllowed applies constraints/compute.storageResourceUseRestrictions
// of the call's project to a storage resource of another project.
// https://cloud.google.com/compute/docs/images/restricting-image-access
// The answer is the one the API gives, 412 conditionNotMet:
// https://cloud.google.com/backup-disaster-recovery/docs/backup-vault-issues
func (c *call) storageUseAllowed(resourceProject, resourcePath string) *apiError {
	allowed := c.proj.storageUseAllowed
	if allowed == nil || slices.Contains(allowed, resourceProject) {
		return nil
	}
	return newError(http.StatusPreconditionFailed, "conditionNotMet",
		"Constraint constraints/compute.storageResourceUseRestrictions violated for project %s. %s can't be used within your project.",
		c.proj.id, resourcePath)
}

// useKMSKey checks a CMEK: the key must exist and the call project's Compute
// Engine service agent must hold roles/cloudkms.cryptoKeyEncrypterDecrypter
// on it. It returns the key version name the resource records.
// https://cloud.google.com/compute/docs/disks/customer-managed-encryption#before_you_begin
func (c *call) useKMSKey(name string) (string, *apiError) {
	base, version := name, "1"
	if i := strings.Index(name, "/cryptoKeyVersions/"); i >= 0 {
		base, version = name[:i], name[i+len("/cryptoKeyVersions/"):]
	}
	var k *kmsKey
	var keyProject *project
	if r, ok := kmsKeyProject(base); ok {
		if keyProject = c.s.st.projects[r]; keyProject != nil {
			k = keyProject.kmsKeys[base]
		}
	}
	// The role held on the key, or on its project, which the key inherits
	// (https://cloud.google.com/kms/docs/resource-hierarchy#iam).
	agent := c.proj.serviceAgent()
	if k == nil || !(slices.Contains(k.encrypterDecrypters, agent) ||
		c.s.allowed(&principal{email: strings.TrimPrefix(agent, "serviceAccount:")}, keyProject, "cloudkms.cryptoKeyVersions.useToEncrypt", nil)) {
		return "", newError(http.StatusBadRequest, "kmsPermissionDenied",
			"Cloud KMS error when using key %s: Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource '%s' (or it may not exist).", base, base)
	}
	return base + "/cryptoKeyVersions/" + version, nil
}

func kmsKeyProject(name string) (string, bool) {
	if !kmsKeyRE.MatchString(name) {
		return "", false
	}
	rest := name[len("projects/"):]
	return rest[:strings.Index(rest, "/")], true
}

// deleteDisk deletes a disk no instance uses, and with it its instant
// snapshots, which live and die with their disk.
// https://cloud.google.com/compute/docs/disks/instant-snapshots#limitations
func (s *Server) deleteDisk(c *call) (proto.Message, *apiError) {
	d, e := c.theDisk("compute.disks.delete")
	if e != nil {
		return nil, e
	}
	if len(d.pb.GetUsers()) > 0 {
		return nil, resourceInUse(c.diskPath(), d.pb.GetUsers()[0])
	}
	k := key(d.project, d.zone, d.pb.GetName())
	delete(s.st.disks, k)
	for isk, is := range s.st.instantSnapshots {
		if is.disk == k {
			delete(s.st.instantSnapshots, isk)
		}
	}
	return c.newOperation("delete", "zones/"+d.zone, d.pb.GetSelfLink(), d.pb.GetId(), 0), nil
}

// createSnapshotFromDisk is disks.createSnapshot: a snapshot of the disk in
// the disk's own project, watched through a zone operation.
// https://cloud.google.com/compute/docs/reference/rest/v1/disks/createSnapshot
func (s *Server) createSnapshotFromDisk(c *call) (proto.Message, *apiError) {
	d, e := c.theDisk("compute.disks.createSnapshot")
	if e != nil {
		return nil, e
	}
	var req computepb.Snapshot
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	snap, e := c.createSnapshot(&req, snapshotSource{disk: d})
	if e != nil {
		return nil, e
	}
	return c.newOperation("createSnapshot", "zones/"+d.zone, d.pb.GetSelfLink(), d.pb.GetId(), snap.readyAt.Sub(c.now)), nil
}

// addResourcePolicies attaches resource policies to a disk. A disk belongs
// to at most one consistency group, a group holds at most 128 disks, all in
// one zone.
// https://cloud.google.com/compute/docs/reference/rest/v1/disks/addResourcePolicies
// https://cloud.google.com/compute/docs/disks/manage-consistency-groups#limitations
func (s *Server) addResourcePolicies(c *call) (proto.Message, *apiError) {
	d, e := c.theDisk("compute.disks.addResourcePolicies")
	if e != nil {
		return nil, e
	}
	var req computepb.DisksAddResourcePoliciesRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if len(req.GetResourcePolicies()) == 0 {
		return nil, required("resourcePolicies")
	}
	for _, pr := range req.GetResourcePolicies() {
		pol, e := c.resourcePolicy(pr, zoneRegion(d.zone))
		if e != nil {
			return nil, e
		}
		url := pol.pb.GetSelfLink()
		if slices.Contains(d.pb.GetResourcePolicies(), url) {
			continue
		}
		if pol.pb.GetDiskConsistencyGroupPolicy() != nil {
			for _, other := range d.pb.GetResourcePolicies() {
				if op := s.policyByURL(other); op != nil && op.pb.GetDiskConsistencyGroupPolicy() != nil {
					return nil, newError(http.StatusBadRequest, "invalid", "Disk %s already belongs to consistency group %s; a disk can be in one consistency group only.", c.diskPath(), other)
				}
			}
			members := s.groupDisks(url)
			if len(members) >= maxConsistencyGroupDisks {
				return nil, newError(http.StatusBadRequest, "invalid", "Consistency group %s already holds %d disks, the most it may.", url, maxConsistencyGroupDisks)
			}
			if len(members) > 0 && members[0].zone != d.zone {
				return nil, newError(http.StatusBadRequest, "invalid", "The disks of consistency group %s are in zone %s; disk %s is in %s.", url, members[0].zone, c.diskPath(), d.zone)
			}
		}
		d.pb.ResourcePolicies = append(d.pb.ResourcePolicies, url)
	}
	return c.newOperation("addResourcePolicies", "zones/"+d.zone, d.pb.GetSelfLink(), d.pb.GetId(), 0), nil
}

func (s *Server) removeResourcePolicies(c *call) (proto.Message, *apiError) {
	d, e := c.theDisk("compute.disks.removeResourcePolicies")
	if e != nil {
		return nil, e
	}
	var req computepb.DisksRemoveResourcePoliciesRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	for _, pr := range req.GetResourcePolicies() {
		r, ok := parseRef(pr, "resourcePolicies", c.proj.id, "")
		if !ok {
			return nil, invalidField("resourcePolicies", pr, "The URL is malformed.")
		}
		url := policyURL(r.project, lastSegment(r.scope), r.name)
		i := slices.Index(d.pb.GetResourcePolicies(), url)
		if i < 0 {
			return nil, newError(http.StatusBadRequest, "invalid", "Resource policy %s is not attached to disk %s.", url, c.diskPath())
		}
		d.pb.ResourcePolicies = slices.Delete(d.pb.ResourcePolicies, i, i+1)
	}
	return c.newOperation("removeResourcePolicies", "zones/"+d.zone, d.pb.GetSelfLink(), d.pb.GetId(), 0), nil
}

// groupDisks are the disks attached to a consistency group policy, by name.
func (s *Server) groupDisks(policyURL string) []*diskRes {
	var out []*diskRes
	for _, d := range s.st.disks {
		if slices.Contains(d.pb.GetResourcePolicies(), policyURL) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *diskRes) int { return strings.Compare(a.pb.GetName(), b.pb.GetName()) })
	return out
}
