// Package gcsblocks reads back the raw image of a Compute Engine disk that `acquire gcp --image-bucket`
// had its digest worker write to Cloud Storage. Compute Engine has no API that reads a snapshot's
// blocks, so this object is how Google Cloud evidence is exported or read again.
//
// The object is pinned to the generation it has when it is opened, so a replaced object cannot be read
// half old and half new. It is read in ranges of several blocks, many in flight, and delivered in
// order as 512 KiB blocks, every block of the image as the worker listed it. Cloud Storage returns no
// checksum for a ranged read, so each block is checked only by the SHA-256 it is delivered with; when
// the whole object is read, its CRC32C is computed as it goes and compared with the one Cloud Storage
// computed when the worker wrote it. The image SHA-256 is then compared with custody by the caller.
// (https://cloud.google.com/storage/docs/json_api/v1/objects/get,
// https://cloud.google.com/storage/docs/hashes-etags,
// https://cloud.google.com/storage/docs/request-preconditions#generation-match)
package gcsblocks

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// BlockSize is fixed at 512 KiB, the block of every cloud's digest, so that block lists compare.
const BlockSize = 512 << 10

// DefaultRangeBlocks is how many blocks one ranged read asks for (8 MiB).
const DefaultRangeBlocks = 16

// DefaultConcurrency is how many ranged reads are in flight.
const DefaultConcurrency = 6

// DefaultReadTimeout bounds one ranged read, body included: minutes of silence are a stalled connection.
const DefaultReadTimeout = 2 * time.Minute

// Options tune the reads.
type Options struct {
	Concurrency int           // ranged reads in flight; DefaultConcurrency when zero
	RangeBlocks int           // blocks per ranged read; DefaultRangeBlocks when zero
	ReadTimeout time.Duration // bound of one ranged read; DefaultReadTimeout when zero
	// Reader names who reads, for the record ("responder@…").
	Reader string
	Logger *slog.Logger
}

// IntegrityError is an object whose content, read whole, does not have the CRC32C Cloud Storage holds
// for it, or whose size is not the evidence's.
type IntegrityError struct {
	Object string
	Reason string
}

func (e *IntegrityError) Error() string { return e.Object + ": " + e.Reason }

// Source is one image object's blocks.
type Source struct {
	obj    *storage.ObjectHandle // pinned to attrs.Generation
	url    string
	attrs  *storage.ObjectAttrs
	opts   Options
	closer func() error
	once   sync.Once
	err    error
}

var _ driver.BlockSource = (*Source)(nil)

// ParseURL splits gs://BUCKET/OBJECT.
func ParseURL(u string) (bucket, object string, err error) {
	rest, ok := strings.CutPrefix(u, "gs://")
	bucket, object, _ = strings.Cut(rest, "/")
	if !ok || bucket == "" || object == "" {
		return "", "", fmt.Errorf("%q is not a Cloud Storage object URL (gs://BUCKET/OBJECT)", u)
	}
	return bucket, object, nil
}

// Open reads the object's attributes and pins its generation. size is the evidence's recorded size:
// an object of any other size is not the image the acquisition wrote. closer, when set, runs on Close
// (the client's release).
func Open(ctx context.Context, client *storage.Client, url string, size int64, opts *Options, closer func() error) (*Source, error) {
	bucket, object, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	s := &Source{url: url, closer: closer}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Concurrency <= 0 {
		s.opts.Concurrency = DefaultConcurrency
	}
	if s.opts.RangeBlocks <= 0 {
		s.opts.RangeBlocks = DefaultRangeBlocks
	}
	if s.opts.ReadTimeout <= 0 {
		s.opts.ReadTimeout = DefaultReadTimeout
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.New(slog.DiscardHandler)
	}
	obj := client.Bucket(bucket).Object(object)
	a, err := obj.Attrs(ctx)
	if err != nil {
		return nil, s.failOpen(fmt.Errorf("reading the attributes of %s: %w", url, err))
	}
	if a.Size != size {
		return nil, s.failOpen(&IntegrityError{Object: url, Reason: fmt.Sprintf("the object holds %d bytes, but the evidence is %d bytes: it is not the image the acquisition wrote", a.Size, size)})
	}
	s.attrs, s.obj = a, obj.Generation(a.Generation)
	return s, nil
}

