package ebsblocks

// bufferPool recycles block buffers within one read. The pipeline never has
// more than a window of blocks outstanding, so the pool never holds more
// than that either; unlike sync.Pool it is not emptied by the collector, so a
// long read allocates its buffers once.
type bufferPool struct {
	size int
	free chan []byte
}

func newBufferPool(size int64, capacity int) *bufferPool {
	return &bufferPool{size: int(size), free: make(chan []byte, capacity)}
}

func (p *bufferPool) get() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		return make([]byte, p.size)
	}
}

func (p *bufferPool) put(b []byte) {
	select {
	case p.free <- b[:cap(b)]:
	default: // more buffers than the window: let this one go
	}
}
