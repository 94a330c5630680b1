package report

import "github.com/acquire-forensics/acquire/custody"

// FormatVersion names the JSON form of a report; it changes when a field changes meaning.
const FormatVersion = "acquire-report/v1"

// Report is everything a report shows about one case. It is also the JSON form of the report.
type Report struct {
	Format        string        `json:"format"`
	GeneratedAt   string        `json:"generatedAt"`
	Generator     custody.Tool  `json:"generator"` // the software that wrote this report
	Case          Summary       `json:"case"`
	Timeline      []Record      `json:"timeline"`
	Evidence      []Evidence    `json:"evidence"`
	Artifacts     []Artifact    `json:"artifacts"`
	Comparisons   []Comparison  `json:"comparisons"` // exports and re-hashes of evidence
	Findings      Findings      `json:"findings"`
	Verification  Verification  `json:"verification"`
	Certification Certification `json:"certification"`
}

// Summary is the case at a glance: what was acquired from where to where, by whom, under what authority.
type Summary struct {
	CaseID     string `json:"caseId"`
	Dir        string `json:"dir"`
	Records    int    `json:"records"`
	Unreadable int    `json:"unreadableRecords"`
	FirstTime  string `json:"firstTime,omitempty"`
	LastTime   string `json:"lastTime,omitempty"`
	Sealed     bool   `json:"sealed"` // the last record is a case.seal whose checkpoint and manifest hold
	// SealIncomplete: the last record is a case.seal, but its checkpoint or manifest is missing or
	// does not verify.
	SealIncomplete bool                 `json:"sealIncomplete,omitempty"`
	SealNote       string               `json:"sealNote,omitempty"`
	Sources        []Place              `json:"sources"`      // what was described and acquired
	Destinations   []Place              `json:"destinations"` // where the forensic copies live
	Principals     []Principal          `json:"principals"`
	Operators      []string             `json:"operators"`
	Hosts          []string             `json:"hosts"`
	Authorities    []custody.Authority  `json:"authorities"`
	Tools          []custody.Tool       `json:"tools"`
	Signers        []custody.SignerInfo `json:"signers"`
}

// Place is a cloud account and region and the resources the case names there.
type Place struct {
	Cloud     string   `json:"cloud"`
	Account   string   `json:"account,omitempty"`
	Region    string   `json:"region,omitempty"`
	Resources []string `json:"resources,omitempty"` // "instance i-...", "volume vol-...", "snapshot snap-..."
}

// Principal is a cloud identity the tool acted as.
type Principal struct {
	ID      string `json:"id"`
	Cloud   string `json:"cloud,omitempty"`
	Account string `json:"account,omitempty"`
	Side    string `json:"side,omitempty"` // "source" or "forensic", when the record says
}

// Record is one custody record as the timeline shows it. Event is nil when the record cannot be read;
// Unreadable then says why.
type Record struct {
	Seq           uint64            `json:"seq"` // from the file name
	Path          string            `json:"path"`
	PayloadSHA256 string            `json:"payloadSha256,omitempty"`
	Unreadable    string            `json:"unreadable,omitempty"`
	Subjects      []custody.Subject `json:"subjects,omitempty"`
	Event         *custody.Event    `json:"event,omitempty"`
	Problems      []custody.Problem `json:"problems,omitempty"` // verification problems naming this record
}

// Evidence is one forensic copy of a volume, as its digest record describes it.
type Evidence struct {
	Name            string   `json:"name"` // the subject name, "<cloud>:snapshot:<id>"
	Cloud           string   `json:"cloud,omitempty"`
	Snapshot        string   `json:"snapshot,omitempty"`
	SourceVolume    string   `json:"sourceVolume,omitempty"`
	Account         string   `json:"account,omitempty"`
	Region          string   `json:"region,omitempty"`
	EncryptionKey   string   `json:"encryptionKey,omitempty"`
	SizeBytes       int64    `json:"sizeBytes,omitempty"`
	ImageSHA256     string   `json:"imageSha256"`
	BlockListSHA256 string   `json:"blockListSha256,omitempty"`
	BlockSize       int64    `json:"blockSize,omitempty"`
	ListedBlocks    int64    `json:"listedBlocks,omitempty"`
	Method          string   `json:"method,omitempty"` // how the digests were computed, in the record's words
	DigestRecord    uint64   `json:"digestRecord"`
	DigestTime      string   `json:"digestTime,omitempty"`
	DigestStatus    string   `json:"digestStatus,omitempty"` // computed or deferred
	Deferred        string   `json:"deferred,omitempty"`     // why the digest was deferred
	Consistency     string   `json:"consistency,omitempty"`
	Lock            *Lock    `json:"lock,omitempty"`
	Records         []uint64 `json:"records"` // every record about this item, in order
}

// Lock is a protection against deletion recorded for a forensic copy.
type Lock struct {
	Mode         string `json:"mode,omitempty"`
	Days         int64  `json:"days,omitempty"`
	CoolOffHours int64  `json:"coolOffHours,omitempty"`
	Record       uint64 `json:"record"`
	Status       string `json:"status"`
}

