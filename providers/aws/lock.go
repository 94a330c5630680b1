package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Snapshot lock limits (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LockSnapshot.html).
const (
	lockMinDays, lockMaxDays         = 1, 36500
	coolOffMinHours, coolOffMaxHours = 1, 72
)

// LockModes are EBS snapshot lock's (https://docs.aws.amazon.com/ebs/latest/userguide/snapshot-lock-concepts.html).
func (d *Driver) LockModes() []driver.LockMode {
	return []driver.LockMode{
		{Name: "governance", Description: "users with ec2:UnlockSnapshot may unlock it; nobody else may delete it until it expires"},
		{Name: "compliance", Description: "after the cool-off period nobody, not even the account's root, may unlock or delete it, or shorten the lock, until it expires"},
	}
}

// CheckLock holds a request to LockSnapshot's documented limits.
func (d *Driver) CheckLock(req driver.LockRequest) error {
	switch {
	case req.Mode != "governance" && req.Mode != "compliance":
		return fmt.Errorf("lock mode %q: EBS snapshot locks are governance or compliance", req.Mode)
	case req.Days < lockMinDays || req.Days > lockMaxDays:
		return fmt.Errorf("lock duration %d days: EBS allows %d to %d", req.Days, lockMinDays, lockMaxDays)
	case req.CoolOffHours != 0 && req.Mode != "compliance":
		return fmt.Errorf("a cool-off period applies to compliance locks only, not %s", req.Mode)
	case req.CoolOffHours != 0 && (req.CoolOffHours < coolOffMinHours || req.CoolOffHours > coolOffMaxHours):
		return fmt.Errorf("cool-off period %d hours: EBS allows %d to %d", req.CoolOffHours, coolOffMinHours, coolOffMaxHours)
	}
	return nil
}

// Lock protects a forensic copy with a snapshot lock. Locking the same snapshot again with the same
// settings is allowed, so a repeated call is harmless.
func (d *Driver) Lock(ctx context.Context, s driver.Snapshot, req driver.LockRequest) (driver.LockResult, error) {
	in := &ec2.LockSnapshotInput{SnapshotId: aws.String(s.ID), LockMode: ec2types.LockMode(req.Mode), LockDuration: aws.Int32(int32(req.Days))}
	if req.Mode == "compliance" && req.CoolOffHours > 0 {
		in.CoolOffPeriod = aws.Int32(int32(req.CoolOffHours))
	}
	out, err := d.side(driver.Forensic, s.Location).ec2.LockSnapshot(ctx, in)
	if err != nil {
		return driver.LockResult{}, err
	}
	note := "governance: users with ec2:UnlockSnapshot may still unlock it"
	if req.Mode == "compliance" {
		note = "compliance: nobody may unlock or delete it until it expires"
		if req.CoolOffHours > 0 {
			note += fmt.Sprintf(", once its %d-hour cool-off period ends", req.CoolOffHours)
		}
	}
	if t := out.LockExpiresOn; t != nil {
		note += "; expires " + t.UTC().Format("2006-01-02T15:04:05Z")
	}
	return driver.LockResult{Note: note}, nil
}
