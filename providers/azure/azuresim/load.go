package azuresim

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// load builds the state from the scenario, refusing what does not hold
// together with an error naming the problem.
func (s *Server) load(sc *Scenario) error {
	if err := sc.Faults.validate(); err != nil {
		return err
	}
	st := s.st
	for _, r := range builtInRoles {
		st.roles[strings.ToLower(r.name)] = r
	}
	for i, r := range sc.Roles {
		if r.Name == "" || st.roles[strings.ToLower(r.Name)] != nil {
			return fmt.Errorf("roles[%d]: a custom role needs a name of its own (%q is empty or taken)", i, r.Name)
		}
		st.roles[strings.ToLower(r.Name)] = &roleDefinition{name: r.Name, actions: r.Actions, notActions: r.NotActions,
			dataActions: r.DataActions, notDataActions: r.NotDataActions}
	}
	for _, t := range sc.Tenants {
		if !isGUID(t.ID) {
			return fmt.Errorf("tenant %q: the ID must be a GUID", t.ID)
		}
		tid := strings.ToLower(t.ID)
		if st.tenants[tid] != nil {
			return fmt.Errorf("tenant %s: listed twice", t.ID)
		}
		st.tenants[tid] = &tenant{id: tid, name: t.Name}
		for _, p := range t.Principals {
			if err := s.loadPrincipal(tid, p); err != nil {
				return fmt.Errorf("tenant %s: principal %q: %w", t.ID, p.Name, err)
			}
		}
	}
	for _, sub := range sc.Subscriptions {
		if err := s.loadSubscription(sc, sub); err != nil {
			return fmt.Errorf("subscription %s: %w", sub.ID, err)
		}
	}
	// Role assignments last: principals include managed identities.
	for _, sub := range sc.Subscriptions {
		for i, ra := range sub.RoleAssignments {
			p := s.principalByNameOrID(ra.Principal)
			if p == nil {
				return fmt.Errorf("subscription %s: roleAssignments[%d]: no principal %q", sub.ID, i, ra.Principal)
			}
			role := st.roles[strings.ToLower(ra.Role)]
			if role == nil {
				return fmt.Errorf("subscription %s: roleAssignments[%d]: no role %q (a built-in role or one of the scenario's roles)", sub.ID, i, ra.Role)
			}
			scope := "/subscriptions/" + strings.ToLower(sub.ID)
			if ra.Scope != "" {
				scope += "/" + strings.Trim(ra.Scope, "/")
			}
			st.assignments = append(st.assignments, &roleAssignment{principalObjectID: p.objectID, scope: scope, role: role})
		}
	}
	return nil
}

func (s *Server) loadPrincipal(tid string, p ScenarioPrincipal) error {
	if !isGUID(p.ClientID) {
		return fmt.Errorf("clientId must be a GUID")
	}
	if s.st.principals[strings.ToLower(p.ClientID)] != nil {
		return fmt.Errorf("clientId %s is taken", p.ClientID)
	}
	pr := &principal{tenantID: tid, name: p.Name, clientID: strings.ToLower(p.ClientID), objectID: strings.ToLower(p.ObjectID), secret: p.ClientSecret}
	if pr.objectID == "" {
		pr.objectID = s.ids.guid("principal-object/" + pr.clientID)
	}
	if p.CertificatePEM != "" {
		block, _ := pem.Decode([]byte(p.CertificatePEM))
		if block == nil || block.Type != "CERTIFICATE" {
			return fmt.Errorf("certificatePem holds no PEM CERTIFICATE block")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("certificatePem: %w", err)
		}
		pr.cert, pr.thumbprint = cert, certThumbprint(cert)
	}
	if pr.secret == "" && pr.cert == nil {
		return fmt.Errorf("a principal needs a clientSecret or a certificatePem to sign in")
	}
	s.st.principals[pr.clientID] = pr
	return nil
}

func (s *Server) principalByNameOrID(v string) *principal {
	if p := s.st.principals[strings.ToLower(v)]; p != nil {
		return p
	}
	for _, p := range s.st.principals {
		if p.name == v || p.objectID == strings.ToLower(v) {
			return p
		}
	}
	return nil
}

