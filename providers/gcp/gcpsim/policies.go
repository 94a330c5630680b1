package gcpsim

import (
	"net/http"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Resource policies are regional. The simulator keeps their definition and
// gives one kind meaning: diskConsistencyGroupPolicy, the consistency group
// that instant snapshot groups are taken from.
// https://cloud.google.com/compute/docs/reference/rest/v1/resourcePolicies
// https://cloud.google.com/compute/docs/disks/manage-consistency-groups

func (c *call) policyPath() string {
	return "projects/" + c.proj.id + "/regions/" + c.vars["region"] + "/resourcePolicies/" + c.vars["resourcePolicy"]
}

func (s *Server) policyByURL(url string) *resourcePolicyRes {
	r, ok := parseRef(url, "resourcePolicies", "", "")
	if !ok {
		return nil
	}
	return s.st.resourcePolicies[r.key()]
}

// resourcePolicy resolves a policy a disk call names, which must be in the
// disk's region; using it needs compute.resourcePolicies.use.
func (c *call) resourcePolicy(refText, region string) (*resourcePolicyRes, *apiError) {
	r, ok := parseRef(refText, "resourcePolicies", c.proj.id, "")
	if !ok || r.scope == "global" {
		return nil, invalidField("resourcePolicies", refText, "The URL is malformed.")
	}
	if e := c.requireIn(c.s.st.projects[r.project], "compute.resourcePolicies.use", r.path()); e != nil {
		return nil, e
	}
	pol := c.s.st.resourcePolicies[r.key()]
	if pol == nil {
		return nil, notFound(r.path())
	}
	if pol.region != region {
		return nil, newError(http.StatusBadRequest, "invalid", "Resource policy %s is in region %s; the disk is in region %s.", r.path(), pol.region, region)
	}
	return pol, nil
}

func (s *Server) insertResourcePolicy(c *call) (proto.Message, *apiError) {
	var req computepb.ResourcePolicy
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	region, e := c.region()
	if e != nil {
		return nil, e
	}
	name := req.GetName()
	path := "projects/" + c.proj.id + "/regions/" + region + "/resourcePolicies/" + name
	if e := c.require("compute.resourcePolicies.create", path); e != nil {
		return nil, e
	}
	if e := validName("resource.name", name); e != nil {
		return nil, e
	}
	k := key(c.proj.id, region, name)
	if s.st.resourcePolicies[k] != nil {
		return nil, alreadyExists(path)
	}
	kinds := 0
	for _, set := range []bool{req.DiskConsistencyGroupPolicy != nil, req.SnapshotSchedulePolicy != nil,
		req.GroupPlacementPolicy != nil, req.InstanceSchedulePolicy != nil, req.WorkloadPolicy != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, invalidField("resource", name, "A resource policy must have exactly one policy type.")
	}
	pb := proto.Clone(&req).(*computepb.ResourcePolicy)
	pb.Kind = proto.String("compute#resourcePolicy")
	pb.Id = proto.Uint64(s.ids.resourceID())
	pb.Region = proto.String(regionURL(c.proj.id, region))
	pb.SelfLink = proto.String(policyURL(c.proj.id, region, name))
	pb.CreationTimestamp = proto.String(timestamp(c.now))
	pb.Status = proto.String("READY")
	s.st.resourcePolicies[k] = &resourcePolicyRes{pb: pb, project: c.proj.id, region: region}
	return c.newOperation("insert", "regions/"+region, pb.GetSelfLink(), pb.GetId(), 0), nil
}

func (c *call) thePolicy(permission string) (*resourcePolicyRes, *apiError) {
	if e := c.require(permission, c.policyPath()); e != nil {
		return nil, e
	}
	pol := c.s.st.resourcePolicies[key(c.proj.id, c.vars["region"], c.vars["resourcePolicy"])]
	if pol == nil {
		return nil, notFound(c.policyPath())
	}
	return pol, nil
}

func (s *Server) getResourcePolicy(c *call) (proto.Message, *apiError) {
	pol, e := c.thePolicy("compute.resourcePolicies.get")
	if e != nil {
		return nil, e
	}
	return pol.pb, nil
}

func (s *Server) listResourcePolicies(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.resourcePolicies.list", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	region, e := c.region()
	if e != nil {
		return nil, e
	}
	var items []proto.Message
	for _, p := range s.st.resourcePolicies {
		if p.project == c.proj.id && p.region == region {
			items = append(items, p.pb)
		}
	}
	page, e := c.page(items)
	if e != nil {
		return nil, e
	}
	out := &computepb.ResourcePolicyList{Kind: proto.String("compute#resourcePolicyList"), NextPageToken: page.next,
		SelfLink: proto.String(regionURL(c.proj.id, region) + "/resourcePolicies")}
	for _, m := range page.items {
		out.Items = append(out.Items, m.(*computepb.ResourcePolicy))
	}
	return out, nil
}

// deleteResourcePolicy refuses a policy still attached to a disk.
func (s *Server) deleteResourcePolicy(c *call) (proto.Message, *apiError) {
	pol, e := c.thePolicy("compute.resourcePolicies.delete")
	if e != nil {
		return nil, e
	}
	if users := s.groupDisks(pol.pb.GetSelfLink()); len(users) > 0 {
		return nil, newError(http.StatusBadRequest, "resourceInUseByAnotherResource",
			"The resource_policy resource '%s' is already being used by '%s'", c.policyPath(), users[0].pb.GetSelfLink())
	}
	delete(s.st.resourcePolicies, key(c.proj.id, pol.region, pol.pb.GetName()))
	return c.newOperation("delete", "regions/"+pol.region, pol.pb.GetSelfLink(), pol.pb.GetId(), 0), nil
}
