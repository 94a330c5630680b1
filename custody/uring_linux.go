//go:build linux && !android && !nouring

package custody

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An io_uring (Linux 5.6 and later) lets the verifier open, read and close the small files of a large
// case many at a time: each system call costs more than reading a record, and a ring takes a batch of
// them in one. Only the way of reading changes: a file is read through the ring only when it opens
// without following a link and is, by fstat of the opened file, a regular file of at most the limit;
// every other file is read the ordinary way (readFileIn), which says what is wrong with it.
//
// The ring shares memory with the kernel: every buffer it is given is pinned Go memory that stays
// referenced until the kernel has answered for it (or, if the ring stops answering, for ever: see
// abandon). Where the kernel refuses a ring (seccomp, kernel.io_uring_disabled, a kernel before 5.6)
// or an operation of it, files are read the ordinary way. -tags nouring leaves the ring out of the
// build (uring_other.go).

// ringBuilt says that this build reads through an io_uring.
const ringBuilt = true

const (
	ioringOpOpenat = 18
	ioringOpClose  = 19
	ioringOpStatx  = 21
	ioringOpRead   = 22

	ioringSetupSubmitAll   = 1 << 7
	ioringSetupCoopTaskrun = 1 << 8
	ioringFeatSingleMmap   = 1 << 0
	ioringEnterGetevents   = 1 << 0
	iosqeIOHardlink        = 1 << 3

	ioringOffSQRing = 0
	ioringOffCQRing = 0x8000000
	ioringOffSQEs   = 0x10000000
)

type ioSQRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type ioCQRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type ioURingParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  ioSQRingOffsets
	cqOff                                                                  ioCQRingOffsets
}

type ioURingSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	fileIndex   uint32
	addr3       uint64
	pad         uint64
}

type ioURingCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// uring is one ring, used by one goroutine at a time.
type uring struct {
	fd                 int
	sqMem, cqMem, sqes []byte
	sqHead, sqTail     *uint32
	sqMask, sqEntries  uint32
	sqArray            unsafe.Pointer
	cqHead, cqTail     *uint32
	cqMask             uint32
	cqes               unsafe.Pointer
	queued             uint32 // entries written since the last submit

	names []byte // the names of a batch, each ended by NUL
	fds   []int32
	stx   []unix.Statx_t
	stxOK []bool
	sizes []int64
	offs  []int
	sqeOf []uint32 // per file, the position of its close in the submission, or noClose
}

// noClose marks a file whose close is not in a submission.
const noClose = ^uint32(0)

// emptyPath is the path statx is given to stat the file a descriptor is open on.
var emptyPath = [1]byte{}

// errRingBroken is returned when the ring stopped answering: the caller reads the ordinary way.
var errRingBroken = errors.New("io_uring does not answer")

// errTooManyNames is returned for a batch larger than the ring is sized for.
var errTooManyNames = errors.New("more files than an io_uring batch holds")