func (s *Server) loadSubscription(sc *Scenario, sub ScenarioSubscription) error {
	st := s.st
	if !isGUID(sub.ID) {
		return fmt.Errorf("the ID must be a GUID")
	}
	subID := strings.ToLower(sub.ID)
	if st.subscriptions[subID] != nil {
		return fmt.Errorf("listed twice")
	}
	if st.tenants[strings.ToLower(sub.Tenant)] == nil {
		return fmt.Errorf("tenant %q is not in the scenario", sub.Tenant)
	}
	st.subscriptions[subID] = &subscription{id: subID, name: sub.Name, tenantID: strings.ToLower(sub.Tenant)}
	for _, g := range sub.ResourceGroups {
		if g.Name == "" || g.Location == "" {
			return fmt.Errorf("a resource group needs a name and a location")
		}
		gid := "/subscriptions/" + subID + "/resourceGroups/" + g.Name
		if st.groups[key(gid)] != nil {
			return fmt.Errorf("resource group %s listed twice", g.Name)
		}
		st.groups[key(gid)] = &resourceGroup{id: gid, subscription: subID, name: g.Name, location: g.Location, tags: maps.Clone(g.Tags)}
		if err := s.loadGroup(sc, subID, g); err != nil {
			return fmt.Errorf("resource group %s: %w", g.Name, err)
		}
	}
	return nil
}

func base(sub, rg, location, fallback, typ, name string, tags map[string]string) resourceBase {
	if location == "" {
		location = fallback
	}
	return resourceBase{id: resourceIDOf(sub, rg, "Microsoft.Compute", typ, name), subscription: sub, resourceGroup: rg,
		name: name, location: location, tags: maps.Clone(tags)}
}

// refID resolves a name in the same resource group, or takes a resource ID.
func refID(sub, rg, namespace, typ, v string) string {
	if v == "" || strings.HasPrefix(v, "/") {
		return v
	}
	return resourceIDOf(sub, rg, namespace, typ, v)
}

func (s *Server) loadGroup(sc *Scenario, sub string, g ScenarioResourceGroup) error {
	st := s.st
	for _, d := range g.DiskEncryptionSets {
		b := base(sub, g.Name, d.Location, g.Location, "diskEncryptionSets", d.Name, d.Tags)
		if d.KeyURL == "" {
			return fmt.Errorf("disk encryption set %s: keyUrl is required (the key vault key it encrypts with)", d.Name)
		}
		et := d.EncryptionType
		if et == "" {
			et = "EncryptionAtRestWithCustomerKey"
		}
		st.desets[key(b.id)] = &diskEncryptionSet{resourceBase: b, keyURL: d.KeyURL, sourceVault: d.SourceVault, encryptionType: et,
			principalID: s.ids.guid("des-identity/" + key(b.id)), tenantID: st.subscriptions[sub].tenantID}
	}
	for _, id := range g.Identities {
		b := base(sub, g.Name, id.Location, g.Location, "", id.Name, nil)
		b.id = resourceIDOf(sub, g.Name, "Microsoft.ManagedIdentity", "userAssignedIdentities", id.Name)
		ui := &userIdentity{resourceBase: b, clientID: id.ClientID, principalID: id.PrincipalID}
		if ui.clientID == "" {
			ui.clientID = s.ids.guid("uami-client/" + key(b.id))
		}
		if ui.principalID == "" {
			ui.principalID = s.ids.guid("uami-principal/" + key(b.id))
		}
		st.identities[key(b.id)] = ui
	}
	for _, d := range g.Disks {
		if err := s.loadDisk(sc, sub, g, d); err != nil {
			return fmt.Errorf("disk %s: %w", d.Name, err)
		}
	}
	for _, n := range g.NetworkSecurityGroups {
		st.nsgs[key(resourceIDOf(sub, g.Name, "Microsoft.Network", "networkSecurityGroups", n.Name))] = s.buildNSG(sub, g, n)
	}
	for _, n := range g.NetworkInterfaces {
		nic, err := s.buildNIC(sub, g, n)
		if err != nil {
			return fmt.Errorf("network interface %s: %w", n.Name, err)
		}
		st.nics[key(*nic.ID)] = nic
	}
	for _, v := range g.VirtualMachines {
		if err := s.loadVM(sub, g, v); err != nil {
			return fmt.Errorf("virtual machine %s: %w", v.Name, err)
		}
	}
	for _, l := range g.Locks {
		if l.Level != "CanNotDelete" && l.Level != "ReadOnly" {
			return fmt.Errorf("lock %s: level must be CanNotDelete or ReadOnly", l.Name)
		}
		scope := "/subscriptions/" + sub + "/resourceGroups/" + g.Name
		if l.Resource != "" {
			scope += "/providers/Microsoft.Compute/" + strings.Trim(l.Resource, "/")
		}
		id := scope + "/providers/Microsoft.Authorization/locks/" + l.Name
		st.locks[key(id)] = &lock{id: id, scope: scope, name: l.Name, level: l.Level, notes: l.Notes}
	}
	return nil
}

