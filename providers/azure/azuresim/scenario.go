package azuresim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Scenario is the starting state of the simulated Azure: tenants with their
// service principals, subscriptions with role assignments, resource groups,
// disks, disk encryption sets, network interfaces, security groups and
// virtual machines. It is written as JSON (see README.md); image paths are
// relative to the scenario file's directory.
type Scenario struct {
	// Seed makes generated IDs, keys and tokens reproducible.
	Seed int64 `json:"seed,omitempty"`
	// SnapshotBytesPerSecond paces snapshots, copies and restore points: a
	// disk with N bytes of written pages takes N / rate. Zero means
	// DefaultSnapshotBytesPerSecond; negative means at once.
	SnapshotBytesPerSecond int64 `json:"snapshotBytesPerSecond,omitempty"`
	// RetryAfterSeconds is the Retry-After header of running long-running
	// operations. Zero means 1; negative sends "Retry-After: 0", which lets
	// clients poll at their own frequency (tests).
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
	// TokenLifetime is how long an access token is valid; zero means one
	// hour, as Entra ID's default.
	TokenLifetime Duration `json:"tokenLifetime,omitempty"`

	Tenants       []ScenarioTenant       `json:"tenants"`
	Roles         []ScenarioRole         `json:"roles,omitempty"`
	Subscriptions []ScenarioSubscription `json:"subscriptions"`
	Faults        Faults                 `json:"faults,omitempty"`

	baseDir string
}

// ScenarioTenant is a Microsoft Entra tenant and its service principals.
type ScenarioTenant struct {
	ID         string              `json:"id"` // GUID
	Name       string              `json:"name,omitempty"`
	Principals []ScenarioPrincipal `json:"principals,omitempty"`
}

// ScenarioPrincipal is a service principal (an app registration's identity
// in its tenant). It signs in with ClientSecret or with a client assertion
// signed by the private key of CertificatePEM.
type ScenarioPrincipal struct {
	Name         string `json:"name"`
	ClientID     string `json:"clientId"`           // the application (client) ID, a GUID
	ObjectID     string `json:"objectId,omitempty"` // default: derived from the seed
	ClientSecret string `json:"clientSecret,omitempty"`
	// CertificatePEM is the public certificate registered for the
	// application; a client assertion must be signed with its key and name
	// its thumbprint.
	CertificatePEM string `json:"certificatePem,omitempty"`
}

// ScenarioRole is a custom role definition: actions and data actions, with
// the exclusions Azure RBAC allows. Built-in roles (Owner, Contributor,
// Reader, ...) need no definition.
type ScenarioRole struct {
	Name           string   `json:"name"`
	Actions        []string `json:"actions,omitempty"`
	NotActions     []string `json:"notActions,omitempty"`
	DataActions    []string `json:"dataActions,omitempty"`
	NotDataActions []string `json:"notDataActions,omitempty"`
}

// ScenarioSubscription is one subscription of a tenant with its resources.
type ScenarioSubscription struct {
	ID              string                   `json:"id"` // GUID
	Name            string                   `json:"name,omitempty"`
	Tenant          string                   `json:"tenant"`
	RoleAssignments []ScenarioRoleAssignment `json:"roleAssignments,omitempty"`
	ResourceGroups  []ScenarioResourceGroup  `json:"resourceGroups,omitempty"`
}

// ScenarioRoleAssignment gives a principal (by name or client ID) a role at
// a scope: "" is the subscription, "resourceGroups/NAME" a resource group,
// "resourceGroups/NAME/providers/..." one resource.
type ScenarioRoleAssignment struct {
	Principal string `json:"principal"`
	Role      string `json:"role"`
	Scope     string `json:"scope,omitempty"`
}

// ScenarioResourceGroup is a resource group and what it holds.
type ScenarioResourceGroup struct {
	Name                  string                 `json:"name"`
	Location              string                 `json:"location"`
	Tags                  map[string]string      `json:"tags,omitempty"`
	Disks                 []ScenarioDisk         `json:"disks,omitempty"`
	DiskEncryptionSets    []ScenarioDES          `json:"diskEncryptionSets,omitempty"`
	NetworkSecurityGroups []ScenarioNSG          `json:"networkSecurityGroups,omitempty"`
	NetworkInterfaces     []ScenarioNIC          `json:"networkInterfaces,omitempty"`
	VirtualMachines       []ScenarioVM           `json:"virtualMachines,omitempty"`
	Locks                 []ScenarioLock         `json:"locks,omitempty"`
	Identities            []ScenarioUserIdentity `json:"userAssignedIdentities,omitempty"`
}