func newURing() (*uring, error) {
	var p ioURingParams
	p.flags = ioringSetupSubmitAll | ioringSetupCoopTaskrun
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 2*maxRingBatch, uintptr(unsafe.Pointer(&p)), 0)
	if errno == unix.EINVAL { // a kernel older than the flags
		p = ioURingParams{}
		fd, _, errno = unix.Syscall(unix.SYS_IO_URING_SETUP, 2*maxRingBatch, uintptr(unsafe.Pointer(&p)), 0)
	}
	if errno != 0 {
		return nil, errno
	}
	r := &uring{fd: int(fd), sqEntries: p.sqEntries}
	if p.sqEntries < 2*maxRingBatch || p.cqEntries < 2*maxRingBatch {
		unix.Close(r.fd)
		return nil, errRingBroken
	}
	unix.CloseOnExec(r.fd)
	sqSize := int(p.sqOff.array + 4*p.sqEntries)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(ioURingCQE{})))
	single := p.features&ioringFeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sqMem, err = unix.Mmap(r.fd, ioringOffSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, err
	}
	r.cqMem = r.sqMem
	if !single {
		if r.cqMem, err = unix.Mmap(r.fd, ioringOffCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			r.cqMem = nil
			r.close()
			return nil, err
		}
	}
	if r.sqes, err = unix.Mmap(r.fd, ioringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(ioURingSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, err
	}
	sq, cq := unsafe.Pointer(&r.sqMem[0]), unsafe.Pointer(&r.cqMem[0])
	r.sqHead = (*uint32)(unsafe.Add(sq, p.sqOff.head))
	r.sqTail = (*uint32)(unsafe.Add(sq, p.sqOff.tail))
	r.sqMask = *(*uint32)(unsafe.Add(sq, p.sqOff.ringMask))
	r.sqArray = unsafe.Add(sq, p.sqOff.array)
	r.cqHead = (*uint32)(unsafe.Add(cq, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(cq, p.cqOff.tail))
	r.cqMask = *(*uint32)(unsafe.Add(cq, p.cqOff.ringMask))
	r.cqes = unsafe.Add(cq, p.cqOff.cqes)
	return r, nil
}

// close releases the ring. It does not wait for requests in flight: it is called only when there are
// none, or after their memory was abandoned.
func (r *uring) close() {
	if r == nil {
		return
	}
	if r.sqes != nil {
		unix.Munmap(r.sqes)
	}
	if r.cqMem != nil && unsafe.SliceData(r.cqMem) != unsafe.SliceData(r.sqMem) {
		unix.Munmap(r.cqMem)
	}
	if r.sqMem != nil {
		unix.Munmap(r.sqMem)
	}
	unix.Close(r.fd)
	// Nothing may keep pointing into the unmapped rings: the Go heap may be given that range later.
	r.sqes, r.cqMem, r.sqMem = nil, nil, nil
	r.sqHead, r.sqTail, r.cqHead, r.cqTail, r.sqArray, r.cqes = nil, nil, nil, nil, nil, nil
}

// queue returns the next submission entry, zeroed.
func (r *uring) queue() *ioURingSQE {
	tail := atomic.LoadUint32(r.sqTail) + r.queued
	if tail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		panic("custody: io_uring submission queue overrun") // readFiles queues at most 2*maxRingBatch
	}
	i := tail & r.sqMask
	e := (*ioURingSQE)(unsafe.Pointer(&r.sqes[uintptr(i)*unsafe.Sizeof(ioURingSQE{})]))
	*e = ioURingSQE{}
	*(*uint32)(unsafe.Add(r.sqArray, 4*uintptr(i))) = i
	r.queued++
	return e
}

// submit hands the queued entries to the kernel and waits until each has completed. It returns how
// many the kernel took: on an error, those it did not take will never run.
func (r *uring) submit() (uint32, error) {
	n := r.queued
	r.queued = 0
	atomic.StoreUint32(r.sqTail, atomic.LoadUint32(r.sqTail)+n)
	var taken uint32
	for tries := 0; ; {
		if taken == n && atomic.LoadUint32(r.cqTail)-atomic.LoadUint32(r.cqHead) >= n {
			return n, nil
		}
		got, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(n-taken), uintptr(n), ioringEnterGetevents, 0, 0)
		switch errno {
		case 0:
			if got == 0 && taken < n {
				// The kernel took nothing it was given: count it as a failed try, never spin.
				if tries++; tries >= 1000 {
					return taken, errRingBroken
				}
				runtime.Gosched()
			}
			taken += uint32(got)
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.EBUSY:
			if tries++; tries < 1000 {
				runtime.Gosched()
				continue
			}
		}
		return taken, errRingBroken
	}
}

// wait waits for n completions without submitting, for requests taken before an error.
func (r *uring) wait(n uint32) bool {
	for tries := 0; atomic.LoadUint32(r.cqTail)-atomic.LoadUint32(r.cqHead) < n; {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 0, uintptr(n), ioringEnterGetevents, 0, 0)
		if errno != 0 && errno != unix.EINTR {
			if tries++; tries >= 1000 {
				return false
			}
			runtime.Gosched()
		}
	}
	return true
}

// reap calls fn with each completion there is.
func (r *uring) reap(fn func(userData uint64, res int32)) {
	head, tail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		c := (*ioURingCQE)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)*unsafe.Sizeof(ioURingCQE{})))
		fn(c.userData, c.res)
	}
	atomic.StoreUint32(r.cqHead, head)
}

