package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/acquire-forensics/acquire/internal/testenv"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

const bs = 512 << 10

// memSource is a snapshot held in memory: some listed blocks in a volume of n blocks.
type memSource struct {
	id     string
	vol    driver.Geometry
	blocks map[int64][]byte
	order  []int64
	// stopAfter cancels the read after this many blocks (0: never), as a crash or Ctrl-C would.
	stopAfter int
	cancel    context.CancelFunc
}

func newMemSource(nblocks int64, listed []int64) *memSource {
	s := &memSource{id: "snap-0123456789abcdef0", vol: driver.Geometry{Size: nblocks * bs, BlockSize: bs}, blocks: map[int64][]byte{}}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, i := range listed {
		b := make([]byte, bs)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		s.blocks[i] = b
		s.order = append(s.order, i)
	}
	return s
}

func (s *memSource) Geometry() driver.Geometry   { return s.vol }
func (s *memSource) Info() driver.SourceInfo     { return driver.SourceInfo{Method: "memory"} }
func (s *memSource) Close(context.Context) error { return nil }

func (s *memSource) ReadBlocks(ctx context.Context, from int64, visit func(driver.Block) error) error {
	n := 0
	for _, i := range s.order {
		if i < from {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := visit(driver.Block{Index: i, Data: s.blocks[i]}); err != nil {
			return err
		}
		n++
		if s.stopAfter > 0 && n == s.stopAfter {
			s.cancel()
		}
	}
	return ctx.Err()
}

// image is the raw image the source stands for, and its item.
func (s *memSource) item() evidence.Item {
	h := sha256.New()
	zero := make([]byte, bs)
	for i := int64(0); i < s.vol.Size/bs; i++ {
		if b, ok := s.blocks[i]; ok {
			h.Write(b)
		} else {
			h.Write(zero)
		}
	}
	return evidence.Item{Cloud: "aws", Snapshot: s.id, SourceVolume: "vol-1", SizeBytes: s.vol.Size, DigestStatus: evidence.DigestComputed,
		Digest: &driver.Digest{ImageSHA256: hex.EncodeToString(h.Sum(nil))}}
}

func TestExportMatchesAndIsSparse(t *testing.T) {
	src := newMemSource(64, []int64{0, 1, 7, 40, 63})
	item := src.item()
	dir := t.TempDir()
	res, err := Export(context.Background(), item, src, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Match || res.ImageSHA256 != item.ImageSHA256() || testenv.FileSHA256(t, res.Path) != item.ImageSHA256() {
		t.Fatalf("result %+v", res)
	}
	sidecar, _ := os.ReadFile(res.Sidecar)
	if string(sidecar) != item.ImageSHA256()+"  "+filepath.Base(res.Path)+"\n" {
		t.Errorf("sidecar %q", sidecar)
	}
	for _, leftover := range []string{".partial", ".journal"} {
		if _, err := os.Stat(res.Path + leftover); !os.IsNotExist(err) {
			t.Errorf("%s left behind", leftover)
		}
	}
	// Zero blocks stay holes: the file allocates about the listed blocks only.
	var st syscallStat
	if allocated := allocatedBytes(t, res.Path, &st); allocated > 8*bs {
		t.Errorf("the image allocates %d bytes for 5 listed blocks: holes were written", allocated)
	}
	if path, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(path, "-c", filepath.Base(res.Sidecar))
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "OK") {
			t.Errorf("sha256sum -c: %v %s", err, out)
		}
	} else if testenv.InCI() {
		t.Fatal("sha256sum is required")
	}
	if _, err := Export(context.Background(), item, src, dir, nil); !errors.Is(err, ErrExists) {
		t.Errorf("exporting over an existing image: %v", err)
	}
}

