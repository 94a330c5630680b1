//go:build !linux || !uring

package custody

import "errors"

// ringBuilt says that this build reads through an io_uring: only with -tags uring, on Linux.
const ringBuilt = false

// uring is Linux's io_uring, built with -tags uring; otherwise files are read one at a time.
type uring struct{}

func newURing() (*uring, error) { return nil, errors.ErrUnsupported }

func (r *uring) close() {}

func (r *uring) readFiles(d int, names []string, limit int64, data [][]byte, ok []bool, buf []byte) ([]byte, error) {
	return buf, errors.ErrUnsupported
}