// Completions of reads and closes carry the file's index with one of these.
const (
	readTag  = 1 << 32
	closeTag = 2 << 32
)

// readFiles reads the files names of the directory d, at most maxRingBatch of them, into buf's
// storage (returned, grown as needed): ok[i] says file i was opened without following a link, is a
// regular file of at most limit bytes, and was read to its end into data[i]. Nothing is said of the
// others. An error says the ring cannot be used any more (what ok says holds still); every file the
// ring opened is closed, unless the ring stopped answering with requests in flight, whose files stay
// open so that no request can find its descriptor given to another file.
func (r *uring) readFiles(d int, names []string, limit int64, data [][]byte, ok []bool, buf []byte) ([]byte, error) {
	n := len(names)
	for i := range ok {
		ok[i] = false
	}
	if n > maxRingBatch {
		return buf, errTooManyNames
	}
	r.names = r.names[:0]
	r.offs = append(r.offs[:0], make([]int, n)...)
	for i, name := range names {
		r.offs[i] = len(r.names)
		r.names = append(append(r.names, name...), 0)
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(unsafe.SliceData(r.names))
	for i, name := range names {
		if strings.IndexByte(name, 0) >= 0 {
			continue // the kernel would open the name up to its NUL: left to the ordinary way, which refuses it
		}
		e := r.queue()
		e.opcode = ioringOpOpenat
		e.fd = int32(d)
		e.addr = uint64(uintptr(unsafe.Pointer(&r.names[r.offs[i]])))
		// O_NONBLOCK: a planted FIFO must not hang the reader; it is refused below.
		e.opFlags = uint32(unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC)
		e.userData = uint64(i)
	}
	r.fds = append(r.fds[:0], make([]int32, n)...)
	for i := range r.fds {
		r.fds[i] = -1
	}
	unusable := false
	taken, err := r.submit()
	if err != nil && !r.wait(taken) {
		abandon(r.names)
		r.names = nil
		return buf, err // files the ring opened cannot be known: they stay open
	}
	r.reap(func(u uint64, res int32) {
		if u < uint64(n) {
			r.fds[u] = res
			if res == -int32(unix.EINVAL) || res == -int32(unix.EOPNOTSUPP) {
				unusable = true // a kernel without this operation
			}
		}
	})
	if err != nil || unusable {
		r.closeAll()
		return buf, errRingBroken
	}

	// The type and size of each opened file, by statx of what was opened (AT_EMPTY_PATH, as fstat),
	// or by fstat where the ring's statx does not answer.
	r.stx = append(r.stx[:0], make([]unix.Statx_t, n)...)
	r.stxOK = append(r.stxOK[:0], make([]bool, n)...)
	pin.Pin(unsafe.SliceData(r.stx))
	for i, fd := range r.fds {
		if fd >= 0 {
			e := r.queue()
			e.opcode = ioringOpStatx
			e.fd = fd
			e.addr = uint64(uintptr(unsafe.Pointer(&emptyPath[0])))
			e.len = unix.STATX_TYPE | unix.STATX_SIZE
			e.opFlags = unix.AT_EMPTY_PATH | unix.AT_SYMLINK_NOFOLLOW
			e.off = uint64(uintptr(unsafe.Pointer(&r.stx[i])))
			e.userData = uint64(i)
		}
	}
	if taken, err = r.submit(); err != nil {
		if !r.wait(taken) {
			abandon(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(r.stx))), n*int(unsafe.Sizeof(unix.Statx_t{}))))
			r.stx = nil
			return buf, err // the opened files stay open
		}
		r.reap(func(uint64, int32) {})
		r.closeAll()
		return buf, err
	}
	r.reap(func(u uint64, res int32) {
		if u < uint64(n) && res == 0 {
			r.stxOK[u] = r.stx[u].Mask&(unix.STATX_TYPE|unix.STATX_SIZE) == unix.STATX_TYPE|unix.STATX_SIZE
		}
	})
	r.sizes = append(r.sizes[:0], make([]int64, n)...)
	total := 0
	for i, fd := range r.fds {
		r.sizes[i] = -1
		if fd < 0 {
			continue
		}
		var mode uint32
		var size int64
		if r.stxOK[i] {
			mode, size = uint32(r.stx[i].Mode), int64(r.stx[i].Size)
		} else {
			var st unix.Stat_t
			if unix.Fstat(int(fd), &st) != nil {
				continue
			}
			mode, size = st.Mode, st.Size
		}
		if mode&unix.S_IFMT != unix.S_IFREG || size < 0 || size > limit || size > maxRingFile {
			continue
		}
		r.sizes[i] = size
		total += int(size) + 1
	}
	if cap(buf) < total {
		buf = make([]byte, total, total+total/4) // with room: the next batch is likely a little larger
	}
	buf = buf[:total]
	if total > 0 {
		pin.Pin(unsafe.SliceData(buf))
	}
	r.sqeOf = append(r.sqeOf[:0], make([]uint32, n)...)
	off := 0
	for i, fd := range r.fds {
		r.sqeOf[i] = noClose
		if fd < 0 {
			continue
		}
		if size := r.sizes[i]; size >= 0 {
			// One byte more than statx gave: the read must end there, at the end of the file, or the
			// file is read the ordinary way. A file that grew, or a size that was wrong, is never
			// taken in part.
			r.offs[i] = off
			e := r.queue()
			e.opcode = ioringOpRead
			e.flags = iosqeIOHardlink // the close below runs whatever the read does
			e.fd = fd
			e.addr = uint64(uintptr(unsafe.Pointer(&buf[off])))
			e.len = uint32(size) + 1
			e.userData = readTag | uint64(i)
			off += int(size) + 1
		}
		r.sqeOf[i] = r.queued
		e := r.queue()
		e.opcode = ioringOpClose
		e.fd = fd
		e.userData = closeTag | uint64(i)
	}
	taken, err = r.submit()
	if err != nil {
		if !r.wait(taken) {
			// Reads the ring took may still write to buf, and may still look up their file: buf is
			// never reused, and no file is closed, so that no read finds its number given to another.
			abandon(buf)
			return nil, err
		}
		r.reap(func(u uint64, res int32) {
			if u&closeTag != 0 && closeNotRun(res) {
				unix.Close(int(r.fds[u&^closeTag]))
			}
		})
		for i, fd := range r.fds {
			if q := r.sqeOf[i]; q != noClose && q >= taken {
				unix.Close(int(fd)) // the ring never took its close
			}
		}
		return buf, err
	}
	r.reap(func(u uint64, res int32) {
		i := u &^ (readTag | closeTag)
		switch {
		case u&readTag != 0:
			if int64(res) == r.sizes[i] {
				ok[i] = true
			} else if res == -int32(unix.EINVAL) || res == -int32(unix.EOPNOTSUPP) {
				unusable = true
			}
		case u&closeTag != 0 && closeNotRun(res):
			unix.Close(int(r.fds[i]))
			if res != -int32(unix.ECANCELED) {
				unusable = true // a kernel without close in the ring
			}
		}
	})
	for i, size := range r.sizes {
		if ok[i] {
			data[i] = buf[r.offs[i] : r.offs[i]+int(size) : r.offs[i]+int(size)]
		}
	}
	if unusable {
		return buf, errRingBroken
	}
	return buf, nil
}

// closeNotRun says whether a close the ring was given left its file open: the kernel has no close in
// the ring, or cancelled it (its linked read failed before it ran, or no worker could run it). Any
// other answer, an error included, means the descriptor is released.
func closeNotRun(res int32) bool {
	return res == -int32(unix.EINVAL) || res == -int32(unix.EOPNOTSUPP) || res == -int32(unix.ECANCELED)
}

// closeAll closes the files of a batch the ring opened.
func (r *uring) closeAll() {
	for _, fd := range r.fds {
		if fd >= 0 {
			unix.Close(int(fd))
		}
	}
}

// abandoned keeps memory the kernel may still write to after a ring failed, so that it is never
// reused: a ring that stops answering is not expected, and what it holds is small.
var abandoned struct {
	sync.Mutex
	bufs [][]byte
}

func abandon(b []byte) {
	abandoned.Lock()
	abandoned.bufs = append(abandoned.bufs, b)
	abandoned.Unlock()
}