// TestZeroBlocksListedStayHoles: a source that lists every block of the image, zeros included (GCP's
// image in its bucket), still gives a sparse image, with the same digests.
func TestZeroBlocksListedStayHoles(t *testing.T) {
	src := newMemSource(64, []int64{2, 30})
	item := src.item()
	for i := range int64(64) {
		if _, ok := src.blocks[i]; !ok {
			src.blocks[i] = make([]byte, bs)
		}
	}
	src.order = nil
	for i := range int64(64) {
		src.order = append(src.order, i)
	}
	res, err := Export(context.Background(), item, src, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Match || testenv.FileSHA256(t, res.Path) != item.ImageSHA256() {
		t.Fatalf("result %+v", res)
	}
	var st syscallStat
	if allocated := allocatedBytes(t, res.Path, &st); allocated > 6*bs {
		t.Errorf("the image allocates %d bytes for 2 blocks of data among 64 listed: the zeros were written", allocated)
	}
	if fi, err := os.Stat(res.Path); err != nil || fi.Size() != 64*bs {
		t.Errorf("the image is %v bytes, want %d: %v", fi.Size(), 64*bs, err)
	}
}

// TestExportResumesTwice interrupts an export twice and finishes it: the image is right, the second
// and third runs start from what the earlier ones made durable, and they re-check it.
func TestExportResumesTwice(t *testing.T) {
	resumed := exportInterrupted(t, nil)
	if !(resumed[0] == 0 && resumed[1] > 0 && resumed[2] > resumed[1]) {
		t.Fatalf("resumed from %v bytes: each run should start further", resumed)
	}
}

// exportInterrupted exports a volume in three runs, the first two interrupted, calling between after
// each run but the last; it returns where each run resumed from.
func exportInterrupted(t *testing.T, between func(dir string, item evidence.Item)) []int64 {
	t.Helper()
	var listed []int64
	for i := int64(0); i < 200; i += 3 {
		listed = append(listed, i)
	}
	src := newMemSource(256, listed)
	item := src.item()
	dir := t.TempDir()
	var resumed []int64
	for _, stop := range []int{20, 25, 0} {
		ctx, cancel := context.WithCancel(context.Background())
		src.stopAfter, src.cancel = stop, cancel
		res, err := Export(ctx, item, src, dir, &Options{SyncEvery: 8})
		cancel()
		resumed = append(resumed, res.ResumedFrom)
		if stop == 0 {
			if err != nil || !res.Match || testenv.FileSHA256(t, res.Path) != item.ImageSHA256() {
				t.Fatalf("final run: %v %+v", err, res)
			}
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted export: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, item.Snapshot+".raw")); !os.IsNotExist(err) {
			t.Fatal("an interrupted export left a file with the final name")
		}
		if between != nil {
			between(dir, item)
		}
	}
	return resumed
}

// TestTornBlockIsNotTrusted damages data the journal vouches for: the resumed export notices and starts
// over instead of keeping it.
func TestTornBlockIsNotTrusted(t *testing.T) {
	src := newMemSource(64, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
	item := src.item()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	src.stopAfter, src.cancel = 12, cancel
	if _, err := Export(ctx, item, src, dir, &Options{SyncEvery: 4}); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, item.Snapshot+".raw.partial")
	f, err := os.OpenFile(partial, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("garbage"), 3*bs+100)
	f.Close()
	src.stopAfter = 0
	res, err := Export(context.Background(), item, src, dir, nil)
	if err != nil || !res.Match || res.ResumedFrom != 0 || testenv.FileSHA256(t, res.Path) != item.ImageSHA256() {
		t.Fatalf("after damage: %v %+v", err, res)
	}
}

func TestMismatchIsSetAside(t *testing.T) {
	src := newMemSource(16, []int64{2, 3})
	item := src.item()
	item.Digest = &driver.Digest{ImageSHA256: strings.Repeat("0", 64)}
	dir := t.TempDir()
	res, err := Export(context.Background(), item, src, dir, nil)
	if !errors.Is(err, ErrMismatch) || res.Match {
		t.Fatalf("mismatch: %v %+v", err, res)
	}
	if _, err := os.Stat(filepath.Join(dir, item.Snapshot+".raw")); !os.IsNotExist(err) {
		t.Fatal("a mismatching image got the final name")
	}
	if _, err := os.Stat(filepath.Join(dir, item.Snapshot+".raw.mismatch")); err != nil {
		t.Fatalf("the mismatching image was not set aside: %v", err)
	}
}

