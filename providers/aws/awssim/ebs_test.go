package awssim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"
)

// listAllBlocks pages through ListSnapshotBlocks.
func listAllBlocks(t *testing.T, client *ebs.Client, id string, pageSize int32) []ebstypes.Block {
	t.Helper()
	var blocks []ebstypes.Block
	pages := ebs.NewListSnapshotBlocksPaginator(client, &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(id), MaxResults: aws.Int32(pageSize)})
	for pages.HasMorePages() {
		page := must[*ebs.ListSnapshotBlocksOutput](t)(pages.NextPage(t.Context()))
		if aws.ToInt32(page.BlockSize) != BlockSize {
			t.Fatalf("block size %d", aws.ToInt32(page.BlockSize))
		}
		blocks = append(blocks, page.Blocks...)
	}
	return blocks
}

func readBlock(t *testing.T, client *ebs.Client, id string, b ebstypes.Block) ([]byte, string) {
	t.Helper()
	out := must[*ebs.GetSnapshotBlockOutput](t)(client.GetSnapshotBlock(t.Context(), &ebs.GetSnapshotBlockInput{
		SnapshotId: aws.String(id), BlockIndex: b.BlockIndex, BlockToken: b.BlockToken,
	}))
	defer out.BlockData.Close()
	data, err := io.ReadAll(out.BlockData)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.DataLength) != BlockSize || out.ChecksumAlgorithm != ebstypes.ChecksumAlgorithmChecksumAlgorithmSha256 {
		t.Fatalf("data length %d algorithm %s", aws.ToInt32(out.DataLength), out.ChecksumAlgorithm)
	}
	return data, aws.ToString(out.Checksum)
}

func TestGetSnapshotBlockMatchesImage(t *testing.T) {
	sc := fixture(t)
	image := sc.Accounts[0].Volumes[1].Image
	ts := startServer(t, sc, nil)
	id := snapshotOf(t, ts.ec2(t, responder, region), dataVolume)
	client := ts.ebs(t, responder)

	blocks := listAllBlocks(t, client, id, 100)
	var indexes []int32
	for _, b := range blocks {
		indexes = append(indexes, aws.ToInt32(b.BlockIndex))
	}
	if len(indexes) != 3 || indexes[0] != 0 || indexes[1] != 3 || indexes[2] != 4 {
		t.Fatalf("listed blocks %v, want [0 3 4]", indexes)
	}
	file, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		data, checksum := readBlock(t, client, id, b)
		want := make([]byte, BlockSize)
		copy(want, file[int(aws.ToInt32(b.BlockIndex))*BlockSize:])
		if !bytes.Equal(data, want) {
			t.Errorf("block %d differs from the image", aws.ToInt32(b.BlockIndex))
		}
		sum := sha256.Sum256(data)
		if checksum != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("block %d checksum %s", aws.ToInt32(b.BlockIndex), checksum)
		}
	}
}

func TestListSnapshotBlocksPagination(t *testing.T) {
	sc := fixture(t)
	many := make([]int32, 250)
	for i := range many {
		many[i] = int32(i * 2)
	}
	sc.Accounts[0].Volumes[0].Synthetic.Blocks = many
	ts := startServer(t, sc, nil)
	id := snapshotOf(t, ts.ec2(t, responder, region), rootVolume)
	blocks := listAllBlocks(t, ts.ebs(t, responder), id, 100)
	if len(blocks) != 250 || aws.ToInt32(blocks[249].BlockIndex) != 498 {
		t.Fatalf("%d blocks", len(blocks))
	}
	_, err := ts.ebs(t, responder).ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(id), NextToken: aws.String("100-bad")})
	wantCode(t, err, "ValidationException")
}

