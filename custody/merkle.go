package custody

import (
	"encoding/base64"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// merkleLog holds the RFC 6962 tree over record payloads in the layout golang.org/x/mod/sumdb/tlog
// stores it: every stored hash, in index order. Leaf i is the record with seq i+1. The hashes of the
// first baseN records may come from base instead (tiles proved against a signed checkpoint), so that a
// writer opening a large case holds only what it adds.
type merkleLog struct {
	base      tlog.HashReader
	baseN     int64
	baseIndex int64       // tlog.StoredHashIndex(0, baseN): the number of stored hashes base holds
	stored    []tlog.Hash // stored hashes from baseIndex on
	n         int64
}

// newMerkleLogOn is a log of n records whose stored hashes base holds.
func newMerkleLogOn(base tlog.HashReader, n int64) *merkleLog {
	return &merkleLog{base: base, baseN: n, baseIndex: tlog.StoredHashIndex(0, n), n: n}
}

func (m *merkleLog) add(payload []byte) error {
	_, err := m.addHash(tlog.RecordHash(payload))
	return err
}

// addHash adds a leaf by its record hash (SHA-256 of 0x00 and the payload) and returns its index.
func (m *merkleLog) addHash(leaf tlog.Hash) (int64, error) {
	// The subtrees the leaf completes are hashed from the stored hashes directly when they are all in
	// memory (as tlog.StoredHashesForRecordHash would, without its allocations): the verifier adds
	// every record of a case this way.
	k := bits.TrailingZeros64(uint64(m.n + 1))
	if k == 0 || tlog.StoredHashIndex(k-1, m.n>>uint(k-1)-1) >= m.baseIndex {
		h := leaf
		m.stored = append(m.stored, h)
		for i := range k {
			h = tlog.NodeHash(m.stored[tlog.StoredHashIndex(i, m.n>>uint(i)-1)-m.baseIndex], h)
			m.stored = append(m.stored, h)
		}
		m.n++
		return m.n - 1, nil
	}
	hashes, err := tlog.StoredHashesForRecordHash(m.n, leaf, m)
	if err != nil {
		return 0, fmt.Errorf("hashing record %d into the log: %w", m.n+1, err)
	}
	m.stored = append(m.stored, hashes...)
	m.n++
	return m.n - 1, nil
}

// ReadHashes implements tlog.HashReader.
func (m *merkleLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var fromBase []int64
	for i, x := range indexes {
		if x < m.baseIndex {
			fromBase = append(fromBase, x)
			continue
		}
		if x < 0 || x-m.baseIndex >= int64(len(m.stored)) {
			return nil, fmt.Errorf("hash %d is not stored", x)
		}
		out[i] = m.stored[x-m.baseIndex]
	}
	if len(fromBase) == 0 {
		return out, nil
	}
	hs, err := m.base.ReadHashes(fromBase)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(fromBase) {
		return nil, fmt.Errorf("read %d hashes of the log, asked for %d", len(hs), len(fromBase))
	}
	j := 0
	for i, x := range indexes {
		if x < m.baseIndex {
			out[i] = hs[j]
			j++
		}
	}
	return out, nil
}

// leaf is the record hash of record seq.
func (m *merkleLog) leaf(seq uint64) (tlog.Hash, error) {
	hs, err := m.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(seq)-1)})
	if err != nil {
		return tlog.Hash{}, err
	}
	return hs[0], nil
}

// root is the tree hash over the first n records.
func (m *merkleLog) root(n int64) (tlog.Hash, error) {
	if n > m.n {
		return tlog.Hash{}, fmt.Errorf("tree of %d records asked of a log of %d", n, m.n)
	}
	return tlog.TreeHash(n, m)
}

// prove returns the inclusion proof of record seq in the tree of the first n records.
func (m *merkleLog) prove(seq uint64, n int64) (tlog.RecordProof, error) {
	return tlog.ProveRecord(n, int64(seq)-1, m)
}

// Checkpoint is the body of a C2SP tlog-checkpoint: origin, tree size, root hash.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// CheckpointOrigin is the log origin line of a case's checkpoints.
func CheckpointOrigin(caseID string) string { return "acquire-custody/" + caseID }

// String renders the checkpoint body exactly as it is signed.
func (c Checkpoint) String() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// parseCheckpointBody reads the three lines of a checkpoint body (extension lines are not used here and
// are refused).
func parseCheckpointBody(text string) (Checkpoint, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("checkpoint body must be three lines: origin, size, root")
	}
	var c Checkpoint
	c.Origin = lines[0]
	if c.Origin == "" {
		return c, fmt.Errorf("checkpoint has an empty origin")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return c, fmt.Errorf("checkpoint size %q is not a decimal number", lines[1])
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, fmt.Errorf("checkpoint root %q is not a base64 SHA-256 hash", lines[2])
	}
	copy(c.Root[:], root)
	return c, nil
}
