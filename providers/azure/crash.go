package azure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Resource kinds of crash consistency: a restore point collection and its restore point in the
// source subscription, and a disk restored from each disk restore point in the forensic one.
const (
	kindRestorePointCollection = "restore-point-collection"
	kindRestorePoint           = "restore-point"
	kindRestoredDisk           = "disk"
)

// crashSnapshots takes all of a VM's disks at one point in time through a crash-consistent VM
// restore point (https://learn.microsoft.com/azure/virtual-machines/create-restore-points): a restore
// point collection of the VM and a restore point in it, written into the source subscription; then,
// per disk, a disk in the forensic resource group restored from its disk restore point (createOption
// Restore: a snapshot cannot be made from a disk restore point) and the evidence snapshot, a full
// copy of that disk. What it writes is returned as Temporary, which the engine removes once the
// snapshots are complete or when the attempt fails for good; a failure the engine does not retry
// removes it here at once. Every name derives from the token, so that a retry or a resumed run finds
// each part again.
func (d *Driver) crashSnapshots(ctx context.Context, req driver.SnapshotRequest, vols []driver.Volume) (driver.SnapshotResult, error) {
	res := driver.SnapshotResult{Consistency: driver.CrashConsistent}
	if req.Workload == nil {
		return res, &driver.Error{Code: driver.CodeInvalid, Op: "snapshot.create",
			Err: errors.New("crash consistency is for a VM's disks, not a disk given alone: ask for per-volume snapshots")}
	}
	if err := unsupportedCrash(vols); err != nil {
		return res, &driver.Error{Code: driver.CodeInvalid, Op: "snapshot.create", Err: err}
	}
	vm, err := d.sourceID(req.Workload.ID, "virtualMachines")
	if err != nil {
		return res, err
	}
	rpcName := crashName("acquire-rpc-", req.Token, vm.String())
	rpName := "acquire-" + req.Token
	rpcID := vm.Parent.String() + "/providers/Microsoft.Compute/restorePointCollections/" + rpcName
	rpID := rpcID + "/restorePoints/" + rpName
	res.Temporary = append(res.Temporary,
		driver.Resource{Side: driver.Source, Location: req.Workload.Location, Kind: kindRestorePointCollection, ID: rpcID,
			Note: "restore point collection of the VM, written into the source subscription for the crash-consistent snapshots"},
		driver.Resource{Side: driver.Source, Location: req.Workload.Location, Kind: kindRestorePoint, ID: rpID, Parent: rpcID,
			Note: "crash-consistent restore point of the VM's disks, in the source subscription"})
	for _, v := range vols {
		res.Temporary = append(res.Temporary, driver.Resource{Side: driver.Forensic, Location: v.Location, Kind: kindRestoredDisk,
			ID: d.restoredDiskID(req.Token, v.ID), Volume: v.ID, Note: "disk restored from the disk's restore point, the source of its evidence snapshot"})
	}
	// A failure the engine will not retry undoes what was written; one it may retry (throttled,
	// unavailable, a lost answer) returns it, for the retry to find each part again by its name, or
	// for the engine to remove when it retries no more.
	fail := func(err error) (driver.SnapshotResult, error) {
		if code := d.ErrorCode(err); !code.Retryable() && !driver.IsTransport(err) && !errors.Is(err, context.DeadlineExceeded) {
			d.undo(ctx, res.Temporary)
			res.Temporary = nil
		}
		return res, err
	}
	if err := d.putRestorePointCollection(ctx, vm.ResourceGroupName, rpcName, req); err != nil {
		return fail(err)
	}
	rp, made, err := d.restorePoint(ctx, vm.ResourceGroupName, rpcName, rpName, req.Retry)
	if err != nil {
		return fail(err)
	}
	points := diskRestorePoints(rp)
	have := map[string]driver.Snapshot{}
	if req.Retry {
		found, err := d.FindSnapshots(ctx, driver.Forensic, "", req.Token)
		if err != nil {
			return res, err
		}
		for _, s := range found {
			have[strings.ToLower(s.VolumeID)] = s
		}
	}
	var need []driver.Volume
	var earlier []string
	for _, v := range vols {
		if s, ok := have[strings.ToLower(v.ID)]; ok {
			res.Snapshots = append(res.Snapshots, s)
			if made {
				earlier = append(earlier, v.ID)
			}
			continue
		}
		if points[strings.ToLower(v.ID)] == "" {
			return fail(fmt.Errorf("restore point %s holds no disk restore point of %s", rpID, v.ID))
		}
		need = append(need, v)
	}
	snaps, err := d.restoreAndCopy(ctx, req, need, points)
	res.Snapshots = append(res.Snapshots, snaps...)
	if err != nil {
		return res, err // returned as Temporary: the engine removes it when the attempt fails for good
	}
	res.Note = crashNote(rp, rpID, vols, earlier)
	if len(earlier) > 0 && len(earlier) < len(vols) {
		res.Consistency = driver.PerVolume
	}
	return res, nil
}

