package gcp

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// diskPermissions are what every acquisition needs on each source disk, whatever its consistency.
var diskPermissions = []string{"compute.disks.get", "compute.disks.createSnapshot"}

// missingPermissionsError is a check that found permissions the credentials lack, before anything
// was made.
type missingPermissionsError struct {
	resource string
	missing  []string
}

func (e *missingPermissionsError) Error() string {
	return fmt.Sprintf("the credentials lack %s on %s: grant them (the role `acquire iam gcp` prints holds them) and run again",
		strings.Join(e.missing, ", "), e.resource)
}

// checkDiskPermissions asks Compute Engine, for each source disk, which of the disk permissions the
// credentials hold (https://cloud.google.com/compute/docs/reference/rest/v1/disks/testIamPermissions),
// and names those they lack: refused here, before anything is made, rather than at the snapshot.
func (d *Driver) checkDiskPermissions(ctx context.Context, vols []driver.Volume) error {
	c := d.sides[driver.Source]
	seen := map[string]bool{}
	for _, v := range vols {
		r, ok := parseRef(v.ID)
		if !ok || seen[v.ID] {
			continue
		}
		seen[v.ID] = true
		got, err := c.disks.TestIamPermissions(ctx, &computepb.TestIamPermissionsDiskRequest{Project: r.project, Zone: r.zone, Resource: r.name,
			TestPermissionsRequestResource: &computepb.TestPermissionsRequest{Permissions: diskPermissions}}, d.retry())
		if err != nil {
			return fmt.Errorf("checking the permissions on disk %s: %w", v.ID, err)
		}
		var missing []string
		for _, p := range diskPermissions {
			if !slices.Contains(got.GetPermissions(), p) {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			return &missingPermissionsError{resource: "disk " + v.ID, missing: missing}
		}
	}
	return nil
}
