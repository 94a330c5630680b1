package ebsblocks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"sync"
	"testing"
	"time"
)

// Blocks reach visit in ascending order with the image's content, even when
// they complete out of order.
func TestReadDeliversInOrder(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	c := spy(snap.client)
	c.beforeGet = func(ctx context.Context, index int64) error {
		if index%3 == 0 { // hold back some blocks so that later ones finish first
			return sleep(ctx, 5*time.Millisecond)
		}
		return nil
	}
	r, err := Open(t.Context(), c, snap.snapshotID, &Options{Concurrency: 12})
	if err != nil {
		t.Fatal(err)
	}
	if v := r.Volume(); v.Size != img.size || v.BlockSize != testBlockSize || v.SnapshotID != snap.snapshotID {
		t.Fatalf("volume %+v", v)
	}
	var got []int64
	err = r.Read(t.Context(), 0, func(b Block) error {
		got = append(got, b.Index)
		if want := img.block(t, b.Index); !bytes.Equal(b.Data, want) {
			t.Errorf("block %d differs from the image", b.Index)
		}
		if b.SHA256 != sha256.Sum256(b.Data) {
			t.Errorf("block %d: SHA256 is not the data's", b.Index)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, img.listed) {
		t.Errorf("visited %d blocks, want %d in order: %v", len(got), len(img.listed), got)
	}
	if slices.IsSorted(c.firstStart) {
		t.Log("every block was requested in order; the reordering was not exercised")
	}
}

// Read from a block on delivers only the blocks from there, listing from
// there: what an interrupted export resumes with.
func TestReadFrom(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	c := spy(snap.client)
	r, err := Open(t.Context(), c, snap.snapshotID, nil)
	if err != nil {
		t.Fatal(err)
	}
	from := img.listed[len(img.listed)/2] + 1
	var got []int64
	if err := r.Read(t.Context(), from, func(b Block) error { got = append(got, b.Index); return nil }); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(img.listed), func(i int64) bool { return i < from })
	if !slices.Equal(got, want) {
		t.Errorf("read from %d: got %v, want %v", from, got, want)
	}
	if _, blocks := c.getCalls(); blocks != len(want) {
		t.Errorf("requested %d blocks, want %d", blocks, len(want))
	}
	if err := r.Read(t.Context(), r.Volume().Size/testBlockSize+1, func(Block) error { return nil }); err == nil {
		t.Error("a read from past the end of the volume succeeded")
	}
}

// Many pages: the listing is followed page by page, with NextToken.
func TestReadPaginates(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	c := spy(snap.client)
	c.pageSize = 100 // the smallest page ListSnapshotBlocks allows
	res, err := digest(t.Context(), c, snap.snapshotID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ImageSHA256 != img.imageSHA256 || res.BlockListSHA256 != img.blockListSHA {
		t.Errorf("digests differ over %d pages", len(c.listCalls()))
	}
	lists := c.listCalls()
	wantPages := (len(img.listed) + 99) / 100
	if len(lists) != wantPages {
		t.Errorf("%d ListSnapshotBlocks calls for %d blocks in pages of 100, want %d", len(lists), len(img.listed), wantPages)
	}
	for i, l := range lists[1:] {
		if !l.withToken {
			t.Errorf("page %d listed without NextToken: %+v", i+2, l)
		}
	}
}

// However slow the caller, no more than the window of blocks is requested
// ahead of what it has taken: memory does not grow with the volume.
func TestReadAheadIsBounded(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	c := spy(snap.client)
	opts := &Options{Concurrency: 8}
	o := opts.withDefaults()
	bound := o.window() + 1
	var visited, worst int
	err := readAll(t.Context(), c, snap.snapshotID, opts, func(b Block) error {
		visited++
		// Let the workers run ahead as far as they can before looking.
		time.Sleep(time.Millisecond)
		worst = max(worst, c.started()-visited)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if worst > bound {
		t.Errorf("%d blocks requested ahead of the caller, bound %d", worst, bound)
	}
	if worst < opts.Concurrency {
		t.Logf("only %d blocks ran ahead", worst)
	}
}

// readAll opens a snapshot and reads it whole.
func readAll(ctx context.Context, c Client, snapshotID string, opts *Options, visit func(Block) error) error {
	r, err := Open(ctx, c, snapshotID, opts)
	if err != nil {
		return err
	}
	return r.Read(ctx, 0, visit)
}

// A Reader may serve several reads at once.
func TestReaderConcurrentReads(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	r, err := Open(t.Context(), snap.client, snap.snapshotID, &Options{Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		wg.Go(func() {
			if err := r.Read(t.Context(), 0, func(Block) error { counts[i]++; return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, n := range counts {
		if n != len(img.listed) {
			t.Errorf("read %d delivered %d blocks, want %d", i, n, len(img.listed))
		}
	}
}