// unsupportedCrash: "Ultra disks ... Premium SSD v2 disks ... Not supported for crash
// consistency". (https://learn.microsoft.com/azure/virtual-machines/concepts-restore-points)
func unsupportedCrash(vols []driver.Volume) error {
	for _, v := range vols {
		if ultraOrV2(v.Type) {
			return fmt.Errorf("disk %s is %s: Azure makes no crash-consistent restore point of Ultra or Premium SSD v2 disks "+
				"(and snapshots them only incrementally, which cannot leave the compromised subscription)", v.ID, v.Type)
		}
	}
	return nil
}

func ultraOrV2(sku string) bool {
	return strings.EqualFold(sku, "PremiumV2_LRS") || strings.EqualFold(sku, "UltraSSD_LRS")
}

// crashName is a name of at most 80 characters of [A-Za-z0-9_.-] from a prefix, the token and the
// resource it is made for. (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftcompute)
func crashName(prefix, token, source string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(source)))
	return prefix + token + "-" + hex.EncodeToString(sum[:4])
}

func (d *Driver) restoredDiskID(token, diskID string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/disks/%s", d.cfg.ForensicSubscription,
		d.cfg.ForensicResourceGroup, crashName("acquire-rd-", token, diskID))
}

// putRestorePointCollection makes the VM's restore point collection, tagged with the case; a PUT of
// one that exists answers with it.
// (https://learn.microsoft.com/rest/api/compute/restore-point-collections/create-or-update)
func (d *Driver) putRestorePointCollection(ctx context.Context, rg, name string, req driver.SnapshotRequest) error {
	c, err := d.side(driver.Source, "")
	if err != nil {
		return err
	}
	labels := driver.Labels{}
	for k, v := range req.Labels {
		labels[k] = v
	}
	labels[driver.LabelRole] = driver.RoleTemporary
	_, err = c.compute.NewRestorePointCollectionsClient().CreateOrUpdate(ctx, rg, name, armcompute.RestorePointCollection{
		Location: to.Ptr(req.Workload.Location), Tags: tags(labels),
		Properties: &armcompute.RestorePointCollectionProperties{Source: &armcompute.RestorePointCollectionSourceProperties{ID: to.Ptr(req.Workload.ID)}},
	}, nil)
	return apiErr(err)
}

// restorePoint makes the crash-consistent restore point and waits for it, or finds the one an
// earlier try made (made says which). One that ended Failed is removed and made again.
// (https://learn.microsoft.com/rest/api/compute/restore-points/create)
func (d *Driver) restorePoint(ctx context.Context, rg, rpc, name string, retry bool) (*armcompute.RestorePoint, bool, error) {
	c, err := d.side(driver.Source, "")
	if err != nil {
		return nil, false, err
	}
	client := c.compute.NewRestorePointsClient()
	if retry {
		if rp, err := d.existingRestorePoint(ctx, client, rg, rpc, name); rp != nil || err != nil {
			return rp, false, err
		}
	}
	p, err := client.BeginCreate(ctx, rg, rpc, name, armcompute.RestorePoint{Properties: &armcompute.RestorePointProperties{
		ConsistencyMode: to.Ptr(armcompute.ConsistencyModeTypesCrashConsistent)}}, nil)
	if isStatus(err, http.StatusConflict) {
		// The restore point a lost answer made, or Azure's one-an-hour rule.
		if rp, gerr := d.existingRestorePoint(ctx, client, rg, rpc, name); rp != nil || gerr != nil {
			return rp, false, gerr
		}
		return nil, false, &driver.Error{Code: driver.CodeConflict, Op: "snapshot.create", Resource: rpc + "/" + name,
			Err: fmt.Errorf("Azure refused the crash-consistent restore point (it allows one of a VM an hour): ask for per-volume snapshots, or run again later: %w", apiErr(err))}
	}
	if err != nil {
		return nil, false, apiErr(err)
	}
	out, err := wait(ctx, d, p)
	if err != nil {
		return nil, false, apiErr(err)
	}
	return &out.RestorePoint, true, nil
}

