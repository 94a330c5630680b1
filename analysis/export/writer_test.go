package export

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestMarksFollowTheirBlocks: each mark is committed in order, once, and only when every block it
// vouches for is in the file, while the blocks after it are still being written.
func TestMarksFollowTheirBlocks(t *testing.T) {
	const block, blocks, every = 4096, 200, 7
	f, err := os.Create(filepath.Join(t.TempDir(), "image"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	content := func(i int) []byte { return bytes.Repeat([]byte{byte(i%251 + 1)}, block) }
	var committed []int64
	var problems []string
	w := newDiskWriter(f, func(m durableMark) error {
		got := make([]byte, block)
		for i := range m.next {
			if _, err := f.ReadAt(got, i*block); err != nil || !bytes.Equal(got, content(int(i))) {
				problems = append(problems, fmt.Sprintf("mark %d committed before block %d was written", m.next, i))
				break
			}
		}
		committed = append(committed, m.next)
		return nil
	})
	pool := newBufferPool(block, writeQueue+2)
	for i := range blocks {
		w.write(pool.get(content(i), 1), int64(i)*block)
		if (i+1)%every == 0 {
			if err := w.mark(durableMark{next: int64(i + 1)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	w.stop()
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if len(committed) != blocks/every {
		t.Fatalf("%d marks committed, want %d: %v", len(committed), blocks/every, committed)
	}
	for i, next := range committed {
		if next != int64((i+1)*every) {
			t.Fatalf("marks committed out of order: %v", committed)
		}
	}
}

// TestCommitFailureStopsTheExport: a mark that cannot be recorded fails the writes that follow and
// the final flush, with the journal's error.
func TestCommitFailureStopsTheExport(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "image"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	journalFull := errors.New("writing image.journal: no space left on device")
	w := newDiskWriter(f, func(durableMark) error { return journalFull })
	defer w.stop()
	pool := newBufferPool(4096, 4)
	w.write(pool.get(make([]byte, 4096), 1), 0)
	if err := w.mark(durableMark{next: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.flush(); !errors.Is(err, journalFull) {
		t.Fatalf("flush after a failed commit: %v", err)
	}
	if err := w.mark(durableMark{next: 2}); !errors.Is(err, journalFull) {
		t.Fatalf("a mark after a failed commit: %v", err)
	}
}

// TestBufferPoolIsBounded: however fast blocks are offered, no more buffers exist than the limit;
// the one asking waits until a user releases one.
func TestBufferPoolIsBounded(t *testing.T) {
	const limit = 5
	pool := newBufferPool(64, limit)
	seen := map[*blockBuf]bool{}
	release := make(chan *blockBuf, 100)
	var wg sync.WaitGroup
	wg.Go(func() {
		for b := range release {
			b.release()
			b.release()
		}
	})
	for i := range 100 {
		b := pool.get([]byte{byte(i)}, 2)
		if b.n != 1 || b.bytes()[0] != byte(i) {
			t.Fatalf("buffer %d holds %v", i, b.bytes())
		}
		seen[b] = true
		release <- b
	}
	close(release)
	wg.Wait()
	if len(seen) > limit {
		t.Fatalf("%d buffers made, limit %d", len(seen), limit)
	}
}
