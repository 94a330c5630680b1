//go:build !linux || android || nouring

package custody

import "errors"

// ringBuilt says that this build reads through an io_uring: on Linux (not Android), unless built with -tags nouring.
const ringBuilt = false

// uring is Linux's io_uring, left out of this build: files are read one at a time.
type uring struct{}

func newURing() (*uring, error) { return nil, errors.ErrUnsupported }

func (r *uring) close() {}

func (r *uring) readFiles(d int, names []string, limit int64, data [][]byte, ok []bool, buf []byte) ([]byte, error) {
	return buf, errors.ErrUnsupported
}
