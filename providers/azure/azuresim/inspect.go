package azuresim

import (
	"maps"
	"sort"
	"time"
)

// The inspection API lets a test look at the simulator's state directly,
// without going through the protocol under test.

// SnapshotInfo is a snapshot as the simulator sees it now.
type SnapshotInfo struct {
	ID, Subscription, ResourceGroup, Name, Location string
	SourceID                                        string
	Incremental                                     bool
	ProvisioningState                               string
	CompletionPercent                               float32
	DiskEncryptionSetID                             string
	Tags                                            map[string]string
	Created                                         time.Time
}

// Snapshots lists every snapshot, in creation order; with a subscription
// ID, that subscription's only.
func (s *Server) Snapshots(subscriptionID string) []SnapshotInfo {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SnapshotInfo
	for _, sn := range s.sortedSnapshots() {
		if subscriptionID != "" && key(sn.subscription) != key(subscriptionID) {
			continue
		}
		out = append(out, SnapshotInfo{ID: sn.id, Subscription: sn.subscription, ResourceGroup: sn.resourceGroup, Name: sn.name,
			Location: sn.location, SourceID: sn.sourceID, Incremental: sn.incremental, ProvisioningState: sn.provisioningState(now),
			CompletionPercent: sn.completionPercent(now), DiskEncryptionSetID: sn.desID, Tags: maps.Clone(sn.tags), Created: sn.created})
	}
	return out
}

// GrantInfo is a SAS handed out by beginGetAccess and not yet ended.
type GrantInfo struct {
	ID, ResourceID string
	Expires        time.Time
}

// OpenGrants lists the SAS still valid now.
func (s *Server) OpenGrants() []GrantInfo {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []GrantInfo
	for _, g := range s.st.grants {
		if g.active(now) {
			out = append(out, GrantInfo{ID: g.id, ResourceID: g.resourceID, Expires: g.expires})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// LockInfo is a management lock.
type LockInfo struct {
	ID, Scope, Level, Notes string
}

// Locks lists every management lock.
func (s *Server) Locks() []LockInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LockInfo
	for _, l := range s.sortedLocks() {
		out = append(out, LockInfo{ID: l.id, Scope: l.scope, Level: l.level, Notes: l.notes})
	}
	return out
}

// RestorePointInfo is a VM restore point and its disk restore points.
type RestorePointInfo struct {
	ID, VMID, ConsistencyMode, ProvisioningState string
	DiskRestorePoints                            []string
}

// RestorePoints lists every VM restore point.
func (s *Server) RestorePoints() []RestorePointInfo {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RestorePointInfo
	for _, rp := range s.st.rps {
		out = append(out, RestorePointInfo{ID: rp.id, VMID: rp.sourceVM, ConsistencyMode: rp.consistencyMode, ProvisioningState: rp.provisioningState(now),
			DiskRestorePoints: append([]string(nil), rp.diskPoints...)})
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i].ID) < key(out[j].ID) })
	return out
}

// RestorePointCollectionInfo is a restore point collection.
type RestorePointCollectionInfo struct {
	ID, SourceVM string
	Tags         map[string]string
}

// RestorePointCollections lists every restore point collection.
func (s *Server) RestorePointCollections() []RestorePointCollectionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RestorePointCollectionInfo
	for _, rpc := range s.st.rpcs {
		out = append(out, RestorePointCollectionInfo{ID: rpc.id, SourceVM: rpc.sourceVM, Tags: maps.Clone(rpc.tags)})
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i].ID) < key(out[j].ID) })
	return out
}

// DiskInfo is a managed disk as the simulator sees it now.
type DiskInfo struct {
	ID, Subscription, ResourceGroup, Name, Location string
	CreateOption, SourceID                          string // "" for a scenario disk
	ProvisioningState                               string
	Tags                                            map[string]string
}

// Disks lists every disk, by ID; with a subscription ID, that
// subscription's only.
func (s *Server) Disks(subscriptionID string) []DiskInfo {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DiskInfo
	for _, d := range s.st.disks {
		if subscriptionID != "" && key(d.subscription) != key(subscriptionID) {
			continue
		}
		out = append(out, DiskInfo{ID: d.id, Subscription: d.subscription, ResourceGroup: d.resourceGroup, Name: d.name, Location: d.location,
			CreateOption: d.createOption, SourceID: d.sourceID, ProvisioningState: d.provisioningState(now), Tags: maps.Clone(d.tags)})
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i].ID) < key(out[j].ID) })
	return out
}

// CallCounts counts authenticated calls by operation ID
// ("Snapshots_CreateOrUpdate", "Blob_Download", "Token").
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.st.calls)
}

// PrincipalInfo is a service principal, without its secret.
type PrincipalInfo struct {
	TenantID, Name, ClientID, ObjectID string
	HasSecret, HasCertificate          bool
}

// SubscriptionInfo is a subscription.
type SubscriptionInfo struct {
	ID, Name, TenantID string
}

// Tenants lists the tenants' service principals.
func (s *Server) Principals() []PrincipalInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PrincipalInfo
	for _, p := range s.st.principals {
		out = append(out, PrincipalInfo{TenantID: p.tenantID, Name: p.name, ClientID: p.clientID, ObjectID: p.objectID,
			HasSecret: p.secret != "", HasCertificate: p.cert != nil})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Subscriptions lists the subscriptions.
func (s *Server) Subscriptions() []SubscriptionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SubscriptionInfo
	for _, sub := range s.sortedSubscriptions() {
		out = append(out, SubscriptionInfo{ID: sub.id, Name: sub.name, TenantID: sub.tenantID})
	}
	return out
}

// ClientSecret is a principal's secret, for writing client configuration
// files (never for display).
func (s *Server) ClientSecret(clientID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.st.principals[clientID]; p != nil {
		return p.secret
	}
	return ""
}
