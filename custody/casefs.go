package custody

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A case holds no symbolic links and no special files: every path below the case directory is read
// and written one component at a time (openat with O_NOFOLLOW), so that a link planted anywhere in
// the case (records/ itself, a record, an artifact's directory) can neither make a writer put evidence
// outside the case nor make a reader take a file from elsewhere as part of it. The case directory
// itself is the user's to name and may be reached through links.

// ErrLink is returned for a symbolic link inside a case.
var ErrLink = errors.New("is a symbolic link, and a case holds none")

// errNotRegular is returned for a device, pipe or socket where a file is expected.
var errNotRegular = errors.New("is not a regular file")

// caseRoot is an open case directory. Its methods take slash-separated paths relative to the case,
// and are safe for concurrent use.
type caseRoot struct {
	path string // as the user gave it, for messages
	fd   int

	mu   sync.Mutex
	dirs map[string]int // opened subdirectories, by relative path
}

func openCaseRoot(dir string) (*caseRoot, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &caseRoot{path: dir, fd: fd, dirs: map[string]int{}}, nil
}

// Close releases the directory handles.
func (c *caseRoot) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, fd := range c.dirs {
		unix.Close(fd)
	}
	c.dirs = map[string]int{}
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	return nil
}

// pathError describes a failure at rel, naming a link for what it is.
func (c *caseRoot) pathError(op, rel string, err error) error {
	if errors.Is(err, unix.ELOOP) {
		err = ErrLink
	}
	return &fs.PathError{Op: op, Path: filepath.Join(c.path, filepath.FromSlash(rel)), Err: err}
}

// dir returns a handle on the directory rel ("" or "." for the case itself), opening each component
// without following links. Handles are kept until Close.
func (c *caseRoot) dir(rel string) (int, error) {
	rel = path.Clean(rel)
	if rel == "." || rel == "" {
		return c.fd, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if fd, ok := c.dirs[rel]; ok {
		return fd, nil
	}
	fd := c.fd
	walked := ""
	for _, name := range strings.Split(rel, "/") {
		walked = path.Join(walked, name)
		if known, ok := c.dirs[walked]; ok {
			fd = known
			continue
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, unix.ENOTDIR) && c.isLink(fd, name) {
				err = unix.ELOOP
			}
			return -1, c.pathError("open", walked, err)
		}
		c.dirs[walked] = next
		fd = next
	}
	return fd, nil
}

