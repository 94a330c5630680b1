package azuresim

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

// Resources are written with the SDK's own models, generated from the same
// REST specification the service implements, so that field names and
// shapes are the service's.

const timeHour = time.Hour

func encryptionOf(desID string) *armcompute.Encryption {
	if desID == "" {
		return &armcompute.Encryption{Type: to.Ptr(armcompute.EncryptionTypeEncryptionAtRestWithPlatformKey)}
	}
	return &armcompute.Encryption{Type: to.Ptr(armcompute.EncryptionTypeEncryptionAtRestWithCustomerKey), DiskEncryptionSetID: to.Ptr(desID)}
}

func authMode(v string) *armcompute.DataAccessAuthMode {
	if v == "" {
		v = "None"
	}
	return to.Ptr(armcompute.DataAccessAuthMode(v))
}

func osTypeOf(v string) *armcompute.OperatingSystemTypes {
	if v == "" {
		return nil
	}
	return to.Ptr(armcompute.OperatingSystemTypes(v))
}

func zonesOf(z []string) []*string {
	var out []*string
	for _, v := range z {
		out = append(out, to.Ptr(v))
	}
	return out
}

// renderDisk writes a disk. Callers hold s.mu.
func (s *Server) renderDisk(d *disk, now time.Time) *armcompute.Disk {
	state := armcompute.DiskStateUnattached
	if d.managedBy != "" {
		state = armcompute.DiskStateAttached
	}
	for _, g := range s.st.grants {
		if key(g.resourceID) == key(d.id) && g.active(now) {
			state = armcompute.DiskStateActiveSAS
		}
	}
	out := &armcompute.Disk{ID: to.Ptr(d.id), Name: to.Ptr(d.name), Type: to.Ptr("Microsoft.Compute/disks"), Location: to.Ptr(d.location),
		Tags: toPtrMap(d.tags), Zones: zonesOf(d.zones), SKU: &armcompute.DiskSKU{Name: to.Ptr(armcompute.DiskStorageAccountTypes(d.sku)), Tier: to.Ptr(skuTier(d.sku))},
		Properties: &armcompute.DiskProperties{
			CreationData: d.creationData(),
			DiskSizeGB:   to.Ptr(d.sizeGiB), DiskSizeBytes: to.Ptr(d.content.size), Encryption: encryptionOf(d.desID),
			DataAccessAuthMode: authMode(d.dataAccessAuthMode), NetworkAccessPolicy: to.Ptr(armcompute.NetworkAccessPolicy(d.networkAccessPolicy)),
			OSType: osTypeOf(d.osType), ProvisioningState: to.Ptr(d.provisioningState(now)), DiskState: to.Ptr(state),
			TimeCreated: to.Ptr(d.created.UTC()), UniqueID: to.Ptr(d.uniqueID), PublicNetworkAccess: to.Ptr(armcompute.PublicNetworkAccessEnabled),
		}}
	if d.managedBy != "" {
		out.ManagedBy = to.Ptr(d.managedBy)
	}
	return out
}

// creationData is how the disk was made: Empty for a scenario disk.
func (d *disk) creationData() *armcompute.CreationData {
	if d.createOption == "" {
		return &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionEmpty)}
	}
	return &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOption(d.createOption)), SourceResourceID: to.Ptr(d.sourceID)}
}

func skuTier(sku string) string {
	if strings.HasPrefix(sku, "Premium") {
		return "Premium"
	}
	return "Standard"
}

// snapshotSKU is a snapshot's storage: incremental snapshots are on
// standard HDD (Standard_ZRS where available), full ones on the type the
// request asked for, Standard_LRS by default.
// https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots
func (s *Server) renderSnapshot(sn *snapshot, now time.Time) *armcompute.Snapshot {
	state := armcompute.DiskStateUnattached
	for _, g := range s.st.grants {
		if key(g.resourceID) == key(sn.id) && g.active(now) {
			state = armcompute.DiskStateActiveSAS
		}
	}
	createOption := armcompute.DiskCreateOptionCopy
	if sn.copyStart {
		createOption = armcompute.DiskCreateOptionCopyStart
	}
	p := &armcompute.SnapshotProperties{
		CreationData: &armcompute.CreationData{CreateOption: to.Ptr(createOption), SourceResourceID: to.Ptr(sn.sourceID), SourceUniqueID: to.Ptr(sn.sourceUID)},
		DiskSizeGB:   to.Ptr(sn.sizeGiB), DiskSizeBytes: to.Ptr(sn.content.size), Encryption: encryptionOf(sn.desID),
		Incremental: to.Ptr(sn.incremental), DataAccessAuthMode: authMode(sn.dataAccessAuthMode),
		NetworkAccessPolicy: to.Ptr(armcompute.NetworkAccessPolicy(sn.networkAccessPolicy)), OSType: osTypeOf(sn.osType),
		ProvisioningState: to.Ptr(sn.provisioningState(now)), TimeCreated: to.Ptr(sn.created.UTC()), UniqueID: to.Ptr(sn.uniqueID),
		DiskState: to.Ptr(state), PublicNetworkAccess: to.Ptr(armcompute.PublicNetworkAccessEnabled),
	}
	if sn.incremental {
		p.IncrementalSnapshotFamilyID = to.Ptr(s.ids.guid("family/" + sn.family + "/" + key(sn.subscription)))
	}
	if sn.copyStart || sn.slowCopy {
		p.CompletionPercent = to.Ptr(sn.completionPercent(now))
		if sn.failed && !now.Before(sn.completes) {
			p.CopyCompletionError = &armcompute.CopyCompletionError{ErrorCode: to.Ptr(armcompute.CopyCompletionErrorReasonCopySourceNotFound),
				ErrorMessage: to.Ptr("The background copy failed: the simulator injected this failure.")}
		}
	}
	return &armcompute.Snapshot{ID: to.Ptr(sn.id), Name: to.Ptr(sn.name), Type: to.Ptr("Microsoft.Compute/snapshots"), Location: to.Ptr(sn.location),
		Tags: toPtrMap(sn.tags), SKU: &armcompute.SnapshotSKU{Name: to.Ptr(armcompute.SnapshotStorageAccountTypes(sn.sku)), Tier: to.Ptr("Standard")},
		Properties: p}
}