// Artifact is a captured file (instance description, user data, attachment) and its digest.
type Artifact struct {
	Name      string `json:"name"`
	SHA256    string `json:"sha256"`
	SizeBytes int64  `json:"sizeBytes,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	Record    uint64 `json:"record"`
	Action    string `json:"action,omitempty"`
	Check     string `json:"check"` // CheckMatch, CheckMismatch or CheckNotRun: the verifier re-hashed the file
}

// Artifact and comparison outcomes.
const (
	CheckMatch    = "match"
	CheckMismatch = "mismatch"
	CheckNotRun   = "not checked"
	CheckUnknown  = "not recorded"
)

// Comparison is a later digest of an evidence item recorded in the case: an export to a file, a re-hash,
// or another record citing the item. Match is what the record states, or, when it states nothing, whether
// its digest equals the digest recorded at acquisition.
type Comparison struct {
	Item        string `json:"item"`
	Record      uint64 `json:"record"`
	Time        string `json:"time,omitempty"`
	Action      string `json:"action"`
	Status      string `json:"status,omitempty"`
	Operator    string `json:"operator,omitempty"`
	Destination string `json:"destination,omitempty"` // the file or place the item went to
	Host        string `json:"host,omitempty"`
	Recorded    string `json:"recordedSha256,omitempty"` // the digest recorded at acquisition
	SHA256      string `json:"sha256,omitempty"`         // the digest this record gives
	Match       string `json:"match"`                    // CheckMatch, CheckMismatch or CheckUnknown
	Forced      bool   `json:"forced,omitempty"`         // the record says a failed verification was overridden
	// OverriddenProblems is how many verification problems the override went past, when recorded.
	OverriddenProblems int64  `json:"overriddenProblems,omitempty"`
	Note               string `json:"note,omitempty"`
}

// Findings are what a reader must not miss: exposures, aborted runs, failed and unfinished steps.
type Findings struct {
	Items       []Finding `json:"items"`
	CleanChecks []uint64  `json:"cleanChecks"` // exposure checks that found nothing
}

// Finding kinds.
const (
	FindingExposure = "exposure"
	// FindingNotAcquired: volumes of a workload that no snapshot can take, named by the exposure check.
	FindingNotAcquired = "not-acquired"
	FindingAborted     = "aborted"
	FindingFailed      = "failed"
	FindingUnfinished  = "unfinished"
)

// Finding is one thing found.
type Finding struct {
	Kind      string     `json:"kind"`
	Record    uint64     `json:"record"`
	Time      string     `json:"time,omitempty"`
	Action    string     `json:"action"`
	Step      string     `json:"step,omitempty"`
	Code      string     `json:"code,omitempty"`
	Message   string     `json:"message,omitempty"`
	Note      string     `json:"note,omitempty"`
	Exposures []Exposure `json:"exposures,omitempty"`
	Left      []Leftover `json:"left,omitempty"`
}

// Exposure is a snapshot of a target volume that others could use before the acquisition.
type Exposure struct {
	Kind     string   `json:"kind,omitempty"`
	Snapshot string   `json:"snapshot,omitempty"`
	VolumeID string   `json:"volumeId,omitempty"`
	Accounts []string `json:"accounts,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// Leftover is a resource an aborted run says it left in place.
type Leftover struct {
	Side   string `json:"side,omitempty"`
	Region string `json:"region,omitempty"`
	Kind   string `json:"kind,omitempty"`
	ID     string `json:"id,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Verification is the outcome of custody.Verify and what it was checked against.
type Verification struct {
	Verdict         string          `json:"verdict"` // VerdictVerified, VerdictSelfConsistent or VerdictFailed
	OK              bool            `json:"ok"`
	Complete        bool            `json:"complete"` // false when no key could be settled and nothing was checked
	KeyPinned       bool            `json:"keyPinned"`
	KeyGiven        string          `json:"keyGiven,omitempty"` // how the trusted key was given
	TSAPinned       bool            `json:"tsaPinned"`
	HeldCheckpoints []string        `json:"heldCheckpoints,omitempty"`
	Checkpoints     []Checkpoint    `json:"checkpoints"` // as found in the case
	Result          *custody.Report `json:"result"`
}

// Verdicts.
const (
	VerdictVerified = "VERIFIED"
	// VerdictSelfConsistent: everything holds, but only against the key (or time-stamping
	// certificates) inside the case, which prove nothing about who wrote it.
	VerdictSelfConsistent = "SELF-CONSISTENT ONLY"
	VerdictFailed         = "FAILED"
)

// Checkpoint is a checkpoint file of the case as it reads: origin, tree size and root. Verification
// says whether it holds.
type Checkpoint struct {
	Path   string `json:"path"`
	Origin string `json:"origin,omitempty"`
	Size   string `json:"size,omitempty"`
	Root   string `json:"root,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Certification gathers the facts a qualified person may rely on when certifying the records and the
// copies: the process, the tool, the hashes and their comparison, the signature and time-stamp checks.
type Certification struct {
	Process []ItemProcess `json:"process"`
	Hashes  []ItemHashes  `json:"hashes"`
	Checks  []Check       `json:"checks"`
}

// ItemHashes sets the digest recorded at acquisition beside every later digest of the same item.
type ItemHashes struct {
	Item         string       `json:"item"`
	Recorded     string       `json:"recordedSha256"`
	DigestRecord uint64       `json:"digestRecord"`
	Later        []Comparison `json:"later"`
}

// ItemProcess is how one evidence item came to be, record by record.
type ItemProcess struct {
	Item         string `json:"item"`
	Steps        []Step `json:"steps"`
	DigestRecord uint64 `json:"digestRecord"`
	Method       string `json:"method,omitempty"` // how the digests were computed, in the record's words
}

// Step is one record of a process.
type Step struct {
	Record uint64 `json:"record"`
	Time   string `json:"time,omitempty"`
	Action string `json:"action"`
	Status string `json:"status,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Check is one family of verification checks and its outcome.
type Check struct {
	Name     string   `json:"name"`
	Outcome  string   `json:"outcome"` // OutcomePassed, OutcomeFailed, OutcomeNotRun or OutcomeNone
	Detail   string   `json:"detail"`
	Problems []string `json:"problems,omitempty"`
}

// Check outcomes.
const (
	OutcomePassed = "passed"
	OutcomeFailed = "FAILED"
	OutcomeNotRun = "not checked"
	OutcomeNone   = "none present"
)
