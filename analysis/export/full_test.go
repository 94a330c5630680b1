package export

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFullDiskHelper is not a test: TestFullDisk runs the test binary with it selected, under a file
// size limit, to export until a write fails the way it fails on a full disk.
func TestFullDiskHelper(t *testing.T) {
	dir := os.Getenv("ACQUIRE_EXPORT_FULL_DIR")
	if dir == "" {
		return
	}
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit then fails with EFBIG instead of killing us
	lim := &syscall.Rlimit{Cur: 40 * bs, Max: 40 * bs}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, lim); err != nil {
		t.Fatal(err)
	}
	src := fullDiskSource()
	_, err := Export(context.Background(), src.item(), src, dir, &Options{SyncEvery: 4})
	if err == nil {
		t.Fatal("the export fit under the limit")
	}
	os.Stdout.WriteString("EXPORT ERROR: " + err.Error() + "\n")
}

func fullDiskSource() *memSource {
	var listed []int64
	for i := int64(0); i < 120; i += 2 {
		listed = append(listed, i)
	}
	return newMemSource(128, listed)
}

// TestFullDisk: a write that fails half-way (no space, over quota) gives a clear error, leaves nothing
// under the final name, and the export resumes once there is room.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDiskHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "ACQUIRE_EXPORT_FULL_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "EXPORT ERROR: writing") || !strings.Contains(string(out), "file too large") {
		t.Fatalf("the failed write was not reported clearly:\n%s", out)
	}
	src := fullDiskSource()
	item := src.item()
	if _, err := os.Stat(filepath.Join(dir, item.Snapshot+".raw")); !os.IsNotExist(err) {
		t.Fatal("a failed export left a file with the final name")
	}
	res, err := Export(context.Background(), item, src, dir, nil)
	if err != nil || !res.Match || res.ResumedFrom == 0 {
		t.Fatalf("resuming after the full disk: %v %+v", err, res)
	}
}
