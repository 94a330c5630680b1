// Package driver is the contract between the acquisition engine and one cloud: a small required Driver
// and optional capabilities, found by type assertion and gathered in one Features value (as rclone's
// Features and go-cloud's drivers do). A driver owns its cloud's primitives and procedures; the engine
// owns the order of the steps, waits, retries, cleanup, hashing and the custody record of every step.
//
// Every method takes ctx first and returns the SDK's own errors, which the engine maps once through
// ErrorCode. Drivers hold no acquisition state: each request carries what the call needs, including
// the idempotency token that lets a later call find what an earlier one made.
package driver

import (
	"context"
	"time"
)

// Side is which account an operation runs in.
type Side string

// The two sides of an acquisition.
const (
	Source   Side = "source"   // the compromised account, project or subscription
	Forensic Side = "forensic" // the isolated one the evidence goes to
)

// Driver is what every cloud implements.
type Driver interface {
	// Cloud names the provider ("aws", "gcp", "azure").
	Cloud() string
	// Capabilities says where snapshots land and what they can achieve; the conformance suite checks
	// each claim.
	Capabilities() Capabilities
	// Identity returns the principal the driver acts as on a side.
	Identity(ctx context.Context, side Side) (Principal, error)
	// Describe resolves the target into workloads and their volumes, with the configuration captured
	// as artifacts (instance description, user data, network, identity).
	Describe(ctx context.Context, t Target) ([]Workload, error)
	// CreateSnapshots snapshots a workload's volumes, or one volume, on the side Capabilities names,
	// labelled with the request's labels (its token among them) so that FindSnapshots finds them again.
	CreateSnapshots(ctx context.Context, req SnapshotRequest) (SnapshotResult, error)
	// FindSnapshots returns the snapshots on a side that carry a token, in any state.
	FindSnapshots(ctx context.Context, side Side, location, token string) ([]Snapshot, error)
	// SnapshotStatus returns the current state of snapshots on a side, in one call per batch (the
	// engine asks about at most 100 at a time); unknown IDs are left out of the answer.
	SnapshotStatus(ctx context.Context, side Side, location string, ids []string) ([]Snapshot, error)
	// Delete removes a resource the driver reported making (a snapshot, a share, a grant, a key, a
	// worker). One that is gone already is not an error.
	Delete(ctx context.Context, r Resource) error
	// ErrorCode maps one of the driver's errors to the engine's codes.
	ErrorCode(err error) Code
}

// Capabilities are what differs between clouds in the required part, declared in one plain struct.
type Capabilities struct {
	// SnapshotSide is where CreateSnapshots puts the snapshots: Forensic when the cloud can snapshot a
	// volume straight into another account (GCP, Azure); Source when the snapshot must then be moved
	// (AWS), which takes a Transferer.
	SnapshotSide Side
	// Crash says whether, and at what cost, CreateSnapshots can take all of a workload's volumes at
	// one point in time.
	Crash CrashSupport
	// CrossLocation says the evidence may be placed in another location (region) than the volumes'.
	CrossLocation bool
}

// CrashSupport is how a cloud makes a workload's snapshots crash-consistent.
type CrashSupport string

// Crash-consistency support.
const (
	CrashNone   CrashSupport = ""       // each volume is snapshotted on its own
	CrashNative CrashSupport = "native" // one call takes them all at one point in time, and writes nothing else
	// CrashWritesSource: it can, by creating resources in the source account (a consistency group, a
	// restore point) that the engine removes afterwards; only done when the user asks for it.
	CrashWritesSource CrashSupport = "writes-source"
)

// Consistency is what a set of snapshots achieved, or what a request asks for.
type Consistency string

// Consistency values.
const (
	PerVolume       Consistency = "per-volume"       // each volume at its own moment
	CrashConsistent Consistency = "crash-consistent" // all volumes of a workload at one point in time
)

// Principal is who a driver acts as on one side.
type Principal struct {
	Side    Side   `json:"side"`
	Account string `json:"account"` // account ID, project ID, subscription ID
	ID      string `json:"id"`      // ARN, service-account email, object ID
	Tenant  string `json:"tenant,omitempty"`
	// AccountNumber is the account's number where the cloud has one besides its ID (a GCP project number).
	AccountNumber string `json:"accountNumber,omitempty"`
}

// Target says what to acquire, in the cloud's native IDs: workloads (all attached volumes) and single
// volumes. Location is the cloud's default place for IDs that do not carry one (an AWS region, a GCE
// zone); drivers that take full resource names may leave it empty.
type Target struct {
	Location  string   `json:"location,omitempty"`
	Workloads []string `json:"workloads,omitempty"`
	Volumes   []string `json:"volumes,omitempty"`
}

// KeyKind is how a volume is encrypted.
type KeyKind string

// Key kinds.
const (
	KeyNone            KeyKind = "none"
	KeyProviderDefault KeyKind = "provider-default" // managed by the cloud (AWS aws/ebs, Google-managed, platform-managed)
	KeyCustomer        KeyKind = "customer"         // the customer's key (AWS CMK, CMEK, disk encryption set)
)

