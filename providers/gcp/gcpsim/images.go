package gcpsim

import (
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Images are served for the exposure check: which custom images were made
// from a disk or snapshot (sourceDisk, sourceSnapshot), and which of them
// are public (their IAM policy grants allAuthenticatedUsers).
// https://cloud.google.com/compute/docs/reference/rest/v1/images/list

func (s *Server) listImages(c *call) (proto.Message, *apiError) {
	if e := c.require("compute.images.list", "projects/"+c.proj.id); e != nil {
		return nil, e
	}
	var items []proto.Message
	for _, im := range s.st.images {
		if im.project == c.proj.id {
			items = append(items, im.pb)
		}
	}
	page, e := c.page(items)
	if e != nil {
		return nil, e
	}
	out := &computepb.ImageList{Kind: proto.String("compute#imageList"), NextPageToken: page.next, SelfLink: proto.String(projectURL(c.proj.id) + "/global/images")}
	for _, m := range page.items {
		out.Items = append(out.Items, m.(*computepb.Image))
	}
	return out, nil
}

func (s *Server) getImage(c *call) (proto.Message, *apiError) {
	path := "projects/" + c.proj.id + "/global/images/" + c.vars["image"]
	if e := c.require("compute.images.get", path); e != nil {
		return nil, e
	}
	im := s.st.images[key(c.proj.id, c.vars["image"])]
	if im == nil {
		return nil, notFound(path)
	}
	return im.pb, nil
}

// getImageIAMPolicy shows whether an image is public: a public image's
// policy grants roles/compute.imageUser to allAuthenticatedUsers.
// https://cloud.google.com/compute/docs/images/managing-access-custom-images#share-images-publicly
func (s *Server) getImageIAMPolicy(c *call) (proto.Message, *apiError) {
	path := "projects/" + c.proj.id + "/global/images/" + c.vars["image"]
	if e := c.require("compute.images.getIamPolicy", path); e != nil {
		return nil, e
	}
	im := s.st.images[key(c.proj.id, c.vars["image"])]
	if im == nil {
		return nil, notFound(path)
	}
	if !im.public {
		return policyView(nil), nil
	}
	return &computepb.Policy{Version: proto.Int32(1), Etag: proto.String("BwWpublic"),
		Bindings: []*computepb.Binding{{Role: proto.String("roles/compute.imageUser"), Members: []string{"allAuthenticatedUsers"}}}}, nil
}
