package driver

import "context"

// Transferer moves a snapshot made on the source side to the forensic side (AWS: a share key or
// grant, an intermediate copy, a share, the forensic copy). Every resource it makes is returned, so
// that the engine records it and removes the temporary ones (in reverse order) once the forensic copy
// is complete, or when the transfer fails or is cancelled.
type Transferer interface {
	// PrepareTransfers makes what all of an acquisition's transfers share (AWS: a temporary key the
	// forensic account may use, when a volume is under a key that cannot be shared). The engine calls
	// it once, before the first transfer, with the volumes to transfer, and removes what it returns
	// when the acquisition ends. It may return nothing.
	PrepareTransfers(ctx context.Context, req PrepareRequest) ([]Resource, error)
	// Transfer advances a transfer by one phase. A result with Wait asks the engine to wait for that
	// snapshot to complete and call again with the next phase; a result with Copy names the forensic
	// snapshot, which the engine waits for. Called again for the same phase with Retry set, it looks
	// up by the token what an earlier call may have made before making anything.
	Transfer(ctx context.Context, req TransferRequest) (TransferResult, error)
	// PhaseCopies says whether phase of a transfer of v starts a snapshot copy, and on which side: the
	// engine holds a place among the copies that side may have in flight (AWS: 20 per destination
	// region) from before the call until the copy completes.
	PhaseCopies(v Volume, phase int) (Side, bool)
	// TransferPlan says, for a dry run, what transferring v involves, in order.
	TransferPlan(v Volume) []string
}

// PrepareRequest asks for what an acquisition's transfers share.
type PrepareRequest struct {
	Volumes []Volume
	Token   string
	Labels  Labels
	Retry   bool
	// FindOnly asks what earlier calls with this token made, making nothing: for an acquisition
	// stopped while a call's outcome was unknown.
	FindOnly bool
}

// TransferRequest asks for one phase of moving a volume's source snapshot to the forensic side.
type TransferRequest struct {
	Volume      Volume
	Snapshot    Snapshot   // the completed source snapshot
	Phase       int        // 1 for the first call
	Prepared    []Resource // what PrepareTransfers made
	Made        []Resource // what the earlier phases made
	Waited      *Snapshot  // the snapshot the previous phase asked to wait for, now complete
	Destination Destination
	Token       string
	Labels      Labels
	Description string
	Retry       bool
	FindOnly    bool // report what this phase made so far, making nothing
}

// TransferResult is what one phase made and what comes next.
type TransferResult struct {
	Made []Resource // made by this phase (or, with FindOnly, found)
	Wait *Snapshot  // call again with the next phase once this snapshot is complete
	Copy *Snapshot  // the forensic-side snapshot, once made
}

// BlockReader reads a snapshot's content as blocks: the engine hashes them itself, so that the
// digests mean the same on every cloud, and `acquire export` writes them to an image.
type BlockReader interface {
	OpenBlocks(ctx context.Context, snap Snapshot) (BlockSource, error)
}

// BlockSource is one snapshot's content.
type BlockSource interface {
	// Geometry is the image's size and block size.
	Geometry() Geometry
	// ReadBlocks delivers every block the cloud lists as written, from block index from on, in
	// ascending order, each verified as far as the cloud allows; unlisted blocks are zeros. Data is
	// valid only during the visit.
	ReadBlocks(ctx context.Context, from int64, visit func(Block) error) error
	// Info says how blocks are read and checked, and what access was granted, for the custody record.
	Info() SourceInfo
	// Close ends the access (Azure: endGetAccess). It runs under a fresh context after a cancel too.
	Close(ctx context.Context) error
}

// Geometry is an image's layout.
type Geometry struct {
	Size      int64 `json:"size"`
	BlockSize int64 `json:"blockSize"`
}

// Block is one written block.
type Block struct {
	Index int64
	Data  []byte
	// Sum, when set, is the SHA-256 of Data, which the source computed to check the block against
	// the cloud's checksum; the engine hashes Data itself when it is nil.
	Sum *[32]byte
}

// SourceInfo describes a block source for the record.
type SourceInfo struct {
	Method string `json:"method"`           // how blocks are listed, read and checked
	Access string `json:"access,omitempty"` // what access was granted, to whom, until when (never a secret)
	// IntegrityRetries counts blocks fetched again because their content did not match the cloud's
	// checksum; RetriedBlocks lists their indexes (the first 100).
	IntegrityRetries int64   `json:"integrityRetries,omitempty"`
	RetriedBlocks    []int64 `json:"retriedBlocks,omitempty"`
}

// Digester computes digests elsewhere (GCP: a worker VM in the forensic project that reads a disk made
// from the snapshot). Called again with the same token and Retry set, it finds the worker an earlier
// call made and carries on; what it made is returned for the engine to remove.
type Digester interface {
	Digest(ctx context.Context, req DigestRequest) (DigestResult, error)
	// DigestPlan says, for a dry run, what digesting v involves.
	DigestPlan(v Volume) []string
}

