package azure

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Preflight checks, before any snapshot is made, what ARM would refuse only once the copies are under
// way: the forensic resource group and disk encryption set exist, the evidence stays in its disks'
// region, and the forensic principal holds the actions ARM will check, on both sides (read through the
// Permissions API of Microsoft.Authorization, as ARM evaluates role assignments: deny assignments aside).
func (d *Driver) Preflight(ctx context.Context, p driver.Preflight) error {
	if p.Consistency == driver.CrashConsistent {
		if err := refuseCrashPlan(p.Volumes); err != nil {
			return err
		}
	}
	for _, v := range p.Volumes {
		// "Disks of type PremiumV2_LRS and UltraSSD_LRS support incremental snapshots only", and an
		// incremental snapshot cannot be created outside its disk's subscription.
		// (https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#restrictions)
		if strings.EqualFold(v.Type, "PremiumV2_LRS") || strings.EqualFold(v.Type, "UltraSSD_LRS") {
			return invalid(fmt.Errorf("disk %s is %s: Azure snapshots it only incrementally, and an incremental snapshot cannot leave the compromised subscription, so it cannot be copied into the forensic subscription", v.ID, v.Type))
		}
		if loc := p.Destination.Location; loc != "" && !sameRegion(loc, v.Location) {
			return invalid(fmt.Errorf("evidence in %s from disk %s in %s: ARM copies a snapshot into another subscription within its region only, and the cross-region path (an incremental snapshot and CopyStart) would first leave the evidence in the compromised subscription: give --forensic-location %s", loc, v.ID, v.Location, v.Location))
		}
	}
	access, err := d.accessOfVolumes(ctx, p.Volumes)
	if err != nil {
		return err
	}
	if err := refuseDenyAll(p.Volumes, access); err != nil {
		return err
	}
	if key, des := p.Destination.Key, d.cfg.ForensicDiskEncryptionSet; !strings.EqualFold(key, des) {
		return invalid(fmt.Errorf("the destination key %q is not the driver's forensic disk encryption set %q", key, des))
	}
	c, err := d.side(driver.Forensic, "")
	if err != nil {
		return err
	}
	if _, err := c.groups.Get(ctx, d.cfg.ForensicResourceGroup, nil); err != nil {
		// ARM answers 403 for a resource group the caller may not read, whether or not it exists.
		switch ae := apiErr(err); d.ErrorCode(ae) {
		case driver.CodeNotFound:
			return &driver.Error{Code: driver.CodeNotFound, Op: "preflight", Resource: d.cfg.ForensicResourceGroup,
				Err: fmt.Errorf("the forensic resource group %s does not exist in subscription %s: create it first (acquire makes only snapshots and locks there): %w", d.cfg.ForensicResourceGroup, d.cfg.ForensicSubscription, ae)}
		case driver.CodePermissionDenied:
			return &driver.Error{Code: driver.CodePermissionDenied, Op: "preflight", Resource: d.cfg.ForensicResourceGroup,
				Err: fmt.Errorf("the forensic resource group %s does not exist in subscription %s, or the forensic principal may not read it: %w", d.cfg.ForensicResourceGroup, d.cfg.ForensicSubscription, ae)}
		default:
			return ae
		}
	}
	if err := d.checkEncryptionSet(ctx, p.Volumes); err != nil {
		return err
	}
	missing, err := d.missingActions(ctx, p, access)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return &driver.Error{Code: driver.CodePermissionDenied, Op: "preflight",
			Err: fmt.Errorf("%s: grant them, as `acquire iam azure%s` prints", strings.Join(missing, "; "), iamFlags(p))}
	}
	return nil
}

func iamFlags(p driver.Preflight) string {
	if p.Consistency == driver.CrashConsistent {
		return " --consistency crash-consistent"
	}
	return ""
}

// scopeNeed is what one side's principal needs at one resource group.
type scopeNeed struct {
	side             driver.Side
	subscription, rg string
	actions          []need
}

