package azuresim

import (
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

// Restore point collections, VM restore points (crash-consistent across a
// VM's disks) and the disk restore points they hold.
// https://learn.microsoft.com/azure/virtual-machines/virtual-machines-create-restore-points
// https://learn.microsoft.com/rest/api/compute/restore-points/create

// crashConsistentInterval: at most one crash-consistent restore point per
// VM per hour [the documentation names no error code].
// https://learn.microsoft.com/azure/virtual-machines/concepts-restore-points#limitations
const crashConsistentInterval = time.Hour

func (s *Server) putRPC(c *call) {
	var in armcompute.RestorePointCollection
	if e := c.decode(&in); e != nil {
		c.fail(e)
		return
	}
	id := c.targetID("Microsoft.Compute", "restorePointCollections")
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.groupMissing(c); e != nil {
		c.fail(e)
		return
	}
	if existing := s.st.rpcs[key(id)]; existing != nil {
		existing.tags = tagsOf(in.Tags)
		c.reply(http.StatusOK, s.renderRPC(existing, c.now, false))
		return
	}
	if in.Location == nil || in.Properties == nil || in.Properties.Source == nil || in.Properties.Source.ID == nil {
		c.fail(badRequest("InvalidParameter", "A restore point collection needs a location and properties.source.id (the virtual machine)."))
		return
	}
	vm := s.st.vms[key(*in.Properties.Source.ID)]
	if vm == nil {
		c.fail(newError(http.StatusNotFound, "NotFound", "Virtual machine %s is not found.", *in.Properties.Source.ID))
		return
	}
	if !sameRegion(vm.location, *in.Location) || !strings.EqualFold(vm.subscription, c.params["subscriptionId"]) {
		c.fail(badRequest("BadRequest", "A restore point collection must be in the virtual machine's subscription and region '%s'.", vm.location))
		return
	}
	r := parseResourceID(id)
	rpc := &restorePointCollection{resourceBase: resourceBase{id: id, subscription: strings.ToLower(r.subscription), resourceGroup: r.resourceGroup,
		name: r.name, location: *in.Location, tags: tagsOf(in.Tags)}, sourceVM: vm.id, created: c.now}
	s.st.rpcs[key(id)] = rpc
	c.reply(http.StatusCreated, s.renderRPC(rpc, c.now, false))
}

func tagsOf(m map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func (s *Server) renderRPC(rpc *restorePointCollection, now time.Time, withPoints bool) *armcompute.RestorePointCollection {
	out := &armcompute.RestorePointCollection{ID: to.Ptr(rpc.id), Name: to.Ptr(rpc.name), Type: to.Ptr("Microsoft.Compute/restorePointCollections"),
		Location: to.Ptr(rpc.location), Tags: toPtrMap(rpc.tags), Properties: &armcompute.RestorePointCollectionProperties{
			Source:            &armcompute.RestorePointCollectionSourceProperties{ID: to.Ptr(rpc.sourceVM), Location: to.Ptr(rpc.location)},
			ProvisioningState: to.Ptr("Succeeded"), RestorePointCollectionID: to.Ptr(s.ids.guid("rpc-id/" + key(rpc.id)))}}
	if withPoints {
		for _, rp := range s.st.rps {
			if key(rp.collection) == key(rpc.id) {
				out.Properties.RestorePoints = append(out.Properties.RestorePoints, s.renderRestorePoint(rp, now, false))
			}
		}
	}
	return out
}

func (s *Server) getRPC(c *call) {
	id := c.targetID("Microsoft.Compute", "restorePointCollections")
	s.mu.Lock()
	defer s.mu.Unlock()
	rpc := s.st.rpcs[key(id)]
	if rpc == nil {
		c.fail(notFound(id))
		return
	}
	c.reply(http.StatusOK, s.renderRPC(rpc, c.now, strings.EqualFold(c.r.URL.Query().Get("$expand"), "restorePoints")))
}

func (s *Server) listRPCs(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []any
	for _, rpc := range s.st.rpcs {
		if withinScope(rpc.id, c.scope) {
			out = append(out, s.renderRPC(rpc, c.now, false))
		}
	}
	c.reply(http.StatusOK, map[string]any{"value": orEmpty(out)})
}

func (s *Server) deleteRPC(c *call) {
	id := c.targetID("Microsoft.Compute", "restorePointCollections")
	s.mu.Lock()
	rpc := s.st.rpcs[key(id)]
	if rpc == nil {
		s.mu.Unlock()
		c.reply(http.StatusNoContent, nil)
		return
	}
	for k, rp := range s.st.rps {
		if key(rp.collection) == key(id) {
			s.dropRestorePoint(k, rp)
		}
	}
	delete(s.st.rpcs, key(id))
	s.mu.Unlock()
	c.startOperation(&operation{subscription: rpc.subscription, location: rpc.location, provider: "operations", method: http.MethodDelete,
		resourceID: id, output: "none", ends: c.now}, http.StatusAccepted, nil)
}

// dropRestorePoint removes a restore point and its disk restore points.
// Callers hold s.mu.
func (s *Server) dropRestorePoint(k string, rp *restorePoint) {
	for _, d := range rp.diskPoints {
		delete(s.st.drps, key(d))
	}
	delete(s.st.rps, k)
}

// putRestorePoint creates a VM restore point: one disk restore point per
// disk not excluded, all at the same moment. The answer is 201 with the
// operation headers.
func (s *Server) putRestorePoint(c *call) {
	var in armcompute.RestorePoint
	if e := c.decode(&in); e != nil {
		c.fail(e)
		return
	}
	rpcID := c.targetID("Microsoft.Compute", "restorePointCollections")
	id := rpcID + "/restorePoints/" + c.params["rp"]
	mode := armcompute.ConsistencyModeTypesApplicationConsistent
	var excluded []string
	if in.Properties != nil {
		if in.Properties.ConsistencyMode != nil {
			mode = *in.Properties.ConsistencyMode
		}
		for _, x := range in.Properties.ExcludeDisks {
			if x != nil && x.ID != nil {
				excluded = append(excluded, key(*x.ID))
			}
		}
	}
	// https://learn.microsoft.com/azure/virtual-machines/concepts-restore-points#restore-point-consistency
	if mode == armcompute.ConsistencyModeTypesCrashConsistent && !apiAtLeast(c.apiVersion, "2021-07-01") {
		c.fail(badRequest("InvalidParameter", "consistencyMode CrashConsistent needs api-version 2021-07-01 or later."))
		return
	}
	s.mu.Lock()
	rpc := s.st.rpcs[key(rpcID)]
	if rpc == nil {
		s.mu.Unlock()
		c.fail(notFound(rpcID))
		return
	}
	if s.st.rps[key(id)] != nil {
		s.mu.Unlock()
		c.fail(conflict("OperationNotAllowed", "Restore point %s already exists; restore points cannot be updated.", c.params["rp"]))
		return
	}
	vm := s.st.vms[key(rpc.sourceVM)]
	if vm == nil {
		s.mu.Unlock()
		c.fail(newError(http.StatusNotFound, "NotFound", "The restore point collection's virtual machine %s is gone.", rpc.sourceVM))
		return
	}
	var disks []*disk
	for _, did := range append([]string{vm.osDisk}, dataDiskIDs(vm)...) {
		if d := s.st.disks[key(did)]; d != nil && !contains(excluded, key(did)) {
			// https://learn.microsoft.com/azure/virtual-machines/concepts-restore-points#limitations
			if ultraOrV2(d.sku) {
				s.mu.Unlock()
				c.fail(badRequest("OperationNotAllowed", "Restore points are not supported for disk %s of type %s (Ultra and Premium SSD v2): exclude it with excludeDisks.", d.name, d.sku))
				return
			}
			disks = append(disks, d)
		}
	}
	// A restore point whose creation fails is not counted against the
	// once-an-hour rule [the documentation does not say; the simulator
	// lets the retry the documentation advises go ahead].
	if mode == armcompute.ConsistencyModeTypesCrashConsistent && !c.faults.failOperation {
		if !vm.lastCrashConsistent.IsZero() && c.now.Sub(vm.lastCrashConsistent) < crashConsistentInterval {
			s.mu.Unlock()
			c.fail(conflict("OperationNotAllowed", "A crash-consistent restore point of %s was created at %s; at most one is allowed per hour.", vm.name, vm.lastCrashConsistent.UTC().Format(time.RFC3339)))
			return
		}
		vm.lastCrashConsistent = c.now
	}
	var bytes int64
	rp := &restorePoint{collection: rpc.id, id: id, name: c.params["rp"], consistencyMode: string(mode), sourceVM: vm.id, created: c.now,
		failed: c.faults.failOperation}
	for _, d := range disks {
		name := d.name + "_" + s.ids.newGUID("drp-name")[:8]
		drpID := id + "/diskRestorePoints/" + name
		s.st.drps[key(drpID)] = &diskRestorePoint{id: drpID, name: name, restorePoint: id, sourceDisk: d.id, sourceUID: d.uniqueID,
			family: key(d.id), content: d.content, sizeGiB: d.sizeGiB, sku: d.sku, osType: d.osType, desID: d.desID,
			dataAccessAuthMode: d.dataAccessAuthMode, networkAccessPolicy: d.networkAccessPolicy, created: c.now}
		rp.diskPoints = append(rp.diskPoints, drpID)
		bytes += d.content.dataBytes()
	}
	rp.completes = c.now.Add(s.copyDuration(bytes))
	s.st.rps[key(id)] = rp
	s.mu.Unlock()
	c.startOperation(&operation{subscription: rpc.subscription, location: rpc.location, provider: "operations", method: http.MethodPut,
		resourceID: id, output: "resource", ends: rp.completes}, http.StatusCreated, nil)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) renderRestorePoint(rp *restorePoint, now time.Time, withInstanceView bool) *armcompute.RestorePoint {
	state := rp.provisioningState(now)
	vm := s.st.vms[key(rp.sourceVM)]
	meta := &armcompute.RestorePointSourceMetadata{Location: to.Ptr(""), StorageProfile: &armcompute.RestorePointSourceVMStorageProfile{}}
	for i, drpID := range rp.diskPoints {
		d := s.st.drps[key(drpID)]
		ref := &armcompute.DiskRestorePointAttributes{ID: to.Ptr(d.id)}
		md := &armcompute.DiskRestorePointAttributes{ID: to.Ptr(d.id)}
		_ = md
		managed := &armcompute.ManagedDiskParameters{ID: to.Ptr(d.sourceDisk), StorageAccountType: to.Ptr(armcompute.StorageAccountTypes(d.sku))}
		if i == 0 && vm != nil && key(d.sourceDisk) == key(vm.osDisk) {
			meta.StorageProfile.OSDisk = &armcompute.RestorePointSourceVMOSDisk{Name: to.Ptr(parseResourceID(d.sourceDisk).name),
				DiskSizeGB: to.Ptr(d.sizeGiB), ManagedDisk: managed, DiskRestorePoint: ref, OSType: (*armcompute.OperatingSystemType)(osTypeOf(d.osType))}
			continue
		}
		lun := int32(0)
		if vm != nil {
			for _, dd := range vm.dataDisks {
				if key(dd.diskID) == key(d.sourceDisk) {
					lun = dd.lun
				}
			}
		}
		meta.StorageProfile.DataDisks = append(meta.StorageProfile.DataDisks, &armcompute.RestorePointSourceVMDataDisk{Lun: to.Ptr(lun),
			Name: to.Ptr(parseResourceID(d.sourceDisk).name), DiskSizeGB: to.Ptr(d.sizeGiB), ManagedDisk: managed, DiskRestorePoint: ref})
	}
	if vm != nil {
		meta.Location = to.Ptr(vm.location)
		meta.VMID = to.Ptr(vm.vmID)
		meta.HardwareProfile = &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(vm.vmSize))}
	}
	out := &armcompute.RestorePoint{ID: to.Ptr(rp.id), Name: to.Ptr(rp.name), Type: to.Ptr("Microsoft.Compute/restorePointCollections/restorePoints"),
		Properties: &armcompute.RestorePointProperties{ConsistencyMode: to.Ptr(armcompute.ConsistencyModeTypes(rp.consistencyMode)),
			ProvisioningState: to.Ptr(state), TimeCreated: to.Ptr(rp.created.UTC()), SourceMetadata: meta}}
	if withInstanceView {
		iv := &armcompute.RestorePointInstanceView{}
		for _, drpID := range rp.diskPoints {
			iv.DiskRestorePoints = append(iv.DiskRestorePoints, &armcompute.DiskRestorePointInstanceView{ID: to.Ptr(drpID)})
		}
		out.Properties.InstanceView = iv
	}
	return out
}

