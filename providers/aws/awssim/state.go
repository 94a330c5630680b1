package awssim

import (
	"crypto/ecdsa"
	"sort"
	"time"
)

// state is everything the simulator knows. One mutex (Server.mu) guards it;
// handlers take it for the lookups and mutations they do and release it
// before any block I/O.
type state struct {
	accounts    map[string]*account    // by account ID
	credentials map[string]*credential // by access key ID
	volumes     map[string]*volume     // by volume ID
	instances   map[string]*instance   // by instance ID
	snapshots   map[string]*snapshot   // by snapshot ID
	keys        map[string]*kmsKey     // by key ID (UUID)
	aliases     map[aliasRef]*kmsAlias
	grants      map[string]*kmsGrant // by grant ID
	// clientTokens remembers idempotent requests: account/region/action/token.
	clientTokens map[string]clientTokenRecord
	calls        map[string]int // "ec2:CreateSnapshot" -> count
	seq          int64          // creation order, for stable listings
	// nextDeadline is the earliest moment some state ends by itself (a key
	// deletion, a session expiry); zero when none is pending.
	nextDeadline time.Time
	// changedAside is set when the state changed during a request whose
	// action does not itself change it: a key deleted at the end of its
	// waiting period, an AWS managed key created on first use. Options.OnChange
	// hears of it.
	changedAside bool
}

func newState() *state {
	return &state{
		accounts:     map[string]*account{},
		credentials:  map[string]*credential{},
		volumes:      map[string]*volume{},
		instances:    map[string]*instance{},
		snapshots:    map[string]*snapshot{},
		keys:         map[string]*kmsKey{},
		aliases:      map[aliasRef]*kmsAlias{},
		grants:       map[string]*kmsGrant{},
		clientTokens: map[string]clientTokenRecord{},
		calls:        map[string]int{},
	}
}

func (st *state) nextSeq() int64 { st.seq++; return st.seq }

type account struct {
	id    string
	name  string
	roles map[string]*role // by role name
	// ebsDefaultKey is the key EBS encrypts with when none is named, per
	// region; unset means the AWS managed key aws/ebs.
	ebsDefaultKey map[string]string
	// encryptionByDefault per region.
	encryptionByDefault map[string]bool
}

// principal is an authenticated caller.
type principal struct {
	accountID string
	arn       string
	userID    string   // GetCallerIdentity's UserId
	allow     []string // IAM-like allow list; nil allows everything
	roleARN   string   // for assumed-role sessions, the role's ARN
	session   string   // for assumed-role sessions, the session name
}

type credential struct {
	seq             int64 // scenario order
	accessKeyID     string
	secretAccessKey string
	sessionToken    string    // set for AssumeRole credentials
	expires         time.Time // zero for long-term keys
	principal       *principal
	// session numbers AssumeRole credentials, from which their keys are
	// derived; zero for long-term keys.
	session uint64
}

type role struct {
	name       string
	arn        string
	id         string   // AROA...
	trust      []string // account IDs or principal ARNs allowed to assume the role
	allow      []string
	maxSession time.Duration // longest session AssumeRole grants
}

type tags map[string]string

func (t tags) sortedKeys() []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type volume struct {
	seq        int64
	id         string
	ownerID    string
	region     string
	az         string
	volumeType string
	iops       int32
	disk       *disk
	encrypted  bool
	kmsKeyARN  string
	snapshotID string
	created    time.Time
	visibleAt  time.Time // eventual consistency
	tags       tags
	attachment *attachment
	deleted    bool
	// failure, when set, is why the volume could not be created: it is in
	// state error.
	failure string
}

type attachment struct {
	instanceID          string
	device              string
	deleteOnTermination bool
	attached            time.Time
}

type instance struct {
	seq             int64
	id              string
	ownerID         string
	region          string
	az              string
	instanceType    string
	imageID         string
	state           string
	launched        time.Time
	rootDevice      string
	privateIP       string
	vpcID           string
	subnetID        string
	instanceProfile string // IAM instance profile name
	securityGroups  []securityGroup
	userData        []byte
	tags            tags
	devices         []string // device names in attachment order, volume IDs via volumes
	reservationID   string
}

