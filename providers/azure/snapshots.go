package azure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// tagPrefix makes the engine's neutral labels Azure tags: "acquire-case", "acquire-token". Tag names
// may not hold <, >, %, &, \, ?, / (and a colon is refused by some resource types); values hold at
// most 256 characters; a resource holds at most 50 tags.
// (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations)
const tagPrefix = "acquire-"

const (
	tokenTag        = tagPrefix + driver.LabelToken
	sourceVolumeTag = tagPrefix + driver.LabelSourceVolume
	caseTag         = tagPrefix + driver.LabelCase
	maxTagValue     = 256
)

func tags(labels driver.Labels) map[string]*string {
	out := map[string]*string{}
	for k, v := range labels {
		k = strings.Map(func(r rune) rune {
			if strings.ContainsRune(`<>%&\?/:`, r) {
				return '-'
			}
			return r
		}, tagPrefix+k)
		if len(v) > maxTagValue {
			v = v[:maxTagValue]
		}
		out[k] = to.Ptr(v)
	}
	return out
}

// snapshotName is the evidence snapshot's name, derived from the request's token and the disk, so
// that a retried PUT names the same snapshot (ARM answers it with the existing one) and a resumed run
// finds it. Snapshot names hold at most 80 characters of [A-Za-z0-9_.-].
// (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftcompute)
func snapshotName(token, diskID string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(diskID)))
	return "acquire-" + token + "-" + hex.EncodeToString(sum[:4])
}

// CreateSnapshots makes a full snapshot of each disk straight in the forensic subscription's resource
// group (PUT with creationData Copy from the disk, which ARM allows between subscriptions of one
// tenant in one region), tagged with the labels. It starts the copies and returns: the engine waits for
// them through SnapshotStatus.
func (d *Driver) CreateSnapshots(ctx context.Context, req driver.SnapshotRequest) (driver.SnapshotResult, error) {
	var vols []driver.Volume
	switch {
	case req.Workload != nil:
		vols = req.Workload.Volumes
	case req.Volume != nil:
		vols = []driver.Volume{*req.Volume}
	default:
		return driver.SnapshotResult{}, errors.New("a snapshot request names a workload or a volume")
	}
	if req.Consistency == driver.CrashConsistent {
		return d.crashSnapshots(ctx, req, vols)
	}
	// A VM's copies start together, so that its disks are taken as close in time as ARM allows.
	snaps := make([]driver.Snapshot, len(vols))
	errs := make([]error, len(vols))
	var wg sync.WaitGroup
	for i, v := range vols {
		wg.Go(func() { snaps[i], errs[i] = d.copySnapshot(ctx, v, v.ID, req) })
	}
	wg.Wait()
	res := driver.SnapshotResult{Consistency: driver.PerVolume}
	var first error
	for i := range vols {
		if errs[i] != nil {
			if first == nil {
				first = errs[i]
			}
			continue
		}
		res.Snapshots = append(res.Snapshots, snaps[i])
	}
	if len(vols) > 1 {
		res.Note = "each disk snapshotted on its own, the copies started together"
	}
	return res, first
}

// copySnapshot starts a full copy of source (the disk, or the disk restored from its restore point)
// for volume v.
func (d *Driver) copySnapshot(ctx context.Context, v driver.Volume, source string, req driver.SnapshotRequest) (driver.Snapshot, error) {
	c, err := d.side(driver.Forensic, "")
	if err != nil {
		return driver.Snapshot{}, err
	}
	labels := driver.Labels{}
	for k, val := range req.Labels {
		labels[k] = val
	}
	labels[driver.LabelSourceVolume] = v.ID
	name := snapshotName(req.Token, v.ID)
	body := armcompute.Snapshot{
		Location: to.Ptr(v.Location),
		Tags:     tags(labels),
		SKU:      &armcompute.SnapshotSKU{Name: to.Ptr(armcompute.SnapshotStorageAccountTypesStandardLRS)},
		Properties: &armcompute.SnapshotProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: to.Ptr(source)},
			Incremental:  to.Ptr(false), // an incremental snapshot cannot leave its disk's subscription
		},
	}
	if des := d.cfg.ForensicDiskEncryptionSet; des != "" {
		body.Properties.Encryption = &armcompute.Encryption{
			Type: to.Ptr(armcompute.EncryptionTypeEncryptionAtRestWithCustomerKey), DiskEncryptionSetID: to.Ptr(des)}
	}
	// The poller is dropped once the PUT is accepted: the engine waits on the snapshot itself, which
	// survives this process; a PUT with the same name and source is answered with the existing snapshot.
	if _, err := c.compute.NewSnapshotsClient().BeginCreateOrUpdate(ctx, d.cfg.ForensicResourceGroup, name, body, nil); err != nil {
		return driver.Snapshot{}, apiErr(err)
	}
	return driver.Snapshot{
		ID: d.snapshotID(name), Name: name, VolumeID: v.ID, Side: driver.Forensic, Account: d.cfg.ForensicSubscription,
		Location: v.Location, State: driver.StatePending, Encrypted: true, KeyID: d.cfg.ForensicDiskEncryptionSet, SizeBytes: v.SizeBytes,
	}, nil
}

