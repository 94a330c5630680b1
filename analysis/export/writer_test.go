package export

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestMarksFollowTheirBlocks: each mark is committed in order, once, and only after a sync that began
// when every block it vouches for was in the file.
func TestMarksFollowTheirBlocks(t *testing.T) {
	const block, blocks, every = 4096, 200, 7
	f, err := os.Create(filepath.Join(t.TempDir(), "image"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	content := func(i int64) []byte { return bytes.Repeat([]byte{byte(i%251 + 1)}, block) }
	// writtenPrefix counts the blocks from the start of the file that hold their content.
	writtenPrefix := func() int64 {
		got := make([]byte, block)
		var n int64
		for ; n < blocks; n++ {
			if _, err := f.ReadAt(got, n*block); err != nil || !bytes.Equal(got, content(n)) {
				break
			}
		}
		return n
	}
	var synced int64 // the written prefix when the last sync began
	var committed []int64
	var problems []string
	w := newDiskWriter(f, func() error {
		synced = writtenPrefix()
		return f.Sync()
	}, func(m durableMark) error {
		if m.next > synced {
			problems = append(problems, fmt.Sprintf("mark %d committed after a sync that began with %d blocks written", m.next, synced))
		}
		committed = append(committed, m.next)
		return nil
	})
	pool := newBufferPool(block, writeQueue+2)
	for i := range int64(blocks) {
		w.write(pool.get(content(i), 1), i*block)
		if (i+1)%every == 0 {
			if err := w.mark(durableMark{next: i + 1}); err != nil {
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

// TestFailuresStopCommits: a sync or a journal write that fails is reported by the flush and by the
// calls that follow, and no mark is committed after it.
func TestFailuresStopCommits(t *testing.T) {
	diskGone := errors.New("sync: input/output error")
	journalFull := errors.New("writing image.journal: no space left on device")
	for _, tc := range []struct {
		name         string
		sync, commit error
	}{{"sync", diskGone, nil}, {"commit", nil, journalFull}} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "image"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var commits int
			w := newDiskWriter(f, func() error { return tc.sync }, func(durableMark) error { commits++; return tc.commit })
			defer w.stop()
			pool := newBufferPool(4096, 4)
			w.write(pool.get(make([]byte, 4096), 1), 0)
			if err := w.mark(durableMark{next: 1}); err != nil {
				t.Fatal(err)
			}
			want := cmp.Or(tc.sync, tc.commit)
			if err := w.flush(); !errors.Is(err, want) {
				t.Fatalf("flush: %v, want %v", err, want)
			}
			if err := w.mark(durableMark{next: 2}); !errors.Is(err, want) {
				t.Fatalf("a mark after the failure: %v", err)
			}
			if want := map[string]int{"sync": 0, "commit": 1}[tc.name]; commits != want {
				t.Fatalf("%d commits, want %d", commits, want)
			}
		})
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
