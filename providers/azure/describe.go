package azure

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"golang.org/x/sync/errgroup"

	"github.com/acquire-forensics/acquire/providers/driver"
)

const gib = 1 << 30

// Describe resolves virtual machines (their OS and data disks) and lone disks, by resource ID, and
// captures each VM's configuration: the VM with its user data, its instance view, its network
// interfaces and security groups, its managed identities, its disks and their encryption settings
// (disk encryption sets name key URLs, never key material).
func (d *Driver) Describe(ctx context.Context, t driver.Target) ([]driver.Workload, error) {
	out, err := d.describeVMs(ctx, t.Workloads)
	if err != nil {
		return nil, err
	}
	for _, id := range t.Volumes {
		rid, err := d.sourceID(id, "disks")
		if err != nil {
			return nil, err
		}
		v, raw, err := d.describeDisk(ctx, rid, nil)
		if err != nil {
			return nil, err
		}
		w := driver.Workload{Location: v.Location, Volumes: []driver.Volume{v}}
		w.Artifacts = append(w.Artifacts, jsonArtifact(path.Join("azure", rid.ResourceGroupName, "disks", rid.Name, "disk.json"), raw))
		if enc, err := d.describeEncryption(ctx, []*armcompute.Disk{raw}); err != nil {
			return nil, err
		} else if len(enc) > 0 {
			w.Artifacts = append(w.Artifacts, jsonArtifact(path.Join("azure", rid.ResourceGroupName, "disks", rid.Name, "encryption-sets.json"), enc))
		}
		out = append(out, w)
	}
	return out, nil
}

// describeConcurrency is how many VMs are described at once: ARM has no batch read, and a fleet's
// description would otherwise take one round trip after another, each throttled read holding its
// slot for its Retry-After. Three reads for each of 50 VMs fit ARM's bucket of 250 reads
// (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).
const describeConcurrency = 50

// describeVMs describes VMs concurrently, in the order given; the first error wins.
func (d *Driver) describeVMs(ctx context.Context, ids []string) ([]driver.Workload, error) {
	known, err := d.listGroupDisks(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]driver.Workload, len(ids))
	errs := make([]error, len(ids))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, describeConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i], errs[i] = d.describeVM(ctx, id, known)
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseID parses a resource ID of the given type.
func parseID(id, kind string) (*arm.ResourceID, error) {
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return nil, &driver.Error{Code: driver.CodeInvalid, Op: "parse", Resource: id,
			Err: fmt.Errorf("%q is not an Azure resource ID (/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Compute/%s/NAME): %w", id, kind, err)}
	}
	if !strings.EqualFold(rid.ResourceType.Types[len(rid.ResourceType.Types)-1], kind) {
		return nil, &driver.Error{Code: driver.CodeInvalid, Op: "parse", Resource: id, Err: fmt.Errorf("%s is a %s, not %s", id, rid.ResourceType.String(), kind)}
	}
	return rid, nil
}

// sourceID parses a target's resource ID and refuses one outside the source subscription: the records
// name the source subscription, and a disk of the forensic subscription would be evidence taken as its
// own source.
func (d *Driver) sourceID(id, kind string) (*arm.ResourceID, error) {
	rid, err := parseID(id, kind)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.EqualFold(rid.SubscriptionID, d.cfg.ForensicSubscription):
		return nil, &driver.Error{Code: driver.CodeInvalid, Op: "parse", Resource: id,
			Err: fmt.Errorf("%s is in the forensic subscription %s: only resources of the source subscription %s can be acquired", id, rid.SubscriptionID, d.cfg.SourceSubscription)}
	case !strings.EqualFold(rid.SubscriptionID, d.cfg.SourceSubscription):
		return nil, &driver.Error{Code: driver.CodeInvalid, Op: "parse", Resource: id,
			Err: fmt.Errorf("%s is in subscription %s, not the source subscription %s: acquire it with --subscription %s", id, rid.SubscriptionID, d.cfg.SourceSubscription, rid.SubscriptionID)}
	}
	return rid, nil
}

// listGroupDisks lists, for several VMs, the disks of their resource groups once, so that a fleet's
// disks cost one call per resource group instead of one each; a disk elsewhere is read on its own.
func (d *Driver) listGroupDisks(ctx context.Context, vmIDs []string) (map[string]*armcompute.Disk, error) {
	if len(vmIDs) < 2 {
		return nil, nil
	}
	known := map[string]*armcompute.Disk{}
	seen := map[[2]string]bool{}
	for _, id := range vmIDs {
		rid, err := d.sourceID(id, "virtualMachines")
		if err != nil {
			return nil, err
		}
		g := [2]string{strings.ToLower(rid.SubscriptionID), strings.ToLower(rid.ResourceGroupName)}
		if seen[g] {
			continue
		}
		seen[g] = true
		c, err := d.side(driver.Source, rid.SubscriptionID)
		if err != nil {
			return nil, err
		}
		p := c.compute.NewDisksClient().NewListByResourceGroupPager(rid.ResourceGroupName, nil)
		for p.More() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, apiErr(err)
			}
			for _, disk := range page.Value {
				known[strings.ToLower(str(disk.ID))] = disk
			}
		}
	}
	return known, nil
}

