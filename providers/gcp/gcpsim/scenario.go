package gcpsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Scenario is the starting state of the simulated Google Cloud: projects
// with their service accounts, IAM bindings, KMS keys, org policy, disks,
// instances, images and buckets. It is written as JSON (README.md documents
// every field); a cloud-range file wraps it as {"gcp": {...}}. Paths are
// relative to the scenario file.
type Scenario struct {
	// Seed makes resource IDs and operation names reproducible.
	Seed int64 `json:"seed,omitempty"`
	// SnapshotBytesPerSecond paces snapshot creation: a disk holding N bytes
	// of data takes N / rate. Zero means DefaultSnapshotBytesPerSecond;
	// negative means at once.
	SnapshotBytesPerSecond int64             `json:"snapshotBytesPerSecond,omitempty"`
	Projects               []ScenarioProject `json:"projects"`
	// Users are Google accounts that sign in with gcloud auth application-default login: the
	// simulator grants each a refresh token, written into an authorized_user file by UserFile.
	Users  []ScenarioUser `json:"users,omitempty"`
	Faults Faults         `json:"faults,omitempty"`
	// WorkerTimeout bounds how long a startup script may run (default
	// DefaultWorkerTimeout); the instance is then stopped.
	WorkerTimeout Duration `json:"workerTimeout,omitempty"`

	baseDir string
}

// ScenarioProject is one Google Cloud project.
type ScenarioProject struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
	// Zones the project can use; default: the zones its resources name,
	// plus us-central1-a, -b, -c and -f.
	Zones           []string                 `json:"zones,omitempty"`
	ServiceAccounts []ScenarioServiceAccount `json:"serviceAccounts,omitempty"`
	// IAM is the project's policy: members and what they may do here.
	IAM       []ScenarioBinding  `json:"iam,omitempty"`
	OrgPolicy *ScenarioOrgPolicy `json:"orgPolicy,omitempty"`
	KMSKeys   []ScenarioKMSKey   `json:"kmsKeys,omitempty"`
	// Metadata is the project-wide metadata (commonInstanceMetadata).
	Metadata  map[string]string  `json:"metadata,omitempty"`
	Disks     []ScenarioDisk     `json:"disks,omitempty"`
	Instances []ScenarioInstance `json:"instances,omitempty"`
	Images    []ScenarioImage    `json:"images,omitempty"`
	Buckets   []string           `json:"buckets,omitempty"`
}

// ScenarioServiceAccount is a service account of the project. cloudsim
// writes a key file for each (its RSA key is generated at first start, or
// fixed by PrivateKeyPEM).
type ScenarioServiceAccount struct {
	// Email is NAME@PROJECT.iam.gserviceaccount.com.
	Email       string `json:"email"`
	DisplayName string `json:"displayName,omitempty"`
	// TokenCreators may mint access tokens for this account
	// (iamcredentials generateAccessToken, i.e. impersonation): members such
	// as "serviceAccount:a@p.iam.gserviceaccount.com".
	TokenCreators []string `json:"tokenCreators,omitempty"`
	PrivateKeyPEM string   `json:"privateKeyPem,omitempty"`
}

// ScenarioUser is a Google account (user:EMAIL in IAM bindings).
type ScenarioUser struct {
	Email string `json:"email"`
	// Scopes its refresh token grants; default what gcloud auth application-default login asks
	// for: openid, userinfo.email and cloud-platform.
	Scopes []string `json:"scopes,omitempty"`
}

// ScenarioBinding grants a member roles (from the table in roles.go) and
// single permissions (patterns such as "compute.snapshots.*") in a project.
type ScenarioBinding struct {
	Member      string   `json:"member"`
	Roles       []string `json:"roles,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

// ScenarioOrgPolicy holds the organisation policy constraints in force for
// the project.
type ScenarioOrgPolicy struct {
	// StorageResourceUseRestrictions, when set, is the list of projects whose
	// storage resources (disks, snapshots, images) may be used in this
	// project (constraints/compute.storageResourceUseRestrictions); the
	// project itself is always allowed.
	StorageResourceUseRestrictions *AllowedProjects `json:"storageResourceUseRestrictions,omitempty"`
}

// AllowedProjects lists project IDs.
type AllowedProjects struct {
	AllowedProjects []string `json:"allowedProjects"`
}

// ScenarioKMSKey is a Cloud KMS key held in the project, with the members
// that hold roles/cloudkms.cryptoKeyEncrypterDecrypter on it.
type ScenarioKMSKey struct {
	// Name is projects/P/locations/L/keyRings/R/cryptoKeys/K.
	Name                string   `json:"name"`
	EncrypterDecrypters []string `json:"encrypterDecrypters,omitempty"`
}

// ScenarioDisk is a persistent disk. Its content is Image (a raw, usually
// sparse, disk image), Synthetic blocks, or nothing (zeros).
type ScenarioDisk struct {
	Name       string            `json:"name"`
	Zone       string            `json:"zone"`
	SizeGb     int64             `json:"sizeGb,omitempty"`
	Type       string            `json:"type,omitempty"` // pd-balanced (default), pd-ssd, ...
	Image      string            `json:"image,omitempty"`
	Synthetic  *SyntheticContent `json:"synthetic,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	KMSKeyName string            `json:"kmsKeyName,omitempty"`
}

