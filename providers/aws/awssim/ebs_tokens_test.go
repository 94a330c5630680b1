package awssim

import (
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"
)

// wantValidationReason fails unless err is an EBS ValidationException with
// the given reason.
func wantValidationReason(t *testing.T, err error, reason ebstypes.ValidationExceptionReason) {
	t.Helper()
	var v *ebstypes.ValidationException
	if !errors.As(err, &v) || v.Reason != reason {
		t.Fatalf("want ValidationException %s, got %v", reason, err)
	}
}

// Block tokens are valid for seven days.
func TestBlockTokenExpires(t *testing.T) {
	clock := newFakeClock()
	ts := startServer(t, fixture(t), clock)
	id := snapshotOf(t, ts.ec2(t, responder, region), rootVolume)
	client := ts.ebs(t, responder)
	listed := must[*ebs.ListSnapshotBlocksOutput](t)(client.ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(id)}))
	if got, want := aws.ToTime(listed.ExpiryTime), clock.Now().Add(7*24*time.Hour); !got.Equal(want) {
		t.Errorf("ExpiryTime %v, want %v", got, want)
	}
	block := listed.Blocks[0]
	get := func() error {
		_, err := client.GetSnapshotBlock(t.Context(), &ebs.GetSnapshotBlockInput{SnapshotId: aws.String(id), BlockIndex: block.BlockIndex, BlockToken: block.BlockToken})
		return err
	}
	clock.Advance(7*24*time.Hour - time.Second)
	if err := get(); err != nil {
		t.Fatalf("a block token a second before it expires: %v", err)
	}
	clock.Advance(time.Second)
	wantValidationReason(t, get(), ebstypes.ValidationExceptionReasonInvalidBlockToken)

	// A token for another block is refused as well.
	fresh := listAllBlocks(t, client, id, 100)
	_, err := client.GetSnapshotBlock(t.Context(), &ebs.GetSnapshotBlockInput{SnapshotId: aws.String(id), BlockIndex: fresh[1].BlockIndex, BlockToken: fresh[0].BlockToken})
	wantValidationReason(t, err, ebstypes.ValidationExceptionReasonInvalidBlockToken)
}

// NextToken values are valid for 60 minutes.
func TestPageTokenExpires(t *testing.T) {
	sc := fixture(t)
	many := make([]int32, 150)
	for i := range many {
		many[i] = int32(i)
	}
	sc.Accounts[0].Volumes[0].Synthetic.Blocks = many
	clock := newFakeClock()
	ts := startServer(t, sc, clock)
	id := snapshotOf(t, ts.ec2(t, responder, region), rootVolume)
	client := ts.ebs(t, responder)
	first := must[*ebs.ListSnapshotBlocksOutput](t)(client.ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(id), MaxResults: aws.Int32(100)}))
	if first.NextToken == nil {
		t.Fatal("no second page")
	}
	next := &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(id), MaxResults: aws.Int32(100), NextToken: first.NextToken}
	clock.Advance(59 * time.Minute)
	must[*ebs.ListSnapshotBlocksOutput](t)(client.ListSnapshotBlocks(t.Context(), next))
	clock.Advance(time.Minute)
	_, err := client.ListSnapshotBlocks(t.Context(), next)
	wantValidationReason(t, err, ebstypes.ValidationExceptionReasonInvalidPageToken)

	changed := must[*ebs.ListChangedBlocksOutput](t)(client.ListChangedBlocks(t.Context(), &ebs.ListChangedBlocksInput{SecondSnapshotId: aws.String(id), MaxResults: aws.Int32(100)}))
	clock.Advance(time.Hour)
	_, err = client.ListChangedBlocks(t.Context(), &ebs.ListChangedBlocksInput{SecondSnapshotId: aws.String(id), MaxResults: aws.Int32(100), NextToken: changed.NextToken})
	wantValidationReason(t, err, ebstypes.ValidationExceptionReasonInvalidPageToken)
}

// startingBlockIndex beyond 32 bits is refused, not wrapped around.
func TestStartingBlockIndexOverflow(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	id := snapshotOf(t, ts.ec2(t, responder, region), rootVolume)
	resp := ts.signedRequest(t, responder, "ebs", http.MethodGet, "/snapshots/"+id+"/blocks?startingBlockIndex=4294967296", nil)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != "ValidationException" {
		t.Errorf("status %d, error %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

// A NextToken stands on its own: AWS ignores StartingBlockIndex when a token is given. Tokens use the
// documented character set.
func TestPageTokenIgnoresStartingIndex(t *testing.T) {
	sc := fixture(t)
	many := make([]int32, 250)
	for i := range many {
		many[i] = int32(i)
	}
	sc.Accounts[0].Volumes[0].Synthetic.Blocks = many
	ts := startServer(t, sc, newFakeClock())
	id := snapshotOf(t, ts.ec2(t, responder, region), rootVolume)
	client := ts.ebs(t, responder)
	first := must[*ebs.ListSnapshotBlocksOutput](t)(client.ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{
		SnapshotId: aws.String(id), StartingBlockIndex: aws.Int32(50), MaxResults: aws.Int32(100)}))
	if aws.ToInt32(first.Blocks[0].BlockIndex) != 50 || first.NextToken == nil {
		t.Fatalf("first page starts at %d, next token %v", aws.ToInt32(first.Blocks[0].BlockIndex), first.NextToken)
	}
	for _, tok := range []string{aws.ToString(first.NextToken), aws.ToString(first.Blocks[0].BlockToken)} {
		if !tokenPattern.MatchString(tok) {
			t.Errorf("token %q is outside the documented pattern %s", tok, tokenPattern)
		}
	}
	for _, start := range []*int32{nil, aws.Int32(0), aws.Int32(200)} {
		next := must[*ebs.ListSnapshotBlocksOutput](t)(client.ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{
			SnapshotId: aws.String(id), NextToken: first.NextToken, StartingBlockIndex: start, MaxResults: aws.Int32(100)}))
		if got := aws.ToInt32(next.Blocks[0].BlockIndex); got != 150 {
			t.Errorf("with StartingBlockIndex %v the second page starts at %d, want 150", start, got)
		}
	}
}

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9+/=]+$`)
