package azuresim

import (
	"maps"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

// Snapshots: created by copying a disk or another snapshot (Copy, in the
// same region, into any subscription of the same tenant), or across regions
// (CopyStart, incremental to incremental); read, listed, tagged, deleted.
// https://learn.microsoft.com/rest/api/compute/snapshots/create-or-update

func sameRegion(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }
	return norm(a) == norm(b)
}

// ultraOrV2 are the disk types whose snapshots are only incremental and
// fill in the background.
// https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#restrictions
func ultraOrV2(sku string) bool {
	return strings.EqualFold(sku, "PremiumV2_LRS") || strings.EqualFold(sku, "UltraSSD_LRS")
}

// snapshotSource is what a snapshot may be made from. Callers hold s.mu.
type snapshotSource struct {
	id, uid, family, subscription, location, kind  string
	content                                        *content
	sizeGiB                                        int32
	sku, osType, dataAccessAuthMode, networkAccess string
	incremental, ready                             bool
}

func (s *Server) findSource(id string, now time.Time) *snapshotSource {
	k := key(id)
	if d := s.st.disks[k]; d != nil {
		return &snapshotSource{id: d.id, uid: d.uniqueID, family: key(d.id), subscription: d.subscription, location: d.location, kind: "disks",
			content: d.content, sizeGiB: d.sizeGiB, sku: d.sku, osType: d.osType, dataAccessAuthMode: d.dataAccessAuthMode, networkAccess: d.networkAccessPolicy,
			ready: d.provisioningState(now) == "Succeeded"}
	}
	if sn := s.st.snapshots[k]; sn != nil {
		return &snapshotSource{id: sn.id, uid: sn.uniqueID, family: sn.family, subscription: sn.subscription, location: sn.location, kind: "snapshots",
			content: sn.content, sizeGiB: sn.sizeGiB, sku: sn.sku, osType: sn.osType, dataAccessAuthMode: sn.dataAccessAuthMode,
			networkAccess: sn.networkAccessPolicy, incremental: sn.incremental}
	}
	return nil
}

func (s *Server) putSnapshot(c *call) {
	var in armcompute.Snapshot
	if e := c.decode(&in); e != nil {
		c.fail(e)
		return
	}
	id := c.targetID("Microsoft.Compute", "snapshots")
	if in.Location == nil || *in.Location == "" {
		c.fail(badRequest("LocationRequired", "The location property is required for this definition."))
		return
	}
	p := in.Properties
	if p == nil || p.CreationData == nil || p.CreationData.CreateOption == nil {
		c.fail(badRequest("InvalidParameter", "Required parameter 'creationData.createOption' is missing (null)."))
		return
	}
	opt := *p.CreationData.CreateOption
	if opt != armcompute.DiskCreateOptionCopy && opt != armcompute.DiskCreateOptionCopyStart {
		c.fail(badRequest("InvalidParameter", "createOption '%s' is not simulated: the simulator makes snapshots with Copy and CopyStart.", opt))
		return
	}
	if p.CreationData.SourceResourceID == nil || *p.CreationData.SourceResourceID == "" {
		c.fail(badRequest("InvalidParameter", "Required parameter 'creationData.sourceResourceId' is missing (null)."))
		return
	}
	srcID := *p.CreationData.SourceResourceID
	incremental := p.Incremental != nil && *p.Incremental
	tags := map[string]string{}
	for k, v := range in.Tags {
		if v != nil {
			tags[k] = *v
		}
	}

	s.mu.Lock()
	if e := s.groupMissing(c); e != nil {
		s.mu.Unlock()
		c.fail(e)
		return
	}
	if existing := s.st.snapshots[key(id)]; existing != nil {
		// A PUT of an existing snapshot updates what may change (tags) and
		// answers with the resource, so that a retried create is safe.
		if key(existing.sourceID) != key(srcID) || existing.incremental != incremental {
			s.mu.Unlock()
			c.fail(conflict("PropertyChangeNotAllowed", "Changing property 'creationData' or 'incremental' is not allowed for snapshot '%s'.", existing.name))
			return
		}
		existing.tags = tags
		out := s.renderSnapshot(existing, c.now)
		s.mu.Unlock()
		c.reply(http.StatusOK, out)
		return
	}
	src := s.findSource(srcID, c.now)
	sn, e := s.newSnapshot(c, id, *in.Location, opt, incremental, src, srcID, p, in.SKU, tags)
	if e != nil {
		s.mu.Unlock()
		c.fail(e)
		return
	}
	if !c.faults.failOperation && s.faults.failsCopyOf(c.route.op, srcID) {
		c.faults.failOperation = true // the operation fails as the snapshot does
	}
	if c.faults.failOperation {
		sn.failed = true
	}
	s.st.seq++
	sn.seq = s.st.seq
	s.st.snapshots[key(id)] = sn
	s.mu.Unlock()
	ends := sn.completes
	if sn.copyStart || sn.slowCopy {
		ends = c.now // the resource is usable while its data fills in
	}
	c.startOperation(&operation{subscription: sn.subscription, location: sn.location, provider: "DiskOperations", method: http.MethodPut,
		resourceID: sn.id, output: "resource", ends: ends}, http.StatusAccepted, nil)
}

