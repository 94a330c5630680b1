package awssim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"sync"
)

// idSource mints identifiers. Each kind of identifier (snapshot, volume, KMS
// key, grant, request, ...) has its own counter, and an identifier is derived
// from (seed, kind, counter) alone. So the same sequence of creating calls
// yields the same resource IDs whatever else happened in between: describe
// calls, waiter polls, retries and failed calls mint request IDs, which come
// from their own stream, and never shift a snapshot or volume ID.
type idSource struct {
	seed int64

	mu       sync.Mutex
	counters map[string]uint64
}

func newIDSource(seed int64) *idSource { return &idSource{seed: seed, counters: map[string]uint64{}} }

// Kinds of identifiers, each with its own counter.
const (
	kindSnapshot    = "snapshot"
	kindVolume      = "volume"
	kindKey         = "kms-key"
	kindGrant       = "kms-grant"
	kindSession     = "sts-session"
	kindRole        = "iam-role"
	kindUser        = "iam-user"
	kindReservation = "ec2-reservation"
	kindRequest     = "request"
)

// next advances kind's counter and returns its new value.
func (s *idSource) next(kind string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters[kind]++
	return s.counters[kind]
}

// counterValues returns every counter, for saving the state.
func (s *idSource) counterValues() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counters)
}

// advanceCounters moves each counter up to at least the saved value, so that
// identifiers minted after a restore never repeat those minted before it.
func (s *idSource) advanceCounters(saved map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for kind, n := range saved {
		s.counters[kind] = max(s.counters[kind], n)
	}
}

// derive returns n lowercase hex digits determined by the seed, a label and
// the parts; equal inputs give equal outputs.
func (s *idSource) derive(n int, label string, parts ...string) string {
	h := sha256.New()
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(s.seed))
	h.Write([]byte("awssim-id\x00"))
	h.Write(seed[:])
	for _, p := range append([]string{label}, parts...) {
		var size [4]byte
		binary.BigEndian.PutUint32(size[:], uint32(len(p)))
		h.Write(size[:])
		h.Write([]byte(p))
	}
	out := hex.EncodeToString(h.Sum(nil))
	for len(out) < n {
		more := sha256.Sum256([]byte(out))
		out += hex.EncodeToString(more[:])
	}
	return out[:n]
}

// nextHex mints the next identifier of kind as n hex digits.
func (s *idSource) nextHex(kind string, n int) string {
	return s.derive(n, kind, fmt.Sprint(s.next(kind)))
}

// Resource IDs use the long (17 hex digit) format.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html
func (s *idSource) snapshotID() string { return "snap-" + s.nextHex(kindSnapshot, 17) }
func (s *idSource) volumeID() string   { return "vol-" + s.nextHex(kindVolume, 17) }
func (s *idSource) requestID() string  { return uuidOf(s.nextHex(kindRequest, 32)) }
func (s *idSource) keyID() string      { return uuidOf(s.nextHex(kindKey, 32)) }

// managedKeyID is the ID of an account's AWS managed key in a region. It
// depends on the account and region only, because AWS creates that key on
// first use, which may come from any call.
func (s *idSource) managedKeyID(accountID, region string) string {
	return uuidOf(s.derive(32, "aws-managed-key", accountID, region))
}

// grant mints a grant ID and its grant token.
func (s *idSource) grant() (id, token string) {
	n := fmt.Sprint(s.next(kindGrant))
	return s.derive(64, kindGrant, n), s.derive(128, kindGrant+"-token", n)
}

// uuidOf shapes 32 hex digits as a version-4 UUID, the form of KMS key IDs
// and request IDs.
// https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-key-id
func uuidOf(h string) string {
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
