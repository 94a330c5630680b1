package custody

import (
	"fmt"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// hashList is a tlog.HashReader over every stored hash, from index 0.
type hashList []tlog.Hash

func (l hashList) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = l[x]
	}
	return out, nil
}

// TestMerkleLogStoredHashes: the hashes addHash stores are those tlog stores, on its own and on top
// of a base holding the first records.
func TestMerkleLogStoredHashes(t *testing.T) {
	const n = 300
	var want hashList
	for i := range int64(n) {
		hs, err := tlog.StoredHashes(i, fmt.Appendf(nil, "record %d", i), want)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, hs...)
	}
	for _, baseN := range []int64{0, 1, 2, 3, 7, 8, 100, 255, 256} {
		var m *merkleLog
		if baseN == 0 {
			m = &merkleLog{}
		} else {
			m = newMerkleLogOn(want[:tlog.StoredHashIndex(0, baseN)], baseN)
		}
		for i := baseN; i < n; i++ {
			if err := m.add(fmt.Appendf(nil, "record %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(m.stored, want[m.baseIndex:]) {
			t.Fatalf("base %d: stored hashes differ from tlog's", baseN)
		}
		for _, size := range []int64{1, 5, 64, baseN + 1, n} {
			got, err := m.root(size)
			if err != nil {
				t.Fatal(err)
			}
			if w, _ := tlog.TreeHash(size, want); got != w {
				t.Fatalf("base %d: root of %d differs", baseN, size)
			}
		}
	}
}
