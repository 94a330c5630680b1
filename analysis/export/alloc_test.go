package export

import (
	"syscall"
	"testing"
)

type syscallStat = syscall.Stat_t

// allocatedBytes is how much disk a file really takes (st_blocks counts 512-byte units).
func allocatedBytes(t *testing.T, path string, st *syscallStat) int64 {
	t.Helper()
	if err := syscall.Stat(path, st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}
