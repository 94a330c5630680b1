package gcpsim

import (
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// testDiskPermissions answers disks.testIamPermissions: of the permissions
// asked about, those the caller holds on the disk, which here are those of
// the project's bindings (disks carry no policy of their own in the
// simulator). The call needs no permission of its own; a disk that does not
// exist is 404.
// https://cloud.google.com/compute/docs/reference/rest/v1/disks/testIamPermissions
func (s *Server) testDiskPermissions(c *call) (proto.Message, *apiError) {
	z, e := c.zone()
	if e != nil {
		return nil, e
	}
	path := "projects/" + c.proj.id + "/zones/" + z + "/disks/" + c.vars["resource"]
	if s.st.disks[key(c.proj.id, z, c.vars["resource"])] == nil {
		return nil, notFound(path)
	}
	var req computepb.TestPermissionsRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	out := &computepb.TestPermissionsResponse{}
	for _, p := range req.GetPermissions() {
		if s.allowed(c.who, c.proj, p, nil) {
			out.Permissions = append(out.Permissions, p)
		}
	}
	return out, nil
}
