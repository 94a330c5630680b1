package awssim

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// A snapshot locked for a duration while pending starts its lock duration
// when it completes: until then neither start nor expiry is known; after,
// both count from the completion time.
func TestLockWhilePendingStartsAtCompletion(t *testing.T) {
	sc := fixture(t)
	sc.SnapshotBytesPerSecond = BlockSize // three blocks: three seconds
	clock := newFakeClock()
	ts := startServer(t, sc, clock)
	client := ts.ec2(t, responder, region)
	created := clock.Now()
	id := snapshotOf(t, client, rootVolume)

	lock := must[*ec2.LockSnapshotOutput](t)(client.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{
		SnapshotId: aws.String(id), LockMode: types.LockModeGovernance, LockDuration: aws.Int32(2),
	}))
	if lock.LockDurationStartTime != nil || lock.LockExpiresOn != nil {
		t.Errorf("pending snapshot's lock reports start %v, expiry %v", lock.LockDurationStartTime, lock.LockExpiresOn)
	}
	if lock.LockState != types.LockStateGovernance {
		t.Errorf("lock state %s", lock.LockState)
	}
	_, err := client.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
	wantCode(t, err, "OperationNotPermitted")

	clock.Advance(3 * time.Second)
	completed := created.Add(3 * time.Second)
	info := lockedSnapshot(t, client, id)
	if got := aws.ToTime(info.LockDurationStartTime); !got.Equal(completed) {
		t.Errorf("lock duration starts %v, want the completion time %v", got, completed)
	}
	if got, want := aws.ToTime(info.LockExpiresOn), completed.Add(48*time.Hour); !got.Equal(want) {
		t.Errorf("lock expires %v, want %v", got, want)
	}
	// Two days after the lock was made, but not after completion: still locked.
	clock.Advance(48*time.Hour - 2*time.Second)
	_, err = client.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
	wantCode(t, err, "OperationNotPermitted")
	clock.Advance(2 * time.Second)
	must[*ec2.DeleteSnapshotOutput](t)(client.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)}))
}

func lockedSnapshot(t *testing.T, client *ec2.Client, id string) types.LockedSnapshotsInfo {
	t.Helper()
	out := must[*ec2.DescribeLockedSnapshotsOutput](t)(client.DescribeLockedSnapshots(t.Context(), &ec2.DescribeLockedSnapshotsInput{SnapshotIds: []string{id}}))
	if len(out.Snapshots) != 1 {
		t.Fatalf("%d locked snapshots", len(out.Snapshots))
	}
	return out.Snapshots[0]
}

// A snapshot in state error cannot be locked; one that fails after being
// locked while pending loses its lock.
func TestLockAndFailedSnapshots(t *testing.T) {
	sc := fixture(t)
	sc.SnapshotBytesPerSecond = BlockSize
	sc.Faults.FailSnapshotVolumes = []string{rootVolume}
	clock := newFakeClock()
	ts := startServer(t, sc, clock)
	client := ts.ec2(t, responder, region)

	pending := snapshotOf(t, client, rootVolume)
	must[*ec2.LockSnapshotOutput](t)(client.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{
		SnapshotId: aws.String(pending), LockMode: types.LockModeCompliance, LockDuration: aws.Int32(30), CoolOffPeriod: aws.Int32(1),
	}))
	clock.Advance(time.Hour)
	snap := describeSnapshot(t, client, pending)
	if snap.State != types.SnapshotStateError || aws.ToString(snap.Progress) == "100%" {
		t.Fatalf("failed snapshot: %s %s", snap.State, aws.ToString(snap.Progress))
	}
	locked := must[*ec2.DescribeLockedSnapshotsOutput](t)(client.DescribeLockedSnapshots(t.Context(), &ec2.DescribeLockedSnapshotsInput{}))
	if len(locked.Snapshots) != 0 {
		t.Errorf("a failed snapshot keeps its lock: %+v", locked.Snapshots)
	}
	_, err := client.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{
		SnapshotId: aws.String(pending), LockMode: types.LockModeGovernance, LockDuration: aws.Int32(1),
	})
	wantCode(t, err, "IncorrectState")
	must[*ec2.DeleteSnapshotOutput](t)(client.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(pending)}))
}

func TestDescribeLockedSnapshotsPagination(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	for range 7 {
		must[*ec2.LockSnapshotOutput](t)(client.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{
			SnapshotId: aws.String(snapshotOf(t, client, dataVolume)), LockMode: types.LockModeGovernance, LockDuration: aws.Int32(1),
		}))
	}
	snapshotOf(t, client, dataVolume) // not locked: not listed
	var seen []string
	input := &ec2.DescribeLockedSnapshotsInput{MaxResults: aws.Int32(5)}
	pages := 0
	for {
		page := must[*ec2.DescribeLockedSnapshotsOutput](t)(client.DescribeLockedSnapshots(t.Context(), input))
		pages++
		for _, s := range page.Snapshots {
			seen = append(seen, aws.ToString(s.SnapshotId))
		}
		if page.NextToken == nil {
			break
		}
		input.NextToken = page.NextToken
	}
	if len(seen) != 7 || pages != 2 {
		t.Errorf("%d locked snapshots in %d pages", len(seen), pages)
	}
	_, err := client.DescribeLockedSnapshots(t.Context(), &ec2.DescribeLockedSnapshotsInput{MaxResults: aws.Int32(5), NextToken: aws.String("5.0-forged")})
	wantCode(t, err, "InvalidPaginationToken")
}