// diskSKUs are the managed disk types.
// https://learn.microsoft.com/azure/virtual-machines/disks-types
var diskSKUs = []string{"Standard_LRS", "StandardSSD_LRS", "Premium_LRS", "PremiumV2_LRS", "UltraSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS"}

func (s *Server) loadDisk(sc *Scenario, sub string, g ScenarioResourceGroup, d ScenarioDisk) error {
	b := base(sub, g.Name, d.Location, g.Location, "disks", d.Name, d.Tags)
	sku := d.SKU
	if sku == "" {
		sku = "Premium_LRS"
	}
	if !containsFold(diskSKUs, sku) {
		return fmt.Errorf("sku %q is not one of %s", sku, strings.Join(diskSKUs, ", "))
	}
	size := d.SizeGiB
	if size == 0 {
		size = 1
	}
	var c *content
	var err error
	switch {
	case d.Image != "" && d.Synthetic != nil:
		return fmt.Errorf("give an image or synthetic content, not both")
	case d.Image != "":
		path := d.Image
		if !filepath.IsAbs(path) {
			path = filepath.Join(sc.baseDir, path)
		}
		if c, err = openImage(path, size); err != nil {
			return fmt.Errorf("%w (build the images with `make images`)", err)
		}
	case d.Synthetic != nil:
		if c, err = syntheticContent(size, d.Synthetic.Chunks, d.Synthetic.Seed); err != nil {
			return err
		}
	default:
		c = emptyContent(int64(size) * gib)
	}
	c.origin = key(b.id)
	s.scenarioContent[key(b.id)] = c
	if d.DataAccessAuthMode != "" && d.DataAccessAuthMode != "AzureActiveDirectory" && d.DataAccessAuthMode != "None" {
		return fmt.Errorf("dataAccessAuthMode must be AzureActiveDirectory or None")
	}
	nap := d.NetworkAccessPolicy
	if nap == "" {
		nap = "AllowAll"
	}
	if nap != "AllowAll" && nap != "AllowPrivate" && nap != "DenyAll" {
		return fmt.Errorf("networkAccessPolicy must be AllowAll, AllowPrivate or DenyAll")
	}
	dk := &disk{resourceBase: b, uniqueID: s.ids.guid("disk-unique/" + key(b.id)), sizeGiB: int32(c.size / gib), sku: sku,
		osType: d.OSType, zones: d.Zones, content: c, dataAccessAuthMode: d.DataAccessAuthMode, networkAccessPolicy: nap,
		created: s.now().Add(-30 * 24 * timeHour)}
	if d.DiskEncryptionSet != "" {
		dk.desID = refID(sub, g.Name, "Microsoft.Compute", "diskEncryptionSets", d.DiskEncryptionSet)
		if s.st.desets[key(dk.desID)] == nil {
			return fmt.Errorf("disk encryption set %s is not in the scenario (list it before the disk's resource group ends)", dk.desID)
		}
	}
	s.st.disks[key(b.id)] = dk
	return nil
}