func (d *Driver) describeVM(ctx context.Context, id string, known map[string]*armcompute.Disk) (driver.Workload, error) {
	rid, err := d.sourceID(id, "virtualMachines")
	if err != nil {
		return driver.Workload{}, err
	}
	c, err := d.side(driver.Source, rid.SubscriptionID)
	if err != nil {
		return driver.Workload{}, err
	}
	vms := c.compute.NewVirtualMachinesClient()
	got, err := vms.Get(ctx, rid.ResourceGroupName, rid.Name, &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesUserData)})
	if err != nil {
		return driver.Workload{}, apiErr(err)
	}
	vm := got.VirtualMachine
	dir := path.Join("azure", rid.ResourceGroupName, rid.Name)
	w := driver.Workload{ID: id, Location: str(vm.Location)}
	// The user data is kept once, decoded, as its own artifact (as on AWS, where it is an attribute of
	// its own): vm.json is the VM as ARM returns it without userData.
	shown := vm
	if vm.Properties != nil && vm.Properties.UserData != nil {
		data, err := base64.StdEncoding.DecodeString(*vm.Properties.UserData)
		if err != nil {
			data = []byte(*vm.Properties.UserData) // kept as Azure returned it
		}
		props := *vm.Properties
		props.UserData = nil
		shown.Properties = &props
		w.Artifacts = append(w.Artifacts, driver.Artifact{Name: dir + "/user-data", Data: data, MediaType: "application/octet-stream"})
	}
	w.Artifacts = append(w.Artifacts, jsonArtifact(dir+"/vm.json", shown))
	// The instance view and the network are read side by side: each read ARM throttles costs its
	// Retry-After, and one after the other they add up along the VM's chain.
	var iv armcompute.VirtualMachinesClientInstanceViewResponse
	var net []driver.Artifact
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		iv, err = vms.InstanceView(gctx, rid.ResourceGroupName, rid.Name, nil)
		return apiErr(err)
	})
	g.Go(func() error {
		var err error
		net, err = d.describeNetwork(gctx, vm)
		return err
	})
	if err := g.Wait(); err != nil {
		return w, err
	}
	w.Artifacts = append(w.Artifacts, jsonArtifact(dir+"/instance-view.json", iv.VirtualMachineInstanceView))
	if vm.Identity != nil {
		w.Artifacts = append(w.Artifacts, jsonArtifact(dir+"/identity.json", vm.Identity))
	}
	w.Artifacts = append(w.Artifacts, net...)

	sp := vm.Properties.StorageProfile
	if sp == nil || sp.OSDisk == nil || sp.OSDisk.ManagedDisk == nil || sp.OSDisk.ManagedDisk.ID == nil {
		return w, fmt.Errorf("virtual machine %s has no managed OS disk", id)
	}
	type attached struct {
		id, device string
		boot       bool
	}
	disks := []attached{{id: *sp.OSDisk.ManagedDisk.ID, device: "os", boot: true}}
	for _, dd := range sp.DataDisks {
		if dd.ManagedDisk == nil || dd.ManagedDisk.ID == nil {
			continue // an unmanaged (VHD) disk: told by Exposure, from the note below
		}
		disks = append(disks, attached{id: *dd.ManagedDisk.ID, device: fmt.Sprintf("lun%d", i32(dd.Lun))})
	}
	d.noteSkipped(id, unmanagedDisks(id, vm))
	var raws []*armcompute.Disk
	for _, a := range disks {
		drid, err := d.sourceID(a.id, "disks")
		if err != nil {
			return w, err
		}
		v, raw, err := d.describeDisk(ctx, drid, known)
		if err != nil {
			return w, err
		}
		v.Workload, v.Device, v.Boot = id, a.device, a.boot
		w.Volumes = append(w.Volumes, v)
		raws = append(raws, raw)
	}
	w.Artifacts = append(w.Artifacts, jsonArtifact(dir+"/disks.json", raws))
	enc, err := d.describeEncryption(ctx, raws)
	if err != nil {
		return w, err
	}
	if len(enc) > 0 {
		w.Artifacts = append(w.Artifacts, jsonArtifact(dir+"/encryption-sets.json", enc))
	}
	return w, nil
}