// existingRestorePoint is the restore point of that name, waited for if it is still being made;
// nil if there is none, or it ended Failed (then it is removed, for a new one to take its name).
func (d *Driver) existingRestorePoint(ctx context.Context, client *armcompute.RestorePointsClient, rg, rpc, name string) (*armcompute.RestorePoint, error) {
	for {
		got, err := client.Get(ctx, rg, rpc, name, nil)
		if isStatus(err, http.StatusNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, apiErr(err)
		}
		state := ""
		if got.Properties != nil {
			state = str(got.Properties.ProvisioningState)
		}
		switch {
		case strings.EqualFold(state, "Succeeded"):
			return &got.RestorePoint, nil
		case strings.EqualFold(state, "Failed"):
			p, err := client.BeginDelete(ctx, rg, rpc, name, nil)
			if err == nil {
				_, err = wait(ctx, d, p)
			}
			return nil, gone(err)
		}
		if err := pause(ctx, d.cfg.PollFrequency); err != nil {
			return nil, err
		}
	}
}

// diskRestorePoints maps each source disk (lower-case ID) to its disk restore point.
func diskRestorePoints(rp *armcompute.RestorePoint) map[string]string {
	out := map[string]string{}
	if rp.Properties == nil || rp.Properties.SourceMetadata == nil || rp.Properties.SourceMetadata.StorageProfile == nil {
		return out
	}
	sp := rp.Properties.SourceMetadata.StorageProfile
	add := func(m *armcompute.ManagedDiskParameters, p *armcompute.DiskRestorePointAttributes) {
		if m != nil && p != nil {
			out[strings.ToLower(str(m.ID))] = str(p.ID)
		}
	}
	if sp.OSDisk != nil {
		add(sp.OSDisk.ManagedDisk, sp.OSDisk.DiskRestorePoint)
	}
	for _, dd := range sp.DataDisks {
		if dd != nil {
			add(dd.ManagedDisk, dd.DiskRestorePoint)
		}
	}
	return out
}

