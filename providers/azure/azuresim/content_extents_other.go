//go:build !(linux || darwin || freebsd)

package azuresim

import "os"

// dataExtents reports the whole file as data where lseek(SEEK_DATA) is not
// available: every chunk is read once when the image is opened.
func dataExtents(_ *os.File, size int64) ([]extent, error) {
	return []extent{{0, size}}, nil
}