func (c *caseRoot) isLink(dirfd int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// split returns a validated relative path's directory handle and base name.
func (c *caseRoot) split(rel string) (int, string, error) {
	if !safeCasePath(rel) {
		return -1, "", c.pathError("open", rel, fs.ErrInvalid)
	}
	d, err := c.dir(path.Dir(rel))
	return d, path.Base(rel), err
}

// openFile opens the regular file rel for reading.
func (c *caseRoot) openFile(rel string) (int, int64, error) {
	d, name, err := c.split(rel)
	if err != nil {
		return -1, 0, err
	}
	return c.openIn(d, name, rel)
}

// openIn opens the regular file name in the directory d (rel names it for errors).
func (c *caseRoot) openIn(d int, name, rel string) (int, int64, error) {
	// O_NONBLOCK: a planted FIFO must not hang the reader; it is refused below.
	fd, err := unix.Openat(d, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, 0, c.pathError("open", rel, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, c.pathError("stat", rel, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, 0, c.pathError("open", rel, errNotRegular)
	}
	return fd, st.Size, nil
}

// readFile reads the regular file rel whole, into buf's storage when it is large enough, refusing
// one larger than limit.
func (c *caseRoot) readFile(rel string, limit int64, buf []byte) ([]byte, error) {
	d, name, err := c.split(rel)
	if err != nil {
		return nil, err
	}
	return c.readFileIn(d, name, rel, limit, buf)
}

// readFileIn is readFile for the file name in the directory d: for reading many files of one
// directory without walking to it each time.
func (c *caseRoot) readFileIn(d int, name, rel string, limit int64, buf []byte) ([]byte, error) {
	fd, size, err := c.openIn(d, name, rel)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if size > limit {
		return nil, c.pathError("read", rel, fmt.Errorf("%w (%d bytes)", errOversized, size))
	}
	if size < 0 {
		return nil, c.pathError("stat", rel, fmt.Errorf("the file system gives a size of %d bytes", size))
	}
	if int64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	data := buf[:size]
	for n := 0; n < len(data); {
		m, err := unix.Read(fd, data[n:])
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, c.pathError("read", rel, err)
		}
		if m == 0 {
			return nil, c.pathError("read", rel, fmt.Errorf("file shrank while read (%d of %d bytes)", n, size))
		}
		n += m
	}
	// The file must end where fstat said: one that grew while read is never taken in part.
	var more [1]byte
	for {
		m, err := unix.Read(fd, more[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, c.pathError("read", rel, err)
		}
		if m != 0 {
			return nil, c.pathError("read", rel, fmt.Errorf("file grew while read (past %d bytes)", size))
		}
		return data, nil
	}
}

// maxRingBatch is how many files a dirReader reads at once.
const maxRingBatch = 64

// maxRingFile is the largest file a dirReader reads in a batch (records are a few KiB); a larger one
// is read the ordinary way.
const maxRingFile = 64 << 10

// NoIOURingEnv names the environment variable that, set to anything, has the verifier read records
// one at a time instead of in batches through an io_uring: for a system whose seccomp policy kills a
// process that asks for a ring rather than refusing it (a refusal is noticed, and needs nothing).
const NoIOURingEnv = "ACQUIRE_NO_IO_URING"

// dirReader reads files of one directory of the case as readFileIn does, a batch at a time through
// an io_uring (see uring_linux.go).
type dirReader struct {
	root *caseRoot
	rel  string
	d    int
	ring *uring
	buf  []byte
	data [][]byte
	ok   []bool
	errs []error
}

// newDirReader returns a reader of the directory rel, open as d, or nil when files cannot be read in
// batches here.
func (c *caseRoot) newDirReader(rel string, d int) *dirReader {
	if os.Getenv(NoIOURingEnv) != "" {
		return nil
	}
	ring, err := newURing()
	if err != nil {
		return nil
	}
	return &dirReader{root: c, rel: rel, d: d, ring: ring}
}

// read reads the files names of the directory (at most maxRingBatch): file i is data[i] or, when it
// cannot be read, errs[i]. What it returns is valid until the next read.
func (r *dirReader) read(names []string, limit int64) (data [][]byte, errs []error) {
	n := len(names)
	r.data, r.ok, r.errs = slices.Grow(r.data[:0], n)[:n], slices.Grow(r.ok[:0], n)[:n], slices.Grow(r.errs[:0], n)[:n]
	clear(r.ok)
	if r.ring != nil {
		var err error
		if r.buf, err = r.ring.readFiles(r.d, names, limit, r.data, r.ok, r.buf); err != nil {
			r.ring.close()
			r.ring = nil
		}
	}
	for i := range names {
		r.errs[i] = nil
		if !r.ok[i] {
			// Whatever the ring did not read (a link, not a regular file, too large, an error) is read
			// the ordinary way, which says what is wrong with it.
			r.data[i], r.errs[i] = r.root.readFileIn(r.d, names[i], r.rel+"/"+names[i], limit, nil)
		}
	}
	return r.data, r.errs
}

func (r *dirReader) close() {
	if r != nil && r.ring != nil {
		r.ring.close()
		r.ring = nil
	}
}

// hashFile returns the size and SHA-256 of the regular file rel.
func (c *caseRoot) hashFile(rel string) (ManifestFile, error) {
	fd, _, err := c.openFile(rel)
	if err != nil {
		return ManifestFile{}, err
	}
	defer unix.Close(fd)
	h := sha256.New()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		m, err := unix.Read(fd, buf)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return ManifestFile{}, c.pathError("read", rel, err)
		}
		if m == 0 {
			break
		}
		h.Write(buf[:m])
		n += int64(m)
	}
	return ManifestFile{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// exists reports whether rel exists, as anything (a link included).
func (c *caseRoot) exists(rel string) (bool, error) {
	d, name, err := c.split(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var st unix.Stat_t
	err = unix.Fstatat(d, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, c.pathError("stat", rel, err)
}

// caseEntry is one entry of a case directory: a file, a directory, a link or something else.
type caseEntry struct {
	rel  string
	mode fs.FileMode // type bits only
}

// readDir lists the directory rel.
func (c *caseRoot) readDir(rel string) ([]caseEntry, error) {
	rel = path.Clean(rel)
	d, err := c.dir(rel)
	if err != nil {
		return nil, err
	}
	// A fresh handle on the same directory: a directory's read position is shared by its handle.
	fd, err := unix.Openat(d, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, c.pathError("open", rel, err)
	}
	f := os.NewFile(uintptr(fd), filepath.Join(c.path, filepath.FromSlash(rel)))
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, c.pathError("readdir", rel, err)
	}
	out := make([]caseEntry, len(entries))
	for i, e := range entries {
		// A name in a directory is one clean path element: joined without path.Join's cleaning, which
		// shows in a directory of 100,000 records.
		out[i] = caseEntry{rel: rel + "/" + e.Name(), mode: e.Type()}
		if rel == "." {
			out[i].rel = e.Name()
		}
	}
	return out, nil
}

// walk calls fn with every entry below the case directory, without following links, and enters the
// directories for which fn returns true. A directory that cannot be read is passed to fn with its
// error.
func (c *caseRoot) walk(fn func(e caseEntry, err error) bool) {
	var visit func(rel string)
	visit = func(rel string) {
		entries, err := c.readDir(rel)
		if err != nil {
			fn(caseEntry{rel: rel, mode: fs.ModeDir}, err)
			return
		}
		for _, e := range entries {
			if fn(e, nil) && e.mode.IsDir() {
				visit(e.rel)
			}
		}
	}
	visit(".")
}

// mkdirAll makes the directory rel and its parents, refusing to go through a link.
func (c *caseRoot) mkdirAll(rel string, perm uint32) error {
	if !safeCasePath(rel) {
		return c.pathError("mkdir", rel, fs.ErrInvalid)
	}
	walked := ""
	for _, name := range strings.Split(rel, "/") {
		parent, err := c.dir(walked)
		if err != nil {
			return err
		}
		walked = path.Join(walked, name)
		if err := unix.Mkdirat(parent, name, perm); err != nil && !errors.Is(err, unix.EEXIST) {
			return c.pathError("mkdir", walked, err)
		}
		if _, err := c.dir(walked); err != nil {
			return err
		}
	}
	return nil
}

// writeNew writes data to rel durably, and only if rel does not exist yet: a temporary file in the
// same directory is written and synced, linked to its final name (which fails if the name is taken,
// by anything, a link included), and the directory is synced. A crash at any instant leaves either no
// file at rel or the whole file; at worst a temporary ".tmp-*" file that readers ignore.
func (c *caseRoot) writeNew(rel string, data []byte, mode uint32) error {
	d, name, err := c.split(rel)
	if err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := ".tmp-" + name + "-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(d, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", rel, c.pathError("create", path.Join(path.Dir(rel), tmp), err))
	}
	defer unix.Unlinkat(d, tmp, 0)
	err = writeAll(fd, data)
	if err == nil {
		err = unix.Fchmod(fd, mode)
	}
	if err == nil {
		err = unix.Fsync(fd)
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", rel, c.pathError("write", rel, err))
	}
	if err := unix.Linkat(d, tmp, d, name, 0); err != nil {
		if errors.Is(err, unix.EEXIST) {
			err = fs.ErrExist
		}
		return fmt.Errorf("writing %s: %w", rel, c.pathError("link", rel, err))
	}
	if err := unix.Fsync(d); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("writing %s: %w", rel, c.pathError("sync", path.Dir(rel), err))
	}
	return nil
}

func writeAll(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		data = data[n:]
	}
	return nil
}

