//go:build !linux

package custody

import "errors"

// uring is Linux's io_uring; elsewhere files are read one at a time.
type uring struct{}

func newURing() (*uring, error) { return nil, errors.ErrUnsupported }

func (r *uring) close() {}

func (r *uring) readFiles(d int, names []string, limit int64, data [][]byte, ok []bool, buf []byte) ([]byte, error) {
	return buf, errors.ErrUnsupported
}
