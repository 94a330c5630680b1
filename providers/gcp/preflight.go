package gcp

import (
	"context"
	"errors"
	"regexp"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// kmsKeyRule is a Cloud KMS key's resource name
// (https://cloud.google.com/kms/docs/resource-hierarchy#keys).
var kmsKeyRule = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// ValidKMSKey reports whether s is a Cloud KMS key name.
func ValidKMSKey(s string) bool { return kmsKeyRule.MatchString(s) }

// Preflight checks, before any snapshot exists, what the forensic project would refuse later: that it
// is the destination, reachable, that the credentials may list its snapshots, and that the key is a
// Cloud KMS key name; and, on each source disk, that the credentials hold what every snapshot of it
// needs there. Whether the project's Compute Engine service agent may use the key is known
// only when a snapshot is made under it (the Cloud KMS API is outside this driver's reach): the error
// then names the key and the agent.
func (d *Driver) Preflight(ctx context.Context, p driver.Preflight) error {
	if a := p.Destination.Account; a != "" && a != d.cfg.ForensicProject {
		return invalidf("the destination project %s is not the driver's forensic project %s", a, d.cfg.ForensicProject)
	}
	if k := p.Destination.Key; k != "" && !ValidKMSKey(k) {
		return invalidf("forensic key %q is not a Cloud KMS key name (projects/P/locations/L/keyRings/R/cryptoKeys/K)", k)
	}
	if p.Lock != nil {
		return invalidf("gcp has no snapshot lock")
	}
	if err := d.checkDiskPermissions(ctx, p.Volumes); err != nil {
		return err
	}
	c := d.sides[driver.Forensic]
	it := c.snapshots.List(ctx, &computepb.ListSnapshotsRequest{Project: d.cfg.ForensicProject, MaxResults: proto.Uint32(1)}, d.retry())
	if _, err := it.Next(); err != nil && !errors.Is(err, iterator.Done) {
		return err
	}
	return nil
}
