package azure

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armlocks"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Azure has no snapshot lock: a CanNotDelete management lock on the snapshot is the closest, and it
// binds only until someone with Microsoft.Authorization/locks/delete (Owner, User Access
// Administrator) removes it. It has no expiry.
// (https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources)
const (
	lockMode = "CanNotDelete"
	lockName = "acquire-evidence"
)

const lockLimits = "anyone with Microsoft.Authorization/locks/* (Owner, User Access Administrator) can remove the lock, and then delete the snapshot; it does not expire"

// LockModes is the one lock Azure has for a snapshot.
func (d *Driver) LockModes() []driver.LockMode {
	return []driver.LockMode{{Name: lockMode, Description: "a CanNotDelete management lock: nobody may delete the snapshot while it exists; " + lockLimits}}
}

// CheckLock refuses what a management lock cannot do.
func (d *Driver) CheckLock(req driver.LockRequest) error {
	switch {
	case !strings.EqualFold(req.Mode, lockMode):
		return fmt.Errorf("lock mode %q: Azure locks evidence with a CanNotDelete management lock only (--lock CanNotDelete)", req.Mode)
	case req.Days != 0:
		return fmt.Errorf("a lock of %d days: Azure management locks do not expire; give no duration", req.Days)
	case req.CoolOffHours != 0:
		return fmt.Errorf("a cool-off period: Azure management locks have none")
	}
	return nil
}

// Lock puts a CanNotDelete lock on a forensic snapshot. A lock of the same name is replaced, so a
// repeated call is harmless. The lock is returned as a resource of its own, kept with the evidence.
func (d *Driver) Lock(ctx context.Context, s driver.Snapshot, req driver.LockRequest) (driver.LockResult, error) {
	c, err := d.side(driver.Forensic, "")
	if err != nil {
		return driver.LockResult{}, err
	}
	out, err := c.locks.CreateOrUpdateByScope(ctx, s.ID, lockName, armlocks.ManagementLockObject{Properties: &armlocks.ManagementLockProperties{
		Level: to.Ptr(armlocks.LockLevelCanNotDelete),
		Notes: to.Ptr("evidence of an acquisition: do not remove"),
	}}, nil)
	if err != nil {
		return driver.LockResult{}, apiErr(err)
	}
	id := str(out.ID)
	if id == "" {
		id = s.ID + "/providers/Microsoft.Authorization/locks/" + lockName
	}
	return driver.LockResult{
		Note:     "CanNotDelete management lock " + id + ": " + lockLimits,
		Resource: &driver.Resource{Side: driver.Forensic, Location: s.Location, Kind: kindLock, ID: id, Parent: s.ID, Volume: s.VolumeID, Note: "CanNotDelete lock on the evidence"},
	}, nil
}
