package providers

import (
	"context"
	"time"
)

// Side is which account an operation runs in.
type Side string

// The two sides of an acquisition.
const (
	Source   Side = "source"   // the compromised account, project or subscription
	Forensic Side = "forensic" // the isolated account the evidence is moved to
)

// Driver is what one cloud implements: its primitives, each taking ctx first and returning the SDK's
// own errors, which the engine maps once through ErrorCode. Drivers hold no acquisition state: the
// engine passes everything a call needs.
type Driver interface {
	// Cloud names the provider ("aws", "gcp", "azure").
	Cloud() string
	// Capabilities says what the cloud can do; the conformance suite checks each claim.
	Capabilities() Capabilities
	// Identity returns the principal the driver acts as on a side.
	Identity(ctx context.Context, side Side) (Principal, error)
	// Describe resolves the target into workloads and their volumes, with the configuration captured as
	// artifacts (instance description, user data, network, identity).
	Describe(ctx context.Context, t Target) ([]Workload, error)
	// Exposure lists existing snapshots of the volumes that anyone but the forensic account can use.
	Exposure(ctx context.Context, vols []Volume) ([]Finding, error)

	// CreateSnapshots snapshots a workload's volumes (crash-consistent when the capability says so) or
	// one volume, tagged with the request's token so that FindSnapshots can find them again.
	CreateSnapshots(ctx context.Context, req SnapshotRequest) ([]Snapshot, error)
	// FindSnapshots returns the snapshots (not in state error) carrying a token, on a side and region.
	FindSnapshots(ctx context.Context, side Side, region, token string) ([]Snapshot, error)
	// DescribeSnapshots returns the current state of snapshots, in one call per batch; unknown IDs are
	// left out of the answer.
	DescribeSnapshots(ctx context.Context, side Side, region string, ids []string) ([]Snapshot, error)
	// DeleteSnapshot deletes a snapshot; one that does not exist is not an error.
	DeleteSnapshot(ctx context.Context, side Side, region, id string) error

	// NeedsShareKey reports whether moving a volume's snapshot needs a key the forensic side may use
	// (AWS: volumes under the provider-managed default key).
	NeedsShareKey(v Volume) bool
	// CreateShareKey creates a temporary key, on the source side, usable by the forensic side only,
	// described with the token so that FindShareKey can find it again.
	CreateShareKey(ctx context.Context, region, token string) (Key, error)
	// FindShareKey returns the live key made with the token, if any.
	FindShareKey(ctx context.Context, region, token string) (*Key, error)
	// RetireShareKey disables a temporary key and schedules its deletion.
	RetireShareKey(ctx context.Context, k Key) error

	// Stage makes a source snapshot transferable to the forensic side: as it is, through a key grant,
	// or through an intermediate copy under the share key. It returns what it created.
	Stage(ctx context.Context, req StageRequest) (Staged, error)
	// Unstage removes what Stage created (intermediate copy, key grants); what is gone already is fine.
	Unstage(ctx context.Context, s Staged) error
	// Share lets the forensic side use a staged snapshot; Unshare withdraws that.
	Share(ctx context.Context, snap Snapshot) error
	Unshare(ctx context.Context, snap Snapshot) error
	// Copy copies a shared snapshot into the forensic side, under the forensic key, tagged with the token.
	Copy(ctx context.Context, req CopyRequest) (Snapshot, error)
	// Lock protects a forensic copy against deletion (Capabilities.SnapshotLock).
	Lock(ctx context.Context, snap Snapshot, req LockRequest) error
	// Digest reads a forensic copy's content and returns its digests (Capabilities.BlockDigest).
	Digest(ctx context.Context, snap Snapshot, progress func(done, total int64)) (Digest, error)

	// ErrorCode maps one of the driver's errors to the engine's codes.
	ErrorCode(err error) Code
}

// Capabilities are what differs between clouds, declared in one plain struct.
type Capabilities struct {
	CrashConsistentGroups bool // one call snapshots all volumes of a workload at one point in time
	SnapshotLock          bool // a copy can be locked against deletion
	BlockDigest           bool // content digests through a block-read API
	CrossRegionCopy       bool // the forensic copy may be made in another region
}

// Principal is who a driver acts as on one side.
type Principal struct {
	Side    Side   `json:"side"`
	Account string `json:"account"`
	ID      string `json:"id"` // ARN, service account, object ID
}

// Target says what to acquire: workloads (all attached volumes) and single volumes, in one region.
type Target struct {
	Region    string
	Workloads []string
	Volumes   []string
}

// KeyKind is how a volume is encrypted.
type KeyKind string

