package export

import "hash"

// imageHasher computes the SHA-256 of the image on its own goroutine, the zeros of unlisted blocks
// included, so that it does not hold up the delivery of blocks: for a half-empty volume it hashes
// twice the bytes that are downloaded, and it must see them all in order.
type imageHasher struct {
	h      hash.Hash
	offset int64 // bytes of the image hashed so far
	jobs   chan hashJob
	done   chan struct{}
	closed bool
}

// hashJob is a block to hash at offset at, after the zeros before it; without a block, the zeros up
// to at, the end of the image.
type hashJob struct {
	at  int64
	buf *blockBuf
}

// hashQueue is how many blocks wait for the hasher at most.
const hashQueue = 16

// startHasher goes on hashing the image from offset with h, which has seen everything before it.
func startHasher(h hash.Hash, offset int64) *imageHasher {
	x := &imageHasher{h: h, offset: offset, jobs: make(chan hashJob, hashQueue), done: make(chan struct{})}
	go x.loop()
	return x
}

var zeroBlock = make([]byte, 1<<20)

func (x *imageHasher) loop() {
	defer close(x.done)
	for j := range x.jobs {
		for x.offset < j.at {
			n := min(j.at-x.offset, int64(len(zeroBlock)))
			x.h.Write(zeroBlock[:n])
			x.offset += n
		}
		if j.buf != nil {
			x.h.Write(j.buf.bytes())
			x.offset += int64(j.buf.n)
			j.buf.release()
		}
	}
}

// add queues a block that starts at offset at; the hasher releases it once hashed.
func (x *imageHasher) add(at int64, b *blockBuf) { x.jobs <- hashJob{at: at, buf: b} }

// sum hashes the zeros up to end, the size of the image, and returns the image's SHA-256.
func (x *imageHasher) sum(end int64) []byte {
	x.jobs <- hashJob{at: end}
	x.stop()
	return x.h.Sum(nil)
}

// stop waits for the blocks queued, and ends the goroutine.
func (x *imageHasher) stop() {
	if !x.closed {
		x.closed = true
		close(x.jobs)
	}
	<-x.done
}