// unmanagedDisks are findings for a VM's unmanaged (VHD) data disks: page blobs in a storage account
// that no disk resource stands for, which a managed disk snapshot cannot copy, so acquire leaves them
// out; the responder must know the VM's evidence is incomplete.
// (https://learn.microsoft.com/rest/api/compute/virtual-machines/get#datadisk,
// https://learn.microsoft.com/azure/virtual-machines/unmanaged-disks-deprecation)
func unmanagedDisks(vmID string, vm armcompute.VirtualMachine) []driver.Finding {
	if vm.Properties == nil || vm.Properties.StorageProfile == nil {
		return nil
	}
	var out []driver.Finding
	for _, dd := range vm.Properties.StorageProfile.DataDisks {
		if dd == nil || (dd.ManagedDisk != nil && dd.ManagedDisk.ID != nil) {
			continue
		}
		uri := "an unnamed blob"
		if dd.Vhd != nil && dd.Vhd.URI != nil {
			uri, _, _ = strings.Cut(*dd.Vhd.URI, "?") // a URI with a query could carry a SAS
		}
		out = append(out, driver.Finding{Kind: driver.FindingNotAcquired, Resource: vmID, VolumeID: uri,
			Detail: fmt.Sprintf("virtual machine %s has an unmanaged (VHD) data disk %s at lun %d, the page blob %s: Azure snapshots managed disks only, so it is NOT acquired; "+
				"copy the blob with the storage account's own tools (a blob snapshot, then az storage blob copy start) to keep it", vmID, str(dd.Name), i32(dd.Lun), uri)})
	}
	return out
}

// noteSkipped remembers what Describe left out of a VM, for Exposure to tell.
func (d *Driver) noteSkipped(vmID string, f []driver.Finding) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skipped[strings.ToLower(vmID)] = f
}

// skippedOf is what Describe left out of the VMs of these volumes. A VM it did not describe (a resumed
// run) is read again.
func (d *Driver) skippedOf(ctx context.Context, vols []driver.Volume) ([]driver.Finding, error) {
	var out []driver.Finding
	seen := map[string]bool{}
	for _, v := range vols {
		k := strings.ToLower(v.Workload)
		if v.Workload == "" || seen[k] {
			continue
		}
		seen[k] = true
		d.mu.Lock()
		f, known := d.skipped[k]
		d.mu.Unlock()
		if !known {
			rid, err := d.sourceID(v.Workload, "virtualMachines")
			if err != nil {
				return nil, err
			}
			c, err := d.side(driver.Source, rid.SubscriptionID)
			if err != nil {
				return nil, err
			}
			got, err := c.compute.NewVirtualMachinesClient().Get(ctx, rid.ResourceGroupName, rid.Name, nil)
			if err != nil {
				return nil, apiErr(err)
			}
			f = unmanagedDisks(v.Workload, got.VirtualMachine)
		}
		out = append(out, f...)
	}
	return out, nil
}

func (d *Driver) describeNetwork(ctx context.Context, vm armcompute.VirtualMachine) ([]driver.Artifact, error) {
	if vm.Properties == nil || vm.Properties.NetworkProfile == nil {
		return nil, nil
	}
	var nics []armnetwork.Interface
	var nsgs []armnetwork.SecurityGroup
	seen := map[string]bool{}
	for _, ref := range vm.Properties.NetworkProfile.NetworkInterfaces {
		if ref.ID == nil {
			continue
		}
		rid, err := d.sourceID(*ref.ID, "networkInterfaces")
		if err != nil {
			return nil, err
		}
		c, err := d.side(driver.Source, rid.SubscriptionID)
		if err != nil {
			return nil, err
		}
		nic, err := c.network.NewInterfacesClient().Get(ctx, rid.ResourceGroupName, rid.Name, nil)
		if err != nil {
			return nil, apiErr(err)
		}
		nics = append(nics, nic.Interface)
		if p := nic.Properties; p != nil && p.NetworkSecurityGroup != nil && p.NetworkSecurityGroup.ID != nil && !seen[strings.ToLower(*p.NetworkSecurityGroup.ID)] {
			seen[strings.ToLower(*p.NetworkSecurityGroup.ID)] = true
			nrid, err := d.sourceID(*p.NetworkSecurityGroup.ID, "networkSecurityGroups")
			if err != nil {
				return nil, err
			}
			nc, err := d.side(driver.Source, nrid.SubscriptionID)
			if err != nil {
				return nil, err
			}
			nsg, err := nc.network.NewSecurityGroupsClient().Get(ctx, nrid.ResourceGroupName, nrid.Name, nil)
			if err != nil {
				return nil, apiErr(err)
			}
			nsgs = append(nsgs, nsg.SecurityGroup)
		}
	}
	dir := path.Join("azure", resourceGroupOf(str(vm.ID)), str(vm.Name))
	out := []driver.Artifact{jsonArtifact(dir+"/network-interfaces.json", nics)}
	if len(nsgs) > 0 {
		out = append(out, jsonArtifact(dir+"/network-security-groups.json", nsgs))
	}
	return out, nil
}