// SyntheticContent fills the listed 512 KiB blocks with pseudo-random bytes
// drawn from Seed.
type SyntheticContent struct {
	Blocks []int64 `json:"blocks"`
	Seed   uint64  `json:"seed,omitempty"`
}

// ScenarioInstance is a VM with its disks. Its startup script is metadata
// like any other: the simulator never runs a scenario instance's scripts.
type ScenarioInstance struct {
	Name              string                     `json:"name"`
	Zone              string                     `json:"zone"`
	MachineType       string                     `json:"machineType,omitempty"`
	Status            string                     `json:"status,omitempty"` // RUNNING (default) | TERMINATED
	Labels            map[string]string          `json:"labels,omitempty"`
	Metadata          map[string]string          `json:"metadata,omitempty"`
	Tags              []string                   `json:"tags,omitempty"`
	ServiceAccount    *ScenarioInstanceAccount   `json:"serviceAccount,omitempty"`
	NetworkInterfaces []ScenarioNetworkInterface `json:"networkInterfaces,omitempty"`
	Disks             []ScenarioAttachedDisk     `json:"disks"`
	// LocalSSDs is the number of local SSDs attached after the disks: 375 GB each, NVMe, no source
	// disk, deleted with the VM (https://cloud.google.com/compute/docs/disks/local-ssd).
	LocalSSDs int `json:"localSsds,omitempty"`
}

// ScenarioInstanceAccount is the service account a VM runs as.
type ScenarioInstanceAccount struct {
	Email  string   `json:"email"`
	Scopes []string `json:"scopes,omitempty"`
}

// ScenarioNetworkInterface is a VM's NIC.
type ScenarioNetworkInterface struct {
	Network    string `json:"network,omitempty"`
	Subnetwork string `json:"subnetwork,omitempty"`
	NetworkIP  string `json:"networkIP,omitempty"`
	// ExternalIP, when set, is the NAT IP of a ONE_TO_ONE_NAT access config.
	ExternalIP string `json:"externalIP,omitempty"`
}

// ScenarioAttachedDisk attaches a disk of the same project and zone.
type ScenarioAttachedDisk struct {
	Disk       string `json:"disk"`
	DeviceName string `json:"deviceName,omitempty"` // default: the disk name
	Boot       bool   `json:"boot,omitempty"`
	Mode       string `json:"mode,omitempty"` // READ_WRITE (default) | READ_ONLY
	AutoDelete bool   `json:"autoDelete,omitempty"`
}

// ScenarioImage is a custom image made from a disk or a snapshot of the
// project. Public images grant roles/compute.imageUser to allAuthenticatedUsers.
type ScenarioImage struct {
	Name           string            `json:"name"`
	SourceDisk     string            `json:"sourceDisk,omitempty"`     // zones/Z/disks/D
	SourceSnapshot string            `json:"sourceSnapshot,omitempty"` // global/snapshots/S
	Public         bool              `json:"public,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
}

// LoadScenario reads a scenario file. If the file is a cloud-range scenario
// (an object with a "gcp" member), the "gcp" member is used.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var wrapper struct {
		GCP json.RawMessage `json:"gcp"`
	}
	if err := json.Unmarshal(data, &wrapper); err == nil && len(wrapper.GCP) > 0 {
		data = wrapper.GCP
	}
	return ParseScenario(data, filepath.Dir(path))
}

// ParseScenario decodes a scenario; baseDir resolves relative image paths.
// Unknown fields are errors.
func ParseScenario(data []byte, baseDir string) (*Scenario, error) {
	var sc Scenario
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Errorf("gcp scenario: %w", err)
	}
	sc.baseDir = baseDir
	return &sc, nil
}

// Duration is a time.Duration written in JSON as a Go duration string.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string ("250ms").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: write it as a string such as \"250ms\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