// DigestRequest asks for the digests of a forensic snapshot.
type DigestRequest struct {
	Volume   Volume
	Snapshot Snapshot
	Token    string
	Labels   Labels
	Retry    bool
	FindOnly bool
	Progress func(done, total int64)
}

// DigestResult is what a digester computed and made.
type DigestResult struct {
	Digest    *Digest    // nil with FindOnly, or when it failed
	Temporary []Resource // to remove
	Kept      []Resource // made and kept as evidence (a raw image in a bucket)
}

// Digest is the content of a snapshot and how it was computed.
type Digest struct {
	ImageSHA256     string `json:"imageSha256"`     // SHA-256 of the full raw image (sha256sum image.raw)
	BlockListSHA256 string `json:"blockListSha256"` // SHA-256 over the SHA-256 of each listed block, in order
	SizeBytes       int64  `json:"sizeBytes"`
	BlockSize       int64  `json:"blockSize"`
	ListedBlocks    int64  `json:"listedBlocks"`
	ReadBytes       int64  `json:"readBytes"`
	Method          string `json:"method"`
	Access          string `json:"access,omitempty"`
	// Integrity retries: blocks read again because their content did not match the cloud's checksum.
	IntegrityRetries int64   `json:"integrityRetries,omitempty"`
	RetriedBlocks    []int64 `json:"retriedBlocks,omitempty"`
	// Image is where a copy of the raw image was written, when the digester wrote one.
	Image string `json:"image,omitempty"`
}

// Locker protects evidence against deletion; its modes and limits are the driver's to declare.
type Locker interface {
	LockModes() []LockMode
	// CheckLock validates a request before anything is made: a mode the cloud lacks or a limit
	// outside its range is refused with the reason.
	CheckLock(req LockRequest) error
	// Lock protects a forensic snapshot. What it says (the lock's limits, who can remove it) goes in
	// the record; a lock made as a resource of its own is returned.
	Lock(ctx context.Context, snap Snapshot, req LockRequest) (LockResult, error)
}

// LockMode is one way a cloud can lock evidence.
type LockMode struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// LockRequest protects a copy: a mode the driver declares, for Days, with a cool-off in hours where
// the mode has one.
type LockRequest struct {
	Mode         string `json:"mode"`
	Days         int    `json:"days"`
	CoolOffHours int    `json:"coolOffHours,omitempty"`
	Token        string `json:"-"`
}

// LockResult says what a lock achieved.
type LockResult struct {
	Note     string    // for the record: its limits, who can remove it
	Resource *Resource // the lock itself, where it is a resource (kept)
}

// ExposureChecker lists existing snapshots and images of the volumes that anyone but the forensic
// side can use: the attacker may already hold a copy.
type ExposureChecker interface {
	Exposure(ctx context.Context, vols []Volume) ([]Finding, error)
}

// Preflighter checks, before anything is made, what the cloud would otherwise refuse only after the
// snapshots exist: the forensic key, the forensic location, permissions it can test.
type Preflighter interface {
	Preflight(ctx context.Context, p Preflight) error
}

// Preflight is what an acquisition is about to do.
type Preflight struct {
	Volumes     []Volume
	Destination Destination
	Lock        *LockRequest
	// Consistency is what the snapshots are asked for, so that a driver checks what that needs
	// (crash consistency may write into the source account).
	Consistency Consistency
	// Digest says the evidence is digested during the acquisition (not deferred), through the
	// driver's Digester where it has one.
	Digest bool
}

// Destination is where the evidence goes: the isolated side.
type Destination struct {
	Account  string `json:"account"`            // account, project or subscription
	Location string `json:"location,omitempty"` // where the evidence goes; the volumes' location when empty
	Key      string `json:"key,omitempty"`      // the forensic side's key for the evidence
}

// Features is what a driver can do, found once.
type Features struct {
	Transfer  Transferer
	Blocks    BlockReader
	Digest    Digester
	Lock      Locker
	Exposure  ExposureChecker
	Preflight Preflighter
}

// Featurer lets a driver that wraps another (a test's interrupting driver) report features of its own
// choosing instead of what its methods imply.
type Featurer interface {
	Features() Features
}

// FeaturesOf finds a driver's optional capabilities.
func FeaturesOf(d Driver) Features {
	if f, ok := d.(Featurer); ok {
		return f.Features()
	}
	var f Features
	f.Transfer, _ = d.(Transferer)
	f.Blocks, _ = d.(BlockReader)
	f.Digest, _ = d.(Digester)
	f.Lock, _ = d.(Locker)
	f.Exposure, _ = d.(ExposureChecker)
	f.Preflight, _ = d.(Preflighter)
	return f
}
