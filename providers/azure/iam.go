package azure

import (
	"encoding/json"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// RoleDefinition is a custom role in the JSON `az role definition create --role-definition` reads.
// (https://learn.microsoft.com/azure/role-based-access-control/custom-roles-cli)
type RoleDefinition struct {
	Name             string   `json:"Name"`
	IsCustom         bool     `json:"IsCustom"`
	Description      string   `json:"Description"`
	Actions          []string `json:"Actions"`
	NotActions       []string `json:"NotActions"`
	DataActions      []string `json:"DataActions"`
	NotDataActions   []string `json:"NotDataActions"`
	AssignableScopes []string `json:"AssignableScopes"`
}

// Role is a role definition and why each of its actions is there.
type Role struct {
	Side       driver.Side       `json:"side"`
	AssignAt   string            `json:"assignAt"` // where to assign it
	Definition RoleDefinition    `json:"roleDefinition"`
	Reasons    map[string]string `json:"reasons"`
}

// snapshotDownload is the data action a SAS read needs on a snapshot with dataAccessAuthMode
// AzureActiveDirectory (https://learn.microsoft.com/azure/virtual-machines/linux/download-vhd#secure-downloads-and-uploads-with-azure-ad).
const snapshotDownload = "Microsoft.Compute/snapshots/download/action"

// Roles are the least-privilege custom roles of an acquisition: the source side's, reading the
// workload; the forensic side's, in the evidence resource group; and what the forensic principal needs
// on the source disks, which ARM checks when it copies them. With crash consistency, the source side
// also writes a restore point (a role of its own, so that the reader changes nothing), and the forensic
// side restores disks from its disk restore points.
func Roles(sourceSubscription, forensicSubscription, forensicResourceGroup string, crash bool) []Role {
	src := "/subscriptions/" + sourceSubscription
	rg := "/subscriptions/" + forensicSubscription + "/resourceGroups/" + forensicResourceGroup
	role := func(side driver.Side, name, desc, scope string, actions []Action, data []Action) Role {
		r := Role{Side: side, AssignAt: scope, Reasons: map[string]string{},
			Definition: RoleDefinition{Name: name, IsCustom: true, Description: desc, Actions: []string{}, NotActions: []string{},
				DataActions: []string{}, NotDataActions: []string{}, AssignableScopes: []string{scope}}}
		for _, a := range actions {
			r.Definition.Actions = append(r.Definition.Actions, a.Action)
			r.Reasons[a.Action] = a.Reason
		}
		for _, a := range data {
			r.Definition.DataActions = append(r.Definition.DataActions, a.Action)
			r.Reasons[a.Action] = a.Reason
		}
		return r
	}
	linked := []Action{linkedBeginGetAccess}
	if crash {
		linked = append(linked, linkedRestorePointAccess)
	}
	out := []Role{
		role(driver.Source, "acquire source reader", "Reads a compromised workload for acquire: VMs, disks, network, encryption settings. Changes nothing.", src, SourceActions(), nil),
		role(driver.Forensic, "acquire forensic collector", "Makes, waits for, locks and reads evidence snapshots in the forensic resource group.", rg,
			ForensicActions(true, true, crash), []Action{{snapshotDownload, "read evidence whose dataAccessAuthMode is AzureActiveDirectory through its SAS"}}),
		role(driver.Forensic, "acquire forensic source disks", "Lets the forensic collector copy the source disks into the forensic subscription (ARM checks it on each disk).", src,
			linked, nil),
	}
	if crash {
		out = append(out, role(driver.Source, "acquire source restore point", "Writes, and removes after, the crash-consistent restore point of a compromised VM for acquire --consistency crash-consistent.",
			src, CrashSourceActions(), nil))
	}
	return out
}

// Explain lists each side's actions with the reason, for dry runs.
func Explain(side driver.Side) [][2]string { return ExplainFor(side, false) }

// ExplainFor is Explain for an acquisition that asks crash consistency, or not.
func ExplainFor(side driver.Side, crash bool) [][2]string {
	var out [][2]string
	for _, r := range Roles("SOURCE", "FORENSIC", "RG", crash) {
		if r.Side != side {
			continue
		}
		for _, a := range append(append([]string(nil), r.Definition.Actions...), r.Definition.DataActions...) {
			out = append(out, [2]string{a, r.Reasons[a]})
		}
	}
	return out
}

// JSON is the role definition as `az role definition create` reads it.
func (r Role) JSON() ([]byte, error) { return json.MarshalIndent(r.Definition, "", "  ") }