func resourceGroupOf(id string) string {
	if rid, err := arm.ParseResourceID(id); err == nil {
		return rid.ResourceGroupName
	}
	return ""
}

func (d *Driver) describeDisk(ctx context.Context, rid *arm.ResourceID, known map[string]*armcompute.Disk) (driver.Volume, *armcompute.Disk, error) {
	var disk armcompute.Disk
	if k, ok := known[strings.ToLower(rid.String())]; ok {
		disk = *k
	} else {
		c, err := d.side(driver.Source, rid.SubscriptionID)
		if err != nil {
			return driver.Volume{}, nil, err
		}
		got, err := c.compute.NewDisksClient().Get(ctx, rid.ResourceGroupName, rid.Name, nil)
		if err != nil {
			return driver.Volume{}, nil, apiErr(err)
		}
		disk = got.Disk
	}
	v := driver.Volume{ID: str(disk.ID), Name: str(disk.Name), Location: str(disk.Location), KeyKind: driver.KeyProviderDefault}
	d.noteAccess(v.ID, accessOf(&disk))
	if len(disk.Zones) > 0 {
		v.Zone = str(disk.Zones[0])
	}
	if disk.SKU != nil && disk.SKU.Name != nil {
		v.Type = string(*disk.SKU.Name)
	}
	if p := disk.Properties; p != nil {
		switch {
		case p.DiskSizeBytes != nil:
			v.SizeBytes = *p.DiskSizeBytes
		case p.DiskSizeGB != nil:
			v.SizeBytes = int64(*p.DiskSizeGB) * gib
		}
		if p.Encryption != nil && p.Encryption.DiskEncryptionSetID != nil && *p.Encryption.DiskEncryptionSetID != "" {
			v.KeyKind, v.KeyID = driver.KeyCustomer, *p.Encryption.DiskEncryptionSetID
		}
	}
	return v, &disk, nil
}

// diskAccess is how a disk's data may be read, which a snapshot of it keeps: only with Entra ID as well
// as its SAS (dataAccessAuthMode AzureActiveDirectory), and from which networks (networkAccessPolicy).
type diskAccess struct {
	aadOnly bool
	network armcompute.NetworkAccessPolicy // "" when Azure did not say: AllowAll
}

func accessOf(disk *armcompute.Disk) diskAccess {
	a := diskAccess{aadOnly: aadOnly(disk)}
	if p := disk.Properties; p != nil && p.NetworkAccessPolicy != nil {
		a.network = *p.NetworkAccessPolicy
	}
	return a
}

// noteAccess remembers how a disk's data may be read, for the preflight.
func (d *Driver) noteAccess(id string, a diskAccess) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.access[strings.ToLower(id)] = a
}

// aadOnly: the disk's data is readable only with Entra ID as well as its SAS.
func aadOnly(disk *armcompute.Disk) bool {
	p := disk.Properties
	return p != nil && p.DataAccessAuthMode != nil && strings.EqualFold(string(*p.DataAccessAuthMode), string(armcompute.DataAccessAuthModeAzureActiveDirectory))
}

// accessNoted is what noteAccess remembered of a disk, and whether it did.
func (d *Driver) accessNoted(id string) (a diskAccess, known bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, known = d.access[strings.ToLower(id)]
	return a, known
}

// describeEncryption reads the disk encryption sets the disks use: which key vault key, which identity.
func (d *Driver) describeEncryption(ctx context.Context, disks []*armcompute.Disk) ([]armcompute.DiskEncryptionSet, error) {
	var out []armcompute.DiskEncryptionSet
	seen := map[string]bool{}
	for _, disk := range disks {
		if disk.Properties == nil || disk.Properties.Encryption == nil || disk.Properties.Encryption.DiskEncryptionSetID == nil {
			continue
		}
		id := *disk.Properties.Encryption.DiskEncryptionSetID
		if id == "" || seen[strings.ToLower(id)] {
			continue
		}
		seen[strings.ToLower(id)] = true
		rid, err := parseID(id, "diskEncryptionSets")
		if err != nil {
			return nil, err
		}
		c, err := d.side(driver.Source, rid.SubscriptionID)
		if err != nil {
			return nil, err
		}
		des, err := c.compute.NewDiskEncryptionSetsClient().Get(ctx, rid.ResourceGroupName, rid.Name, nil)
		if err != nil {
			return nil, fmt.Errorf("disk encryption set of %s: %w", str(disk.ID), apiErr(err))
		}
		out = append(out, des.DiskEncryptionSet)
	}
	return out, nil
}

func jsonArtifact(name string, v any) driver.Artifact {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		data = []byte(fmt.Sprintf("%q", fmt.Sprint(v)))
	}
	return driver.Artifact{Name: name, Data: append(data, '\n'), MediaType: "application/json"}
}
