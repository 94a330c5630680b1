package sasblocks

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// BlockSize is fixed at 512 KiB, as EBS direct's, so that block-list digests compare across clouds.
const BlockSize = 512 << 10

// ReadSize is how many bytes one ranged read asks for.
const ReadSize = BlockSize

// DefaultConcurrency is how many ranged reads are in flight.
const DefaultConcurrency = 16

// DefaultReadTimeout bounds one 512 KiB ranged read: minutes of silence are a stalled connection.
const DefaultReadTimeout = time.Minute

// stallReads is how often a block is read before a stall ends the digest (retryable: a transport failure).
const stallReads = 3

// integrityReads is how often a block that does not match its Content-MD5, or comes without one, is
// read before giving up.
const integrityReads = 4

// Options tune the reads.
type Options struct {
	Concurrency int // ranged reads in flight; DefaultConcurrency when zero
	// ReadTimeout bounds one ranged read of a block, body included, and each try of the other blob
	// calls; DefaultReadTimeout when zero. A read past it is a transport failure, read again.
	ReadTimeout time.Duration
	// ClientOptions are the blob client's pipeline settings (transport, retries: the SDK retries 503
	// ServerBusy honouring Retry-After).
	ClientOptions azcore.ClientOptions
	Logger        *slog.Logger
}

// Access is a granted read SAS and how to end it.
type Access struct {
	URL      string // the SAS: a secret, never shown
	Resource string // the snapshot's resource ID
	Grantee  string // who beginGetAccess granted it to
	Expires  time.Time
	// Credential, when the snapshot's dataAccessAuthMode is AzureActiveDirectory, adds a bearer token
	// (audience https://disk.azure.com/) to each blob request.
	Credential azcore.TokenCredential
	// End revokes the access (endGetAccess); Close calls it once.
	End func(ctx context.Context) error
}

// Source is one snapshot's blocks, read through its SAS.
type Source struct {
	acc     Access
	opts    Options
	client  *pageblob.Client
	size    int64
	retries struct {
		mu     sync.Mutex
		n      int64
		blocks []int64
	}
	closeOnce sync.Once
	closeErr  error
}

var _ driver.BlockSource = (*Source)(nil)

