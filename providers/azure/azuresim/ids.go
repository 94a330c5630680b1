package azuresim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
)

// idSource derives reproducible identifiers (GUIDs, operation IDs, keys)
// from the scenario's seed and a counter per kind, so that the same
// sequence of creating calls yields the same identifiers whatever else was
// called.
type idSource struct {
	key      []byte
	mu       sync.Mutex
	counters map[string]uint64
}

func newIDSource(seed int64) *idSource {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	sum := sha256.Sum256(append([]byte("azuresim seed\x00"), b[:]...))
	return &idSource{key: sum[:], counters: map[string]uint64{}}
}

// derive is 32 bytes determined by the seed and the label.
func (s *idSource) derive(label string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// next draws the next value of a kind's counter.
func (s *idSource) next(kind string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters[kind]++
	return s.counters[kind]
}

// guid is a version-4-shaped GUID derived from the label.
func (s *idSource) guid(label string) string {
	b := s.derive(label)[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newGUID is the next GUID of a kind.
func (s *idSource) newGUID(kind string) string {
	return s.guid(fmt.Sprintf("%s/%d", kind, s.next(kind)))
}

func (s *idSource) snapshotCounters() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.counters))
	for k, v := range s.counters {
		out[k] = v
	}
	return out
}

func (s *idSource) setCounters(c map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = map[string]uint64{}
	for k, v := range c {
		s.counters[k] = v
	}
}