func (d *Driver) snapshotID(name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/snapshots/%s", d.cfg.ForensicSubscription, d.cfg.ForensicResourceGroup, name)
}

// FindSnapshots finds, by their token tag, the snapshots an earlier attempt made in the forensic
// resource group, in any state.
func (d *Driver) FindSnapshots(ctx context.Context, side driver.Side, location, token string) ([]driver.Snapshot, error) {
	all, err := d.listEvidence(ctx)
	if err != nil {
		return nil, err
	}
	var out []driver.Snapshot
	for _, s := range all {
		if str(s.Tags[tokenTag]) == token {
			out = append(out, d.toSnapshot(s))
		}
	}
	return out, nil
}

// SnapshotStatus lists the forensic resource group's snapshots once and answers for the IDs asked.
func (d *Driver) SnapshotStatus(ctx context.Context, side driver.Side, location string, ids []string) ([]driver.Snapshot, error) {
	all, err := d.listEvidence(ctx)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[strings.ToLower(id)] = true
	}
	var out []driver.Snapshot
	for _, s := range all {
		if want[strings.ToLower(str(s.ID))] {
			out = append(out, d.toSnapshot(s))
		}
	}
	return out, nil
}

func (d *Driver) listEvidence(ctx context.Context) ([]*armcompute.Snapshot, error) {
	c, err := d.side(driver.Forensic, "")
	if err != nil {
		return nil, err
	}
	var out []*armcompute.Snapshot
	p := c.compute.NewSnapshotsClient().NewListByResourceGroupPager(d.cfg.ForensicResourceGroup, nil)
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, apiErr(err)
		}
		out = append(out, page.Value...)
	}
	return out, nil
}

func (d *Driver) toSnapshot(s *armcompute.Snapshot) driver.Snapshot {
	out := driver.Snapshot{ID: str(s.ID), Name: str(s.Name), Side: driver.Forensic, Account: d.cfg.ForensicSubscription,
		Location: str(s.Location), State: driver.StatePending, Encrypted: true, VolumeID: str(s.Tags[sourceVolumeTag])}
	p := s.Properties
	if p == nil {
		return out
	}
	if out.VolumeID == "" && p.CreationData != nil {
		out.VolumeID = str(p.CreationData.SourceResourceID)
	}
	if p.Encryption != nil {
		out.KeyID = str(p.Encryption.DiskEncryptionSetID)
	}
	if p.TimeCreated != nil {
		out.StartTime = *p.TimeCreated
	}
	switch {
	case p.DiskSizeBytes != nil:
		out.SizeBytes = *p.DiskSizeBytes
	case p.DiskSizeGB != nil:
		out.SizeBytes = int64(*p.DiskSizeGB) * gib
	}
	switch state := str(p.ProvisioningState); {
	case strings.EqualFold(state, "Failed"), strings.EqualFold(state, "Canceled"):
		out.State = driver.StateError
		out.Message = "provisioningState " + state
		if p.CopyCompletionError != nil {
			out.Message += ": " + str(p.CopyCompletionError.ErrorMessage)
		}
	case strings.EqualFold(state, "Succeeded"):
		out.State, out.Progress = driver.StateCompleted, 100
		// Snapshots of Premium SSD v2 and Ultra disks fill in the background: usable at 100 only.
		// (https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#check-snapshot-status)
		if p.CompletionPercent != nil && *p.CompletionPercent < 100 {
			out.State, out.Progress = driver.StatePending, int(*p.CompletionPercent)
		}
	default:
		if p.CompletionPercent != nil {
			out.Progress = int(*p.CompletionPercent)
		}
	}
	return out
}

// Resource kinds the driver makes and removes.
const (
	kindSnapshot = "snapshot"
	kindLock     = "management-lock"
)

// Delete removes what the driver made: a snapshot, a lock, or what crash consistency needed. What
// is gone already is fine.
func (d *Driver) Delete(ctx context.Context, r driver.Resource) error {
	switch r.Kind {
	case kindRestorePointCollection, kindRestorePoint, kindRestoredDisk:
		return d.deleteCrash(ctx, r)
	case kindSnapshot:
		rid, err := parseID(r.ID, "snapshots")
		if err != nil {
			return err
		}
		c, err := d.side(r.Side, rid.SubscriptionID)
		if err != nil {
			return err
		}
		p, err := c.compute.NewSnapshotsClient().BeginDelete(ctx, rid.ResourceGroupName, rid.Name, nil)
		if err == nil {
			_, err = wait(ctx, d, p)
		}
		return gone(err)
	case kindLock:
		c, err := d.side(driver.Forensic, "")
		if err != nil {
			return err
		}
		scope, name, ok := strings.Cut(r.ID, "/providers/Microsoft.Authorization/locks/")
		if !ok {
			return fmt.Errorf("%s is not a management lock's ID", r.ID)
		}
		_, err = c.locks.DeleteByScope(ctx, scope, name, nil)
		return gone(err)
	}
	return fmt.Errorf("azure: cannot delete a %q", r.Kind)
}

// gone treats "not found" as done.
func gone(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusNotFound || slices.Contains([]string{"ResourceNotFound", "NotFound"}, re.ErrorCode)) {
		return nil
	}
	return apiErr(err)
}
