package ebsblocks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"github.com/acquire-forensics/acquire/providers/driver"
	"os/exec"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/internal/testenv"
)

func TestDigestMatchesImage(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	var last Progress
	res, err := digest(t.Context(), snap.client, snap.snapshotID, &Options{Concurrency: 16, Progress: func(p Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if res.ImageSHA256 != img.imageSHA256 {
		t.Errorf("ImageSHA256 %s, want the image file's %s", res.ImageSHA256, img.imageSHA256)
	}
	if res.BlockListSHA256 != img.blockListSHA {
		t.Errorf("BlockListSHA256 %s, want %s", res.BlockListSHA256, img.blockListSHA)
	}
	want := driver.Digest{SizeBytes: img.size, BlockSize: testBlockSize, ListedBlocks: int64(len(img.listed)), ReadBytes: int64(len(img.listed)) * testBlockSize}
	if res.SizeBytes != want.SizeBytes || res.BlockSize != want.BlockSize || res.ListedBlocks != want.ListedBlocks || res.ReadBytes != want.ReadBytes {
		t.Errorf("got %d bytes, %d-byte blocks, %d listed, %d read; want %d, %d, %d, %d", res.SizeBytes, res.BlockSize, res.ListedBlocks,
			res.ReadBytes, want.SizeBytes, want.BlockSize, want.ListedBlocks, want.ReadBytes)
	}
	for _, s := range []string{snap.snapshotID, "x-amz-Checksum", "sha256sum", "LINEAR"} {
		if !strings.Contains(res.Method, s) {
			t.Errorf("Method does not mention %q: %s", s, res.Method)
		}
	}
	lastEnd := (img.listed[len(img.listed)-1] + 1) * testBlockSize
	if last.Offset != lastEnd || last.Size != img.size || last.Blocks != want.ListedBlocks || last.BytesRead != want.ReadBytes {
		t.Errorf("last progress %+v", last)
	}
	if n := snap.calls("GetSnapshotBlock"); n != len(img.listed) {
		t.Errorf("%d GetSnapshotBlock calls for %d blocks without faults", n, len(img.listed))
	}
}

// The image digest is what sha256sum prints for the image file, checked with
// the tool itself.
func TestDigestEqualsSha256sum(t *testing.T) {
	tool := testenv.RequireTool(t, "sha256sum")
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	var out strings.Builder
	cmd := exec.Command(tool, img.path)
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil { // meanwhile, the digest
		t.Fatal(err)
	}
	res, err := digest(t.Context(), snap.client, snap.snapshotID, nil)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if printed, _, _ := strings.Cut(out.String(), " "); printed != res.ImageSHA256 {
		t.Errorf("sha256sum prints %s, Digest gives %s", printed, res.ImageSHA256)
	}
}

// A volume whose size is not a multiple of the block size ends in a partial
// block (EBS volumes are whole GiB of 512 KiB blocks, so this needs a fake).
func TestDigestPartialLastBlock(t *testing.T) {
	const blockSize = 384 << 10 // 1 GiB is 2730 such blocks and 256 KiB
	last := int64(1<<30) / blockSize
	c := &memClient{sizeGiB: 1, blockSize: blockSize, blocks: map[int64][]byte{
		0:    filled(blockSize, 1),
		7:    filled(blockSize, 2),
		last: filled(int(1<<30-last*blockSize), 3),
	}}
	res, err := digest(t.Context(), c, "snap-0123456789abcdef0", nil)
	if err != nil {
		t.Fatal(err)
	}
	image, list := sha256.New(), sha256.New()
	for i := int64(0); i <= last; i++ {
		data, ok := c.blocks[i]
		if !ok {
			data = make([]byte, min(blockSize, 1<<30-i*blockSize))
		} else {
			sum := sha256.Sum256(data)
			list.Write(sum[:])
		}
		image.Write(data)
	}
	if got, want := res.ImageSHA256, hex.EncodeToString(image.Sum(nil)); got != want {
		t.Errorf("ImageSHA256 %s, want %s", got, want)
	}
	if got, want := res.BlockListSHA256, hex.EncodeToString(list.Sum(nil)); got != want {
		t.Errorf("BlockListSHA256 %s, want %s", got, want)
	}
	if res.ReadBytes != 2*blockSize+256<<10 {
		t.Errorf("read %d bytes", res.ReadBytes)
	}
}

// A snapshot of a volume never written lists no block: its image is zeros.
func TestDigestEmptyVolume(t *testing.T) {
	res, err := digest(context.Background(), &memClient{sizeGiB: 1, blockSize: testBlockSize}, "snap-0123456789abcdef0", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write(make([]byte, 1<<30))
	if res.ImageSHA256 != hex.EncodeToString(h.Sum(nil)) || res.ListedBlocks != 0 {
		t.Errorf("empty volume: %+v", res)
	}
	if empty := sha256.Sum256(nil); res.BlockListSHA256 != hex.EncodeToString(empty[:]) {
		t.Errorf("BlockListSHA256 of no blocks %s", res.BlockListSHA256)
	}
}

func filled(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i>>12)
	}
	return b
}