// Key kinds.
const (
	KeyNone            KeyKind = "none"
	KeyProviderDefault KeyKind = "provider-default" // managed by the cloud (AWS aws/ebs): cannot be shared
	KeyCustomer        KeyKind = "customer"
)

// Volume is a disk to acquire.
type Volume struct {
	ID        string  `json:"id"`
	Workload  string  `json:"workload,omitempty"` // instance ID; empty for a volume given alone
	Device    string  `json:"device,omitempty"`
	Boot      bool    `json:"boot,omitempty"`
	Region    string  `json:"region"`
	Zone      string  `json:"zone,omitempty"`
	SizeBytes int64   `json:"sizeBytes"`
	KeyKind   KeyKind `json:"keyKind"`
	KeyID     string  `json:"keyId,omitempty"`
}

// Workload is an instance (or a lone volume's stand-in) with its volumes and captured configuration.
type Workload struct {
	ID        string
	Region    string
	Zone      string
	Volumes   []Volume
	Artifacts []Artifact
}

// Artifact is configuration captured as evidence, stored in the case with its digest.
type Artifact struct {
	Name      string // path inside the case's artifacts/ directory
	Data      []byte
	MediaType string
}

// Finding is something a responder must know: a snapshot of a target volume that is public or shared
// with accounts other than the forensic one.
type Finding struct {
	Kind     string   `json:"kind"` // "public-snapshot", "shared-snapshot"
	Snapshot string   `json:"snapshot"`
	VolumeID string   `json:"volumeId"`
	Accounts []string `json:"accounts,omitempty"`
	Detail   string   `json:"detail"`
}

// SnapshotState is a snapshot's lifecycle state.
type SnapshotState string

// Snapshot states.
const (
	StatePending   SnapshotState = "pending"
	StateCompleted SnapshotState = "completed"
	StateError     SnapshotState = "error"
)

// Snapshot is a point-in-time copy of a volume on one side.
type Snapshot struct {
	ID        string        `json:"id"`
	VolumeID  string        `json:"volumeId"` // the original volume, as the engine knows it
	Side      Side          `json:"side"`
	Region    string        `json:"region"`
	State     SnapshotState `json:"state"`
	Progress  int           `json:"progress"` // percent
	Encrypted bool          `json:"encrypted"`
	KeyID     string        `json:"keyId,omitempty"`
	Message   string        `json:"message,omitempty"` // the cloud's word on a failure
	StartTime time.Time     `json:"startTime"`
	SizeBytes int64         `json:"sizeBytes"`
}

// Tags label what acquire creates, with the case, the operator and the source.
type Tags map[string]string

// SnapshotRequest asks for the snapshots of a workload (all its volumes) or of one volume.
type SnapshotRequest struct {
	Region      string
	Workload    *Workload
	Volume      *Volume
	Token       string
	Tags        Tags
	Description string
}

// Key is an encryption key by its native ID.
type Key struct {
	ID     string `json:"id"`
	ARN    string `json:"arn,omitempty"`
	Region string `json:"region"`
}

// StageRequest asks to make a source snapshot transferable.
type StageRequest struct {
	Volume   Volume
	Snapshot Snapshot
	ShareKey *Key // for volumes that need one
	Token    string
	Tags     Tags
}

// Staged is a snapshot ready to share, and what staging created on the source side.
type Staged struct {
	Snapshot     Snapshot `json:"snapshot"`     // the snapshot to share: the source one, or an intermediate copy
	Intermediate bool     `json:"intermediate"` // Snapshot is a copy made here, to delete afterwards
	Grants       []Grant  `json:"grants,omitempty"`
}

// Grant is a key grant Stage made, to revoke afterwards.
type Grant struct {
	KeyID string `json:"keyId"`
	ID    string `json:"id"`
}

// CopyRequest asks for the forensic copy of a shared snapshot.
type CopyRequest struct {
	Source      Snapshot
	Region      string // the forensic region
	KeyID       string // the forensic side's key
	Token       string
	Tags        Tags
	Description string
}

// LockRequest protects a copy: mode "governance" or "compliance", for Days, with a cool-off in hours
// (compliance only).
type LockRequest struct {
	Mode         string
	Days         int
	CoolOffHours int
}

// Digest is the content of a forensic copy, and how it was computed.
type Digest struct {
	ImageSHA256     string `json:"imageSha256"`     // SHA-256 of the full raw image (sha256sum image.raw)
	BlockListSHA256 string `json:"blockListSha256"` // SHA-256 over the per-block SHA-256s of the listed blocks, in order
	SizeBytes       int64  `json:"sizeBytes"`
	BlockSize       int64  `json:"blockSize"`
	ListedBlocks    int64  `json:"listedBlocks"`
	ReadBytes       int64  `json:"readBytes"`
	Method          string `json:"method"`
}
