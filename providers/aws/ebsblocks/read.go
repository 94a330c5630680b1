package ebsblocks

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/ebs"
)

// Block is one listed block, verified. Data is only valid during the visit
// it is passed to.
type Block struct {
	Index  int64
	Data   []byte
	SHA256 [32]byte // of Data, equal to the block's x-amz-Checksum
}

// Reader reads one snapshot's blocks.
type Reader struct {
	c     Client
	o     Options
	vol   Volume
	stats readStats

	mu    sync.Mutex
	first *ebs.ListSnapshotBlocksOutput // Open's page, for the first Read from block 0
}

// Open lists the first page of a snapshot's blocks, which gives the volume's
// geometry and shows the snapshot can be read.
func Open(ctx context.Context, c Client, snapshotID string, opts *Options) (*Reader, error) {
	o := opts.withDefaults()
	first, err := listPage(ctx, c, &o, snapshotID, 0, "")
	if err != nil {
		return nil, err
	}
	vol, err := volumeOf(snapshotID, first)
	if err != nil {
		return nil, err
	}
	return &Reader{c: c, o: o, vol: vol, first: first}, nil
}

// Volume returns the snapshot's geometry.
func (r *Reader) Volume() Volume { return r.vol }

// Stats says what the reads so far had to do again.
type Stats struct {
	// IntegrityRetries counts blocks fetched again because their content did not match their
	// checksum; RetriedBlocks lists their indexes (the first 100).
	IntegrityRetries int64
	RetriedBlocks    []int64
}

type readStats struct {
	mu sync.Mutex
	s  Stats
}

func (rs *readStats) retried(index int64) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.s.IntegrityRetries++
	if len(rs.s.RetriedBlocks) < 100 {
		rs.s.RetriedBlocks = append(rs.s.RetriedBlocks, index)
	}
}

// Stats returns what the reads so far had to do again.
func (r *Reader) Stats() Stats {
	r.stats.mu.Lock()
	defer r.stats.mu.Unlock()
	s := r.stats.s
	s.RetriedBlocks = append([]int64(nil), s.RetriedBlocks...)
	return s
}

// job is one block on its way from the listing to the caller.
type job struct {
	ref  blockRef
	done chan struct{} // closed when data, sum and err are set
	data []byte
	sum  [32]byte
	err  error
}

// Read delivers every listed block from block index from on to visit, in
// ascending index order, while up to Options.Concurrency blocks are fetched
// at once and a few more wait their turn: memory stays at about
// Concurrency+window blocks whatever the volume's size. Unlisted blocks are
// zeros and are not visited. An error from visit, a block that fails
// verification or a failure that is not transient stops the read: requests in
// flight are canceled and every goroutine has ended when Read returns.
func (r *Reader) Read(ctx context.Context, from int64, visit func(Block) error) error {
	if from < 0 || from*r.vol.BlockSize > r.vol.Size {
		return fmt.Errorf("ebsblocks: snapshot %s: block %d is outside the volume", r.vol.SnapshotID, from)
	}
	r.mu.Lock()
	first := r.first
	if from == 0 {
		r.first = nil
	}
	r.mu.Unlock()
	tokens, err := newLister(r.c, &r.o, r.vol, from, first)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	window := r.o.window()
	f := &fetcher{c: r.c, o: &r.o, vol: r.vol, tokens: tokens, bufs: newBufferPool(r.vol.BlockSize, window+1), stats: &r.stats}
	pending := make(chan *job, window) // in listing order: the delivery queue
	work := make(chan *job)
	var wg sync.WaitGroup
	wg.Go(func() { dispatch(ctx, cancel, tokens, pending, work) })
	for range r.o.Concurrency {
		wg.Go(func() {
			for j := range work {
				j.data, j.sum, j.err = f.fetch(ctx, j.ref)
				if j.err != nil {
					cancel(j.err) // stop the others now, not when the block's turn comes
				}
				close(j.done)
			}
		})
	}
	err = r.deliver(ctx, pending, f.bufs, visit)
	cancel(err)
	wg.Wait()
	return err
}

// dispatch lists blocks and hands each to the delivery queue, then to a
// worker. The queue's capacity is what bounds the blocks held in memory.
func dispatch(ctx context.Context, cancel context.CancelCauseFunc, tokens *lister, pending, work chan<- *job) {
	defer close(work)
	defer close(pending)
	for {
		ref, ok, err := tokens.next(ctx)
		if err != nil {
			cancel(err)
			return
		}
		if !ok {
			return
		}
		j := &job{ref: ref, done: make(chan struct{})}
		select {
		case pending <- j:
		case <-ctx.Done():
			return
		}
		select {
		case work <- j:
		case <-ctx.Done():
			return
		}
	}
}

// deliver waits for each block in turn and visits it.
func (r *Reader) deliver(ctx context.Context, pending <-chan *job, bufs *bufferPool, visit func(Block) error) error {
	p := Progress{SnapshotID: r.vol.SnapshotID, Size: r.vol.Size}
	for j := range pending {
		select {
		case <-j.done:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if j.err != nil || ctx.Err() != nil {
			// A worker cancels ctx with its error before closing done, so the
			// cause is the first failure, which may be another block's. Once
			// ctx is done no block is visited, even one that is ready.
			return context.Cause(ctx)
		}
		err := visit(Block{Index: j.ref.index, Data: j.data, SHA256: j.sum})
		bufs.put(j.data)
		if err != nil {
			return fmt.Errorf("ebsblocks: snapshot %s block %d: %w", r.vol.SnapshotID, j.ref.index, err)
		}
		p.Offset = j.ref.index*r.vol.BlockSize + int64(len(j.data))
		p.Blocks++
		p.BytesRead += int64(len(j.data))
		if r.o.Progress != nil {
			r.o.Progress(p)
		}
	}
	if ctx.Err() != nil { // the listing failed, or the caller gave up
		return context.Cause(ctx)
	}
	return nil
}
