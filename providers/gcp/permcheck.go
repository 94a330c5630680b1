package gcp

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	crm "google.golang.org/api/cloudresourcemanager/v1"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// missingPermissionsError is a check that found permissions the credentials lack on one resource,
// before anything was made.
type missingPermissionsError struct {
	resource string
	missing  []string
}

func (e *missingPermissionsError) Error() string {
	return fmt.Sprintf("the credentials lack %s on %s: grant them (the role `acquire iam gcp` prints holds them) and run again",
		strings.Join(e.missing, ", "), e.resource)
}

// allMissing is every missingPermissionsError a preflight found, named in one message.
type allMissing []*missingPermissionsError

func (e allMissing) Error() string {
	parts := make([]string, len(e))
	for i, m := range e {
		parts[i] = strings.Join(m.missing, ", ") + " on " + m.resource
	}
	return "the credentials lack " + strings.Join(parts, "; ") + ": grant them (the roles `acquire iam gcp` prints hold them) and run again"
}

func (e allMissing) Unwrap() []error {
	out := make([]error, len(e))
	for i, m := range e {
		out[i] = m
	}
	return out
}

// wants says which of the permission sets an acquisition needs. The forensic key's are not tested:
// they are needed where the key is, and are used at once by reading its policy.
func wants(p driver.Preflight, staged, images bool) func(need) bool {
	return func(n need) bool {
		switch n {
		case always:
			return true
		case stagedNeed:
			return staged
		case imageNeed:
			return p.Digest && images
		case crashNeed:
			return p.Consistency == driver.CrashConsistent
		case digestNeed:
			return p.Digest
		}
		return false
	}
}

// onDisk reports whether a permission is tested on each source disk rather than on the project: a
// disk's own policy may grant it.
func onDisk(p string) bool { return strings.HasPrefix(p, "compute.disks.") }

// checkPermissions tests, before anything is made, what the acquisition will need of each side's
// credentials for the options chosen, from the same table `acquire iam gcp` prints, and names every
// permission missing at once: on each source disk through disks.testIamPermissions; in the source
// project, what crash consistency and the staged path (--staged) do there; in the forensic project, all its side needs
// (Compute Engine's testIamPermissions needs an existing resource, and the forensic project holds
// none of the acquisition's yet: Cloud Resource Manager's projects.testIamPermissions answers for
// the project, compute.* permissions included). The source side's other permissions were used by the
// identity, describe and exposure steps already, where they may have been granted on the resources.
func (d *Driver) checkPermissions(ctx context.Context, p driver.Preflight) error {
	want := wants(p, d.cfg.Staged, d.cfg.Worker.ImageBucket != "")
	var diskPerms, sourcePerms, forensicPerms []string
	for _, perm := range sidePermissions(driver.Source, want) {
		if onDisk(perm.Name) {
			diskPerms = append(diskPerms, perm.Name)
		}
	}
	for _, n := range []need{stagedNeed, crashNeed} {
		if !want(n) {
			continue
		}
		for _, perm := range permissions[driver.Source][n] {
			if !onDisk(perm.Name) {
				sourcePerms = append(sourcePerms, perm.Name)
			}
		}
	}
	for _, perm := range sidePermissions(driver.Forensic, want) {
		forensicPerms = append(forensicPerms, perm.Name)
	}
	var found allMissing
	add := func(m *missingPermissionsError, err error) error {
		if m != nil {
			found = append(found, m)
		}
		return err
	}
	seen := map[string]bool{}
	for _, v := range p.Volumes {
		if seen[v.ID] {
			continue
		}
		seen[v.ID] = true
		if err := add(d.testDisk(ctx, v.ID, diskPerms)); err != nil {
			return err
		}
	}
	if err := add(d.testProject(ctx, driver.Source, sourcePerms)); err != nil {
		return err
	}
	if err := add(d.testProject(ctx, driver.Forensic, forensicPerms)); err != nil {
		return err
	}
	if len(found) > 0 {
		return found
	}
	return nil
}

// testDisk asks Compute Engine which of perms the source credentials hold on a disk
// (https://cloud.google.com/compute/docs/reference/rest/v1/disks/testIamPermissions).
func (d *Driver) testDisk(ctx context.Context, id string, perms []string) (*missingPermissionsError, error) {
	r, ok := parseRef(id)
	if !ok || len(perms) == 0 {
		return nil, nil
	}
	got, err := d.sides[driver.Source].disks.TestIamPermissions(ctx, &computepb.TestIamPermissionsDiskRequest{Project: r.project, Zone: r.zone, Resource: r.name,
		TestPermissionsRequestResource: &computepb.TestPermissionsRequest{Permissions: perms}}, d.retry())
	if err != nil {
		return nil, fmt.Errorf("checking the permissions on disk %s: %w", id, err)
	}
	return lacking("disk "+id, perms, got.GetPermissions()), nil
}

// testProject asks Cloud Resource Manager which of perms a side's credentials hold in its project
// (https://cloud.google.com/resource-manager/reference/rest/v1/projects/testIamPermissions: only
// those held are returned).
func (d *Driver) testProject(ctx context.Context, side driver.Side, perms []string) (*missingPermissionsError, error) {
	if len(perms) == 0 {
		return nil, nil
	}
	project := d.project(side)
	got, err := restCall(ctx, d, func(ctx context.Context) (*crm.TestIamPermissionsResponse, error) {
		return d.sides[side].crm.Projects.TestIamPermissions(project, &crm.TestIamPermissionsRequest{Permissions: perms}).Context(ctx).Do()
	})
	if err != nil {
		return nil, fmt.Errorf("checking the %s side's permissions in project %s: %w", side, project, err)
	}
	where := fmt.Sprintf("the %s project %s", side, project)
	if e := d.emails[side]; e != "" {
		where += " (for " + e + ")"
	}
	return lacking(where, perms, got.Permissions), nil
}

func lacking(resource string, asked, held []string) *missingPermissionsError {
	var missing []string
	for _, p := range asked {
		if !slices.Contains(held, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &missingPermissionsError{resource: resource, missing: missing}
}
