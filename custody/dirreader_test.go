package custody

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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
	must(t, os.WriteFile(filepath.Join(dir, "d", "large"), make([]byte, 100<<10), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "d", "oversized"), make([]byte, 200<<10), 0o644))
	must(t, os.Symlink("f001", filepath.Join(dir, "d", "link")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "d", "fifo"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "d", "sub"), 0o755))
	for _, name := range []string{"large", "oversized", "link", "fifo", "sub", "missing"} {
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
	for _, batched := range []bool{true, false} {
		noBatchReads.Store(!batched)
		dr := root.newDirReader("d", d)
		if batched && dr == nil {
			if ringBuilt {
				t.Fatal("built with -tags uring, but no io_uring could be set up here")
			}
			continue // the default build reads one file at a time: make test runs this with -tags uring
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
	noBatchReads.Store(false)
}

// TestVerifyReadingOneByOne: the verifier's checks hold when records are read one at a time, as
// where there are no batch reads.
func TestVerifyReadingOneByOne(t *testing.T) {
	noBatchReads.Store(true)
	defer noBatchReads.Store(false)
	t.Run("links", TestLinksFailVerification)
	t.Run("unreadable", TestUnreadableIsNeverAPass)
	t.Run("structural", TestStructuralTampering)
}