func (s *Source) failOpen(err error) error {
	if cerr := s.Close(context.Background()); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// Geometry is the object's size in 512 KiB blocks.
func (s *Source) Geometry() driver.Geometry {
	return driver.Geometry{Size: s.attrs.Size, BlockSize: BlockSize}
}

// Info says how blocks are read and checked, and who read them.
func (s *Source) Info() driver.SourceInfo {
	access := fmt.Sprintf("Cloud Storage object %s, generation %d", s.url, s.attrs.Generation)
	if s.opts.Reader != "" {
		access += ", read as " + s.opts.Reader
	}
	return driver.SourceInfo{
		Method: fmt.Sprintf("the raw image the digest worker wrote to Cloud Storage, read in ranges of generation %d and delivered as 512 KiB blocks, every block listed as the worker listed them; "+
			"a whole read is checked against the object's CRC32C (%08x), computed by Cloud Storage when it was written", s.attrs.Generation, s.attrs.CRC32C),
		Access: access,
	}
}

type result struct {
	first int64 // the range's first block
	data  []byte
	sums  [][32]byte
	err   error
}

// ReadBlocks delivers every block from index from on, in order, with several ranged reads in flight.
func (s *Source) ReadBlocks(ctx context.Context, from int64, visit func(driver.Block) error) error {
	size := s.attrs.Size
	blocks := (size + BlockSize - 1) / BlockSize
	if from < 0 || from > blocks {
		return fmt.Errorf("block %d is outside %s's %d blocks", from, s.url, blocks)
	}
	ctx, cancel := context.WithCancel(ctx)
	// No read outlives the call: the caller closes the source after it.
	var readers sync.WaitGroup
	defer readers.Wait()
	defer cancel()
	span := int64(s.opts.RangeBlocks)
	pool := sync.Pool{New: func() any { return make([]byte, span*BlockSize) }}
	futures := make(chan chan result, s.opts.Concurrency)
	readers.Go(func() { // the producer counts too, so that no reader is added once Wait began
		defer close(futures)
		sem := make(chan struct{}, s.opts.Concurrency)
		for first := from; first < blocks; first += span {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			f := make(chan result, 1)
			select {
			case futures <- f:
			case <-ctx.Done():
				<-sem
				return
			}
			readers.Go(func() {
				defer func() { <-sem }()
				off := first * BlockSize
				buf := pool.Get().([]byte)[:min(span*BlockSize, size-off)]
				r := result{first: first, data: buf, err: s.readRange(ctx, off, buf)}
				if r.err == nil {
					// Hashed here, among the readers, not in the one goroutine that delivers in order.
					for b := 0; b < len(buf); b += BlockSize {
						r.sums = append(r.sums, sha256.Sum256(buf[b:min(b+BlockSize, len(buf))]))
					}
				}
				f <- r
			})
		}
	})
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	whole := from == 0
	for f := range futures {
		r := <-f
		if r.err != nil {
			return r.err
		}
		if whole {
			crc.Write(r.data)
		}
		for i, sum := range r.sums {
			b := i * BlockSize
			if err := visit(driver.Block{Index: r.first + int64(i), Data: r.data[b:min(b+BlockSize, len(r.data))], Sum: &sum}); err != nil {
				return err
			}
		}
		pool.Put(r.data[:cap(r.data)])
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if whole && crc.Sum32() != s.attrs.CRC32C {
		return &IntegrityError{Object: s.url, Reason: fmt.Sprintf("the content read has CRC32C %08x, but Cloud Storage holds %08x for generation %d: it was not read as it was written",
			crc.Sum32(), s.attrs.CRC32C, s.attrs.Generation)}
	}
	return nil
}

// readRange fills buf from offset off of the pinned generation, within ReadTimeout. The storage
// client retries a broken read from where it stopped.
func (s *Source) readRange(ctx context.Context, off int64, buf []byte) error {
	rctx, cancel := context.WithTimeout(ctx, s.opts.ReadTimeout)
	defer cancel()
	r, err := s.obj.NewRangeReader(rctx, off, int64(len(buf)))
	if err == nil {
		_, err = io.ReadFull(r, buf)
		r.Close()
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() == nil && rctx.Err() != nil:
		return fmt.Errorf("reading bytes %d to %d of %s: no complete answer within %s", off, off+int64(len(buf)), s.url, s.opts.ReadTimeout)
	}
	return fmt.Errorf("reading bytes %d to %d of %s: %w", off, off+int64(len(buf)), s.url, err)
}

// Close releases the client, once.
func (s *Source) Close(context.Context) error {
	s.once.Do(func() {
		if s.closer != nil {
			s.err = s.closer()
		}
	})
	return s.err
}
