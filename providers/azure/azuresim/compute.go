package azuresim

import (
	"net/http"
	"sort"
	"strings"
)

// The read side of Compute and Network: virtual machines, their instance
// view, network interfaces and security groups, disks and disk encryption
// sets.

func (c *call) targetID(namespace, typ string) string {
	return resourceIDOf(strings.ToLower(c.params["subscriptionId"]), c.params["resourceGroupName"], namespace, typ, c.params["name"])
}

// groupExists answers ResourceGroupNotFound for a missing group, as ARM
// does before the resource provider is asked. Callers hold s.mu.
func (s *Server) groupMissing(c *call) *armError {
	if s.groupOf(c) == nil {
		return resourceGroupNotFound(c.params["resourceGroupName"])
	}
	return nil
}

// https://learn.microsoft.com/rest/api/compute/virtual-machines/get
func (s *Server) getVM(c *call) {
	id := c.targetID("Microsoft.Compute", "virtualMachines")
	expand := strings.ToLower(c.r.URL.Query().Get("$expand"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.groupMissing(c); e != nil {
		c.fail(e)
		return
	}
	vm := s.st.vms[key(id)]
	if vm == nil {
		c.fail(notFound(id))
		return
	}
	c.reply(http.StatusOK, s.renderVM(vm, c.now, expand == "userdata", expand == "instanceview"))
}

// https://learn.microsoft.com/rest/api/compute/virtual-machines/instance-view
func (s *Server) getVMInstanceView(c *call) {
	id := c.targetID("Microsoft.Compute", "virtualMachines")
	s.mu.Lock()
	defer s.mu.Unlock()
	vm := s.st.vms[key(id)]
	if vm == nil {
		c.fail(notFound(id))
		return
	}
	c.reply(http.StatusOK, s.renderInstanceView(vm, c.now))
}

// listVMs lists a resource group's or a subscription's VMs.
// https://learn.microsoft.com/rest/api/compute/virtual-machines/list
func (s *Server) listVMs(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.params["resourceGroupName"] != "" {
		if e := s.groupMissing(c); e != nil {
			c.fail(e)
			return
		}
	}
	var vms []*virtualMachine
	for _, vm := range s.st.vms {
		if withinScope(vm.id, c.scope) {
			vms = append(vms, vm)
		}
	}
	sort.Slice(vms, func(i, j int) bool { return key(vms[i].id) < key(vms[j].id) })
	var out []any
	for _, vm := range vms {
		out = append(out, s.renderVM(vm, c.now, false, false))
	}
	c.reply(http.StatusOK, map[string]any{"value": orEmpty(out)})
}

// https://learn.microsoft.com/rest/api/virtualnetwork/network-interfaces/get
func (s *Server) getNIC(c *call) {
	id := c.targetID("Microsoft.Network", "networkInterfaces")
	s.mu.Lock()
	defer s.mu.Unlock()
	nic := s.st.nics[key(id)]
	if nic == nil {
		c.fail(notFound(id))
		return
	}
	c.reply(http.StatusOK, nic)
}

// https://learn.microsoft.com/rest/api/virtualnetwork/network-security-groups/get
func (s *Server) getNSG(c *call) {
	id := c.targetID("Microsoft.Network", "networkSecurityGroups")
	s.mu.Lock()
	defer s.mu.Unlock()
	nsg := s.st.nsgs[key(id)]
	if nsg == nil {
		c.fail(notFound(id))
		return
	}
	c.reply(http.StatusOK, nsg)
}

// https://learn.microsoft.com/rest/api/compute/disks/get
func (s *Server) getDisk(c *call) {
	id := c.targetID("Microsoft.Compute", "disks")
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.groupMissing(c); e != nil {
		c.fail(e)
		return
	}
	d := s.st.disks[key(id)]
	if d == nil {
		c.fail(notFound(id))
		return
	}
	c.reply(http.StatusOK, s.renderDisk(d, c.now))
}

// https://learn.microsoft.com/rest/api/compute/disks/list
func (s *Server) listDisks(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var disks []*disk
	for _, d := range s.st.disks {
		if withinScope(d.id, c.scope) {
			disks = append(disks, d)
		}
	}
	sort.Slice(disks, func(i, j int) bool { return key(disks[i].id) < key(disks[j].id) })
	var out []any
	for _, d := range disks {
		out = append(out, s.renderDisk(d, c.now))
	}
	c.reply(http.StatusOK, map[string]any{"value": orEmpty(out)})
}

// https://learn.microsoft.com/rest/api/compute/disk-encryption-sets/get
func (s *Server) getDES(c *call) {
	id := c.targetID("Microsoft.Compute", "diskEncryptionSets")
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.desets[key(id)]
	if d == nil {
		c.fail(notFound(id))
		return
	}
	c.reply(http.StatusOK, s.renderDES(d))
}