// newSnapshot applies the creation rules. Callers hold s.mu.
func (s *Server) newSnapshot(c *call, id, location string, opt armcompute.DiskCreateOption, incremental bool, src *snapshotSource,
	srcID string, p *armcompute.SnapshotProperties, sku *armcompute.SnapshotSKU, tags map[string]string) (*snapshot, *armError) {
	target := parseResourceID(id)
	if src == nil {
		return nil, newError(http.StatusNotFound, "NotFound", "Resource %s is not found.", srcID)
	}
	// Cross-tenant copies fail: the token's tenant cannot reach the
	// source subscription.
	// https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#restrictions
	if srcSub := s.st.subscriptions[key(src.subscription)]; srcSub == nil || srcSub.tenantID != c.token.tenantID {
		return nil, newError(http.StatusForbidden, "LinkedAuthorizationFailed",
			"The client '%s' with object id '%s' has permission to perform action 'Microsoft.Compute/snapshots/write' on scope '%s'; however, the current tenant '%s' is not authorized to access linked subscription '%s'.",
			c.principal.clientID, c.principal.objectID, id, c.token.tenantID, src.subscription)
	}
	// ARM checks the caller's right to read the source's data.
	linked := "Microsoft.Compute/" + src.kind + "/beginGetAccess/action"
	if !s.allowed(c.principal.objectID, linked, src.id) {
		return nil, linkedAuthorizationFailed(c.principal, "Microsoft.Compute/snapshots/write", id, []string{linked}, src.id)
	}
	crossSub := !strings.EqualFold(src.subscription, target.subscription)
	switch {
	case opt == armcompute.DiskCreateOptionCopyStart:
		// https://learn.microsoft.com/azure/virtual-machines/disks-copy-incremental-snapshot-across-regions
		if src.kind != "snapshots" || !src.incremental || !incremental {
			return nil, badRequest("BadRequest", "CopyStart copies an incremental snapshot to an incremental snapshot: set 'incremental' to true and name an incremental snapshot as the source.")
		}
		if sameRegion(src.location, location) {
			return nil, badRequest("BadRequest", "CopyStart copies a snapshot to another region; within region '%s' use Copy.", location)
		}
		if !apiAtLeast(c.apiVersion, "2020-12-01") {
			return nil, badRequest("InvalidParameter", "createOption CopyStart needs api-version 2020-12-01 or later.")
		}
	case !sameRegion(src.location, location):
		return nil, badRequest("BadRequest", "The source %s is in region '%s'; a snapshot made with Copy must be in the same region (to copy across regions, copy an incremental snapshot with CopyStart).", src.id, src.location)
	}
	// "You can't create an incremental snapshot outside of that disk's
	// subscription." [the documentation names no error code]
	// https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#restrictions
	if incremental && crossSub {
		return nil, badRequest("BadRequest", "Incremental snapshots can't be created outside of the source's subscription '%s': create a full snapshot ('incremental': false) to copy into subscription '%s'.", src.subscription, target.subscription)
	}
	if ultraOrV2(src.sku) && !incremental {
		return nil, badRequest("BadRequest", "Disks of type %s support incremental snapshots only.", src.sku)
	}
	// A disk still being created (from a restore point) has no data to copy yet.
	// https://learn.microsoft.com/rest/api/compute/disks/create-or-update
	if src.kind == "disks" && !src.ready {
		return nil, conflict("OperationNotAllowed", "The source disk %s is not ready: wait until its provisioningState is Succeeded.", src.id)
	}
	if src.kind == "snapshots" {
		sn := s.st.snapshots[key(src.id)]
		if sn.provisioningState(c.now) != "Succeeded" || ((sn.copyStart || sn.slowCopy) && sn.completionPercent(c.now) < 100) {
			return nil, conflict("OperationNotAllowed", "The source snapshot %s is not ready: wait until it has been created and its completionPercent is 100.", src.id)
		}
	}
	sn := &snapshot{resourceBase: resourceBase{id: id, subscription: strings.ToLower(target.subscription), resourceGroup: target.resourceGroup,
		name: target.name, location: location, tags: maps.Clone(tags)},
		uniqueID: s.ids.newGUID("snapshot-unique"), sourceID: src.id, sourceUID: src.uid, family: src.family, content: src.content,
		sizeGiB: src.sizeGiB, incremental: incremental, copyStart: opt == armcompute.DiskCreateOptionCopyStart, osType: src.osType,
		dataAccessAuthMode: src.dataAccessAuthMode, networkAccessPolicy: src.networkAccess, created: c.now, sku: "Standard_LRS"}
	if sku != nil && sku.Name != nil && !incremental {
		sn.sku = string(*sku.Name)
	}
	if p.DataAccessAuthMode != nil {
		sn.dataAccessAuthMode = string(*p.DataAccessAuthMode)
		if sn.dataAccessAuthMode == "None" {
			sn.dataAccessAuthMode = ""
		}
	}
	if p.NetworkAccessPolicy != nil {
		sn.networkAccessPolicy = string(*p.NetworkAccessPolicy)
	}
	if p.Encryption != nil && p.Encryption.DiskEncryptionSetID != nil && *p.Encryption.DiskEncryptionSetID != "" {
		des, e := s.encryptionSetFor(c, *p.Encryption.DiskEncryptionSetID, "Microsoft.Compute/snapshots/write", id, sn.subscription, location)
		if e != nil {
			return nil, e
		}
		sn.desID = des
	} else if src.kind == "disks" && !crossSub {
		sn.desID = s.st.disks[key(src.id)].desID
	}
	// Full copies and cross-region copies take time; an incremental
	// snapshot in the disk's own subscription is usable at once, except on
	// Ultra and Premium SSD v2, whose data fills in the background.
	// https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#check-snapshot-status
	switch {
	case sn.copyStart:
		sn.completes = c.now.Add(s.copyDuration(src.content.dataBytes()))
	case incremental && ultraOrV2(src.sku):
		sn.slowCopy = true
		sn.completes = c.now.Add(s.copyDuration(src.content.dataBytes()))
	case incremental:
		sn.completes = c.now
	default:
		sn.completes = c.now.Add(s.copyDuration(src.content.dataBytes()))
	}
	return sn, nil
}

