package azuresim

import (
	"crypto/x509"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// state is everything the simulator knows. Maps are keyed by key(id), the
// case-folded resource ID. Guarded by Server.mu.
type state struct {
	tenants       map[string]*tenant
	principals    map[string]*principal // by client ID (lower case)
	subscriptions map[string]*subscription
	roles         map[string]*roleDefinition // by lower-case name
	assignments   []*roleAssignment

	groups     map[string]*resourceGroup
	disks      map[string]*disk
	desets     map[string]*diskEncryptionSet
	nics       map[string]*armnetwork.Interface
	nsgs       map[string]*armnetwork.SecurityGroup
	identities map[string]*userIdentity
	vms        map[string]*virtualMachine
	snapshots  map[string]*snapshot
	rpcs       map[string]*restorePointCollection
	rps        map[string]*restorePoint
	drps       map[string]*diskRestorePoint
	locks      map[string]*lock
	grants     map[string]*accessGrant // by grant ID (the SAS's si)
	operations map[string]*operation   // by operation ID

	calls map[string]int // by operation name
	seq   int64          // creation order
}

func newState() *state {
	return &state{
		tenants: map[string]*tenant{}, principals: map[string]*principal{}, subscriptions: map[string]*subscription{},
		roles: map[string]*roleDefinition{}, groups: map[string]*resourceGroup{}, disks: map[string]*disk{},
		desets: map[string]*diskEncryptionSet{}, nics: map[string]*armnetwork.Interface{},
		nsgs: map[string]*armnetwork.SecurityGroup{}, identities: map[string]*userIdentity{},
		vms: map[string]*virtualMachine{}, snapshots: map[string]*snapshot{}, rpcs: map[string]*restorePointCollection{},
		rps: map[string]*restorePoint{}, drps: map[string]*diskRestorePoint{}, locks: map[string]*lock{},
		grants: map[string]*accessGrant{}, operations: map[string]*operation{}, calls: map[string]int{},
	}
}

type tenant struct {
	id, name string
}

// principal is a service principal, or a managed identity (which cannot
// sign in here).
type principal struct {
	tenantID, name, clientID, objectID string
	secret                             string
	cert                               *x509.Certificate
	thumbprint                         string // hex SHA-1 of the certificate, upper case
}

type subscription struct {
	id, name, tenantID string
}

type roleDefinition struct {
	name                                             string
	actions, notActions, dataActions, notDataActions []string
}

type roleAssignment struct {
	principalObjectID string
	scope             string // resource ID of the scope
	role              *roleDefinition
}

type resourceGroup struct {
	id, subscription, name, location string
	tags                             map[string]string
}

// resourceBase holds what every tracked resource has.
type resourceBase struct {
	id, subscription, resourceGroup, name, location string
	tags                                            map[string]string
}

type disk struct {
	resourceBase
	uniqueID            string
	sizeGiB             int32
	sku                 string
	osType              string
	zones               []string
	content             *content
	desID               string // disk encryption set; "" = platform-managed key
	dataAccessAuthMode  string
	networkAccessPolicy string
	managedBy           string // VM ID
	created             time.Time
	// A disk a client created: how (createOption Restore), from what, and
	// when its data is in place. A scenario disk has none of these.
	createOption string
	sourceID     string
	completes    time.Time
	failed       bool // ends in provisioningState Failed
}

// provisioningState is Creating until the disk's data is in place (or
// Failed), then Succeeded.
func (d *disk) provisioningState(now time.Time) string {
	switch {
	case now.Before(d.completes):
		return "Creating"
	case d.failed:
		return "Failed"
	}
	return "Succeeded"
}

type diskEncryptionSet struct {
	resourceBase
	keyURL, sourceVault, encryptionType string
	principalID, tenantID               string
}

type userIdentity struct {
	resourceBase
	clientID, principalID string
}

type virtualMachine struct {
	resourceBase
	vmID                string
	vmSize              string
	zones               []string
	computerName        string
	adminUsername       string
	powerState          string
	osDisk              string // disk ID
	dataDisks           []dataDiskRef
	nics                []string // NIC IDs
	identityType        string
	systemPrincipalID   string
	userIdentities      []string // identity IDs
	userData            string   // plain text
	created             time.Time
	lastCrashConsistent time.Time // last crash-consistent restore point
}

type dataDiskRef struct {
	diskID string
	lun    int32
	// An unmanaged data disk is a page blob the VM names by URI, with no
	// disk resource: vhdName and vhdURI, and no diskID.
	vhdName, vhdURI string
}

// snapshot is a managed snapshot: a full or incremental copy of a disk or
// of another snapshot, made now or copied across regions (CopyStart).
type snapshot struct {
	resourceBase
	seq                 int64
	uniqueID            string
	sourceID            string // the disk or snapshot it was made from
	sourceUID           string // its uniqueId
	family              string // key(ID) of the disk the lineage starts from
	content             *content
	sizeGiB             int32
	incremental         bool
	copyStart           bool // a cross-region copy that completes in the background
	sku                 string
	osType              string
	desID               string
	dataAccessAuthMode  string
	networkAccessPolicy string
	created             time.Time
	completes           time.Time // creation (or background copy) ends
	failed              bool      // ends in provisioningState Failed
	// slowCopy: Premium SSD v2 and Ultra snapshots fill in the background
	// (completionPercent) like CopyStart copies.
	slowCopy bool
}

// provisioningState is Creating until the snapshot is made (or Failed),
// then Succeeded; CopyStart and slow copies succeed at once and report
// completionPercent instead.
func (s *snapshot) provisioningState(now time.Time) string {
	if s.copyStart || s.slowCopy {
		if s.failed && !now.Before(s.completes) {
			return "Failed"
		}
		return "Succeeded"
	}
	switch {
	case now.Before(s.completes):
		return "Creating"
	case s.failed:
		return "Failed"
	}
	return "Succeeded"
}

// completionPercent is the share of the background copy done.
func (s *snapshot) completionPercent(now time.Time) float32 {
	total := s.completes.Sub(s.created)
	if total <= 0 || !now.Before(s.completes) {
		return 100
	}
	return float32(100 * float64(now.Sub(s.created)) / float64(total))
}

type restorePointCollection struct {
	resourceBase
	sourceVM string
	created  time.Time
}

type restorePoint struct {
	collection      string // RPC ID
	id, name        string
	consistencyMode string
	sourceVM        string
	created         time.Time
	completes       time.Time
	diskPoints      []string // disk restore point IDs
	failed          bool     // ends in provisioningState Failed
}

// provisioningState is Creating until the disk restore points are made (or
// Failed), then Succeeded.
func (rp *restorePoint) provisioningState(now time.Time) string {
	switch {
	case now.Before(rp.completes):
		return "Creating"
	case rp.failed:
		return "Failed"
	}
	return "Succeeded"
}

// diskRestorePoint is one disk's data in a VM restore point.
type diskRestorePoint struct {
	id, name            string
	restorePoint        string
	sourceDisk          string
	sourceUID           string
	family              string
	content             *content
	sizeGiB             int32
	sku                 string
	osType              string
	desID               string
	dataAccessAuthMode  string
	networkAccessPolicy string
	created             time.Time
}

// lock is a management lock on a scope.
type lock struct {
	id, scope, name, level, notes string
}

// accessGrant is a read SAS handed out by beginGetAccess: the stored
// access policy its si names. It ends at expiry or at endGetAccess.
type accessGrant struct {
	id           string // si
	resourceID   string
	family       string
	container    string
	expires      time.Time
	revoked      bool
	content      *content
	aadOnly      bool   // dataAccessAuthMode AzureActiveDirectory: a bearer token is needed too
	resourceKind string // disks | snapshots | diskRestorePoints: names the data action
}

func (g *accessGrant) active(now time.Time) bool { return !g.revoked && now.Before(g.expires) }

// operation is a long-running operation as ARM reports it: an
// Azure-AsyncOperation status document and a Location monitor.
// https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/async-api-reference.md
type operation struct {
	id           string
	subscription string
	location     string
	provider     string // DiskOperations | operations
	method       string
	resourceID   string // what the final GET reads
	output       string // resource | accessSAS | none
	grantID      string
	started      time.Time
	ends         time.Time
	failure      *armError // ends Failed with this error
}