type securityGroup struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type snapshot struct {
	seq           int64
	id            string
	ownerID       string
	region        string
	volumeID      string
	description   string
	disk          *disk
	sizeGiB       int32
	started       time.Time
	duration      time.Duration // time from start to completion
	fails         bool          // ends in state error instead
	failAfter     time.Duration // when it fails, counted from the start
	statusMessage string
	encrypted     bool
	kmsKeyARN     string
	tags          tags
	sharedWith    map[string]bool // account IDs with createVolumePermission
	public        bool
	lock          *snapshotLock
	visibleAt     time.Time
}

// status returns the snapshot's state and progress percentage at now.
// Progress advances linearly with time at the configured rate; a snapshot
// that fails keeps the progress it had reached.
func (s *snapshot) status(now time.Time) (string, int) {
	elapsed := now.Sub(s.started)
	switch {
	case s.fails && elapsed >= s.failAfter:
		return "error", s.progressAt(s.failAfter)
	case !s.fails && elapsed >= s.duration:
		return "completed", 100
	}
	return "pending", s.progressAt(elapsed)
}

func (s *snapshot) progressAt(elapsed time.Duration) int {
	if s.duration <= 0 {
		return 0
	}
	return min(int(100*elapsed/s.duration), 99)
}

// fail makes the snapshot end in state error after the given time.
func (s *snapshot) fail(after time.Duration, message string) {
	s.fails, s.failAfter, s.statusMessage = true, after, message
}

func (s *snapshot) completedAt() time.Time { return s.started.Add(s.duration) }

// activeLock returns the snapshot's lock, or nil. "If you lock a snapshot
// while it is in the pending state and the snapshot creation fails for any
// reason, the lock is canceled."
// https://docs.aws.amazon.com/ebs/latest/userguide/snapshot-lock-considerations.html
func (s *snapshot) activeLock(now time.Time) *snapshotLock {
	if state, _ := s.status(now); state == "error" {
		return nil
	}
	return s.lock
}

// canUse reports whether accountID may see and use the snapshot.
func (s *snapshot) canUse(accountID string) bool {
	return s.ownerID == accountID || s.public || s.sharedWith[accountID]
}

type snapshotLock struct {
	mode           string // governance | compliance
	created        time.Time
	durationStart  time.Time
	expires        time.Time
	lockDays       int32 // 0 when set by expiration date
	coolOffHours   int32
	coolOffExpires time.Time
}

// state reports governance, compliance-cooloff, compliance or expired.
// https://docs.aws.amazon.com/ebs/latest/userguide/snapshot-lock-concepts.html
func (l *snapshotLock) state(now time.Time) string {
	switch {
	case !now.Before(l.expires):
		return "expired"
	case l.mode == "governance":
		return "governance"
	case now.Before(l.coolOffExpires):
		return "compliance-cooloff"
	default:
		return "compliance"
	}
}

type kmsKey struct {
	seq         int64
	id          string
	arn         string
	accountID   string
	region      string
	description string
	usage       string // ENCRYPT_DECRYPT | SIGN_VERIFY
	spec        string // SYMMETRIC_DEFAULT | ECC_NIST_P256 | ECC_NIST_P384
	awsManaged  bool
	created     time.Time
	enabled     bool
	pendingDays int32
	deletion    time.Time // zero unless pending deletion
	policyDoc   string    // the key policy as it was set
	policy      *keyPolicy
	signer      *ecdsa.PrivateKey // SIGN_VERIFY keys only
}

// setPolicy replaces the key policy; it is parsed once here, not on every use.
func (k *kmsKey) setPolicy(doc string) error {
	p, err := parseKeyPolicy(doc)
	if err != nil {
		return err
	}
	k.policyDoc, k.policy = doc, p
	return nil
}

// symmetricEncryption reports whether the key is a symmetric encryption key,
// the only kind EBS can encrypt with.
func (k *kmsKey) symmetricEncryption() bool {
	return k.usage == "ENCRYPT_DECRYPT" && k.spec == "SYMMETRIC_DEFAULT"
}

func (k *kmsKey) keyState() string {
	switch {
	case !k.deletion.IsZero():
		return "PendingDeletion"
	case !k.enabled:
		return "Disabled"
	default:
		return "Enabled"
	}
}

type aliasRef struct {
	accountID, region, name string
}

type kmsAlias struct {
	ref     aliasRef
	arn     string
	keyID   string
	created time.Time
}

type kmsGrant struct {
	seq               int64
	id                string
	token             string
	keyID             string
	name              string
	grantee           string
	retiringPrincipal string
	operations        []string
	issuingAccount    string
	created           time.Time
}

type clientTokenRecord struct {
	fingerprint string // the request's other parameters
	resourceID  string
}