// https://learn.microsoft.com/rest/api/compute/snapshots/update
func (s *Server) patchSnapshot(c *call) {
	var in armcompute.SnapshotUpdate
	if e := c.decode(&in); e != nil {
		c.fail(e)
		return
	}
	id := c.targetID("Microsoft.Compute", "snapshots")
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := s.st.snapshots[key(id)]
	if sn == nil {
		c.fail(notFound(id))
		return
	}
	if in.Tags != nil {
		sn.tags = map[string]string{}
		for k, v := range in.Tags {
			if v != nil {
				sn.tags[k] = *v
			}
		}
	}
	c.reply(http.StatusOK, s.renderSnapshot(sn, c.now))
}

// https://learn.microsoft.com/rest/api/compute/snapshots/get
func (s *Server) getSnapshot(c *call) {
	id := c.targetID("Microsoft.Compute", "snapshots")
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.groupMissing(c); e != nil {
		c.fail(e)
		return
	}
	sn := s.st.snapshots[key(id)]
	if sn == nil {
		c.fail(notFound(id))
		return
	}
	c.reply(http.StatusOK, s.renderSnapshot(sn, c.now))
}

// https://learn.microsoft.com/rest/api/compute/snapshots/list
func (s *Server) listSnapshots(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.params["resourceGroupName"] != "" {
		if e := s.groupMissing(c); e != nil {
			c.fail(e)
			return
		}
	}
	var out []any
	for _, sn := range s.sortedSnapshots() {
		if withinScope(sn.id, c.scope) {
			out = append(out, s.renderSnapshot(sn, c.now))
		}
	}
	c.reply(http.StatusOK, map[string]any{"value": orEmpty(out)})
}

func (s *Server) sortedSnapshots() []*snapshot {
	out := make([]*snapshot, 0, len(s.st.snapshots))
	for _, sn := range s.st.snapshots {
		out = append(out, sn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// deleteSnapshot is a long-running delete; a snapshot that does not exist
// answers 204. A snapshot with an active SAS cannot be deleted.
// https://learn.microsoft.com/rest/api/compute/snapshots/delete
func (s *Server) deleteSnapshot(c *call) {
	id := c.targetID("Microsoft.Compute", "snapshots")
	s.mu.Lock()
	sn := s.st.snapshots[key(id)]
	if sn == nil {
		s.mu.Unlock()
		c.reply(http.StatusNoContent, nil)
		return
	}
	for _, g := range s.st.grants {
		if key(g.resourceID) == key(id) && g.active(c.now) {
			s.mu.Unlock()
			c.fail(conflict("OperationNotAllowed", "Snapshot %s has an active SAS and cannot be deleted: end access (endGetAccess) first.", sn.name))
			return
		}
	}
	if !c.faults.failOperation {
		delete(s.st.snapshots, key(id))
	}
	s.mu.Unlock()
	c.startOperation(&operation{subscription: sn.subscription, location: sn.location, provider: "DiskOperations", method: http.MethodDelete,
		resourceID: id, output: "none", ends: c.now}, http.StatusAccepted, nil)
}
