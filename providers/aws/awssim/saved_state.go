package awssim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// A saved state is what clients created or changed since the scenario was
// loaded, written by SaveState and restored through Options.State, so that
// the simulated AWS survives a restart of its process. It is a versioned JSON
// document. It holds no disk content: a disk is named by the scenario volume
// it comes from, whose image or synthetic content is immutable. Times are
// absolute, so that progress, locks, deletion windows and sessions carry on
// by the clock across the restart.

// stateFormat and stateVersion identify the document. A reader refuses any
// other version: an older simulator cannot know what a newer one saved.
const (
	stateFormat  = "awssim-state"
	stateVersion = 1
)

// savedState is the document.
type savedState struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Scenario is the digest of the scenario the state was saved for (see
	// Scenario.stateDigest).
	Scenario string    `json:"scenario"`
	SavedAt  time.Time `json:"savedAt"`
	// Disks holds the content digest of every scenario volume, so that a
	// disk image changed since the save is noticed.
	Disks map[string]string `json:"disks"`
	// Counters are the ID counters per kind; Seq the creation order.
	Counters     map[string]uint64  `json:"counters"`
	Seq          int64              `json:"seq"`
	Accounts     []savedAccount     `json:"accounts"`
	Instances    []savedInstance    `json:"instances"`
	Volumes      []savedVolume      `json:"volumes"`
	Snapshots    []savedSnapshot    `json:"snapshots"`
	Keys         []savedKey         `json:"keys"`
	Aliases      []savedAlias       `json:"aliases"`
	Grants       []savedGrant       `json:"grants"`
	Sessions     []savedSession     `json:"sessions"`
	ClientTokens []savedClientToken `json:"clientTokens"`
}

type savedAccount struct {
	ID                  string   `json:"id"`
	EncryptionByDefault []string `json:"encryptionByDefault,omitempty"` // regions
}

// savedInstance holds what can change on a scenario instance.
type savedInstance struct {
	ID       string            `json:"id"`
	Launched time.Time         `json:"launched"`
	Tags     map[string]string `json:"tags,omitempty"`
	Devices  []string          `json:"devices,omitempty"` // volume IDs in attachment order
}

// savedDisk names a disk's content: the scenario volume it comes from ("" for
// a volume never written) at a size.
type savedDisk struct {
	Volume  string `json:"volume,omitempty"`
	SizeGiB int32  `json:"sizeGiB"`
}

type savedVolume struct {
	Seq        int64             `json:"seq"`
	ID         string            `json:"id"`
	OwnerID    string            `json:"ownerId"`
	Region     string            `json:"region"`
	AZ         string            `json:"availabilityZone"`
	VolumeType string            `json:"volumeType"`
	Iops       int32             `json:"iops,omitempty"`
	Disk       savedDisk         `json:"disk"`
	Encrypted  bool              `json:"encrypted,omitempty"`
	KMSKeyARN  string            `json:"kmsKeyArn,omitempty"`
	SnapshotID string            `json:"snapshotId,omitempty"`
	Created    time.Time         `json:"created"`
	VisibleAt  time.Time         `json:"visibleAt"`
	Tags       map[string]string `json:"tags,omitempty"`
	Attachment *savedAttachment  `json:"attachment,omitempty"`
	Failure    string            `json:"failure,omitempty"`
}

type savedAttachment struct {
	InstanceID          string    `json:"instanceId"`
	Device              string    `json:"device"`
	DeleteOnTermination bool      `json:"deleteOnTermination,omitempty"`
	Attached            time.Time `json:"attached"`
}