// neededActions are the actions ARM will check, by side and resource group: the forensic resource
// group's first, so that one run names every missing one in a stable order.
func (d *Driver) neededActions(p driver.Preflight) ([]*scopeNeed, error) {
	crash := p.Consistency == driver.CrashConsistent
	out := []*scopeNeed{{side: driver.Forensic, subscription: d.cfg.ForensicSubscription, rg: d.cfg.ForensicResourceGroup,
		actions: ForensicActions(p.Lock != nil, d.cfg.ForensicDiskEncryptionSet != "", crash)}}
	at := func(side driver.Side, sub, rg string) *scopeNeed {
		for _, n := range out {
			if n.side == side && strings.EqualFold(n.subscription, sub) && strings.EqualFold(n.rg, rg) {
				return n
			}
		}
		n := &scopeNeed{side: side, subscription: sub, rg: rg}
		out = append(out, n)
		return n
	}
	add := func(n *scopeNeed, a need) {
		if !containsAction(n.actions, a.Action) {
			n.actions = append(n.actions, a)
		}
	}
	for _, v := range p.Volumes {
		rid, err := parseID(v.ID, "disks")
		if err != nil {
			return nil, invalid(err)
		}
		if !crash {
			add(at(driver.Forensic, rid.SubscriptionID, rid.ResourceGroupName), linkedBeginGetAccess)
			continue
		}
		// The restore point lives in the VM's resource group; the forensic disks are restored from it.
		vm, err := parseID(v.Workload, "virtualMachines")
		if err != nil {
			return nil, invalid(err)
		}
		add(at(driver.Forensic, vm.SubscriptionID, vm.ResourceGroupName), linkedRestorePointAccess)
		for _, a := range CrashSourceActions() {
			add(at(driver.Source, vm.SubscriptionID, vm.ResourceGroupName), a)
		}
	}
	slices.SortStableFunc(out[1:], func(a, b *scopeNeed) int {
		if c := boolOrder(a.side != driver.Forensic, b.side != driver.Forensic); c != 0 {
			return c
		}
		return strings.Compare(strings.ToLower(a.subscription+"/"+a.rg), strings.ToLower(b.subscription+"/"+b.rg))
	})
	return out, nil
}

// missingActions reads, through the Permissions API, what each side's principal may do where ARM
// will check it, and names every action it lacks.
func (d *Driver) missingActions(ctx context.Context, p driver.Preflight, access map[string]diskAccess) ([]string, error) {
	needs, err := d.neededActions(p)
	if err != nil {
		return nil, err
	}
	// A disk readable only with Entra ID makes evidence that is too: its SAS needs the data action.
	aad := firstAADOnly(p.Volumes, access)
	var missing []string
	for i, n := range needs {
		perms, err := d.permissions(ctx, n.side, n.subscription, n.rg)
		if err != nil {
			return nil, err
		}
		for _, a := range n.actions {
			if !perms.allows(a.Action) {
				missing = append(missing, fmt.Sprintf("the %s principal may not perform %s on resource group %s of subscription %s (%s)", n.side, a.Action, n.rg, n.subscription, a.Reason))
			}
		}
		if i == 0 && aad != "" && !perms.allowsData(snapshotDownload) {
			missing = append(missing, fmt.Sprintf("the forensic principal may not perform the data action %s on resource group %s of subscription %s (read the evidence of %s, whose dataAccessAuthMode is AzureActiveDirectory, through its SAS)", snapshotDownload, n.rg, n.subscription, aad))
		}
	}
	return missing, nil
}

// refuseCrashPlan refuses, before anything is made, what a crash-consistent restore point cannot
// take: a disk given alone (a restore point is of a VM), an Ultra or Premium SSD v2 disk.
func refuseCrashPlan(vols []driver.Volume) error {
	for _, v := range vols {
		if v.Workload == "" {
			return invalid(fmt.Errorf("crash consistency takes a VM's disks through a restore point of the VM, and disk %s is given alone: give its VM, or ask for per-volume snapshots", v.ID))
		}
	}
	if err := unsupportedCrash(vols); err != nil {
		return invalid(err)
	}
	return nil
}

func invalid(err error) error {
	return &driver.Error{Code: driver.CodeInvalid, Op: "preflight", Err: err}
}