func (s *Server) renderDES(d *diskEncryptionSet) *armcompute.DiskEncryptionSet {
	props := &armcompute.EncryptionSetProperties{
		ActiveKey:         &armcompute.KeyForDiskEncryptionSet{KeyURL: to.Ptr(d.keyURL)},
		EncryptionType:    to.Ptr(armcompute.DiskEncryptionSetType(d.encryptionType)),
		ProvisioningState: to.Ptr("Succeeded"), RotationToLatestKeyVersionEnabled: to.Ptr(false),
	}
	if d.sourceVault != "" {
		props.ActiveKey.SourceVault = &armcompute.SourceVault{ID: to.Ptr(d.sourceVault)}
	}
	return &armcompute.DiskEncryptionSet{ID: to.Ptr(d.id), Name: to.Ptr(d.name), Type: to.Ptr("Microsoft.Compute/diskEncryptionSets"),
		Location: to.Ptr(d.location), Tags: toPtrMap(d.tags), Properties: props,
		Identity: &armcompute.EncryptionSetIdentity{Type: to.Ptr(armcompute.DiskEncryptionSetIdentityTypeSystemAssigned),
			PrincipalID: to.Ptr(d.principalID), TenantID: to.Ptr(d.tenantID)}}
}

// renderVM writes a virtual machine; userData is included only when asked
// for ($expand=userData), as the service does.
// https://learn.microsoft.com/rest/api/compute/virtual-machines/get
func (s *Server) renderVM(vm *virtualMachine, now time.Time, withUserData, withInstanceView bool) *armcompute.VirtualMachine {
	managed := func(id string) *armcompute.ManagedDiskParameters {
		d := s.st.disks[key(id)]
		mp := &armcompute.ManagedDiskParameters{ID: to.Ptr(id)}
		if d != nil {
			mp.StorageAccountType = to.Ptr(armcompute.StorageAccountTypes(d.sku))
			if d.desID != "" {
				mp.DiskEncryptionSet = &armcompute.DiskEncryptionSetParameters{ID: to.Ptr(d.desID)}
			}
		}
		return mp
	}
	diskName := func(id string) *string { return to.Ptr(parseResourceID(id).name) }
	sizeOf := func(id string) *int32 {
		if d := s.st.disks[key(id)]; d != nil {
			return to.Ptr(d.sizeGiB)
		}
		return nil
	}
	osDisk := &armcompute.OSDisk{Name: diskName(vm.osDisk), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
		ManagedDisk: managed(vm.osDisk), DiskSizeGB: sizeOf(vm.osDisk), Caching: to.Ptr(armcompute.CachingTypesReadWrite)}
	if d := s.st.disks[key(vm.osDisk)]; d != nil {
		osDisk.OSType = osTypeOf(d.osType)
	}
	var dataDisks []*armcompute.DataDisk
	for _, dd := range vm.dataDisks {
		if dd.vhdURI != "" {
			dataDisks = append(dataDisks, &armcompute.DataDisk{Lun: to.Ptr(dd.lun), Name: to.Ptr(dd.vhdName), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesAttach),
				Vhd: &armcompute.VirtualHardDisk{URI: to.Ptr(dd.vhdURI)}, Caching: to.Ptr(armcompute.CachingTypesNone)})
			continue
		}
		dataDisks = append(dataDisks, &armcompute.DataDisk{Lun: to.Ptr(dd.lun), Name: diskName(dd.diskID), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesAttach),
			ManagedDisk: managed(dd.diskID), DiskSizeGB: sizeOf(dd.diskID), Caching: to.Ptr(armcompute.CachingTypesNone)})
	}
	var nics []*armcompute.NetworkInterfaceReference
	for i, id := range vm.nics {
		nics = append(nics, &armcompute.NetworkInterfaceReference{ID: to.Ptr(id), Properties: &armcompute.NetworkInterfaceReferenceProperties{Primary: to.Ptr(i == 0)}})
	}
	out := &armcompute.VirtualMachine{ID: to.Ptr(vm.id), Name: to.Ptr(vm.name), Type: to.Ptr("Microsoft.Compute/virtualMachines"),
		Location: to.Ptr(vm.location), Tags: toPtrMap(vm.tags), Zones: zonesOf(vm.zones),
		Properties: &armcompute.VirtualMachineProperties{
			VMID:              to.Ptr(vm.vmID),
			HardwareProfile:   &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(vm.vmSize))},
			StorageProfile:    &armcompute.StorageProfile{OSDisk: osDisk, DataDisks: dataDisks},
			OSProfile:         &armcompute.OSProfile{ComputerName: to.Ptr(vm.computerName), AdminUsername: to.Ptr(vm.adminUsername)},
			NetworkProfile:    &armcompute.NetworkProfile{NetworkInterfaces: nics},
			ProvisioningState: to.Ptr("Succeeded"), TimeCreated: to.Ptr(vm.created.UTC()),
		}}
	if vm.identityType != "" {
		id := &armcompute.VirtualMachineIdentity{Type: to.Ptr(armcompute.ResourceIdentityType(vm.identityType))}
		if vm.systemPrincipalID != "" {
			id.PrincipalID = to.Ptr(vm.systemPrincipalID)
			id.TenantID = to.Ptr(s.st.subscriptions[key(vm.subscription)].tenantID)
		}
		for _, uid := range vm.userIdentities {
			if id.UserAssignedIdentities == nil {
				id.UserAssignedIdentities = map[string]*armcompute.UserAssignedIdentitiesValue{}
			}
			ui := s.st.identities[key(uid)]
			id.UserAssignedIdentities[uid] = &armcompute.UserAssignedIdentitiesValue{ClientID: to.Ptr(ui.clientID), PrincipalID: to.Ptr(ui.principalID)}
		}
		out.Identity = id
	}
	if withUserData && vm.userData != "" {
		out.Properties.UserData = to.Ptr(base64.StdEncoding.EncodeToString([]byte(vm.userData)))
	}
	if withInstanceView {
		out.Properties.InstanceView = s.renderInstanceView(vm, now)
	}
	return out
}

