package gcpsim

import (
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func (c *call) instancePath() string {
	return "projects/" + c.proj.id + "/zones/" + c.vars["zone"] + "/instances/" + c.vars["instance"]
}

func (c *call) theInstance(permission string) (*instanceRes, *apiError) {
	if e := c.require(permission, c.instancePath()); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	in := c.s.st.instances[key(c.proj.id, z, c.vars["instance"])]
	if in == nil {
		return nil, notFound(c.instancePath())
	}
	return in, nil
}

func (s *Server) getInstance(c *call) (proto.Message, *apiError) {
	in, e := c.theInstance("compute.instances.get")
	if e != nil {
		return nil, e
	}
	return in.pb, nil
}

func (s *Server) listInstances(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.instances.list", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	var items []proto.Message
	for _, in := range s.st.instances {
		if in.project == c.proj.id && in.zone == z {
			items = append(items, in.pb)
		}
	}
	page, e := c.page(items)
	if e != nil {
		return nil, e
	}
	out := &computepb.InstanceList{Kind: proto.String("compute#instanceList"), NextPageToken: page.next, SelfLink: proto.String(zoneURL(c.proj.id, z) + "/instances")}
	for _, m := range page.items {
		out.Items = append(out.Items, m.(*computepb.Instance))
	}
	return out, nil
}

// aggregatedInstances lists the instances of every zone, keyed "zones/Z";
// a zone with none carries the NO_RESULTS_ON_PAGE warning.
// https://cloud.google.com/compute/docs/reference/rest/v1/instances/aggregatedList
func (s *Server) aggregatedInstances(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.instances.list", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	var items []proto.Message
	for _, in := range s.st.instances {
		if in.project == c.proj.id {
			items = append(items, in.pb)
		}
	}
	page, e := c.page(items)
	if e != nil {
		return nil, e
	}
	out := &computepb.InstanceAggregatedList{Kind: proto.String("compute#instanceAggregatedList"), NextPageToken: page.next,
		SelfLink: proto.String(projectURL(c.proj.id) + "/aggregated/instances"), Items: map[string]*computepb.InstancesScopedList{}}
	for _, z := range c.proj.zones {
		out.Items["zones/"+z] = &computepb.InstancesScopedList{Warning: noResults("zones/" + z)}
	}
	for _, m := range page.items {
		in := m.(*computepb.Instance)
		scope := "zones/" + lastSegment(in.GetZone())
		l := out.Items[scope]
		l.Warning = nil
		l.Instances = append(l.Instances, in)
	}
	return out, nil
}

// insertInstance creates a VM: existing disks of its zone attached (read-only
// ones may be shared by several VMs, a read-write one by none), or new ones
// from initializeParams; metadata, labels, network interfaces and a service
// account, each needing its permission. A VM whose metadata holds a
// startup-script runs it (see worker.go).
// https://cloud.google.com/compute/docs/reference/rest/v1/instances/insert
func (s *Server) insertInstance(c *call) (proto.Message, *apiError) {
	var req computepb.Instance
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	name := req.GetName()
	path := "projects/" + c.proj.id + "/zones/" + z + "/instances/" + name
	if e := c.require("compute.instances.create", path); e != nil {
		return nil, e
	}
	if e := validName("resource.name", name); e != nil {
		return nil, e
	}
	if e := validLabels("resource.labels", req.GetLabels()); e != nil {
		return nil, e
	}
	k := key(c.proj.id, z, name)
	if s.st.instances[k] != nil {
		return nil, alreadyExists(path)
	}
	if len(req.GetLabels()) > 0 {
		if e := c.require("compute.instances.setLabels", path); e != nil {
			return nil, e
		}
	}
	meta := map[string]string{}
	for _, it := range req.GetMetadata().GetItems() {
		meta[it.GetKey()] = it.GetValue()
	}
	if len(meta) > 0 {
		if e := c.require("compute.instances.setMetadata", path); e != nil {
			return nil, e
		}
	}
	if len(req.GetTags().GetItems()) > 0 {
		if e := c.require("compute.instances.setTags", path); e != nil {
			return nil, e
		}
	}
	var account *computepb.ServiceAccount
	if sas := req.GetServiceAccounts(); len(sas) > 0 {
		if len(sas) > 1 {
			return nil, invalidField("resource.serviceAccounts", "", "An instance can have only one service account.")
		}
		account = sas[0]
		if e := c.require("compute.instances.setServiceAccount", path); e != nil {
			return nil, e
		}
		target := s.st.serviceAccounts[account.GetEmail()]
		if target == nil {
			return nil, invalidField("resource.serviceAccounts[0].email", account.GetEmail(), "The service account does not exist.")
		}
		// https://cloud.google.com/compute/docs/access/service-accounts#permissions
		if !s.allowed(c.who, s.st.projects[target.project], "iam.serviceAccounts.actAs", nil) {
			return nil, forbidden("iam.serviceAccounts.actAs", "projects/"+target.project+"/serviceAccounts/"+account.GetEmail())
		}
	}
	for i, nic := range req.GetNetworkInterfaces() {
		if nic.GetSubnetwork() != "" || nic.GetNetwork() != "" {
			if e := c.require("compute.subnetworks.use", "projects/"+c.proj.id+"/regions/"+zoneRegion(z)+"/subnetworks/"+lastSegment(nic.GetSubnetwork()+nic.GetNetwork())); e != nil {
				return nil, e
			}
		}
		if len(nic.GetAccessConfigs()) > 0 {
			if e := c.require("compute.subnetworks.useExternalIp", "projects/"+c.proj.id+"/regions/"+zoneRegion(z)+"/subnetworks/default"); e != nil {
				return nil, e
			}
		}
		nic.Name = proto.String("nic" + itoa(int64(i)))
	}
	if len(req.GetDisks()) == 0 {
		return nil, required("resource.disks")
	}
	selfLink := instanceURL(c.proj.id, z, name)
	type attach struct {
		d     *diskRes
		ad    *computepb.AttachedDisk
		fresh bool
	}
	var attachments []attach
	boots := 0
	for i, ad := range req.GetDisks() {
		mode := ad.GetMode()
		if mode == "" {
			mode = "READ_WRITE"
		}
		if mode != "READ_WRITE" && mode != "READ_ONLY" {
			return nil, invalidField("resource.disks["+itoa(int64(i))+"].mode", mode, "Must be READ_WRITE or READ_ONLY.")
		}
		if ad.GetBoot() {
			boots++
		}
		var d *diskRes
		fresh := false
		switch {
		case ad.GetSource() != "":
			r, ok := parseRef(ad.GetSource(), "disks", c.proj.id, z)
			if !ok || r.project != c.proj.id || r.scope != "zones/"+z {
				return nil, invalidField("resource.disks["+itoa(int64(i))+"].source", ad.GetSource(), "The disk must be in the instance's project and zone.")
			}
			perm := "compute.disks.use"
			if mode == "READ_ONLY" {
				perm = "compute.disks.useReadOnly"
			}
			if e := c.require(perm, r.path()); e != nil {
				return nil, e
			}
			if d = s.st.disks[r.key()]; d == nil {
				return nil, notFound(r.path())
			}
			// A disk is attached read-write to one instance, or read-only
			// to any number.
			// https://cloud.google.com/compute/docs/disks/sharing-disks-between-vms#use-multi-instances
			for _, u := range d.pb.GetUsers() {
				if mode == "READ_WRITE" || s.attachedMode(u, d) == "READ_WRITE" {
					return nil, resourceInUse(r.path(), u)
				}
			}
		case ad.GetInitializeParams() != nil:
			ip := ad.GetInitializeParams()
			dname := ip.GetDiskName()
			if dname == "" {
				dname = name
				if i > 0 {
					dname = name + "-" + itoa(int64(i))
				}
			}
			if s.st.disks[key(c.proj.id, z, dname)] != nil {
				return nil, alreadyExists("projects/" + c.proj.id + "/zones/" + z + "/disks/" + dname)
			}
			if e := c.require("compute.disks.create", "projects/"+c.proj.id+"/zones/"+z+"/disks/"+dname); e != nil {
				return nil, e
			}
			size := ip.GetDiskSizeGb()
			cont := emptyContent(max(size, 10))
			switch {
			case ip.GetSourceSnapshot() != "":
				snap, e := c.useSnapshot(ip.GetSourceSnapshot())
				if e != nil {
					return nil, e
				}
				cont = snap.content.resized(max(size, snap.content.sizeGb))
			case ip.GetSourceImage() != "":
				// A boot disk from a public OS image holds the OS: the
				// simulator does not model its content (the worker runs
				// on this machine).
			default:
				return nil, required("resource.disks[" + itoa(int64(i)) + "].initializeParams.sourceImage")
			}
			pb := s.newDiskProto(c.proj.id, z, dname, cont.sizeGb, lastSegment(ip.GetDiskType()), ip.GetLabels(), c.now)
			if ip.GetSourceImage() != "" {
				pb.SourceImage = proto.String(ip.GetSourceImage())
			}
			d = &diskRes{pb: pb, project: c.proj.id, zone: z, content: cont}
			fresh = true
		default:
			return nil, required("resource.disks[" + itoa(int64(i)) + "].source")
		}
		dev := ad.GetDeviceName()
		if dev == "" {
			dev = "persistent-disk-" + itoa(int64(i))
		}
		if !validDeviceName(dev) {
			return nil, invalidField("resource.disks["+itoa(int64(i))+"].deviceName", dev, "Must be a match of regex '[a-z]([-a-z0-9]*[a-z0-9])?'")
		}
		autoDelete := ad.GetAutoDelete() || (ad.AutoDelete == nil && fresh)
		attachments = append(attachments, attach{d, attachedDisk(d, int32(i), dev, mode, ad.GetBoot(), autoDelete), fresh})
	}
	if boots != 1 {
		return nil, invalidField("resource.disks", "", "Exactly one disk must be the boot disk.")
	}
	machine := lastSegment(req.GetMachineType())
	if machine == "" {
		return nil, required("resource.machineType")
	}
	pb := &computepb.Instance{
		Kind: proto.String("compute#instance"), Id: proto.Uint64(s.ids.resourceID()), Name: proto.String(name),
		Description: req.Description, Zone: proto.String(zoneURL(c.proj.id, z)),
		MachineType: proto.String(zoneURL(c.proj.id, z) + "/machineTypes/" + machine), Status: proto.String("RUNNING"),
		CreationTimestamp: proto.String(timestamp(c.now)), SelfLink: proto.String(selfLink),
		Labels: req.GetLabels(), LabelFingerprint: proto.String(labelFingerprint(req.GetLabels())),
		Metadata: metadataProto(meta), Tags: &computepb.Tags{Items: req.GetTags().GetItems(), Fingerprint: proto.String(labelFingerprint(nil))},
		NetworkInterfaces: req.GetNetworkInterfaces(), ShieldedInstanceConfig: req.GetShieldedInstanceConfig(),
		Scheduling: req.GetScheduling(), CpuPlatform: proto.String("Intel Broadwell"),
		Fingerprint: proto.String(labelFingerprint(map[string]string{"instance": name})),
	}
	if account != nil {
		pb.ServiceAccounts = []*computepb.ServiceAccount{{Email: account.Email, Scopes: account.GetScopes()}}
	}
	for _, a := range attachments {
		pb.Disks = append(pb.Disks, a.ad)
		if a.fresh {
			s.st.disks[key(c.proj.id, z, a.d.pb.GetName())] = a.d
		}
		a.d.pb.Users = append(a.d.pb.Users, selfLink)
	}
	in := &instanceRes{pb: pb, project: c.proj.id, zone: z, guestAttributes: map[string]map[string]string{}}
	s.st.instances[k] = in
	if script, ok := meta["startup-script"]; ok && s.runWorkers {
		if e := s.startWorker(in, script); e != nil {
			// The simulator could not run the script (a failure of this machine, not a rule of the
			// cloud): the call fails and leaves nothing made.
			delete(s.st.instances, k)
			for _, a := range attachments {
				if a.fresh {
					delete(s.st.disks, key(c.proj.id, z, a.d.pb.GetName()))
					continue
				}
				a.d.pb.Users = slices.DeleteFunc(a.d.pb.Users, func(u string) bool { return u == selfLink })
			}
			return nil, e
		}
	}
	return c.newOperation("insert", "zones/"+z, selfLink, pb.GetId(), 0), nil
}

// attachedMode is the mode a disk is attached in to the instance at url.
func (s *Server) attachedMode(url string, d *diskRes) string {
	r, _ := parseRef(url, "instances", "", "")
	in := s.st.instances[r.key()]
	if in == nil {
		return ""
	}
	for _, ad := range in.pb.GetDisks() {
		if ad.GetSource() == d.pb.GetSelfLink() {
			return ad.GetMode()
		}
	}
	return ""
}

// deleteInstance deletes a VM, stopping its script, detaching its disks and
// deleting those marked autoDelete.
// https://cloud.google.com/compute/docs/reference/rest/v1/instances/delete
func (s *Server) deleteInstance(c *call) (proto.Message, *apiError) {
	in, e := c.theInstance("compute.instances.delete")
	if e != nil {
		return nil, e
	}
	if in.worker != nil {
		in.worker.stop()
	}
	self := in.pb.GetSelfLink()
	for _, ad := range in.pb.GetDisks() {
		r, _ := parseRef(ad.GetSource(), "disks", "", "")
		d := s.st.disks[r.key()]
		if d == nil {
			continue
		}
		d.pb.Users = slices.DeleteFunc(d.pb.Users, func(u string) bool { return u == self })
		if ad.GetAutoDelete() && len(d.pb.GetUsers()) == 0 {
			delete(s.st.disks, r.key())
		}
	}
	delete(s.st.instances, key(in.project, in.zone, in.pb.GetName()))
	return c.newOperation("delete", "zones/"+in.zone, self, in.pb.GetId(), 0), nil
}

// getGuestAttributes answers what the guest published through the metadata
// server: one value by variableKey ("NAMESPACE/KEY"), or every value under
// queryPath ("NAMESPACE/" or "NAMESPACE/KEY").
// https://cloud.google.com/compute/docs/reference/rest/v1/instances/getGuestAttributes
// https://cloud.google.com/compute/docs/metadata/manage-guest-attributes
func (s *Server) getGuestAttributes(c *call) (proto.Message, *apiError) {
	in, e := c.theInstance("compute.instances.getGuestAttributes")
	if e != nil {
		return nil, e
	}
	q := c.r.URL.Query()
	out := &computepb.GuestAttributes{Kind: proto.String("compute#guestAttributes"),
		SelfLink: proto.String(in.pb.GetSelfLink() + "/guestAttributes/" + q.Get("variableKey") + q.Get("queryPath"))}
	if vk := q.Get("variableKey"); vk != "" {
		ns, k, _ := strings.Cut(vk, "/")
		v, ok := in.guestAttributes[ns][k]
		if !ok {
			return nil, notFound(c.instancePath() + "/guestAttributes/" + vk)
		}
		out.VariableKey, out.VariableValue = proto.String(vk), proto.String(v)
		return out, nil
	}
	qp := q.Get("queryPath")
	out.QueryPath = proto.String(qp)
	ns, k, _ := strings.Cut(qp, "/")
	value := &computepb.GuestAttributesValue{}
	for _, n := range sortedKeys(in.guestAttributes) {
		if ns != "" && n != ns {
			continue
		}
		for _, kk := range sortedKeys(in.guestAttributes[n]) {
			if k != "" && kk != k {
				continue
			}
			value.Items = append(value.Items, &computepb.GuestAttributesEntry{Namespace: proto.String(n), Key: proto.String(kk), Value: proto.String(in.guestAttributes[n][kk])})
		}
	}
	if len(value.Items) == 0 && qp != "" {
		return nil, notFound(c.instancePath() + "/guestAttributes/" + qp)
	}
	out.QueryValue = value
	return out, nil
}
