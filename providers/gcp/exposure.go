package gcp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// publicMembers are the members that make a resource usable by anyone
// (https://cloud.google.com/iam/docs/principals-overview#all-users).
var publicMembers = []string{"allUsers", "allAuthenticatedUsers"}

// Exposure finds the source project's snapshots and images of the target disks whose own IAM policy
// lets anyone, or anyone outside the project, use them: the attacker may hold a copy already.
// https://cloud.google.com/compute/docs/access/iam#snapshot-iam, https://cloud.google.com/compute/docs/images/managing-access-custom-images
func (d *Driver) Exposure(ctx context.Context, vols []driver.Volume) ([]driver.Finding, error) {
	if len(vols) == 0 {
		return nil, nil
	}
	ids := map[string]bool{}
	for _, v := range vols {
		ids[v.ID] = true
	}
	// What Describe left out is told first: the evidence of its instance is incomplete.
	findings, err := d.skippedOf(ctx, vols)
	if err != nil {
		return nil, err
	}
	c := d.sides[driver.Source]
	project := d.cfg.Project
	snaps := c.snapshots.List(ctx, &computepb.ListSnapshotsRequest{Project: project, MaxResults: proto.Uint32(500)}, d.retry())
	for {
		s, err := snaps.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, err
		}
		vol := sourceOf(s.GetSourceDisk())
		if !ids[vol] {
			continue
		}
		pol, err := c.snapshots.GetIamPolicy(ctx, &computepb.GetIamPolicySnapshotRequest{Project: project, Resource: s.GetName()}, d.retry())
		if err != nil {
			return nil, err
		}
		if f, ok := finding("snapshot", "projects/"+project+"/global/snapshots/"+s.GetName(), vol, pol); ok {
			findings = append(findings, f)
		}
	}
	images := c.images.List(ctx, &computepb.ListImagesRequest{Project: project, MaxResults: proto.Uint32(500)}, d.retry())
	for {
		im, err := images.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, err
		}
		vol := sourceOf(im.GetSourceDisk())
		if !ids[vol] {
			continue
		}
		pol, err := c.images.GetIamPolicy(ctx, &computepb.GetIamPolicyImageRequest{Project: project, Resource: im.GetName()}, d.retry())
		if err != nil {
			return nil, err
		}
		if f, ok := finding("image", "projects/"+project+"/global/images/"+im.GetName(), vol, pol); ok {
			findings = append(findings, f)
		}
	}
	return findings, nil
}

func sourceOf(url string) string {
	if r, ok := parseRef(url); ok {
		return r.id()
	}
	return ""
}

// finding reports a resource whose policy grants a role to anyone (public) or to named members
// (shared): the project's own policy grants aside, the resource's own bindings are all sharing.
func finding(kind, resource, vol string, pol *computepb.Policy) (driver.Finding, bool) {
	var members, grants []string
	public := false
	for _, b := range pol.GetBindings() {
		for _, m := range b.GetMembers() {
			if slices.Contains(publicMembers, m) {
				public = true
			}
			if !slices.Contains(members, m) {
				members = append(members, m)
			}
			grants = append(grants, b.GetRole()+" to "+m)
		}
	}
	if len(members) == 0 {
		return driver.Finding{}, false
	}
	f := driver.Finding{Kind: "shared-" + kind, Resource: resource, VolumeID: vol, Accounts: members,
		Detail: fmt.Sprintf("%s of %s: its IAM policy grants %s", kind, vol, strings.Join(grants, ", "))}
	if public {
		f.Kind = "public-" + kind
		f.Detail = fmt.Sprintf("%s of %s is PUBLIC: its IAM policy grants %s", kind, vol, strings.Join(grants, ", "))
	}
	return f, true
}