type savedSnapshot struct {
	Seq         int64     `json:"seq"`
	ID          string    `json:"id"`
	OwnerID     string    `json:"ownerId"`
	Region      string    `json:"region"`
	VolumeID    string    `json:"volumeId"`
	Description string    `json:"description,omitempty"`
	Disk        savedDisk `json:"disk"`
	SizeGiB     int32     `json:"sizeGiB"`
	Started     time.Time `json:"started"`
	// Completes is when the snapshot completes, or would have had it not
	// failed; FailsAt, when set, is when it ends in state error.
	Completes     time.Time         `json:"completes"`
	FailsAt       *time.Time        `json:"failsAt,omitempty"`
	StatusMessage string            `json:"statusMessage,omitempty"`
	Encrypted     bool              `json:"encrypted,omitempty"`
	KMSKeyARN     string            `json:"kmsKeyArn,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	SharedWith    []string          `json:"sharedWith,omitempty"` // account IDs
	Public        bool              `json:"public,omitempty"`
	Lock          *savedLock        `json:"lock,omitempty"`
	VisibleAt     time.Time         `json:"visibleAt"`
}

type savedLock struct {
	Mode           string    `json:"mode"`
	Created        time.Time `json:"created"`
	DurationStart  time.Time `json:"durationStart"`
	Expires        time.Time `json:"expires"`
	LockDays       int32     `json:"lockDays,omitempty"`
	CoolOffHours   int32     `json:"coolOffHours,omitempty"`
	CoolOffExpires time.Time `json:"coolOffExpires"`
}

// savedKey is a KMS key, from the scenario or created since. A signing key's
// private key is saved with it, so that signatures made before a restart
// still verify after it; the state file is as sensitive as such a key.
type savedKey struct {
	Seq           int64      `json:"seq"`
	ID            string     `json:"id"`
	AccountID     string     `json:"accountId"`
	Region        string     `json:"region"`
	Description   string     `json:"description,omitempty"`
	Usage         string     `json:"usage"`
	Spec          string     `json:"spec"`
	AWSManaged    bool       `json:"awsManaged,omitempty"`
	Created       time.Time  `json:"created"`
	Enabled       bool       `json:"enabled"`
	PendingDays   int32      `json:"pendingDays,omitempty"`
	DeletionDate  *time.Time `json:"deletionDate,omitempty"`
	Policy        string     `json:"policy"`
	PrivateKeyPEM string     `json:"privateKeyPem,omitempty"`
}

type savedAlias struct {
	AccountID string    `json:"accountId"`
	Region    string    `json:"region"`
	Name      string    `json:"name"`
	KeyID     string    `json:"keyId"`
	Created   time.Time `json:"created"`
}

type savedGrant struct {
	Seq               int64     `json:"seq"`
	ID                string    `json:"id"`
	Token             string    `json:"token"`
	KeyID             string    `json:"keyId"`
	Name              string    `json:"name,omitempty"`
	Grantee           string    `json:"grantee"`
	RetiringPrincipal string    `json:"retiringPrincipal,omitempty"`
	Operations        []string  `json:"operations"`
	IssuingAccount    string    `json:"issuingAccount"`
	Created           time.Time `json:"created"`
}

// savedSession is an AssumeRole session. Its keys and token are not saved:
// they derive from the scenario's seed, the session number and the expiry.
type savedSession struct {
	Number    uint64    `json:"number"`
	AccountID string    `json:"accountId"`
	Role      string    `json:"role"`
	Name      string    `json:"name"`
	Expires   time.Time `json:"expires"`
}

// savedClientToken remembers an idempotent request (CreateVolume).
type savedClientToken struct {
	Key         string `json:"key"`
	Fingerprint string `json:"fingerprint"`
	ResourceID  string `json:"resourceId"`
}

// StateSummary counts what a restored state brought back beyond the
// scenario.
type StateSummary struct {
	SavedAt   time.Time
	Snapshots int // snapshots and copies
	Volumes   int // volumes created by CreateVolume
	Keys      int // customer managed keys created by CreateKey
	Grants    int
	Sessions  int // AssumeRole sessions still valid
}

// String reads "4 snapshots, 1 key", naming only what there is.
func (s StateSummary) String() string {
	var parts []string
	for _, c := range []struct {
		n    int
		noun string
	}{{s.Snapshots, "snapshot"}, {s.Volumes, "volume"}, {s.Keys, "key"}, {s.Grants, "grant"}, {s.Sessions, "session"}} {
		switch {
		case c.n == 1:
			parts = append(parts, "1 "+c.noun)
		case c.n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", c.n, c.noun))
		}
	}
	if len(parts) == 0 {
		return "no resources"
	}
	return strings.Join(parts, ", ")
}

// RestoredState reports what Options.State brought back; ok is false when
// the server started from the scenario alone.
func (s *Server) RestoredState() (summary StateSummary, ok bool) {
	if s.restored == nil {
		return StateSummary{}, false
	}
	return *s.restored, true
}

// stateDigest identifies the scenario a saved state belongs to: the SHA-256
// of its JSON encoding, which ignores layout and key order. Faults are left
// out: they are no state, and a rehearsal may change them between restarts.
func (sc *Scenario) stateDigest() (string, error) {
	c := *sc
	c.Faults = Faults{}
	data, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("scenario digest: %w", err)
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// computeDiskDigests digests every scenario volume's content. Disks do not
// change once loaded, so this needs no lock and is done once.
func (s *Server) computeDiskDigests() map[string]string {
	out := make(map[string]string, len(s.scenarioDisks))
	for id, d := range s.scenarioDisks {
		out[id] = d.contentDigest()
	}
	return out
}

// contentDigest identifies a disk's content by its size and its blocks'
// indexes and checksums, computed when the disk was opened.
func (d *disk) contentDigest() string {
	h := sha256.New()
	fmt.Fprintf(h, "size %d GiB\n", d.sizeGiB)
	for _, b := range d.blocks {
		fmt.Fprintf(h, "%d %s\n", b.index, b.checksum)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