// ScenarioDisk is a managed disk. Its content is Image (a raw, usually
// sparse, disk image), Synthetic pages, or nothing (all zeros).
type ScenarioDisk struct {
	Name     string `json:"name"`
	Location string `json:"location,omitempty"` // default: the resource group's
	SizeGiB  int32  `json:"sizeGiB,omitempty"`
	// SKU: Standard_LRS, StandardSSD_LRS, Premium_LRS, PremiumV2_LRS,
	// UltraSSD_LRS, ... (default Premium_LRS).
	SKU       string            `json:"sku,omitempty"`
	OSType    string            `json:"osType,omitempty"` // Linux | Windows; empty for data disks
	Zones     []string          `json:"zones,omitempty"`
	Image     string            `json:"image,omitempty"`
	Synthetic *SyntheticContent `json:"synthetic,omitempty"`
	// DiskEncryptionSet names a disk encryption set of the same resource
	// group (or gives its resource ID): the disk is encrypted at rest with
	// its customer-managed key. Empty means platform-managed keys.
	DiskEncryptionSet string `json:"diskEncryptionSet,omitempty"`
	// DataAccessAuthMode: "AzureActiveDirectory" or "" (None).
	DataAccessAuthMode string `json:"dataAccessAuthMode,omitempty"`
	// NetworkAccessPolicy: AllowAll (default), AllowPrivate, DenyAll.
	NetworkAccessPolicy string            `json:"networkAccessPolicy,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
}

// SyntheticContent fills the listed 64 KiB chunks with pseudo-random bytes
// drawn from Seed.
type SyntheticContent struct {
	Chunks []int64 `json:"chunks"`
	Seed   uint64  `json:"seed,omitempty"`
}

// ScenarioDES is a disk encryption set: a customer-managed key in a key
// vault.
type ScenarioDES struct {
	Name           string            `json:"name"`
	Location       string            `json:"location,omitempty"`
	KeyURL         string            `json:"keyUrl"`
	SourceVault    string            `json:"sourceVault,omitempty"`    // key vault resource ID
	EncryptionType string            `json:"encryptionType,omitempty"` // default EncryptionAtRestWithCustomerKey
	Tags           map[string]string `json:"tags,omitempty"`
}

// ScenarioNSG is a network security group.
type ScenarioNSG struct {
	Name     string            `json:"name"`
	Location string            `json:"location,omitempty"`
	Rules    []ScenarioNSGRule `json:"rules,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
}

// ScenarioNSGRule is a security rule.
type ScenarioNSGRule struct {
	Name                     string `json:"name"`
	Priority                 int32  `json:"priority"`
	Direction                string `json:"direction"` // Inbound | Outbound
	Access                   string `json:"access"`    // Allow | Deny
	Protocol                 string `json:"protocol"`  // Tcp | Udp | *
	SourceAddressPrefix      string `json:"sourceAddressPrefix,omitempty"`
	SourcePortRange          string `json:"sourcePortRange,omitempty"`
	DestinationAddressPrefix string `json:"destinationAddressPrefix,omitempty"`
	DestinationPortRange     string `json:"destinationPortRange,omitempty"`
}

// ScenarioNIC is a network interface.
type ScenarioNIC struct {
	Name                 string            `json:"name"`
	Location             string            `json:"location,omitempty"`
	PrivateIPAddress     string            `json:"privateIpAddress,omitempty"`
	PublicIPAddress      string            `json:"publicIpAddress,omitempty"` // shown as a public IP resource ID's name
	Subnet               string            `json:"subnet,omitempty"`          // subnet resource ID
	MACAddress           string            `json:"macAddress,omitempty"`
	NetworkSecurityGroup string            `json:"networkSecurityGroup,omitempty"` // name in the same resource group, or resource ID
	Tags                 map[string]string `json:"tags,omitempty"`
}

// ScenarioUserIdentity is a user-assigned managed identity.
type ScenarioUserIdentity struct {
	Name        string `json:"name"`
	Location    string `json:"location,omitempty"`
	ClientID    string `json:"clientId,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
}

// ScenarioVM is a virtual machine with its disks and network interfaces.
type ScenarioVM struct {
	Name          string   `json:"name"`
	Location      string   `json:"location,omitempty"`
	VMSize        string   `json:"vmSize,omitempty"`
	Zones         []string `json:"zones,omitempty"`
	ComputerName  string   `json:"computerName,omitempty"`
	AdminUsername string   `json:"adminUsername,omitempty"`
	// PowerState: running (default), stopped, deallocated.
	PowerState string             `json:"powerState,omitempty"`
	OSDisk     string             `json:"osDisk"` // a disk of the same resource group
	DataDisks  []ScenarioDataDisk `json:"dataDisks,omitempty"`
	NICs       []string           `json:"networkInterfaces,omitempty"` // NICs of the same resource group
	// Identity: "SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned" or "".
	Identity               string   `json:"identity,omitempty"`
	UserAssignedIdentities []string `json:"userAssignedIdentities,omitempty"` // names in the same resource group
	// UserData is plain text, served base64 with $expand=userData.
	UserData string            `json:"userData,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
}

// ScenarioDataDisk attaches a disk at a LUN. With VHD, it is an unmanaged
// data disk named Disk: a page blob at that URI, which no disk resource
// stands for (a managed disk snapshot cannot copy it).
// https://learn.microsoft.com/rest/api/compute/virtual-machines/get#datadisk
type ScenarioDataDisk struct {
	Disk string `json:"disk"`
	LUN  int32  `json:"lun"`
	VHD  string `json:"vhd,omitempty"`
}

// ScenarioLock is a management lock on the resource group or, with
// Resource ("disks/NAME", "virtualMachines/NAME"), on one resource of it.
type ScenarioLock struct {
	Name     string `json:"name"`
	Level    string `json:"level"` // CanNotDelete | ReadOnly
	Resource string `json:"resource,omitempty"`
	Notes    string `json:"notes,omitempty"`
}

// LoadScenario reads a scenario file. If the file is a cloud-range scenario
// (an object with an "azure" member), that member is used.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var wrapper map[string]json.RawMessage
	if err := json.Unmarshal(data, &wrapper); err == nil {
		if raw, ok := wrapper["azure"]; ok {
			data = raw
		}
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
		return nil, fmt.Errorf("azure scenario: %w", err)
	}
	sc.baseDir = baseDir
	return &sc, nil
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("250ms", "2s").
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string.
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
