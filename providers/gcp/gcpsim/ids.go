package gcpsim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// idSource mints resource IDs and operation names from the scenario seed and
// one counter per kind, so that the same sequence of creating calls yields
// the same IDs whatever else was called. Counters are saved with the state.
type idSource struct {
	mu       sync.Mutex
	seed     int64
	counters map[string]uint64
}

func newIDSource(seed int64) *idSource {
	return &idSource{seed: seed, counters: map[string]uint64{}}
}

func (s *idSource) next(kind string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters[kind]++
	return s.counters[kind]
}

func (s *idSource) derive(kind string, n uint64) []byte {
	var in [16]byte
	binary.BigEndian.PutUint64(in[:8], uint64(s.seed))
	binary.BigEndian.PutUint64(in[8:], n)
	sum := sha256.Sum256(append([]byte("gcpsim "+kind+"\x00"), in[:]...))
	return sum[:]
}

// resourceID is a numeric ID, as Compute Engine gives every resource: an
// unsigned 64-bit number, written as a decimal string in JSON.
func (s *idSource) resourceID() uint64 {
	b := s.derive("resource", s.next("resource"))
	// Real IDs are 19 digits or fewer; keep the top bit clear.
	return binary.BigEndian.Uint64(b) >> 1
}

// operationName is "operation-<ms>-<hex>-<hex>-<hex>", the shape of real
// operation names.
func (s *idSource) operationName(now time.Time) string {
	b := s.derive("operation", s.next("operation"))
	return fmt.Sprintf("operation-%d-%s-%s-%s", now.UnixMilli(), hex.EncodeToString(b[:7])[:13],
		hex.EncodeToString(b[7:11]), hex.EncodeToString(b[11:15]))
}

func (s *idSource) snapshot() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.counters))
	for k, v := range s.counters {
		out[k] = v
	}
	return out
}

func (s *idSource) restore(c map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range c {
		s.counters[k] = v
	}
}

// timestamp formats a time as Compute Engine does (RFC 3339 with
// milliseconds and a numeric offset).
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-07:00") }
