package evidence

import (
	"hash"
)

// ImageHasher computes the SHA-256 of a raw image on its own goroutine, the zeros of unlisted blocks
// included, so that it does not hold up the delivery of blocks: for a half-empty volume it hashes
// twice the bytes that are read, and it must see them all in order.
type ImageHasher struct {
	h      hash.Hash
	offset int64 // bytes of the image hashed so far
	jobs   chan hashJob
	done   chan struct{}
	closed bool
}

// hashJob is a block to hash at offset at, after the zeros before it; without data, the zeros up to
// at, the end of the image.
type hashJob struct {
	at      int64
	data    []byte
	release func()
}

// HashQueue is how many blocks wait for the hasher at most.
const HashQueue = 16

// NewImageHasher goes on hashing an image from offset with h, which has seen everything before it.
func NewImageHasher(h hash.Hash, offset int64) *ImageHasher {
	x := &ImageHasher{h: h, offset: offset, jobs: make(chan hashJob, HashQueue), done: make(chan struct{})}
	go x.loop()
	return x
}

// zeroBlock stands for every unlisted block: hashed again and again, never allocated per block.
var zeroBlock = make([]byte, 1<<20)

func (x *ImageHasher) loop() {
	defer close(x.done)
	for j := range x.jobs {
		for x.offset < j.at {
			n := min(j.at-x.offset, int64(len(zeroBlock)))
			x.h.Write(zeroBlock[:n])
			x.offset += n
		}
		if j.data != nil {
			x.h.Write(j.data)
			x.offset += int64(len(j.data))
		}
		if j.release != nil {
			j.release()
		}
	}
}

// Add queues a block that starts at offset at. data must stay unchanged until release is called,
// once the block is hashed.
func (x *ImageHasher) Add(at int64, data []byte, release func()) {
	x.jobs <- hashJob{at: at, data: data, release: release}
}

// Sum hashes the zeros up to end, the size of the image, and returns the image's SHA-256.
func (x *ImageHasher) Sum(end int64) []byte {
	x.jobs <- hashJob{at: end}
	x.Stop()
	return x.h.Sum(nil)
}

// Stop waits for the blocks queued, and ends the goroutine.
func (x *ImageHasher) Stop() {
	if !x.closed {
		x.closed = true
		close(x.jobs)
	}
	<-x.done
}