// restoreAndCopy restores each disk's restore point as a disk in the forensic resource group and
// starts the evidence snapshot of it, the disks side by side.
func (d *Driver) restoreAndCopy(ctx context.Context, req driver.SnapshotRequest, vols []driver.Volume, points map[string]string) ([]driver.Snapshot, error) {
	snaps := make([]driver.Snapshot, len(vols))
	errs := make([]error, len(vols))
	var wg sync.WaitGroup
	for i, v := range vols {
		wg.Go(func() {
			disk, err := d.restoreDisk(ctx, req, v, points[strings.ToLower(v.ID)])
			if err == nil {
				snaps[i], err = d.copySnapshot(ctx, v, disk, req)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	var out []driver.Snapshot
	for i := range vols {
		if errs[i] == nil {
			out = append(out, snaps[i])
		}
	}
	return out, errors.Join(errs...)
}

// restoreDisk makes the forensic disk of one disk restore point and waits until it is usable.
// (https://learn.microsoft.com/rest/api/compute/disks/create-or-update: DiskCreateOption Restore,
// "Create a new disk by copying from a backup recovery point")
func (d *Driver) restoreDisk(ctx context.Context, req driver.SnapshotRequest, v driver.Volume, point string) (string, error) {
	c, err := d.side(driver.Forensic, "")
	if err != nil {
		return "", err
	}
	id := d.restoredDiskID(req.Token, v.ID)
	labels := driver.Labels{}
	for k, val := range req.Labels {
		labels[k] = val
	}
	labels[driver.LabelSourceVolume] = v.ID
	labels[driver.LabelRole] = driver.RoleTemporary
	body := armcompute.Disk{
		Location: to.Ptr(v.Location), Tags: tags(labels),
		SKU: &armcompute.DiskSKU{Name: to.Ptr(armcompute.DiskStorageAccountTypesStandardLRS)},
		Properties: &armcompute.DiskProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionRestore), SourceResourceID: to.Ptr(point)},
		},
	}
	if des := d.cfg.ForensicDiskEncryptionSet; des != "" {
		body.Properties.Encryption = &armcompute.Encryption{
			Type: to.Ptr(armcompute.EncryptionTypeEncryptionAtRestWithCustomerKey), DiskEncryptionSetID: to.Ptr(des)}
	}
	name := id[strings.LastIndexByte(id, '/')+1:]
	client := c.compute.NewDisksClient()
	if req.Retry {
		if err := d.dropFailedDisk(ctx, client, name); err != nil {
			return "", err
		}
	}
	p, err := client.BeginCreateOrUpdate(ctx, d.cfg.ForensicResourceGroup, name, body, nil)
	if err != nil {
		return "", apiErr(err)
	}
	if _, err := wait(ctx, d, p); err != nil {
		return "", apiErr(err)
	}
	return id, nil
}

// dropFailedDisk removes the restored disk an earlier try left in provisioningState Failed: a PUT
// would answer with it as it is, and a new one takes its name.
func (d *Driver) dropFailedDisk(ctx context.Context, client *armcompute.DisksClient, name string) error {
	got, err := client.Get(ctx, d.cfg.ForensicResourceGroup, name, nil)
	if isStatus(err, http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return apiErr(err)
	}
	if got.Properties == nil || !strings.EqualFold(str(got.Properties.ProvisioningState), "Failed") {
		return nil
	}
	p, err := client.BeginDelete(ctx, d.cfg.ForensicResourceGroup, name, nil)
	if err == nil {
		_, err = wait(ctx, d, p)
	}
	return gone(err)
}

// crashNote is the record's word on the moment: the restore point, the consistency Azure reports
// for it, and Microsoft's caveat for the VM's size.
func crashNote(rp *armcompute.RestorePoint, rpID string, vols []driver.Volume, earlier []string) string {
	mode := ""
	if rp.Properties != nil && rp.Properties.ConsistencyMode != nil {
		mode = string(*rp.Properties.ConsistencyMode)
	}
	note := fmt.Sprintf("crash-consistent: every disk taken at one moment by restore point %s (consistencyMode %s as Azure reports it), "+
		"written into the source subscription and removed once the snapshots are complete; each evidence snapshot is a full copy of a disk "+
		"restored from its disk restore point in the forensic resource group", rpID, mode)
	if len(earlier) > 0 && len(earlier) < len(vols) {
		note = fmt.Sprintf("per-volume: the snapshots of %s are from an earlier try, whose restore point was removed; the others from restore point %s, a later moment",
			strings.Join(earlier, ", "), rpID)
	}
	size := ""
	if p := rp.Properties; p != nil && p.SourceMetadata != nil && p.SourceMetadata.HardwareProfile != nil && p.SourceMetadata.HardwareProfile.VMSize != nil {
		size = string(*p.SourceMetadata.HardwareProfile.VMSize)
	}
	if w := sizeCaveat(size, vols); w != "" {
		note += "; WARNING: " + w
	}
	return note
}

// vmSizeName parses an Azure VM size: Standard_D4ds_v6 is family D, features "ds", version 6.
// (https://learn.microsoft.com/azure/virtual-machines/vm-naming-conventions)
var vmSizeName = regexp.MustCompile(`(?i)^(?:standard|basic)_([a-z]+)\d+(?:-\d+)?([a-z]*)(?:_[a-z0-9]+)*?_v(\d+)$`)

// sizeCaveat is Microsoft's warning for the size, when it applies: "Crash-consistent restore points
// created for Intel V6+ ... and AMD V7+ ... Virtual Machines (VMs) with more than one data disk might
// not be consistent across disks". AMD sizes carry an "a" among their features, Arm sizes a "p".
// (https://learn.microsoft.com/azure/virtual-machines/concepts-restore-points)
func sizeCaveat(size string, vols []driver.Volume) string {
	data := 0
	for _, v := range vols {
		if !v.Boot {
			data++
		}
	}
	m := vmSizeName.FindStringSubmatch(size)
	if data < 2 || m == nil {
		return ""
	}
	features := strings.ToLower(m[2])
	version, _ := strconv.Atoi(m[3])
	switch {
	case strings.Contains(features, "p"):
		return ""
	case strings.Contains(features, "a") && version >= 7, !strings.Contains(features, "a") && version >= 6:
		return fmt.Sprintf("Microsoft warns that crash-consistent restore points of Intel v6+ and AMD v7+ VMs with more than one data disk "+
			"\"might not be consistent across disks\": this VM is a %s with %d data disks", size, data)
	}
	return ""
}

// undo removes, in reverse order and under a fresh context, what a failed attempt made.
func (d *Driver) undo(ctx context.Context, made []driver.Resource) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.PollTimeout)
	defer cancel()
	for i := len(made) - 1; i >= 0; i-- {
		if err := d.Delete(cctx, made[i]); err != nil {
			d.log.Warn("removing what a failed crash-consistent attempt made", "resource", made[i].ID, "error", err)
		}
	}
}