func (s *Server) buildNSG(sub string, g ScenarioResourceGroup, n ScenarioNSG) *armnetwork.SecurityGroup {
	id := resourceIDOf(sub, g.Name, "Microsoft.Network", "networkSecurityGroups", n.Name)
	loc := n.Location
	if loc == "" {
		loc = g.Location
	}
	var rules []*armnetwork.SecurityRule
	for _, r := range n.Rules {
		orStar := func(v string) *string {
			if v == "" {
				v = "*"
			}
			return to.Ptr(v)
		}
		rules = append(rules, &armnetwork.SecurityRule{
			ID: to.Ptr(id + "/securityRules/" + r.Name), Name: to.Ptr(r.Name), Type: to.Ptr("Microsoft.Network/networkSecurityGroups/securityRules"),
			Etag: to.Ptr(`W/"` + s.ids.guid("etag/"+id+r.Name) + `"`),
			Properties: &armnetwork.SecurityRulePropertiesFormat{
				Priority: to.Ptr(r.Priority), Direction: to.Ptr(armnetwork.SecurityRuleDirection(r.Direction)),
				Access: to.Ptr(armnetwork.SecurityRuleAccess(r.Access)), Protocol: to.Ptr(armnetwork.SecurityRuleProtocol(r.Protocol)),
				SourceAddressPrefix: orStar(r.SourceAddressPrefix), SourcePortRange: orStar(r.SourcePortRange),
				DestinationAddressPrefix: orStar(r.DestinationAddressPrefix), DestinationPortRange: orStar(r.DestinationPortRange),
				ProvisioningState: to.Ptr(armnetwork.ProvisioningStateSucceeded),
			}})
	}
	return &armnetwork.SecurityGroup{ID: to.Ptr(id), Name: to.Ptr(n.Name), Type: to.Ptr("Microsoft.Network/networkSecurityGroups"),
		Location: to.Ptr(loc), Tags: toPtrMap(n.Tags), Etag: to.Ptr(`W/"` + s.ids.guid("etag/"+id) + `"`),
		Properties: &armnetwork.SecurityGroupPropertiesFormat{SecurityRules: rules,
			ResourceGUID: to.Ptr(s.ids.guid("nsg-guid/" + key(id))), ProvisioningState: to.Ptr(armnetwork.ProvisioningStateSucceeded)}}
}

func (s *Server) buildNIC(sub string, g ScenarioResourceGroup, n ScenarioNIC) (*armnetwork.Interface, error) {
	id := resourceIDOf(sub, g.Name, "Microsoft.Network", "networkInterfaces", n.Name)
	loc := n.Location
	if loc == "" {
		loc = g.Location
	}
	ipconf := &armnetwork.InterfaceIPConfigurationPropertiesFormat{
		PrivateIPAddress: to.Ptr(n.PrivateIPAddress), PrivateIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodDynamic),
		Primary: to.Ptr(true), PrivateIPAddressVersion: to.Ptr(armnetwork.IPVersionIPv4), ProvisioningState: to.Ptr(armnetwork.ProvisioningStateSucceeded),
	}
	if n.Subnet != "" {
		ipconf.Subnet = &armnetwork.Subnet{ID: to.Ptr(n.Subnet)}
	}
	if n.PublicIPAddress != "" {
		ipconf.PublicIPAddress = &armnetwork.PublicIPAddress{ID: to.Ptr(resourceIDOf(sub, g.Name, "Microsoft.Network", "publicIPAddresses", n.PublicIPAddress))}
	}
	props := &armnetwork.InterfacePropertiesFormat{
		IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{ID: to.Ptr(id + "/ipConfigurations/ipconfig1"), Name: to.Ptr("ipconfig1"),
			Type: to.Ptr("Microsoft.Network/networkInterfaces/ipConfigurations"), Properties: ipconf}},
		MacAddress: to.Ptr(n.MACAddress), Primary: to.Ptr(true), ResourceGUID: to.Ptr(s.ids.guid("nic-guid/" + key(id))),
		ProvisioningState: to.Ptr(armnetwork.ProvisioningStateSucceeded), NicType: to.Ptr(armnetwork.NetworkInterfaceNicTypeStandard),
	}
	if n.NetworkSecurityGroup != "" {
		nsgID := refID(sub, g.Name, "Microsoft.Network", "networkSecurityGroups", n.NetworkSecurityGroup)
		if s.st.nsgs[key(nsgID)] == nil {
			return nil, fmt.Errorf("network security group %s is not in the scenario", nsgID)
		}
		props.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: to.Ptr(nsgID)}
	}
	return &armnetwork.Interface{ID: to.Ptr(id), Name: to.Ptr(n.Name), Type: to.Ptr("Microsoft.Network/networkInterfaces"),
		Location: to.Ptr(loc), Tags: toPtrMap(n.Tags), Etag: to.Ptr(`W/"` + s.ids.guid("etag/"+id) + `"`), Properties: props}, nil
}

