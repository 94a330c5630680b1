package azure

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Exposure reports first what Describe left out of the target's VMs (unmanaged data disks, which no
// managed snapshot copies), then the target's disks, and the source subscription's snapshots of them, that have an
// active SAS (whoever holds its URL reads the data until it expires, from wherever the resource's
// network policy allows): the attacker may be reading them already; and those that allow export from
// anywhere (networkAccessPolicy AllowAll with public network access), which a SAS granted later reads
// from the internet.
// (https://learn.microsoft.com/azure/virtual-machines/disks-enable-private-links-for-import-export-portal)
func (d *Driver) Exposure(ctx context.Context, vols []driver.Volume) ([]driver.Finding, error) {
	if len(vols) == 0 {
		return nil, nil
	}
	// What Describe left out is told first: the evidence of its VM is incomplete.
	findings, err := d.skippedOf(ctx, vols)
	if err != nil {
		return nil, err
	}
	want := map[string]string{}
	subs := map[string]bool{}
	groups := map[[2]string]bool{} // subscription, resource group
	for _, v := range vols {
		want[strings.ToLower(v.ID)] = v.ID
		rid, err := parseID(v.ID, "disks")
		if err != nil {
			return nil, err
		}
		subs[rid.SubscriptionID] = true
		groups[[2]string{rid.SubscriptionID, rid.ResourceGroupName}] = true
	}
	// One list per resource group, not one read per disk: a fleet's check costs a few calls.
	for g := range groups {
		c, err := d.side(driver.Source, g[0])
		if err != nil {
			return nil, err
		}
		p := c.compute.NewDisksClient().NewListByResourceGroupPager(g[1], nil)
		for p.More() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, apiErr(err)
			}
			for _, disk := range page.Value {
				id, ok := want[strings.ToLower(str(disk.ID))]
				if !ok || disk.Properties == nil {
					continue
				}
				p := disk.Properties
				switch {
				case openSAS(p.DiskState):
					findings = append(findings, driver.Finding{Kind: "open-access", Resource: id, VolumeID: id,
						Detail: fmt.Sprintf("disk %s has an active SAS (%s): whoever holds its URL can read it%s", id, *p.DiskState, network(p.NetworkAccessPolicy, p.PublicNetworkAccess))})
				case openNetwork(p.NetworkAccessPolicy, p.PublicNetworkAccess):
					findings = append(findings, driver.Finding{Kind: "open-access", Resource: id, VolumeID: id,
						Detail: fmt.Sprintf("disk %s %s", id, openNetworkDetail)})
				}
			}
		}
	}
	for sub := range subs {
		c, err := d.side(driver.Source, sub)
		if err != nil {
			return nil, err
		}
		p := c.compute.NewSnapshotsClient().NewListPager(nil)
		for p.More() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, apiErr(err)
			}
			for _, s := range page.Value {
				sp := s.Properties
				if sp == nil || sp.CreationData == nil {
					continue
				}
				vol, ok := want[strings.ToLower(str(sp.CreationData.SourceResourceID))]
				if !ok {
					continue
				}
				switch {
				case openSAS(sp.DiskState):
					findings = append(findings, driver.Finding{Kind: "open-access", Resource: str(s.ID), VolumeID: vol,
						Detail: fmt.Sprintf("snapshot %s of disk %s has an active SAS (%s): whoever holds its URL can read it%s", str(s.ID), vol, *sp.DiskState, network(sp.NetworkAccessPolicy, sp.PublicNetworkAccess))})
				case openNetwork(sp.NetworkAccessPolicy, sp.PublicNetworkAccess):
					findings = append(findings, driver.Finding{Kind: "open-access", Resource: str(s.ID), VolumeID: vol,
						Detail: fmt.Sprintf("snapshot %s of disk %s %s", str(s.ID), vol, openNetworkDetail)})
				}
			}
		}
	}
	slices.SortFunc(findings, func(a, b driver.Finding) int { return strings.Compare(a.Resource, b.Resource) })
	return findings, nil
}

func openSAS(s *armcompute.DiskState) bool {
	return s != nil && (*s == armcompute.DiskStateActiveSAS || *s == armcompute.DiskStateActiveSASFrozen)
}

// openNetwork: the resource's data can be exported from anywhere. With networkAccessPolicy AllowAll
// and public network access enabled, a SAS that beginGetAccess grants works from the internet.
// (https://learn.microsoft.com/azure/virtual-machines/disks-restrict-import-export-overview)
func openNetwork(policy *armcompute.NetworkAccessPolicy, public *armcompute.PublicNetworkAccess) bool {
	return policy != nil && *policy == armcompute.NetworkAccessPolicyAllowAll && (public == nil || *public == armcompute.PublicNetworkAccessEnabled)
}

const openNetworkDetail = "allows export from anywhere (networkAccessPolicy AllowAll, public network access enabled): whoever may call beginGetAccess on it gets a SAS that reads it from the internet"

func network(policy *armcompute.NetworkAccessPolicy, public *armcompute.PublicNetworkAccess) string {
	switch {
	case policy != nil && *policy == armcompute.NetworkAccessPolicyAllowPrivate:
		return " through its private endpoint"
	case public == nil || *public == armcompute.PublicNetworkAccessEnabled:
		return " from anywhere on the internet (public network access enabled)"
	}
	return ""
}