// checkEncryptionSet: the forensic disk encryption set exists, and is in the disks' region (ARM
// refuses a set of another region or subscription).
// (https://learn.microsoft.com/azure/virtual-machines/disk-encryption#restrictions)
func (d *Driver) checkEncryptionSet(ctx context.Context, vols []driver.Volume) error {
	id := d.cfg.ForensicDiskEncryptionSet
	if id == "" {
		return nil
	}
	rid, err := parseID(id, "diskEncryptionSets")
	if err != nil {
		return invalid(err)
	}
	if !strings.EqualFold(rid.SubscriptionID, d.cfg.ForensicSubscription) {
		return invalid(fmt.Errorf("the disk encryption set %s is not in the forensic subscription %s", id, d.cfg.ForensicSubscription))
	}
	c, err := d.side(driver.Forensic, "")
	if err != nil {
		return err
	}
	des, err := c.compute.NewDiskEncryptionSetsClient().Get(ctx, rid.ResourceGroupName, rid.Name, nil)
	if err != nil {
		return &driver.Error{Code: d.ErrorCode(apiErr(err)), Op: "preflight", Resource: id, Err: fmt.Errorf("the forensic disk encryption set: %w", apiErr(err))}
	}
	for _, v := range vols {
		if !sameRegion(str(des.Location), v.Location) {
			return invalid(fmt.Errorf("the disk encryption set %s is in %s, disk %s in %s: the evidence needs a set in its own region", id, str(des.Location), v.ID, v.Location))
		}
	}
	return nil
}

func sameRegion(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }
	return norm(a) == norm(b)
}

func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// accessOfVolumes is how each disk's data may be read (a snapshot keeps its disk's rules), by volume
// ID. Describe noted each disk's; a disk it did not see (a resumed run) is read again.
func (d *Driver) accessOfVolumes(ctx context.Context, vols []driver.Volume) (map[string]diskAccess, error) {
	out := make(map[string]diskAccess, len(vols))
	for _, v := range vols {
		a, known := d.accessNoted(v.ID)
		if !known {
			rid, err := d.sourceID(v.ID, "disks")
			if err != nil {
				return nil, invalid(err)
			}
			_, raw, err := d.describeDisk(ctx, rid, nil)
			if err != nil {
				return nil, err
			}
			a = accessOf(raw)
		}
		out[v.ID] = a
	}
	return out, nil
}

// refuseDenyAll refuses, before any snapshot is made, the disks whose networkAccessPolicy is DenyAll:
// "DenyAll: The disk cannot be exported", and its snapshot keeps the policy, so the evidence could be
// made but never digested nor exported. acquire does not lift the owner's policy on the copy: whether
// a copy may is not documented, and evidence whose export the source forbade would be taken against
// its policy without a record of who decided it.
// (https://learn.microsoft.com/azure/virtual-machines/disks-restrict-import-export-overview,
// https://learn.microsoft.com/rest/api/compute/disks/create-or-update#networkaccesspolicy)
func refuseDenyAll(vols []driver.Volume, access map[string]diskAccess) error {
	var denied []string
	for _, v := range vols {
		if strings.EqualFold(string(access[v.ID].network), string(armcompute.NetworkAccessPolicyDenyAll)) {
			denied = append(denied, v.ID)
		}
	}
	if len(denied) == 0 {
		return nil
	}
	return invalid(fmt.Errorf("disk %s has networkAccessPolicy DenyAll: Azure exports neither it nor a snapshot of it, so its evidence could be made but never read: "+
		"to acquire it, have the subscription's owner allow export for the acquisition (az disk update --network-access-policy AllowAll, "+
		"or AllowPrivate with --disk-access from a network that reaches it), note who changed it and when, and run again: the preflight reads the policy again",
		strings.Join(denied, ", ")))
}

// firstAADOnly is the first of the disks whose dataAccessAuthMode is AzureActiveDirectory, or "".
func firstAADOnly(vols []driver.Volume, access map[string]diskAccess) string {
	for _, v := range vols {
		if access[v.ID].aadOnly {
			return v.ID
		}
	}
	return ""
}