func (s *Server) restorePointID(c *call) string {
	return c.targetID("Microsoft.Compute", "restorePointCollections") + "/restorePoints/" + c.params["rp"]
}

func (s *Server) getRestorePoint(c *call) {
	id := s.restorePointID(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.st.rps[key(id)]
	if rp == nil {
		c.fail(notFound(id))
		return
	}
	c.reply(http.StatusOK, s.renderRestorePoint(rp, c.now, strings.EqualFold(c.r.URL.Query().Get("$expand"), "instanceView")))
}

func (s *Server) deleteRestorePoint(c *call) {
	id := s.restorePointID(c)
	s.mu.Lock()
	rp := s.st.rps[key(id)]
	if rp == nil {
		s.mu.Unlock()
		c.reply(http.StatusNoContent, nil)
		return
	}
	s.dropRestorePoint(key(id), rp)
	rpc := s.st.rpcs[key(rp.collection)]
	s.mu.Unlock()
	c.startOperation(&operation{subscription: rpc.subscription, location: rpc.location, provider: "operations", method: http.MethodDelete,
		resourceID: id, output: "none", ends: c.now}, http.StatusAccepted, nil)
}

func (s *Server) renderDRP(d *diskRestorePoint, now time.Time) *armcompute.DiskRestorePoint {
	return &armcompute.DiskRestorePoint{ID: to.Ptr(d.id), Name: to.Ptr(d.name), Type: to.Ptr("Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints"),
		Properties: &armcompute.DiskRestorePointProperties{SourceResourceID: to.Ptr(d.sourceDisk), SourceUniqueID: to.Ptr(d.sourceUID),
			FamilyID: to.Ptr(s.ids.guid("family/" + d.family)), TimeCreated: to.Ptr(d.created.UTC()), OSType: osTypeOf(d.osType),
			Encryption: encryptionOf(d.desID), NetworkAccessPolicy: to.Ptr(armcompute.NetworkAccessPolicy(d.networkAccessPolicy)),
			CompletionPercent: to.Ptr(float32(100))}}
}

func (s *Server) getDiskRestorePoint(c *call) {
	id := s.restorePointID(c) + "/diskRestorePoints/" + c.params["drp"]
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.drps[key(id)]
	if d == nil {
		c.fail(notFound(id))
		return
	}
	c.reply(http.StatusOK, s.renderDRP(d, c.now))
}

func (s *Server) listDiskRestorePoints(c *call) {
	id := s.restorePointID(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.st.rps[key(id)]
	if rp == nil {
		c.fail(notFound(id))
		return
	}
	var out []any
	for _, drpID := range rp.diskPoints {
		out = append(out, s.renderDRP(s.st.drps[key(drpID)], c.now))
	}
	c.reply(http.StatusOK, map[string]any{"value": orEmpty(out)})
}

var _ = maps.Clone[map[string]string]
