package gcpsim

import (
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// getProject answers projects.get: the project number is what the CMEK
// service agent's name is made of.
// https://cloud.google.com/compute/docs/reference/rest/v1/projects/get
func (s *Server) getProject(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.projects.get", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	p := c.proj
	out := &computepb.Project{
		Kind: proto.String("compute#project"), Id: proto.Uint64(uint64(p.number)), Name: proto.String(p.id),
		SelfLink: proto.String(projectURL(p.id)), CreationTimestamp: proto.String(timestamp(c.now)),
		CommonInstanceMetadata: metadataProto(p.metadata),
		DefaultServiceAccount:  proto.String(itoa(p.number) + "-compute@developer.gserviceaccount.com"),
		XpnProjectStatus:       proto.String("UNSPECIFIED_XPN_PROJECT_STATUS"),
	}
	return out, nil
}

func (s *Server) zoneProto(p *project, z string) *computepb.Zone {
	return &computepb.Zone{
		Kind: proto.String("compute#zone"), Id: proto.Uint64(uint64(len(z)) * 1000), Name: proto.String(z),
		Region: proto.String(regionURL(p.id, zoneRegion(z))), Status: proto.String("UP"),
		SelfLink: proto.String(zoneURL(p.id, z)), Description: proto.String(z),
	}
}

func (s *Server) listZones(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.zones.list", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	var items []proto.Message
	for _, z := range c.proj.zones {
		items = append(items, s.zoneProto(c.proj, z))
	}
	page, e := c.page(items)
	if e != nil {
		return nil, e
	}
	out := &computepb.ZoneList{Kind: proto.String("compute#zoneList"), NextPageToken: page.next, SelfLink: proto.String(projectURL(c.proj.id) + "/zones")}
	for _, m := range page.items {
		out.Items = append(out.Items, m.(*computepb.Zone))
	}
	return out, nil
}

func (s *Server) getZone(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.zones.get", "projects/"+c.proj.id+"/zones/"+c.vars["zone"]); e != nil {
		return nil, e
	}
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	return s.zoneProto(c.proj, z), nil
}
