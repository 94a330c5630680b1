package ebsblocks

import (
	"sync"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/providers/aws/awssim"
)

// fakeClock is the simulator's clock, moved by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// relists counts the listings that started from an index: re-listings
// after a refused token (the first listing starts from 0).
func relists(calls []listCall) int {
	n := 0
	for _, c := range calls {
		if c.start > 0 {
			n++
		}
	}
	return n
}

// Seven days pass in the middle of a read, so every block token and page
// token the read holds expires: the simulator refuses them as AWS does, and
// the read lists again and completes with the right digests.
func TestExpiredTokensSimulatorClock(t *testing.T) {
	img := sharedImage(t)
	clock := &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	snap := startSnapshot(t, img, simSetup{
		scenario: func(sc *awssim.Scenario) { sc.GetSnapshotBlockPerSecond = -1 }, // its refill follows the fake clock
		options:  &awssim.Options{Now: clock.Now},
	})
	c := spy(snap.client)
	c.pageSize = 100
	opts := &Options{Concurrency: 8, Progress: func(p Progress) {
		if p.Blocks == 50 {
			clock.Advance(7*24*time.Hour + time.Minute)
		}
	}}
	res, err := digest(t.Context(), c, snap.snapshotID, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.ImageSHA256 != img.imageSHA256 || res.BlockListSHA256 != img.blockListSHA {
		t.Error("digests differ after the tokens expired")
	}
	n := relists(c.listCalls())
	if n == 0 || n > opts.Concurrency+1 {
		t.Errorf("%d re-listings after the tokens expired, want 1 to %d", n, opts.Concurrency+1)
	}
	t.Logf("%d re-listings, %d GetSnapshotBlock errors", n, len(c.errors()))
}

// The same with a wrapper that refuses stale tokens with the documented
// ValidationException, whatever the simulator's clock.
func TestStaleTokensRelisted(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	stale := &staleTokens{inner: snap.client}
	c := spy(stale)
	c.pageSize = 100
	res, err := digest(t.Context(), c, snap.snapshotID, &Options{Concurrency: 8, Progress: func(p Progress) {
		if p.Blocks == 50 || p.Blocks == 200 {
			stale.Expire()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ImageSHA256 != img.imageSHA256 || res.BlockListSHA256 != img.blockListSHA {
		t.Error("digests differ after the tokens went stale")
	}
	if stale.refused == 0 || relists(c.listCalls()) < 2 {
		t.Errorf("%d tokens refused, %d re-listings: staleness not exercised", stale.refused, relists(c.listCalls()))
	}
}

// Every NextToken is refused as expired: each page is listed again from the
// block after the last one listed.
func TestExpiredPageTokens(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	stale := &staleTokens{inner: snap.client, pagesOnly: true}
	c := spy(stale)
	c.pageSize = 100
	res, err := digest(t.Context(), c, snap.snapshotID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ImageSHA256 != img.imageSHA256 || res.BlockListSHA256 != img.blockListSHA {
		t.Error("digests differ")
	}
	var starts []int64
	for _, l := range c.listCalls() {
		if l.start > 0 {
			starts = append(starts, l.start)
		}
	}
	pages := (len(img.listed) + 99) / 100
	if len(starts) != pages-1 {
		t.Fatalf("re-listed from %v, want %d pages", starts, pages-1)
	}
	for i, start := range starts {
		if want := img.listed[100*(i+1)-1] + 1; start != want {
			t.Errorf("page %d listed from %d, want %d (after the last block listed)", i+2, start, want)
		}
	}
}