func (s *Server) loadVM(sub string, g ScenarioResourceGroup, v ScenarioVM) error {
	st := s.st
	b := base(sub, g.Name, v.Location, g.Location, "virtualMachines", v.Name, v.Tags)
	vm := &virtualMachine{resourceBase: b, vmID: s.ids.guid("vm-id/" + key(b.id)), vmSize: v.VMSize, zones: v.Zones,
		computerName: v.ComputerName, adminUsername: v.AdminUsername, powerState: v.PowerState, userData: v.UserData,
		created: s.now().Add(-30 * 24 * timeHour)}
	if vm.vmSize == "" {
		vm.vmSize = "Standard_D2s_v5"
	}
	if vm.powerState == "" {
		vm.powerState = "running"
	}
	if vm.computerName == "" {
		vm.computerName = v.Name
	}
	attach := func(name string) (string, error) {
		id := refID(sub, g.Name, "Microsoft.Compute", "disks", name)
		d := st.disks[key(id)]
		if d == nil {
			return "", fmt.Errorf("disk %s is not in the resource group", name)
		}
		if d.managedBy != "" {
			return "", fmt.Errorf("disk %s is already attached to %s", name, d.managedBy)
		}
		d.managedBy = b.id
		return d.id, nil
	}
	var err error
	if v.OSDisk == "" {
		return fmt.Errorf("osDisk is required")
	}
	if vm.osDisk, err = attach(v.OSDisk); err != nil {
		return err
	}
	for _, dd := range v.DataDisks {
		if dd.VHD != "" {
			if !strings.HasPrefix(dd.VHD, "https://") || dd.Disk == "" {
				return fmt.Errorf("data disk at lun %d: an unmanaged disk needs a name (disk) and an https page blob URI (vhd)", dd.LUN)
			}
			vm.dataDisks = append(vm.dataDisks, dataDiskRef{lun: dd.LUN, vhdName: dd.Disk, vhdURI: dd.VHD})
			continue
		}
		id, err := attach(dd.Disk)
		if err != nil {
			return err
		}
		vm.dataDisks = append(vm.dataDisks, dataDiskRef{diskID: id, lun: dd.LUN})
	}
	for _, n := range v.NICs {
		id := refID(sub, g.Name, "Microsoft.Network", "networkInterfaces", n)
		nic := st.nics[key(id)]
		if nic == nil {
			return fmt.Errorf("network interface %s is not in the resource group", n)
		}
		nic.Properties.VirtualMachine = &armnetwork.SubResource{ID: to.Ptr(b.id)}
		vm.nics = append(vm.nics, *nic.ID)
	}
	switch v.Identity {
	case "", "None":
	case "SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned":
		vm.identityType = v.Identity
	default:
		return fmt.Errorf("identity %q is not SystemAssigned, UserAssigned or \"SystemAssigned, UserAssigned\"", v.Identity)
	}
	if strings.Contains(vm.identityType, "SystemAssigned") {
		vm.systemPrincipalID = s.ids.guid("vm-identity/" + key(b.id))
	}
	for _, name := range v.UserAssignedIdentities {
		id := refID(sub, g.Name, "Microsoft.ManagedIdentity", "userAssignedIdentities", name)
		if st.identities[key(id)] == nil {
			return fmt.Errorf("user-assigned identity %s is not in the resource group", name)
		}
		vm.userIdentities = append(vm.userIdentities, id)
	}
	if len(vm.userIdentities) > 0 && !strings.Contains(vm.identityType, "UserAssigned") {
		return fmt.Errorf("userAssignedIdentities need identity UserAssigned")
	}
	st.vms[key(b.id)] = vm
	return nil
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func toPtrMap(m map[string]string) map[string]*string {
	if m == nil {
		return nil
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = to.Ptr(v)
	}
	return out
}
