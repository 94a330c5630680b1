package azuresim

import (
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

// Disks a client creates: from a disk restore point (createOption Restore,
// "Create a new disk by copying from a backup recovery point"), in any
// subscription of the restore point's tenant and in its region; and disk
// deletion.
// https://learn.microsoft.com/rest/api/compute/disks/create-or-update
// https://learn.microsoft.com/azure/virtual-machines/create-restore-points
// https://learn.microsoft.com/rest/api/compute/disks/delete

const actionDRPBeginGetAccess = "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/beginGetAccess/action"

func (s *Server) putDisk(c *call) {
	var in armcompute.Disk
	if e := c.decode(&in); e != nil {
		c.fail(e)
		return
	}
	id := c.targetID("Microsoft.Compute", "disks")
	src, e := diskSourceOf(&in)
	if e != nil {
		c.fail(e)
		return
	}
	s.mu.Lock()
	if e := s.groupMissing(c); e != nil {
		s.mu.Unlock()
		c.fail(e)
		return
	}
	if existing := s.st.disks[key(id)]; existing != nil {
		// A PUT of an existing disk updates its tags and answers with it, so
		// that a retried create is safe; its source cannot change.
		// https://learn.microsoft.com/rest/api/compute/disks/create-or-update
		if existing.createOption != string(armcompute.DiskCreateOptionRestore) || key(existing.sourceID) != key(src) {
			s.mu.Unlock()
			c.fail(conflict("PropertyChangeNotAllowed", "Changing property 'creationData' is not allowed for disk '%s'.", existing.name))
			return
		}
		existing.tags = tagsOf(in.Tags)
		out := s.renderDisk(existing, c.now)
		s.mu.Unlock()
		c.reply(http.StatusOK, out)
		return
	}
	d, e := s.newRestoredDisk(c, id, *in.Location, src, &in)
	if e != nil {
		s.mu.Unlock()
		c.fail(e)
		return
	}
	d.failed = c.faults.failOperation // the operation fails as the disk does
	s.st.disks[key(id)] = d
	s.mu.Unlock()
	c.startOperation(&operation{subscription: d.subscription, location: d.location, provider: "DiskOperations", method: http.MethodPut,
		resourceID: d.id, output: "resource", ends: d.completes}, http.StatusAccepted, nil)
}

// diskSourceOf checks the request's shape: a location, and creationData
// Restore from a source resource.
func diskSourceOf(in *armcompute.Disk) (string, *armError) {
	if in.Location == nil || *in.Location == "" {
		return "", badRequest("LocationRequired", "The location property is required for this definition.")
	}
	p := in.Properties
	if p == nil || p.CreationData == nil || p.CreationData.CreateOption == nil {
		return "", badRequest("InvalidParameter", "Required parameter 'creationData.createOption' is missing (null).")
	}
	if opt := *p.CreationData.CreateOption; opt != armcompute.DiskCreateOptionRestore {
		return "", badRequest("InvalidParameter", "createOption '%s' is not simulated: the simulator makes disks with Restore from a disk restore point.", opt)
	}
	if p.CreationData.SourceResourceID == nil || *p.CreationData.SourceResourceID == "" {
		return "", badRequest("InvalidParameter", "Required parameter 'creationData.sourceResourceId' is missing (null).")
	}
	return *p.CreationData.SourceResourceID, nil
}

// newRestoredDisk applies the rules of a disk made from a disk restore
// point. Callers hold s.mu.
func (s *Server) newRestoredDisk(c *call, id, location, srcID string, in *armcompute.Disk) (*disk, *armError) {
	drp := s.st.drps[key(srcID)]
	if drp == nil {
		return nil, newError(http.StatusNotFound, "NotFound", "Resource %s is not found: a disk made with Restore names a disk restore point.", srcID)
	}
	rp := s.st.rps[key(drp.restorePoint)]
	rpc := s.st.rpcs[key(rp.collection)]
	target := parseResourceID(id)
	// As for a copied snapshot: the token's tenant must reach the source
	// subscription, and ARM checks the caller's right to read the source.
	// https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#restrictions
	if srcSub := s.st.subscriptions[key(rpc.subscription)]; srcSub == nil || srcSub.tenantID != c.token.tenantID {
		return nil, newError(http.StatusForbidden, "LinkedAuthorizationFailed",
			"The client '%s' with object id '%s' has permission to perform action 'Microsoft.Compute/disks/write' on scope '%s'; however, the current tenant '%s' is not authorized to access linked subscription '%s'.",
			c.principal.clientID, c.principal.objectID, id, c.token.tenantID, rpc.subscription)
	}
	if !s.allowed(c.principal.objectID, actionDRPBeginGetAccess, drp.id) {
		return nil, linkedAuthorizationFailed(c.principal, "Microsoft.Compute/disks/write", id, []string{actionDRPBeginGetAccess}, drp.id)
	}
	// A disk restore point is restored within its region.
	// https://learn.microsoft.com/azure/virtual-machines/create-restore-points
	if !sameRegion(rpc.location, location) {
		return nil, badRequest("BadRequest", "The disk restore point %s is in region '%s'; a disk restored from it must be in the same region.", drp.id, rpc.location)
	}
	if state := rp.provisioningState(c.now); state != "Succeeded" {
		return nil, conflict("OperationNotAllowed", "The restore point %s is not ready (provisioningState %s): wait until it has been created.", rp.id, state)
	}
	d := &disk{resourceBase: resourceBase{id: id, subscription: strings.ToLower(target.subscription), resourceGroup: target.resourceGroup,
		name: target.name, location: location, tags: tagsOf(in.Tags)},
		uniqueID: s.ids.newGUID("disk-unique"), sizeGiB: drp.sizeGiB, sku: string(armcompute.DiskStorageAccountTypesStandardLRS), osType: drp.osType,
		content: drp.content, dataAccessAuthMode: drp.dataAccessAuthMode, networkAccessPolicy: drp.networkAccessPolicy, created: c.now,
		createOption: string(armcompute.DiskCreateOptionRestore), sourceID: drp.id, completes: c.now.Add(s.copyDuration(drp.content.dataBytes()))}
	if in.SKU != nil && in.SKU.Name != nil {
		d.sku = string(*in.SKU.Name)
	}
	if p := in.Properties; p.DiskSizeGB != nil && *p.DiskSizeGB > d.sizeGiB {
		d.sizeGiB = *p.DiskSizeGB
	}
	if p := in.Properties; p.NetworkAccessPolicy != nil {
		d.networkAccessPolicy = string(*p.NetworkAccessPolicy)
	}
	if p := in.Properties; p.Encryption != nil && p.Encryption.DiskEncryptionSetID != nil && *p.Encryption.DiskEncryptionSetID != "" {
		des, e := s.encryptionSetFor(c, *p.Encryption.DiskEncryptionSetID, "Microsoft.Compute/disks/write", id, d.subscription, location)
		if e != nil {
			return nil, e
		}
		d.desID = des
	}
	return d, nil
}

// encryptionSetFor checks a disk encryption set a new disk or snapshot
// names: it exists, in the resource's subscription and region, and the
// caller may read it (a linked check). Callers hold s.mu.
// https://learn.microsoft.com/azure/virtual-machines/disk-encryption#restrictions
func (s *Server) encryptionSetFor(c *call, desID, action, id, subscription, location string) (string, *armError) {
	des := s.st.desets[key(desID)]
	if des == nil {
		return "", newError(http.StatusNotFound, "NotFound", "Disk encryption set %s is not found.", desID)
	}
	if !sameRegion(des.location, location) || !strings.EqualFold(des.subscription, subscription) {
		return "", badRequest("InvalidParameter", "The disk encryption set %s must be in the resource's subscription and region '%s'.", desID, location)
	}
	if !s.allowed(c.principal.objectID, "Microsoft.Compute/diskEncryptionSets/read", des.id) {
		return "", linkedAuthorizationFailed(c.principal, action, id, []string{"Microsoft.Compute/diskEncryptionSets/read"}, des.id)
	}
	return des.id, nil
}

// deleteDisk is a long-running delete; a disk that does not exist answers
// 204. An attached disk, or one with an active SAS, cannot be deleted.
// https://learn.microsoft.com/rest/api/compute/disks/delete
func (s *Server) deleteDisk(c *call) {
	id := c.targetID("Microsoft.Compute", "disks")
	s.mu.Lock()
	d := s.st.disks[key(id)]
	if d == nil {
		s.mu.Unlock()
		c.reply(http.StatusNoContent, nil)
		return
	}
	if d.managedBy != "" {
		s.mu.Unlock()
		c.fail(conflict("OperationNotAllowed", "Disk %s is attached to VM %s: detach it first.", d.name, d.managedBy))
		return
	}
	for _, g := range s.st.grants {
		if key(g.resourceID) == key(id) && g.active(c.now) {
			s.mu.Unlock()
			c.fail(conflict("OperationNotAllowed", "Disk %s has an active SAS and cannot be deleted: end access (endGetAccess) first.", d.name))
			return
		}
	}
	if !c.faults.failOperation {
		delete(s.st.disks, key(id))
	}
	s.mu.Unlock()
	c.startOperation(&operation{subscription: d.subscription, location: d.location, provider: "DiskOperations", method: http.MethodDelete,
		resourceID: id, output: "none", ends: c.now}, http.StatusAccepted, nil)
}
