package custody

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestDirReaderAgreesWithReadFile: reading files in batches gives, file by file, what readFileIn
// gives: the same bytes, or the same error (a link, a pipe, a directory, too large, missing).
func TestDirReaderAgreesWithReadFile(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	var names []string
	add := func(name string) { names = append(names, name) }
	for i := range 150 {
		name := fmt.Sprintf("f%03d", i)
		must(t, os.WriteFile(filepath.Join(dir, "d", name), bytes.Repeat([]byte{byte(i)}, i*37), 0o644))
		add(name)
	}
	must(t, os.WriteFile(filepath.Join(dir, "d", "ringmax"), bytes.Repeat([]byte{7}, maxRingFile), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "d", "ringmax1"), bytes.Repeat([]byte{8}, maxRingFile+1), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "d", "large"), make([]byte, 100<<10), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "d", "oversized"), make([]byte, 200<<10), 0o644))
	must(t, os.Symlink("f001", filepath.Join(dir, "d", "link")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "d", "fifo"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "d", "sub"), 0o755))
	for _, name := range []string{"ringmax", "ringmax1", "large", "oversized", "link", "fifo", "sub", "missing"} {
		names = append(names[:len(names)/2], append([]string{name}, names[len(names)/2:]...)...)
	}
	root, err := openCaseRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	d, err := root.dir("d")
	if err != nil {
		t.Fatal(err)
	}
	const limit = 150 << 10
	fds := openFiles(t)
	defer func() {
		if now := openFiles(t); now != fds {
			t.Errorf("%d files open after the reads, %d before: a file was left open", now, fds)
		}
	}()
	for _, batched := range []bool{true, false} {
		if !batched {
			t.Setenv(NoIOURingEnv, "1")
		}
		dr := root.newDirReader("d", d)
		if batched && dr == nil {
			if !ringBuilt {
				continue // built with -tags nouring, or not on Linux: files are read one at a time
			}
			if os.Getenv("CI") != "" {
				t.Fatal("no io_uring could be set up here, so the batch reader is not tested: CI needs a kernel that allows io_uring")
			}
			t.Skip("no io_uring could be set up here (seccomp, kernel.io_uring_disabled, or a kernel before 5.6): the verifier reads one file at a time")
		}
		if !batched && dr != nil {
			t.Fatal("batch reads are on")
		}
		for lo := 0; lo < len(names) && dr != nil; lo += maxRingBatch {
			batch := names[lo:min(lo+maxRingBatch, len(names))]
			data, errs := dr.read(batch, limit)
			for i, name := range batch {
				want, wantErr := root.readFile("d/"+name, limit, nil)
				if fmt.Sprint(errs[i]) != fmt.Sprint(wantErr) || !bytes.Equal(data[i], want) || (errs[i] == nil) != (data[i] != nil) {
					t.Errorf("%s: read %d bytes, %v; want %d bytes, %v", name, len(data[i]), errs[i], len(want), wantErr)
				}
			}
		}
		dr.close()
	}
}

// TestVerifyReadingOneByOne: the verifier's checks hold when records are read one at a time, as
// where there are no batch reads.
func TestVerifyReadingOneByOne(t *testing.T) {
	t.Setenv(NoIOURingEnv, "1")
	t.Run("links", TestLinksFailVerification)
	t.Run("unreadable", TestUnreadableIsNeverAPass)
	t.Run("structural", TestStructuralTampering)
}

// TestFileLongerThanItsSizeIsRefused: a regular file that holds more than its size says (one that
// grew while read, or a file system that reports less) is an error, never its first bytes. Linux's
// /proc files are regular files of size 0 with content.
func TestFileLongerThanItsSizeIsRefused(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux's /proc")
	}
	root, err := openCaseRoot(fmt.Sprintf("/proc/%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if data, err := root.readFile("status", 1<<20, nil); err == nil || !strings.Contains(err.Error(), "grew while read") {
		t.Errorf("read one at a time: %d bytes, %v; want an error saying the file grew", len(data), err)
	}
	dr := root.newDirReader(".", root.fd)
	switch {
	case dr == nil && !ringBuilt:
		return // files are read one at a time only, which is checked above
	case dr == nil && os.Getenv("CI") != "":
		t.Fatal("no io_uring could be set up here, so the batch reader is not tested: CI needs a kernel that allows io_uring")
	case dr == nil:
		t.Skip("no io_uring could be set up here: the batch reader is not tested")
	}
	defer dr.close()
	data, errs := dr.read([]string{"status", "stat"}, 1<<20)
	for i, name := range []string{"status", "stat"} {
		if errs[i] == nil || !strings.Contains(errs[i].Error(), "grew while read") {
			t.Errorf("read in a batch: %s: %d bytes, %v; want an error saying the file grew", name, len(data[i]), errs[i])
		}
	}
}

// openFiles is how many file descriptors this process has open.
func openFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