// renderInstanceView is the VM's runtime state.
// https://learn.microsoft.com/rest/api/compute/virtual-machines/instance-view
func (s *Server) renderInstanceView(vm *virtualMachine, now time.Time) *armcompute.VirtualMachineInstanceView {
	power := map[string]string{"running": "VM running", "stopped": "VM stopped", "deallocated": "VM deallocated"}[vm.powerState]
	status := func(code, display string) *armcompute.InstanceViewStatus {
		return &armcompute.InstanceViewStatus{Code: to.Ptr(code), DisplayStatus: to.Ptr(display), Level: to.Ptr(armcompute.StatusLevelTypesInfo)}
	}
	iv := &armcompute.VirtualMachineInstanceView{ComputerName: to.Ptr(vm.computerName), HyperVGeneration: to.Ptr(armcompute.HyperVGenerationTypeV2),
		Statuses: []*armcompute.InstanceViewStatus{status("ProvisioningState/succeeded", "Provisioning succeeded"), status("PowerState/"+vm.powerState, power)}}
	iv.Statuses[0].Time = to.Ptr(vm.created.UTC())
	for _, id := range append([]string{vm.osDisk}, dataDiskIDs(vm)...) {
		st := status("ProvisioningState/succeeded", "Provisioning succeeded")
		st.Time = to.Ptr(vm.created.UTC())
		iv.Disks = append(iv.Disks, &armcompute.DiskInstanceView{Name: to.Ptr(parseResourceID(id).name), Statuses: []*armcompute.InstanceViewStatus{st}})
	}
	return iv
}

func dataDiskIDs(vm *virtualMachine) []string {
	var out []string
	for _, d := range vm.dataDisks {
		if d.diskID != "" { // an unmanaged disk has no disk resource
			out = append(out, d.diskID)
		}
	}
	return out
}

// renderByID writes the resource an operation created. Callers hold no
// lock.
func (s *Server) renderByID(id string, now time.Time) (any, *armError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(id)
	if sn := s.st.snapshots[k]; sn != nil {
		return s.renderSnapshot(sn, now), nil
	}
	if rp := s.st.rps[k]; rp != nil {
		return s.renderRestorePoint(rp, now, false), nil
	}
	if d := s.st.disks[k]; d != nil {
		return s.renderDisk(d, now), nil
	}
	return nil, notFound(id)
}
