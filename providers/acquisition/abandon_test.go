package acquisition_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/acquire-forensics/acquire/custody/custodytest"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/memcloud"
)

type mem = memcloud.Cloud

// refusingCloud makes a crash-consistent attempt's consistency group and then fails the attempt for
// good, as a cloud does when the snapshots cannot be taken from the group (an organisation policy);
// it can also refuse to remove what it made.
type refusingCloud struct {
	*mem
	refuseDelete bool
	mu           sync.Mutex
	made         []driver.Resource
	deleted      []string
}

func (c *refusingCloud) CreateSnapshots(ctx context.Context, req driver.SnapshotRequest) (driver.SnapshotResult, error) {
	res, err := c.mem.CreateSnapshots(ctx, req)
	if err != nil {
		return res, err
	}
	c.mu.Lock()
	c.made = append(c.made, res.Temporary...)
	c.mu.Unlock()
	return driver.SnapshotResult{Temporary: res.Temporary, Consistency: res.Consistency},
		&driver.Error{Code: driver.CodePermissionDenied, Op: "snapshot.create", Err: errors.New("refused by an organisation policy")}
}

func (c *refusingCloud) Delete(ctx context.Context, r driver.Resource) error {
	if c.refuseDelete && r.Kind == "group" {
		return &driver.Error{Code: driver.CodePermissionDenied, Op: "delete", Resource: r.ID, Err: errors.New("not allowed")}
	}
	c.mu.Lock()
	c.deleted = append(c.deleted, r.ID)
	c.mu.Unlock()
	return c.mem.Delete(ctx, r)
}

// TestFailedAttemptRemovesItsTemporary: a snapshot attempt that fails for good after writing a
// consistency group into the source account has the group removed, in a recorded step; a group that
// cannot be removed is listed among what is left in place.
func TestFailedAttemptRemovesItsTemporary(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		s, _ := custodytest.NewSigner(t)
		l := newLedger(t, filepath.Join(t.TempDir(), "case"), s)
		c := &refusingCloud{mem: memcloud.New(memcloud.Config{Shape: memcloud.Direct}), refuseDelete: refuse}
		o := options(l)
		o.Target = driver.Target{Workloads: []string{"vm-1"}}
		o.Consistency = driver.CrashConsistent
		res, err := acquisition.New(c).Run(context.Background(), o)
		if driver.CodeOf(err) != driver.CodePermissionDenied {
			t.Fatalf("refuse delete %v: error %v, want permission-denied", refuse, err)
		}
		if len(c.made) != 1 {
			t.Fatalf("the cloud made %v, want one consistency group", c.made)
		}
		group := c.made[0].ID
		if !refuse {
			if len(c.deleted) != 1 || c.deleted[0] != group {
				t.Errorf("removed %v, want the group %s", c.deleted, group)
			}
			continue
		}
		listed := false
		for _, left := range res.Left {
			listed = listed || (left.ID == group && strings.Contains(left.Note, "NOT REMOVED"))
		}
		if !listed {
			t.Errorf("the group %s that could not be removed is not listed as left: %+v", group, res.Left)
		}
	}
}
