package gcpsim

import (
	"crypto/rsa"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// selfLinkBase is the prefix of every selfLink the real API returns.
const selfLinkBase = "https://www.googleapis.com/compute/v1/"

// project is one simulated project with what the scenario gave it.
type project struct {
	id       string
	number   int64
	zones    []string
	iam      []binding
	kmsKeys  map[string]*kmsKey // by key name, without a version
	metadata map[string]string
	buckets  []string
	// storageUseAllowed is the storageResourceUseRestrictions allow list;
	// nil when the constraint is not enforced.
	storageUseAllowed []string
}

// serviceAgent is the project's Compute Engine service agent, the identity
// that uses KMS keys on the project's behalf.
// https://cloud.google.com/compute/docs/disks/customer-managed-encryption
func (p *project) serviceAgent() string {
	return "serviceAccount:service-" + itoa(p.number) + "@compute-system.iam.gserviceaccount.com"
}

type kmsKey struct {
	name                string
	encrypterDecrypters []string
}

type serviceAccount struct {
	email         string
	project       string
	displayName   string
	uniqueID      string
	key           *rsa.PrivateKey
	keyID         string
	tokenCreators []string
}

// userAccount is a Google account with the scopes its refresh token grants.
type userAccount struct {
	email  string
	scopes []string
}

type diskRes struct {
	pb       *computepb.Disk
	project  string
	zone     string
	content  *content
	scenario bool
}

type instanceRes struct {
	pb      *computepb.Instance
	project string
	zone    string
	// guestAttributes are what the guest published: namespace -> key -> value.
	guestAttributes map[string]map[string]string
	worker          *worker // the running startup script, if any
	workerExit      *int    // the script's exit status once it ended
	// serial is what the script wrote to its serial console (stdout and
	// stderr), its last maxSerialOutput bytes.
	serial []byte
	// guestFlushes counts the snapshots that ran an agent in the guest.
	guestFlushes int
}

type snapshotRes struct {
	pb      *computepb.Snapshot
	project string
	content *content
	started time.Time
	readyAt time.Time
	policy  *computepb.Policy
}

type imageRes struct {
	pb      *computepb.Image
	project string
	public  bool
}

type resourcePolicyRes struct {
	pb      *computepb.ResourcePolicy
	project string
	region  string
}

type instantSnapshotRes struct {
	pb      *computepb.InstantSnapshot
	project string
	zone    string
	disk    string // key of the source disk
	content *content
}

type instantSnapshotGroupRes struct {
	pb      *computepb.InstantSnapshotGroup
	project string
	zone    string
}

// operation is a long-running operation. Its status follows the clock: RUNNING
// until doneAt, then DONE, with opError if the work failed.
type operation struct {
	pb      *computepb.Operation
	project string
	scope   string // "zones/Z", "regions/R" or "global"
	doneAt  time.Time
	opError *opError
	// requestID is the idempotency key it was created with, if any.
	requestID string
}

// opError is how an operation fails.
type opError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// HTTPStatus is httpErrorStatusCode; zero leaves it out, which op.Wait
	// in the Go client does not report as an error.
	HTTPStatus int32 `json:"httpStatus,omitempty"`
}

// state is everything the simulator holds. Keys: projects by ID; zonal
// resources "project/zone/name"; regional "project/region/name"; global
// "project/name"; operations "project/scope/name".
type state struct {
	projects         map[string]*project
	serviceAccounts  map[string]*serviceAccount // by email
	users            map[string]*userAccount    // by email
	disks            map[string]*diskRes
	instances        map[string]*instanceRes
	snapshots        map[string]*snapshotRes
	images           map[string]*imageRes
	resourcePolicies map[string]*resourcePolicyRes
	instantSnapshots map[string]*instantSnapshotRes
	isGroups         map[string]*instantSnapshotGroupRes
	operations       map[string]*operation
	requestIDs       map[string]string // "project/requestId" -> operation key
	calls            map[string]int
}

func newState() *state {
	return &state{
		projects:         map[string]*project{},
		serviceAccounts:  map[string]*serviceAccount{},
		users:            map[string]*userAccount{},
		disks:            map[string]*diskRes{},
		instances:        map[string]*instanceRes{},
		snapshots:        map[string]*snapshotRes{},
		images:           map[string]*imageRes{},
		resourcePolicies: map[string]*resourcePolicyRes{},
		instantSnapshots: map[string]*instantSnapshotRes{},
		isGroups:         map[string]*instantSnapshotGroupRes{},
		operations:       map[string]*operation{},
		requestIDs:       map[string]string{},
		calls:            map[string]int{},
	}
}

func key(parts ...string) string {
	out := parts[0]
	for _, p := range parts[1:] {
		out += "/" + p
	}
	return out
}