func TestUnwritableDestination(t *testing.T) {
	src := newMemSource(4, []int64{1})
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Export(context.Background(), src.item(), src, filepath.Join(blocker, "out"), nil)
	if err == nil || !strings.Contains(err.Error(), "not-a-dir") {
		t.Fatalf("export into a path under a file: %v", err)
	}
}

// TestTornJournalTailIsCut: a journal line torn after the last mark (a crash or a full disk in the
// middle of recording a mark) is cut off on resume, so that what the resumed run records counts the
// next time.
func TestTornJournalTailIsCut(t *testing.T) {
	tear := func(dir string, item evidence.Item) {
		f, err := os.OpenFile(filepath.Join(dir, item.Snapshot+".raw.journal"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString("b 130 ab") // torn: the checksum cut short, no newline
	}
	resumed := exportInterrupted(t, tear)
	if !(resumed[1] > 0 && resumed[2] > resumed[1]) {
		t.Fatalf("resumed from %v bytes: the third run should start where the second left off", resumed)
	}
}

// TestNoWriteThroughLinks: a link planted in the export directory under any name the export writes
// (the names are known in advance from the snapshot ID) makes the export fail with ErrLink, and the
// file the link points at is untouched.
func TestNoWriteThroughLinks(t *testing.T) {
	for _, suffix := range []string{".raw", ".raw.partial", ".raw.journal", ".raw.sha256", ".raw.mismatch"} {
		t.Run(suffix, func(t *testing.T) {
			src := newMemSource(8, []int64{0, 3})
			item := src.item()
			if suffix == ".raw.mismatch" {
				item.Digest = &driver.Digest{ImageSHA256: strings.Repeat("0", 64)}
			}
			dir, outside := t.TempDir(), filepath.Join(t.TempDir(), "victim")
			if err := os.WriteFile(outside, []byte("precious"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(dir, item.Snapshot+suffix)); err != nil {
				t.Fatal(err)
			}
			_, err := Export(context.Background(), item, src, dir, nil)
			if !errors.Is(err, ErrLink) {
				t.Fatalf("export with a link at %s: %v, want ErrLink", suffix, err)
			}
			if data, _ := os.ReadFile(outside); string(data) != "precious" {
				t.Errorf("the link's target was written: %q", data)
			}
		})
	}
}

// TestRehashFileRefusesWhatIsNotAnImage: /dev/zero, a FIFO and an image longer than the recorded size
// end at once with an error, never reading on; a cancelled context stops the read.
func TestRehashFileRefusesWhatIsNotAnImage(t *testing.T) {
	src := newMemSource(8, []int64{0, 3})
	item := src.item()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse.raw")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(20 << 30); err != nil { // 20 GiB of holes
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct{ path, want string }{
		{"/dev/zero", "character device"},
		{fifo, "named pipe"},
		{sparse, "more than"},
		{dir, "directory"},
	} {
		r := RehashFile(context.Background(), item, tc.path)
		if r.Match || !strings.Contains(r.Error, tc.want) {
			t.Errorf("%s: %+v, want an error saying %q", tc.path, r, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := RehashFile(ctx, item, sparse); r.Match || !strings.Contains(r.Error, "canceled") {
		t.Errorf("cancelled re-hash: %+v", r)
	}
}

func TestRehashFileMatchesExport(t *testing.T) {
	src := newMemSource(8, []int64{0, 3, 7})
	item := src.item()
	res, err := Export(context.Background(), item, src, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := RehashFile(context.Background(), item, res.Path); !r.Match || r.Error != "" {
		t.Errorf("re-hash of the exported image: %+v", r)
	}
	if r := RehashSource(context.Background(), item, src); !r.Match || r.Error != "" {
		t.Errorf("re-hash of the source: %+v", r)
	}
}