// Volume is a disk to acquire.
type Volume struct {
	ID        string  `json:"id"` // the cloud's native ID
	Name      string  `json:"name,omitempty"`
	Workload  string  `json:"workload,omitempty"` // empty for a volume given alone
	Device    string  `json:"device,omitempty"`
	Boot      bool    `json:"boot,omitempty"`
	Location  string  `json:"location"`       // region (AWS, Azure), zone (GCP)
	Zone      string  `json:"zone,omitempty"` // availability zone, where the cloud has one besides
	SizeBytes int64   `json:"sizeBytes"`
	KeyKind   KeyKind `json:"keyKind"`
	KeyID     string  `json:"keyId,omitempty"`
	Type      string  `json:"type,omitempty"` // the cloud's disk type (gp3, pd-balanced, Premium_LRS)
}

// Workload is an instance with its volumes and captured configuration.
type Workload struct {
	ID        string
	Location  string
	Volumes   []Volume
	Artifacts []Artifact
}

// Artifact is configuration captured as evidence, stored in the case with its digest.
type Artifact struct {
	Name      string // path inside the case's artifacts/ directory
	Data      []byte
	MediaType string
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
	Name      string        `json:"name,omitempty"`
	VolumeID  string        `json:"volumeId"` // the volume it was taken from, as the engine knows it
	Side      Side          `json:"side"`
	Account   string        `json:"account,omitempty"`
	Location  string        `json:"location"`
	State     SnapshotState `json:"state"`
	Progress  int           `json:"progress"` // percent
	Encrypted bool          `json:"encrypted"`
	KeyID     string        `json:"keyId,omitempty"`
	Message   string        `json:"message,omitempty"` // the cloud's word on a failure
	StartTime time.Time     `json:"startTime"`
	SizeBytes int64         `json:"sizeBytes"`
}

// Labels are what the engine asks drivers to attach to what they create, under neutral keys; each
// driver encodes them by its cloud's rules (AWS tags "acquire:case", GCE labels "acquire-case" in
// lowercase, Azure tags).
type Labels map[string]string

// Label keys.
const (
	LabelCase           = "case"
	LabelOperator       = "operator"
	LabelRole           = "role"
	LabelToken          = "token"
	LabelSourceVolume   = "source-volume"
	LabelSourceWorkload = "source-workload"
)

// Label roles.
const (
	RoleSourceSnapshot = "source-snapshot"
	RoleEvidence       = "evidence"
	RoleTemporary      = "temporary"
)

// SnapshotRequest asks for the snapshots of a workload (all its volumes) or of one volume.
type SnapshotRequest struct {
	Workload    *Workload // all its volumes
	Volume      *Volume   // or this one
	Consistency Consistency
	Token       string // a UUID, the same on every attempt of this step
	Labels      Labels
	Description string
	// Retry says an earlier call with this token may have made some of what this one makes (its
	// outcome is unknown): look for it before making it again.
	Retry bool
	// Destination is where the evidence goes, for drivers that snapshot straight into the forensic
	// side (its project, location and key).
	Destination Destination
}

// SnapshotResult is what CreateSnapshots made.
type SnapshotResult struct {
	Snapshots   []Snapshot  // one per volume, with VolumeID set
	Consistency Consistency // what they achieved
	Note        string      // the cloud's word on it (a warning, how far apart they started)
	// Temporary is what was made in order to take them (a consistency group, a restore point): the
	// engine removes it with Delete once every snapshot is complete, or when the attempt fails for
	// good (it is returned with the error).
	Temporary []Resource
}

// Resource is something a driver made: a snapshot, a share, a grant, a key, a worker VM. The engine
// records it, and removes the temporary ones with Delete.
type Resource struct {
	Side     Side   `json:"side"`
	Location string `json:"location,omitempty"`
	Kind     string `json:"kind"` // the driver's word: "snapshot", "snapshot-share", "kms-grant", "kms-key", "disk", "instance"
	ID       string `json:"id"`
	Parent   string `json:"parent,omitempty"` // what it belongs to: a grant's key, a share's snapshot
	Volume   string `json:"volume,omitempty"`
	Note     string `json:"note,omitempty"` // what it is, for people
	// Remains says what is left once Delete has removed it ("disabled, deleted in 7 days"): the engine
	// lists it among what the acquisition leaves in place.
	Remains string `json:"remains,omitempty"`
}

// FindingNotAcquired is the kind of a finding that names a volume of a workload no snapshot can take
// (an Azure unmanaged VHD disk, a GCP local SSD): the evidence of that workload is incomplete.
const FindingNotAcquired = "not-acquired"

// NotAcquired says whether a finding is a volume left out of the acquisition, not an exposure.
func (f Finding) NotAcquired() bool { return f.Kind == FindingNotAcquired }

// Finding is something a responder must know: a snapshot or image of a target volume that someone
// other than the forensic side can use, or a volume of a workload that no snapshot can take
// (FindingNotAcquired).
type Finding struct {
	Kind     string   `json:"kind"` // "public-snapshot", "shared-snapshot", "public-image", "open-access", FindingNotAcquired
	Resource string   `json:"resource"`
	VolumeID string   `json:"volumeId"`
	Accounts []string `json:"accounts,omitempty"`
	Detail   string   `json:"detail"`
}
