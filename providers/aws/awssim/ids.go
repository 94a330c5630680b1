package awssim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"sync"
)

// idSource mints resource identifiers. With the same seed and the same sequence
// of calls it mints the same identifiers, so that a scenario replays exactly.
type idSource struct {
	mu   sync.Mutex
	seed int64
	next uint64
}

func newIDSource(seed int64) *idSource { return &idSource{seed: seed} }

// hex returns n lowercase hex digits drawn from the seeded sequence.
func (s *idSource) hex(n int) string {
	s.mu.Lock()
	s.next++
	counter := s.next
	s.mu.Unlock()
	var in [16]byte
	binary.BigEndian.PutUint64(in[:8], uint64(s.seed))
	binary.BigEndian.PutUint64(in[8:], counter)
	sum := sha256.Sum256(in[:])
	out := hex.EncodeToString(sum[:])
	for len(out) < n {
		next := sha256.Sum256([]byte(out))
		out += hex.EncodeToString(next[:])
	}
	return out[:n]
}

// Resource IDs use the long (17 hex digit) format.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html
func (s *idSource) snapshotID() string { return "snap-" + s.hex(17) }
func (s *idSource) volumeID() string   { return "vol-" + s.hex(17) }
func (s *idSource) requestID() string  { return s.uuid() }

// uuid returns a version-4-shaped UUID, the form of KMS key IDs.
// https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-key-id
func (s *idSource) uuid() string {
	h := s.hex(32)
	return fmt.Sprintf("%s-%s-4%s-a%s-%s", h[0:8], h[8:12], h[13:16], h[17:20], h[20:32])
}

// Short (8) and long (17) hex forms are both valid IDs; anything else is
// malformed and answers with the InvalidXxxID.Malformed codes.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
var (
	snapshotIDPattern = regexp.MustCompile(`^snap-([0-9a-f]{8}|[0-9a-f]{17})$`)
	volumeIDPattern   = regexp.MustCompile(`^vol-([0-9a-f]{8}|[0-9a-f]{17})$`)
	instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)
	accountIDPattern  = regexp.MustCompile(`^[0-9]{12}$`)
)

func checkSnapshotID(id string) *apiError {
	if !snapshotIDPattern.MatchString(id) {
		return badRequest("InvalidSnapshotID.Malformed", "Invalid id: \"%s\" (expecting \"snap-...\")", id)
	}
	return nil
}

func checkVolumeID(id string) *apiError {
	if !volumeIDPattern.MatchString(id) {
		return badRequest("InvalidVolumeID.Malformed", "Invalid id: \"%s\" (expecting \"vol-...\")", id)
	}
	return nil
}

func checkInstanceID(id string) *apiError {
	if !instanceIDPattern.MatchString(id) {
		return badRequest("InvalidInstanceID.Malformed", "Invalid id: \"%s\" (expecting \"i-...\")", id)
	}
	return nil
}
