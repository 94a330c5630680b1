package export

import "sync/atomic"

// blockBuf holds a copy of one block on its way to the disk and to the image hash, which work on it
// at the same time; it goes back to its pool when both are done.
type blockBuf struct {
	data []byte
	n    int
	refs atomic.Int32
	pool *bufferPool
}

func (b *blockBuf) bytes() []byte { return b.data[:b.n] }

// release says one of the block's users is done with it.
func (b *blockBuf) release() {
	if b.refs.Add(-1) == 0 {
		b.pool.free <- b
	}
}

// bufferPool hands out at most limit block buffers, so that memory stays bounded whatever the size of
// the image and however far the disk or the hash falls behind: get waits for a release at the limit.
type bufferPool struct {
	size, limit, made int
	free              chan *blockBuf
}

func newBufferPool(blockSize int64, limit int) *bufferPool {
	return &bufferPool{size: int(blockSize), limit: limit, free: make(chan *blockBuf, limit)}
}

// get returns a buffer holding a copy of data, to be released by each of its users. It is called
// from one goroutine only.
func (p *bufferPool) get(data []byte, users int32) *blockBuf {
	var b *blockBuf
	select {
	case b = <-p.free:
	default:
		if p.made < p.limit {
			p.made++
			b = &blockBuf{data: make([]byte, p.size), pool: p}
		} else {
			b = <-p.free
		}
	}
	b.n = copy(b.data, data)
	b.refs.Store(users)
	return b
}