// Open reads the blob's size. On failure it ends the access before returning.
func Open(ctx context.Context, acc Access, opts *Options) (*Source, error) {
	s := &Source{acc: acc}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Concurrency <= 0 {
		s.opts.Concurrency = DefaultConcurrency
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if s.opts.ReadTimeout <= 0 {
		s.opts.ReadTimeout = DefaultReadTimeout
	}
	co := &pageblob.ClientOptions{ClientOptions: s.opts.ClientOptions}
	if co.Retry.TryTimeout <= 0 {
		co.Retry.TryTimeout = s.opts.ReadTimeout // the SDK's own bound on each try of every blob call
	}
	var err error
	if acc.Credential != nil {
		co.Audience = "https://disk.azure.com/"
		s.client, err = pageblob.NewClient(acc.URL, acc.Credential, co)
	} else {
		s.client, err = pageblob.NewClientWithNoCredential(acc.URL, co)
	}
	if err != nil {
		err = scrub("open the SAS", acc.Resource, err)
		return nil, s.failOpen(ctx, err)
	}
	props, err := s.client.GetProperties(ctx, nil)
	if err != nil {
		return nil, s.failOpen(ctx, scrub("Get Blob Properties", acc.Resource, err))
	}
	if props.ContentLength == nil || *props.ContentLength <= 0 {
		return nil, s.failOpen(ctx, fmt.Errorf("the blob of %s has no size", acc.Resource))
	}
	s.size = *props.ContentLength
	return s, nil
}

func (s *Source) failOpen(ctx context.Context, err error) error {
	if cerr := s.Close(context.WithoutCancel(ctx)); cerr != nil {
		return fmt.Errorf("%w (and ending the access failed: %v)", err, cerr)
	}
	return err
}

// Geometry is the blob's size in 512 KiB blocks.
func (s *Source) Geometry() driver.Geometry {
	return driver.Geometry{Size: s.size, BlockSize: BlockSize}
}

// Info says how blocks are read and checked, and what access was granted.
func (s *Source) Info() driver.SourceInfo {
	s.retries.mu.Lock()
	defer s.retries.mu.Unlock()
	access := "read SAS (beginGetAccess) on " + s.acc.Resource
	if s.acc.Grantee != "" {
		access += " granted to " + s.acc.Grantee
	}
	if !s.acc.Expires.IsZero() {
		access += " until " + s.acc.Expires.UTC().Format(time.RFC3339)
	}
	access += ", ended with endGetAccess when read"
	return driver.SourceInfo{
		Method: "Azure page blob through a read SAS: Get Page Ranges lists the written ranges, ranged Get Blob reads them in 512 KiB blocks, each checked against its Content-MD5",
		Access: access, IntegrityRetries: s.retries.n, RetriedBlocks: append([]int64(nil), s.retries.blocks...),
	}
}

// blocks lists the 512 KiB blocks that hold a written page range, in order.
func (s *Source) blocks(ctx context.Context) ([]int64, error) {
	set := map[int64]bool{}
	p := s.client.NewGetPageRangesPager(&pageblob.GetPageRangesOptions{})
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, scrub("Get Page Ranges", s.acc.Resource, err)
		}
		for _, r := range page.PageList.PageRange {
			// A range the list cannot be read from would otherwise count as unwritten, its blocks as zeros.
			if r.Start == nil || r.End == nil || *r.Start < 0 || *r.End < *r.Start {
				return nil, &Error{Op: "Get Page Ranges", Resource: s.acc.Resource,
					err: fmt.Errorf("the blob service listed a page range from %s to %s: the written ranges cannot be trusted", bound(r.Start), bound(r.End))}
			}
			for b := *r.Start / BlockSize; b <= *r.End/BlockSize; b++ {
				set[b] = true
			}
		}
	}
	out := make([]int64, 0, len(set))
	for b := range set {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

type result struct {
	idx  int64
	data []byte
	sum  *[32]byte
	err  error
}

// ReadBlocks delivers every written block from index from on, in order, with many reads in flight.
func (s *Source) ReadBlocks(ctx context.Context, from int64, visit func(driver.Block) error) error {
	all, err := s.blocks(ctx)
	if err != nil {
		return err
	}
	todo := all[sort.Search(len(all), func(i int) bool { return all[i] >= from }):]
	ctx, cancel := context.WithCancel(ctx)
	// No reader outlives the call: the caller may end the read access (endGetAccess) or close the
	// transport as soon as it returns.
	var readers sync.WaitGroup
	defer func() { cancel(); readers.Wait() }()
	pool := sync.Pool{New: func() any { return make([]byte, BlockSize) }}
	futures := make(chan chan result, s.opts.Concurrency)
	readers.Go(func() { // the producer counts too, so that no reader is added once Wait began
		defer close(futures)
		sem := make(chan struct{}, s.opts.Concurrency)
		for _, idx := range todo {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			f := make(chan result, 1)
			select {
			case futures <- f:
			case <-ctx.Done():
				return
			}
			readers.Go(func() {
				defer func() { <-sem }()
				buf := pool.Get().([]byte)
				data, err := s.readBlock(ctx, idx, buf)
				r := result{idx: idx, data: data, err: err}
				if err == nil {
					// Hashed here, among the readers, not in the one goroutine that delivers in order.
					sum := sha256.Sum256(data)
					r.sum = &sum
				}
				f <- r
			})
		}
	})
	for f := range futures {
		r := <-f
		if r.err != nil {
			return r.err
		}
		err := visit(driver.Block{Index: r.idx, Data: r.data, Sum: r.sum})
		pool.Put(r.data[:cap(r.data)])
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// readBlock reads one block, checked against its Content-MD5, read again when it does not match or
// comes without one, or when a read stalls.
func (s *Source) readBlock(ctx context.Context, idx int64, buf []byte) ([]byte, error) {
	off := idx * BlockSize
	n := min(int64(BlockSize), s.size-off)
	data := buf[:n]
	reads, stalls := 0, 0
	for {
		contentMD5, err := s.readOnce(ctx, off, data)
		if errors.Is(err, errStalled) {
			stalls++
			s.opts.Logger.Warn("ranged read stalled; reading it again", "resource", s.acc.Resource, "block", idx, "timeout", s.opts.ReadTimeout, "stalls", stalls)
			if stalls >= stallReads {
				return nil, &Error{Op: "Get Blob", Resource: s.acc.Resource, err: &StalledError{Block: idx, Reads: stalls, After: s.opts.ReadTimeout}}
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		reads++
		// The blob service sends Content-MD5 for every ranged read of at most 4 MiB that asks for it
		// (https://learn.microsoft.com/rest/api/storageservices/get-blob#response-headers): a read
		// without one is an anomaly, read again, and never passed on unchecked.
		missing := len(contentMD5) == 0
		if !missing {
			sum := md5.Sum(data)
			if bytes.Equal(sum[:], contentMD5) {
				return data, nil
			}
		}
		s.retried(idx)
		if missing {
			s.opts.Logger.Warn("block came without its Content-MD5; reading it again", "resource", s.acc.Resource, "block", idx, "attempt", reads)
		} else {
			s.opts.Logger.Warn("block did not match its Content-MD5; reading it again", "resource", s.acc.Resource, "block", idx, "attempt", reads)
		}
		if reads >= integrityReads {
			return nil, &IntegrityError{Resource: s.acc.Resource, Block: idx, Reads: reads, NoChecksum: missing}
		}
	}
}

// errStalled is a ranged read that ran past ReadTimeout while the run's own context was still live.
var errStalled = errors.New("stalled")

// readOnce reads one block's range into data, body and all, within ReadTimeout, and gives its
// Content-MD5. A stalled read would otherwise hang the digest with the SAS open.
func (s *Source) readOnce(ctx context.Context, off int64, data []byte) ([]byte, error) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.ReadTimeout)
	defer cancel()
	resp, err := s.client.DownloadStream(rctx, &blob.DownloadStreamOptions{
		Range: blob.HTTPRange{Offset: off, Count: int64(len(data))}, RangeGetContentMD5: boolPtr(true)})
	if err == nil {
		_, err = io.ReadFull(resp.Body, data)
		resp.Body.Close()
	}
	switch {
	case err == nil:
		return resp.ContentMD5, nil
	case ctx.Err() == nil && rctx.Err() != nil:
		return nil, errStalled
	}
	return nil, scrub("Get Blob", s.acc.Resource, err)
}

// retried counts a block read again for its integrity, for the record.
func (s *Source) retried(idx int64) {
	s.retries.mu.Lock()
	defer s.retries.mu.Unlock()
	s.retries.n++
	if len(s.retries.blocks) < 100 {
		s.retries.blocks = append(s.retries.blocks, idx)
	}
}

// Close ends the access (endGetAccess), once, whatever happened before.
func (s *Source) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if s.acc.End != nil {
			s.closeErr = s.acc.End(ctx)
		}
	})
	return s.closeErr
}

func boolPtr(b bool) *bool { return &b }

// bound prints a page range's start or end, or that it is missing.
func bound(v *int64) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(*v)
}
