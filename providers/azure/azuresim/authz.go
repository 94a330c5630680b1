package azuresim

import (
	"strings"
)

// Azure RBAC as ARM evaluates it: a principal may perform an action at a
// scope when a role assignment at that scope or above it (resource group,
// subscription) holds a role whose actions match and whose notActions do
// not. Data actions are evaluated the same way, apart.
// https://learn.microsoft.com/azure/role-based-access-control/overview#how-azure-rbac-determines-if-a-user-has-access-to-a-resource
// https://learn.microsoft.com/azure/role-based-access-control/role-definitions#actions-format

// builtInRoles are the built-in roles a scenario may name, with their
// documented permissions.
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
var builtInRoles = []*roleDefinition{
	{name: "Owner", actions: []string{"*"}},
	{name: "Contributor", actions: []string{"*"}, notActions: []string{
		"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
		"Microsoft.Authorization/elevateAccess/Action", "Microsoft.Blueprint/blueprintAssignments/write",
		"Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action",
		"Microsoft.Purview/consents/write", "Microsoft.Purview/consents/delete"}},
	{name: "Reader", actions: []string{"*/read"}},
	// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#disk-snapshot-contributor
	{name: "Disk Snapshot Contributor", actions: []string{
		"Microsoft.Authorization/*/read", "Microsoft.Compute/snapshots/delete", "Microsoft.Compute/snapshots/write",
		"Microsoft.Compute/snapshots/read", "Microsoft.Compute/snapshots/beginGetAccess/action",
		"Microsoft.Compute/snapshots/endGetAccess/action", "Microsoft.Compute/disks/beginGetAccess/action",
		"Microsoft.Resources/subscriptions/resourceGroups/read"}},
	// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#disk-backup-reader
	{name: "Disk Backup Reader", actions: []string{
		"Microsoft.Authorization/*/read", "Microsoft.Compute/disks/read", "Microsoft.Compute/disks/beginGetAccess/action"}},
	// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/compute#data-operator-for-managed-disks
	{name: "Data Operator for Managed Disks", dataActions: []string{
		"Microsoft.Compute/disks/download/action", "Microsoft.Compute/disks/upload/action",
		"Microsoft.Compute/snapshots/download/action", "Microsoft.Compute/snapshots/upload/action"}},
	// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/compute#virtual-machine-contributor
	{name: "Virtual Machine Contributor", actions: []string{
		"Microsoft.Authorization/*/read", "Microsoft.Compute/availabilitySets/*", "Microsoft.Compute/locations/*",
		"Microsoft.Compute/virtualMachines/*", "Microsoft.Compute/virtualMachineScaleSets/*",
		"Microsoft.Compute/cloudServices/*", "Microsoft.Compute/disks/write", "Microsoft.Compute/disks/read",
		"Microsoft.Compute/disks/delete", "Microsoft.Network/networkInterfaces/*",
		"Microsoft.Network/networkSecurityGroups/read", "Microsoft.Resources/subscriptions/resourceGroups/read",
		"Microsoft.Compute/restorePointCollections/*"}},
}

// actionMatches compares an action with a pattern: case-insensitive, "*"
// matching any run of characters.
func actionMatches(pattern, action string) bool {
	return wildcard(strings.ToLower(pattern), strings.ToLower(action))
}

func wildcard(p, s string) bool {
	star := strings.IndexByte(p, '*')
	if star < 0 {
		return p == s
	}
	if !strings.HasPrefix(s, p[:star]) {
		return false
	}
	rest := p[star+1:]
	for i := star; i <= len(s); i++ {
		if wildcard(rest, s[i:]) {
			return true
		}
	}
	return false
}

func permits(allowed, denied []string, action string) bool {
	ok := false
	for _, a := range allowed {
		if actionMatches(a, action) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	for _, n := range denied {
		if actionMatches(n, action) {
			return false
		}
	}
	return true
}

// allowed reports whether the principal may perform a control-plane action
// at scope. Callers hold s.mu.
func (s *Server) allowed(objectID, action, scope string) bool {
	for _, a := range s.st.assignments {
		if a.principalObjectID == objectID && withinScope(scope, a.scope) && permits(a.role.actions, a.role.notActions, action) {
			return true
		}
	}
	return false
}

// dataAllowed is allowed for data actions.
func (s *Server) dataAllowed(objectID, action, scope string) bool {
	for _, a := range s.st.assignments {
		if a.principalObjectID == objectID && withinScope(scope, a.scope) && permits(a.role.dataActions, a.role.notDataActions, action) {
			return true
		}
	}
	return false
}

// hasAnyAssignment reports whether the principal holds a role within the
// subscription: ARM lists only such subscriptions to it.
func (s *Server) hasAnyAssignment(objectID, subscriptionID string) bool {
	for _, a := range s.st.assignments {
		if a.principalObjectID == objectID && withinScope(a.scope, "/subscriptions/"+subscriptionID) {
			return true
		}
	}
	return false
}
