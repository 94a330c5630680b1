package export

import (
	"fmt"
	"os"
	"sync"
)

// diskWriter writes blocks to the image on its own goroutine, so that the disk and the image hash,
// which must see every byte in order, work at the same time. A few blocks are queued at most.
type diskWriter struct {
	f    *os.File
	jobs chan writeJob
	bufs sync.Pool
	wg   sync.WaitGroup // writes queued and not done

	mu  sync.Mutex
	err error // the first write that failed
}

type writeJob struct {
	buf    *[]byte
	n      int
	offset int64
}

const writeQueue = 8

func newDiskWriter(f *os.File, blockSize int64) *diskWriter {
	w := &diskWriter{f: f, jobs: make(chan writeJob, writeQueue)}
	w.bufs.New = func() any { b := make([]byte, blockSize); return &b }
	go w.loop()
	return w
}

// writebackEvery is how much is written before the kernel is asked to start writing it out. Without
// it, a machine with much memory buffers the whole image and the disk only starts at the final sync,
// after the download: the two would not overlap.
const writebackEvery = 16 << 20

func (w *diskWriter) loop() {
	var unflushed int64
	for j := range w.jobs {
		if w.failed() == nil {
			if _, err := w.f.WriteAt((*j.buf)[:j.n], j.offset); err != nil {
				w.mu.Lock()
				w.err = fmt.Errorf("writing %s: %w", w.f.Name(), err)
				w.mu.Unlock()
			}
			if unflushed += int64(j.n); unflushed >= writebackEvery {
				startWriteback(w.f)
				unflushed = 0
			}
		}
		w.bufs.Put(j.buf)
		w.wg.Done()
	}
}

func (w *diskWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// write queues a copy of data for offset; it reports an earlier write's failure.
func (w *diskWriter) write(data []byte, offset int64) error {
	if err := w.failed(); err != nil {
		return err
	}
	buf := w.bufs.Get().(*[]byte)
	n := copy(*buf, data)
	w.wg.Add(1)
	w.jobs <- writeJob{buf: buf, n: n, offset: offset}
	return nil
}

// flush waits for the queued writes and reports whether they all succeeded.
func (w *diskWriter) flush() error {
	w.wg.Wait()
	return w.failed()
}

// stop ends the goroutine after the queued writes.
func (w *diskWriter) stop() {
	w.wg.Wait()
	close(w.jobs)
}
