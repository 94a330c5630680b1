package azuresim

import "strings"

const (
	subPrefix = "subscriptions/{subscriptionId}"
	rgPrefix  = subPrefix + "/resourceGroups/{resourceGroupName}"
	compute   = rgPrefix + "/providers/Microsoft.Compute"
)

// armRoutes is every ARM operation the simulator serves, named by its REST
// operation ID, with the RBAC action ARM checks for it.
// https://learn.microsoft.com/azure/role-based-access-control/permissions/compute
// https://learn.microsoft.com/azure/role-based-access-control/permissions/networking
// https://learn.microsoft.com/azure/role-based-access-control/permissions/management-and-governance
func (s *Server) armRoutes() []route {
	r := func(method, path, op, action string, drop int, api apiFamily, h func(*call)) route {
		return route{method: method, pattern: strings.Split(path, "/"), op: op, action: action, scopeDrop: drop, api: api, handle: h}
	}
	write := func(rt route) route { rt.writes = true; return rt }
	del := func(rt route) route { rt.deletes = true; return rt }
	noSub := func(rt route) route { rt.noSubscription = true; return rt }
	var routes []route
	for _, kind := range []string{"DiskOperations", "operations"} {
		_ = kind
	}
	routes = append(routes,
		noSub(r("GET", "subscriptions", "Subscriptions_List", "", 0, apiResources, s.listSubscriptions)),
		noSub(r("GET", "tenants", "Tenants_List", "", 0, apiResources, s.listTenants)),
		r("GET", subPrefix, "Subscriptions_Get", "", 0, apiResources, s.getSubscription),
		r("GET", subPrefix+"/providers/Microsoft.Compute/locations/{location}/{kind}/{operationId}", "Operations_Get", "", 0, apiCompute, s.getOperation),

		// Resource groups.
		r("GET", subPrefix+"/resourcegroups", "ResourceGroups_List", "Microsoft.Resources/subscriptions/resourceGroups/read", 1, apiResources, s.listResourceGroups),
		r("GET", rgPrefix, "ResourceGroups_Get", "Microsoft.Resources/subscriptions/resourceGroups/read", 0, apiResources, s.getResourceGroup),
		r("HEAD", rgPrefix, "ResourceGroups_CheckExistence", "Microsoft.Resources/subscriptions/resourceGroups/read", 0, apiResources, s.checkResourceGroup),
		// What the caller may do at a resource group (no action needed: one's own permissions).
		r("GET", rgPrefix+"/providers/Microsoft.Authorization/permissions", "Permissions_ListForResourceGroup", "", 0, apiPermissions, s.listPermissions),
		write(r("PUT", rgPrefix, "ResourceGroups_CreateOrUpdate", "Microsoft.Resources/subscriptions/resourceGroups/write", 0, apiResources, s.putResourceGroup)),

		// Virtual machines.
		r("GET", compute+"/virtualMachines/{name}", "VirtualMachines_Get", "Microsoft.Compute/virtualMachines/read", 0, apiCompute, s.getVM),
		r("GET", compute+"/virtualMachines/{name}/instanceView", "VirtualMachines_InstanceView", "Microsoft.Compute/virtualMachines/read", 1, apiCompute, s.getVMInstanceView),
		r("GET", compute+"/virtualMachines", "VirtualMachines_List", "Microsoft.Compute/virtualMachines/read", 3, apiCompute, s.listVMs),
		r("GET", subPrefix+"/providers/Microsoft.Compute/virtualMachines", "VirtualMachines_ListAll", "Microsoft.Compute/virtualMachines/read", 3, apiCompute, s.listVMs),

		// Network interfaces and security groups.
		r("GET", rgPrefix+"/providers/Microsoft.Network/networkInterfaces/{name}", "NetworkInterfaces_Get", "Microsoft.Network/networkInterfaces/read", 0, apiNetwork, s.getNIC),
		r("GET", rgPrefix+"/providers/Microsoft.Network/networkSecurityGroups/{name}", "NetworkSecurityGroups_Get", "Microsoft.Network/networkSecurityGroups/read", 0, apiNetwork, s.getNSG),

		// Disks and disk encryption sets.
		r("GET", compute+"/disks/{name}", "Disks_Get", "Microsoft.Compute/disks/read", 0, apiDisks, s.getDisk),
		r("GET", compute+"/disks", "Disks_ListByResourceGroup", "Microsoft.Compute/disks/read", 3, apiDisks, s.listDisks),
		r("GET", subPrefix+"/providers/Microsoft.Compute/disks", "Disks_List", "Microsoft.Compute/disks/read", 3, apiDisks, s.listDisks),
		write(r("PUT", compute+"/disks/{name}", "Disks_CreateOrUpdate", "Microsoft.Compute/disks/write", 0, apiDisks, s.putDisk)),
		del(r("DELETE", compute+"/disks/{name}", "Disks_Delete", "Microsoft.Compute/disks/delete", 0, apiDisks, s.deleteDisk)),
		write(r("POST", compute+"/disks/{name}/beginGetAccess", "Disks_GrantAccess", "Microsoft.Compute/disks/beginGetAccess/action", 1, apiDisks, s.grantAccess)),
		r("POST", compute+"/disks/{name}/endGetAccess", "Disks_RevokeAccess", "Microsoft.Compute/disks/endGetAccess/action", 1, apiDisks, s.revokeAccess),
		r("GET", compute+"/diskEncryptionSets/{name}", "DiskEncryptionSets_Get", "Microsoft.Compute/diskEncryptionSets/read", 0, apiDisks, s.getDES),

		// Snapshots.
		r("GET", compute+"/snapshots/{name}", "Snapshots_Get", "Microsoft.Compute/snapshots/read", 0, apiDisks, s.getSnapshot),
		write(r("PUT", compute+"/snapshots/{name}", "Snapshots_CreateOrUpdate", "Microsoft.Compute/snapshots/write", 0, apiDisks, s.putSnapshot)),
		write(r("PATCH", compute+"/snapshots/{name}", "Snapshots_Update", "Microsoft.Compute/snapshots/write", 0, apiDisks, s.patchSnapshot)),
		del(r("DELETE", compute+"/snapshots/{name}", "Snapshots_Delete", "Microsoft.Compute/snapshots/delete", 0, apiDisks, s.deleteSnapshot)),
		r("GET", compute+"/snapshots", "Snapshots_ListByResourceGroup", "Microsoft.Compute/snapshots/read", 3, apiDisks, s.listSnapshots),
		r("GET", subPrefix+"/providers/Microsoft.Compute/snapshots", "Snapshots_List", "Microsoft.Compute/snapshots/read", 3, apiDisks, s.listSnapshots),
		write(r("POST", compute+"/snapshots/{name}/beginGetAccess", "Snapshots_GrantAccess", "Microsoft.Compute/snapshots/beginGetAccess/action", 1, apiDisks, s.grantAccess)),
		r("POST", compute+"/snapshots/{name}/endGetAccess", "Snapshots_RevokeAccess", "Microsoft.Compute/snapshots/endGetAccess/action", 1, apiDisks, s.revokeAccess),

		// Restore points.
		write(r("PUT", compute+"/restorePointCollections/{name}", "RestorePointCollections_CreateOrUpdate", "Microsoft.Compute/restorePointCollections/write", 0, apiCompute, s.putRPC)),
		r("GET", compute+"/restorePointCollections/{name}", "RestorePointCollections_Get", "Microsoft.Compute/restorePointCollections/read", 0, apiCompute, s.getRPC),
		r("GET", compute+"/restorePointCollections", "RestorePointCollections_List", "Microsoft.Compute/restorePointCollections/read", 3, apiCompute, s.listRPCs),
		del(r("DELETE", compute+"/restorePointCollections/{name}", "RestorePointCollections_Delete", "Microsoft.Compute/restorePointCollections/delete", 0, apiCompute, s.deleteRPC)),
		write(r("PUT", compute+"/restorePointCollections/{name}/restorePoints/{rp}", "RestorePoints_Create", "Microsoft.Compute/restorePointCollections/restorePoints/write", 0, apiCompute, s.putRestorePoint)),
		r("GET", compute+"/restorePointCollections/{name}/restorePoints/{rp}", "RestorePoints_Get", "Microsoft.Compute/restorePointCollections/restorePoints/read", 0, apiCompute, s.getRestorePoint),
		del(r("DELETE", compute+"/restorePointCollections/{name}/restorePoints/{rp}", "RestorePoints_Delete", "Microsoft.Compute/restorePointCollections/restorePoints/delete", 0, apiCompute, s.deleteRestorePoint)),
		r("GET", compute+"/restorePointCollections/{name}/restorePoints/{rp}/diskRestorePoints/{drp}", "DiskRestorePoint_Get", "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/read", 0, apiDisks, s.getDiskRestorePoint),
		r("GET", compute+"/restorePointCollections/{name}/restorePoints/{rp}/diskRestorePoints", "DiskRestorePoint_ListByRestorePoint", "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/read", 1, apiDisks, s.listDiskRestorePoints),
		write(r("POST", compute+"/restorePointCollections/{name}/restorePoints/{rp}/diskRestorePoints/{drp}/beginGetAccess", "DiskRestorePoint_GrantAccess", "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/beginGetAccess/action", 1, apiDisks, s.grantAccess)),
		r("POST", compute+"/restorePointCollections/{name}/restorePoints/{rp}/diskRestorePoints/{drp}/endGetAccess", "DiskRestorePoint_RevokeAccess", "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/endGetAccess/action", 1, apiDisks, s.revokeAccess),
	)
	// Management locks at subscription, resource group and resource
	// scope (the resource scope: a Compute resource, or a restore point
	// collection's restore point).
	// https://learn.microsoft.com/rest/api/resources/management-locks
	scopes := []string{subPrefix, rgPrefix, compute + "/{type}/{name}", compute + "/{type}/{name}/{childType}/{child}"}
	for _, sc := range scopes {
		lp := sc + "/providers/Microsoft.Authorization/locks"
		routes = append(routes,
			r("GET", lp, "ManagementLocks_List", "Microsoft.Authorization/locks/read", 3, apiLocks, s.listLocks),
			r("GET", lp+"/{lockName}", "ManagementLocks_Get", "Microsoft.Authorization/locks/read", 4, apiLocks, s.getLock),
			r("PUT", lp+"/{lockName}", "ManagementLocks_CreateOrUpdate", "Microsoft.Authorization/locks/write", 4, apiLocks, s.putLock),
			r("DELETE", lp+"/{lockName}", "ManagementLocks_Delete", "Microsoft.Authorization/locks/delete", 4, apiLocks, s.deleteLock),
		)
	}
	return routes
}