// replace writes data to rel through a temporary file renamed over it: for what is not evidence and
// may change (the tile cache), where a torn file must never be seen but durability does not matter.
func (c *caseRoot) replace(rel string, data []byte) error {
	d, name, err := c.split(rel)
	if err != nil {
		return err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := ".tmp-" + name + "-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(d, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return c.pathError("create", rel, err)
	}
	err = writeAll(fd, data)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(d, tmp, d, name)
	}
	if err != nil {
		unix.Unlinkat(d, tmp, 0)
		return c.pathError("write", rel, err)
	}
	return nil
}

// remove deletes the file rel if it exists.
func (c *caseRoot) remove(rel string) error {
	d, name, err := c.split(rel)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(d, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return c.pathError("remove", rel, err)
	}
	return nil
}

// safeCasePath accepts a slash-separated relative path that stays inside the case.
func safeCasePath(p string) bool {
	return p != "" && !path.IsAbs(p) && path.Clean(p) == p && !strings.HasPrefix(p, "../") && p != ".." && p != "." && !strings.Contains(p, "\\")
}

// ReadCaseFile reads the file rel (slash-separated, relative to the case directory dir) the way the
// verifier reads it: through no symbolic link, only if it is a regular file, and only if it is not
// larger than limit. For tools that show a case's files.
func ReadCaseFile(dir, rel string, limit int64) ([]byte, error) {
	root, err := openCaseRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.readFile(rel, limit, nil)
}

// ListCaseDir lists the names in the directory rel of a case, reached through no symbolic link.
func ListCaseDir(dir, rel string) ([]string, error) {
	root, err := openCaseRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	entries, err := root.readDir(rel)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = path.Base(e.rel)
	}
	return names, nil
}