func TestEBSRules(t *testing.T) {
	sc := fixture(t)
	sc.SnapshotBytesPerSecond = 1 // never completes during the test
	ts := startServer(t, sc, newFakeClock())
	client := ts.ebs(t, responder)
	pending := snapshotOf(t, ts.ec2(t, responder, region), dataVolume)
	_, err := client.ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(pending)})
	wantCode(t, err, "ValidationException")
	_, err = client.ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String("snap-0123456789abcdef0")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = ts.ebs(t, readonly).ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(pending)})
	wantCode(t, err, "AccessDeniedException")
}

func TestEBSEncryptedSnapshotNeedsDecrypt(t *testing.T) {
	sc := fixture(t)
	sc.Accounts[0].Users = append(sc.Accounts[0].Users, ScenarioUser{Name: "nokms", AccessKeyID: "AKIAWORKLOAD00000003", SecretAccessKey: "s", Allow: []string{"ec2:*", "ebs:*"}})
	ts := startServer(t, sc, nil)
	id := snapshotOf(t, ts.ec2(t, responder, region), cmkVolume)
	_, err := ts.ebs(t, creds{"AKIAWORKLOAD00000003", "s"}).ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(id)})
	wantCode(t, err, "AccessDeniedException")
	if blocks := listAllBlocks(t, ts.ebs(t, responder), id, 100); len(blocks) != 1 {
		t.Errorf("%d blocks", len(blocks))
	}
}

func TestGetSnapshotBlockQuota(t *testing.T) {
	sc := fixture(t)
	sc.GetSnapshotBlockPerSecond = 3
	ts := startServer(t, sc, newFakeClock()) // the clock stands still: no refill
	id := snapshotOf(t, ts.ec2(t, responder, region), rootVolume)
	client := ts.ebs(t, responder)
	block := listAllBlocks(t, client, id, 100)[0]
	for range 3 {
		readBlock(t, client, id, block)
	}
	_, err := client.GetSnapshotBlock(t.Context(), &ebs.GetSnapshotBlockInput{SnapshotId: aws.String(id), BlockIndex: block.BlockIndex, BlockToken: block.BlockToken})
	wantCode(t, err, "RequestThrottledException")
	var throttled *ebstypes.RequestThrottledException
	if !errors.As(err, &throttled) || throttled.Reason != ebstypes.RequestThrottledExceptionReasonResourceLevelThrottle {
		t.Errorf("reason: %v", err)
	}
	ts.clock.Advance(time.Second)
	readBlock(t, client, id, block)
}

func TestGetSnapshotBlockTokenAndChangedBlocks(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	workload := ts.ec2(t, responder, region)
	first, second := snapshotOf(t, workload, rootVolume), snapshotOf(t, workload, rootVolume)
	client := ts.ebs(t, responder)
	_, err := client.GetSnapshotBlock(t.Context(), &ebs.GetSnapshotBlockInput{SnapshotId: aws.String(first), BlockIndex: aws.Int32(0), BlockToken: aws.String("forged")})
	wantCode(t, err, "ValidationException")

	changed := must[*ebs.ListChangedBlocksOutput](t)(client.ListChangedBlocks(t.Context(), &ebs.ListChangedBlocksInput{FirstSnapshotId: aws.String(first), SecondSnapshotId: aws.String(second)}))
	if len(changed.ChangedBlocks) != 0 {
		t.Errorf("two snapshots of an unchanged volume differ in %d blocks", len(changed.ChangedBlocks))
	}
	all := must[*ebs.ListChangedBlocksOutput](t)(client.ListChangedBlocks(t.Context(), &ebs.ListChangedBlocksInput{SecondSnapshotId: aws.String(second)}))
	if len(all.ChangedBlocks) != 3 {
		t.Errorf("%d changed blocks without a first snapshot", len(all.ChangedBlocks))
	}
	other := snapshotOf(t, workload, dataVolume)
	_, err = client.ListChangedBlocks(t.Context(), &ebs.ListChangedBlocksInput{FirstSnapshotId: aws.String(other), SecondSnapshotId: aws.String(second)})
	wantCode(t, err, "ValidationException")
}
