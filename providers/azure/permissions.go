package azure

import (
	"context"
	"strings"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Action is an Azure RBAC action a side needs, with the reason.
type Action struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
}

type need = Action

const actionDiskBeginGetAccess = "Microsoft.Compute/disks/beginGetAccess/action"

// linkedBeginGetAccess is what ARM checks on the source disk when a snapshot in another subscription
// copies it, answering LinkedAuthorizationFailed without it.
var linkedBeginGetAccess = Action{actionDiskBeginGetAccess, "ARM checks it on each source disk when the forensic snapshot copies it (LinkedAuthorizationFailed without it)"}

// actionDRPBeginGetAccess is what ARM checks on a disk restore point when a disk in another
// subscription is restored from it, as it checks beginGetAccess on a disk a snapshot copies.
const actionDRPBeginGetAccess = "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/beginGetAccess/action"

var linkedRestorePointAccess = Action{actionDRPBeginGetAccess, "ARM checks it on each disk restore point when the forensic disk is restored from it (LinkedAuthorizationFailed without it); crash consistency only"}

// CrashSourceActions are what the source side's principal needs for crash consistency, in the VM's
// resource group: the restore point it writes there, and its removal.
// (https://learn.microsoft.com/azure/role-based-access-control/permissions/compute)
func CrashSourceActions() []Action {
	return []Action{
		{"Microsoft.Compute/restorePointCollections/write", "create the VM's restore point collection for a crash-consistent restore point (--consistency crash-consistent)"},
		{"Microsoft.Compute/restorePointCollections/delete", "remove the restore point collection once the evidence is made"},
		{"Microsoft.Compute/restorePointCollections/restorePoints/write", "create the crash-consistent restore point of the VM's disks"},
		{"Microsoft.Compute/restorePointCollections/restorePoints/read", "wait for the restore point and find it again on a retry"},
		{"Microsoft.Compute/restorePointCollections/restorePoints/delete", "remove the restore point once the evidence is made"},
	}
}

// SourceActions are what the source side's principal needs: reading the VM and its configuration.
func SourceActions() []Action {
	return []Action{
		{"Microsoft.Compute/virtualMachines/read", "describe the VM, its instance view and user data"},
		{"Microsoft.Compute/disks/read", "describe the disks: size, type, encryption, SAS state"},
		{"Microsoft.Compute/diskEncryptionSets/read", "record which key encrypts each disk"},
		{"Microsoft.Compute/snapshots/read", "find existing snapshots of the disks with open SAS access"},
		{"Microsoft.Network/networkInterfaces/read", "record the VM's network interfaces"},
		{"Microsoft.Network/networkSecurityGroups/read", "record the VM's network security groups"},
	}
}

// ForensicActions are what the forensic side's principal needs in the forensic resource group; it
// also needs linkedBeginGetAccess on the source disks, or with crash consistency
// linkedRestorePointAccess on their restore points.
func ForensicActions(lock, encryptionSet, crash bool) []Action {
	out := []Action{
		{"Microsoft.Resources/subscriptions/resourceGroups/read", "check the forensic resource group exists"},
		{"Microsoft.Compute/snapshots/write", "create the evidence snapshots (full copies of the source disks)"},
		{"Microsoft.Compute/snapshots/read", "find the snapshots again and wait for them"},
		{"Microsoft.Compute/snapshots/delete", "remove a snapshot that ended in error"},
		{"Microsoft.Compute/snapshots/beginGetAccess/action", "grant a short read SAS to digest and export the evidence"},
		{"Microsoft.Compute/snapshots/endGetAccess/action", "end the read SAS when done"},
	}
	if crash {
		out = append(out,
			Action{"Microsoft.Compute/disks/write", "restore each disk restore point as a disk, the source of its evidence snapshot (crash consistency only)"},
			Action{"Microsoft.Compute/disks/read", "wait for each restored disk"},
			Action{actionDiskBeginGetAccess, "ARM checks it on each restored disk when its evidence snapshot copies it (LinkedAuthorizationFailed without it)"},
			Action{"Microsoft.Compute/disks/delete", "remove the restored disks once the evidence is made"})
	}
	if lock {
		out = append(out, Action{"Microsoft.Authorization/locks/write", "put the CanNotDelete lock on the evidence"})
	}
	if encryptionSet {
		out = append(out, Action{"Microsoft.Compute/diskEncryptionSets/read", "encrypt the evidence with the forensic disk encryption set (ARM checks it)"})
	}
	return out
}

func containsAction(list []Action, action string) bool {
	for _, a := range list {
		if strings.EqualFold(a.Action, action) {
			return true
		}
	}
	return false
}

// grants is what the Permissions API answered: one entry per role assignment that applies, its
// control plane actions and its data actions.
type grants []grant

type grant struct{ actions, notActions, dataActions, notDataActions []string }

// allows evaluates an action as ARM does: some entry's actions match it, and that entry's notActions
// do not. (https://learn.microsoft.com/azure/role-based-access-control/role-definitions#notactions)
func (g grants) allows(action string) bool {
	for _, e := range g {
		if matchesAny(e.actions, action) && !matchesAny(e.notActions, action) {
			return true
		}
	}
	return false
}

// allowsData evaluates a data action the same way, against dataActions and notDataActions: actions
// never grant one. (https://learn.microsoft.com/azure/role-based-access-control/role-definitions#dataactions)
func (g grants) allowsData(action string) bool {
	for _, e := range g {
		if matchesAny(e.dataActions, action) && !matchesAny(e.notDataActions, action) {
			return true
		}
	}
	return false
}

func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if wildcard(strings.ToLower(p), strings.ToLower(action)) {
			return true
		}
	}
	return false
}

// wildcard matches "*" against any run of characters.
func wildcard(p, s string) bool {
	star := strings.IndexByte(p, '*')
	if star < 0 {
		return p == s
	}
	if !strings.HasPrefix(s, p[:star]) {
		return false
	}
	for i := star; i <= len(s); i++ {
		if wildcard(p[star+1:], s[i:]) {
			return true
		}
	}
	return false
}

// permissions asks what a side's principal may do at a resource group.
// (https://learn.microsoft.com/rest/api/authorization/permissions/list-for-resource-group)
func (d *Driver) permissions(ctx context.Context, side driver.Side, subscription, rg string) (grants, error) {
	c, err := d.side(side, subscription)
	if err != nil {
		return nil, err
	}
	var out grants
	p := c.perms.NewListForResourceGroupPager(rg, nil)
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, apiErr(err)
		}
		for _, e := range page.Value {
			out = append(out, grant{deref(e.Actions), deref(e.NotActions), deref(e.DataActions), deref(e.NotDataActions)})
		}
	}
	return out, nil
}

func deref(v []*string) []string {
	var out []string
	for _, s := range v {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}
