//go:build linux || darwin || freebsd

package gcpsim

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// dataExtents lists the ranges of f that hold data, skipping holes, with
// lseek(SEEK_DATA / SEEK_HOLE). A file system that cannot tell holes from
// data reports the whole file as one extent, which is still correct.
func dataExtents(f *os.File, size int64) ([]extent, error) {
	fd := int(f.Fd())
	var out []extent
	for off := int64(0); off < size; {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if errors.Is(err, unix.EINVAL) {
			return []extent{{off, size}}, nil
		}
		if err != nil {
			return nil, err
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		out = append(out, extent{start, min(end, size)})
		off = end
	}
	return out, nil
}