// deleteCrash removes a restore point collection (with its restore points), a restore point or a
// restored disk. What is gone already is fine. Only what acquire names is removed: deleting a
// collection deletes every restore point in it, and the VM's owners may keep their own.
func (d *Driver) deleteCrash(ctx context.Context, r driver.Resource) error {
	if name := r.ID[strings.LastIndex(r.ID, "/")+1:]; !strings.HasPrefix(name, "acquire-") {
		return fmt.Errorf("azure: %s is not named by acquire (acquire-...): it is not removed", r.ID)
	}
	switch r.Kind {
	case kindRestorePointCollection:
		rid, err := parseID(r.ID, "restorePointCollections")
		if err != nil {
			return err
		}
		c, err := d.side(driver.Source, rid.SubscriptionID)
		if err != nil {
			return err
		}
		p, err := c.compute.NewRestorePointCollectionsClient().BeginDelete(ctx, rid.ResourceGroupName, rid.Name, nil)
		if err == nil {
			_, err = wait(ctx, d, p)
		}
		return gone(err)
	case kindRestorePoint:
		rid, err := parseID(r.ID, "restorePoints")
		if err != nil {
			return err
		}
		c, err := d.side(driver.Source, rid.SubscriptionID)
		if err != nil {
			return err
		}
		p, err := c.compute.NewRestorePointsClient().BeginDelete(ctx, rid.ResourceGroupName, rid.Parent.Name, rid.Name, nil)
		if err == nil {
			_, err = wait(ctx, d, p)
		}
		return gone(err)
	case kindRestoredDisk:
		rid, err := parseID(r.ID, "disks")
		if err != nil {
			return err
		}
		if !strings.EqualFold(rid.SubscriptionID, d.cfg.ForensicSubscription) {
			return fmt.Errorf("azure: %s is not a disk of the forensic subscription: only the disks acquire restored there are removed", r.ID)
		}
		c, err := d.side(driver.Forensic, rid.SubscriptionID)
		if err != nil {
			return err
		}
		p, err := c.compute.NewDisksClient().BeginDelete(ctx, rid.ResourceGroupName, rid.Name, nil)
		if err == nil {
			_, err = wait(ctx, d, p)
		}
		return gone(err)
	}
	return fmt.Errorf("azure: cannot delete a %q", r.Kind)
}

// pause waits between two looks at a restore point being made: the poll frequency, a second when
// none is set.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		d = time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func isStatus(err error, status int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}
