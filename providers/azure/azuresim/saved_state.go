package azuresim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"time"
)

// A saved state is what clients created or changed since the scenario was
// loaded: snapshots, restore points, locks, resource groups, SAS grants,
// running operations, the ID counters. It holds no disk data: content is
// named by the scenario disk it comes from, whose digest is checked. Times
// are absolute, so that copies, SAS lifetimes and operations carry on by
// the clock across a restart.

// ErrStateRefused wraps every reason New refuses Options.State.
var ErrStateRefused = errors.New("saved Azure state refused")

const (
	stateFormat  = "azuresim-state"
	stateVersion = 1
)

type savedState struct {
	Format     string            `json:"format"`
	Version    int               `json:"version"`
	Scenario   string            `json:"scenario"`
	SavedAt    time.Time         `json:"savedAt"`
	Disks      map[string]string `json:"disks"` // scenario disk -> content digest
	Counters   map[string]uint64 `json:"counters"`
	Seq        int64             `json:"seq"`
	Groups     []savedGroup      `json:"resourceGroups"`
	VMs        []savedVM         `json:"virtualMachines"`
	Snapshots  []savedSnapshot   `json:"snapshots"`
	Restored   []savedDisk       `json:"restoredDisks,omitempty"`
	RPCs       []savedRPC        `json:"restorePointCollections"`
	RPs        []savedRP         `json:"restorePoints"`
	Locks      []savedLock       `json:"locks"`
	Grants     []savedGrant      `json:"grants"`
	Operations []savedOperation  `json:"operations"`
}

type savedGroup struct {
	ID       string            `json:"id"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags,omitempty"`
}

type savedVM struct {
	ID                  string    `json:"id"`
	LastCrashConsistent time.Time `json:"lastCrashConsistent"`
}

type savedSnapshot struct {
	Seq                 int64             `json:"seq"`
	ID                  string            `json:"id"`
	Location            string            `json:"location"`
	Tags                map[string]string `json:"tags,omitempty"`
	UniqueID            string            `json:"uniqueId"`
	SourceID            string            `json:"sourceId"`
	SourceUID           string            `json:"sourceUniqueId"`
	Family              string            `json:"family"`
	Content             string            `json:"content"` // scenario disk
	SizeGiB             int32             `json:"sizeGiB"`
	Incremental         bool              `json:"incremental,omitempty"`
	CopyStart           bool              `json:"copyStart,omitempty"`
	SlowCopy            bool              `json:"slowCopy,omitempty"`
	SKU                 string            `json:"sku"`
	OSType              string            `json:"osType,omitempty"`
	DESID               string            `json:"diskEncryptionSetId,omitempty"`
	DataAccessAuthMode  string            `json:"dataAccessAuthMode,omitempty"`
	NetworkAccessPolicy string            `json:"networkAccessPolicy"`
	Created             time.Time         `json:"created"`
	Completes           time.Time         `json:"completes"`
	Failed              bool              `json:"failed,omitempty"`
}

// savedDisk is a disk a client made from a disk restore point.
type savedDisk struct {
	ID                  string            `json:"id"`
	Location            string            `json:"location"`
	Tags                map[string]string `json:"tags,omitempty"`
	UniqueID            string            `json:"uniqueId"`
	SourceID            string            `json:"sourceId"`
	Content             string            `json:"content"` // scenario disk
	SizeGiB             int32             `json:"sizeGiB"`
	SKU                 string            `json:"sku"`
	OSType              string            `json:"osType,omitempty"`
	DESID               string            `json:"diskEncryptionSetId,omitempty"`
	DataAccessAuthMode  string            `json:"dataAccessAuthMode,omitempty"`
	NetworkAccessPolicy string            `json:"networkAccessPolicy"`
	Created             time.Time         `json:"created"`
	Completes           time.Time         `json:"completes"`
	Failed              bool              `json:"failed,omitempty"`
}

type savedRPC struct {
	ID       string            `json:"id"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags,omitempty"`
	SourceVM string            `json:"sourceVm"`
	Created  time.Time         `json:"created"`
}

type savedRP struct {
	ID              string     `json:"id"`
	Collection      string     `json:"collection"`
	ConsistencyMode string     `json:"consistencyMode"`
	SourceVM        string     `json:"sourceVm"`
	Created         time.Time  `json:"created"`
	Completes       time.Time  `json:"completes"`
	Failed          bool       `json:"failed,omitempty"`
	Disks           []savedDRP `json:"diskRestorePoints"`
}

type savedDRP struct {
	ID         string `json:"id"`
	SourceDisk string `json:"sourceDisk"`
}

type savedLock struct {
	ID    string `json:"id"`
	Scope string `json:"scope"`
	Level string `json:"level"`
	Notes string `json:"notes,omitempty"`
}

type savedGrant struct {
	ID         string    `json:"id"`
	ResourceID string    `json:"resourceId"`
	Kind       string    `json:"kind"`
	Family     string    `json:"family"`
	Content    string    `json:"content"`
	Container  string    `json:"container"`
	Expires    time.Time `json:"expires"`
	Revoked    bool      `json:"revoked,omitempty"`
	AADOnly    bool      `json:"aadOnly,omitempty"`
}

type savedOperation struct {
	ID           string    `json:"id"`
	Subscription string    `json:"subscription"`
	Location     string    `json:"location"`
	Provider     string    `json:"provider"`
	Method       string    `json:"method"`
	ResourceID   string    `json:"resourceId"`
	Output       string    `json:"output"`
	GrantID      string    `json:"grantId,omitempty"`
	Started      time.Time `json:"started"`
	Ends         time.Time `json:"ends"`
	FailureCode  string    `json:"failureCode,omitempty"`
	FailureMsg   string    `json:"failureMessage,omitempty"`
	FailureHTTP  int       `json:"failureStatus,omitempty"`
}

// StateSummary counts what a restored state brought back beyond the
// scenario.
type StateSummary struct {
	SavedAt       time.Time
	Snapshots     int
	RestorePoints int
	Locks         int
	Grants        int // SAS still active
}

func (s StateSummary) String() string {
	var parts []string
	for _, c := range []struct {
		n    int
		noun string
	}{{s.Snapshots, "snapshot"}, {s.RestorePoints, "restore point"}, {s.Locks, "lock"}, {s.Grants, "active SAS"}} {
		switch {
		case c.n == 1:
			parts = append(parts, "1 "+c.noun)
		case c.n > 1 && c.noun == "active SAS":
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.noun))
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
func (s *Server) RestoredState() (StateSummary, bool) {
	if s.restored == nil {
		return StateSummary{}, false
	}
	return *s.restored, true
}

// stateDigest identifies the scenario a state belongs to; faults are left
// out, so that a rehearsal may change them between restarts.
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

// SaveState writes what clients created or changed.
func (s *Server) SaveState(w io.Writer) error {
	s.mu.Lock()
	st := s.st
	doc := savedState{Format: stateFormat, Version: stateVersion, Scenario: s.scenarioDigest, SavedAt: s.now().UTC(),
		Disks: map[string]string{}, Counters: s.ids.snapshotCounters(), Seq: st.seq}
	for k, c := range s.scenarioContent {
		doc.Disks[k] = c.digest
	}
	for _, g := range st.groups {
		doc.Groups = append(doc.Groups, savedGroup{ID: g.id, Location: g.location, Tags: g.tags})
	}
	for _, vm := range st.vms {
		if !vm.lastCrashConsistent.IsZero() {
			doc.VMs = append(doc.VMs, savedVM{ID: vm.id, LastCrashConsistent: vm.lastCrashConsistent})
		}
	}
	for _, sn := range s.sortedSnapshots() {
		doc.Snapshots = append(doc.Snapshots, savedSnapshot{Seq: sn.seq, ID: sn.id, Location: sn.location, Tags: sn.tags, UniqueID: sn.uniqueID,
			SourceID: sn.sourceID, SourceUID: sn.sourceUID, Family: sn.family, Content: sn.content.origin, SizeGiB: sn.sizeGiB,
			Incremental: sn.incremental, CopyStart: sn.copyStart, SlowCopy: sn.slowCopy, SKU: sn.sku, OSType: sn.osType, DESID: sn.desID,
			DataAccessAuthMode: sn.dataAccessAuthMode, NetworkAccessPolicy: sn.networkAccessPolicy, Created: sn.created, Completes: sn.completes, Failed: sn.failed})
	}
	for _, d := range st.disks {
		if d.createOption != "" {
			doc.Restored = append(doc.Restored, savedDisk{ID: d.id, Location: d.location, Tags: d.tags, UniqueID: d.uniqueID, SourceID: d.sourceID,
				Content: d.content.origin, SizeGiB: d.sizeGiB, SKU: d.sku, OSType: d.osType, DESID: d.desID, DataAccessAuthMode: d.dataAccessAuthMode,
				NetworkAccessPolicy: d.networkAccessPolicy, Created: d.created, Completes: d.completes, Failed: d.failed})
		}
	}
	for _, rpc := range st.rpcs {
		doc.RPCs = append(doc.RPCs, savedRPC{ID: rpc.id, Location: rpc.location, Tags: rpc.tags, SourceVM: rpc.sourceVM, Created: rpc.created})
	}
	for _, rp := range st.rps {
		srp := savedRP{ID: rp.id, Collection: rp.collection, ConsistencyMode: rp.consistencyMode, SourceVM: rp.sourceVM, Created: rp.created, Completes: rp.completes, Failed: rp.failed}
		for _, d := range rp.diskPoints {
			srp.Disks = append(srp.Disks, savedDRP{ID: d, SourceDisk: st.drps[key(d)].sourceDisk})
		}
		doc.RPs = append(doc.RPs, srp)
	}
	for _, l := range s.sortedLocks() {
		doc.Locks = append(doc.Locks, savedLock{ID: l.id, Scope: l.scope, Level: l.level, Notes: l.notes})
	}
	for _, g := range st.grants {
		doc.Grants = append(doc.Grants, savedGrant{ID: g.id, ResourceID: g.resourceID, Kind: g.resourceKind, Family: g.family, Content: g.content.origin,
			Container: g.container, Expires: g.expires, Revoked: g.revoked, AADOnly: g.aadOnly})
	}
	for _, op := range st.operations {
		so := savedOperation{ID: op.id, Subscription: op.subscription, Location: op.location, Provider: op.provider, Method: op.method,
			ResourceID: op.resourceID, Output: op.output, GrantID: op.grantID, Started: op.started, Ends: op.ends}
		if op.failure != nil {
			so.FailureCode, so.FailureMsg, so.FailureHTTP = op.failure.Code, op.failure.Message, op.failure.status
		}
		doc.Operations = append(doc.Operations, so)
	}
	s.mu.Unlock()
	sortState(&doc)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(&doc)
}

func sortState(d *savedState) {
	sort.Slice(d.Groups, func(i, j int) bool { return key(d.Groups[i].ID) < key(d.Groups[j].ID) })
	sort.Slice(d.VMs, func(i, j int) bool { return key(d.VMs[i].ID) < key(d.VMs[j].ID) })
	sort.Slice(d.Restored, func(i, j int) bool { return key(d.Restored[i].ID) < key(d.Restored[j].ID) })
	sort.Slice(d.RPCs, func(i, j int) bool { return key(d.RPCs[i].ID) < key(d.RPCs[j].ID) })
	sort.Slice(d.RPs, func(i, j int) bool { return key(d.RPs[i].ID) < key(d.RPs[j].ID) })
	sort.Slice(d.Grants, func(i, j int) bool { return d.Grants[i].ID < d.Grants[j].ID })
	sort.Slice(d.Operations, func(i, j int) bool { return d.Operations[i].ID < d.Operations[j].ID })
}

// restore applies a saved state over the freshly loaded scenario. Nothing
// of a refused state is applied: it is checked whole first.
func (s *Server) restore(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return err
	}
	var doc savedState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("not an azuresim state: %w", err)
	}
	switch {
	case doc.Format != stateFormat:
		return fmt.Errorf("format %q is not %q", doc.Format, stateFormat)
	case doc.Version != stateVersion:
		return fmt.Errorf("version %d: this simulator reads version %d only", doc.Version, stateVersion)
	case doc.Scenario != s.scenarioDigest:
		return fmt.Errorf("it was saved for another scenario (%s, this one is %s)", doc.Scenario, s.scenarioDigest)
	}
	for k, c := range s.scenarioContent {
		if doc.Disks[k] != c.digest {
			return fmt.Errorf("the content of disk %s changed since the state was saved: its image must stay as it was", k)
		}
	}
	contentOf := func(origin string) (*content, error) {
		c := s.scenarioContent[origin]
		if c == nil {
			return nil, fmt.Errorf("content %q names no scenario disk", origin)
		}
		return c, nil
	}
	st := newState()
	// Start from the loaded scenario's definitions and static resources.
	st.tenants, st.principals, st.subscriptions, st.roles, st.assignments = s.st.tenants, s.st.principals, s.st.subscriptions, s.st.roles, s.st.assignments
	st.disks, st.desets, st.nics, st.nsgs, st.identities, st.vms = s.st.disks, s.st.desets, s.st.nics, s.st.nsgs, s.st.identities, s.st.vms
	summary := &StateSummary{SavedAt: doc.SavedAt}
	for _, g := range doc.Groups {
		r := parseResourceID(g.ID)
		if st.subscriptions[key(r.subscription)] == nil {
			return fmt.Errorf("resource group %s: no such subscription", g.ID)
		}
		st.groups[key(g.ID)] = &resourceGroup{id: g.ID, subscription: strings.ToLower(r.subscription), name: r.resourceGroup, location: g.Location, tags: g.Tags}
	}
	crash := map[string]time.Time{}
	for _, v := range doc.VMs {
		if st.vms[key(v.ID)] == nil {
			return fmt.Errorf("virtual machine %s is not in the scenario", v.ID)
		}
		crash[key(v.ID)] = v.LastCrashConsistent
	}
	for _, x := range doc.Snapshots {
		c, err := contentOf(x.Content)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", x.ID, err)
		}
		r := parseResourceID(x.ID)
		if st.groups[key("/subscriptions/"+r.subscription+"/resourceGroups/"+r.resourceGroup)] == nil {
			return fmt.Errorf("snapshot %s: its resource group is not in the state", x.ID)
		}
		st.snapshots[key(x.ID)] = &snapshot{resourceBase: resourceBase{id: x.ID, subscription: strings.ToLower(r.subscription), resourceGroup: r.resourceGroup,
			name: r.name, location: x.Location, tags: x.Tags}, seq: x.Seq, uniqueID: x.UniqueID, sourceID: x.SourceID, sourceUID: x.SourceUID,
			family: x.Family, content: c, sizeGiB: x.SizeGiB, incremental: x.Incremental, copyStart: x.CopyStart, slowCopy: x.SlowCopy, sku: x.SKU,
			osType: x.OSType, desID: x.DESID, dataAccessAuthMode: x.DataAccessAuthMode, networkAccessPolicy: x.NetworkAccessPolicy,
			created: x.Created, completes: x.Completes, failed: x.Failed}
		summary.Snapshots++
	}
	for _, x := range doc.RPCs {
		r := parseResourceID(x.ID)
		st.rpcs[key(x.ID)] = &restorePointCollection{resourceBase: resourceBase{id: x.ID, subscription: strings.ToLower(r.subscription),
			resourceGroup: r.resourceGroup, name: r.name, location: x.Location, tags: x.Tags}, sourceVM: x.SourceVM, created: x.Created}
	}
	for _, x := range doc.RPs {
		if st.rpcs[key(x.Collection)] == nil {
			return fmt.Errorf("restore point %s: its collection is not in the state", x.ID)
		}
		rp := &restorePoint{collection: x.Collection, id: x.ID, name: parseResourceID(x.ID).name, consistencyMode: x.ConsistencyMode,
			sourceVM: x.SourceVM, created: x.Created, completes: x.Completes, failed: x.Failed}
		for _, dd := range x.Disks {
			d := st.disks[key(dd.SourceDisk)]
			if d == nil {
				return fmt.Errorf("disk restore point %s: disk %s is not in the scenario", dd.ID, dd.SourceDisk)
			}
			st.drps[key(dd.ID)] = &diskRestorePoint{id: dd.ID, name: parseResourceID(dd.ID).name, restorePoint: x.ID, sourceDisk: d.id,
				sourceUID: d.uniqueID, family: key(d.id), content: d.content, sizeGiB: d.sizeGiB, sku: d.sku, osType: d.osType, desID: d.desID,
				dataAccessAuthMode: d.dataAccessAuthMode, networkAccessPolicy: d.networkAccessPolicy, created: x.Created}
			rp.diskPoints = append(rp.diskPoints, dd.ID)
		}
		st.rps[key(x.ID)] = rp
		summary.RestorePoints++
	}
	// The scenario's disks, and those clients made.
	st.disks = maps.Clone(s.st.disks)
	for _, x := range doc.Restored {
		c, err := contentOf(x.Content)
		if err != nil {
			return fmt.Errorf("disk %s: %w", x.ID, err)
		}
		r := parseResourceID(x.ID)
		if st.groups[key("/subscriptions/"+r.subscription+"/resourceGroups/"+r.resourceGroup)] == nil {
			return fmt.Errorf("disk %s: its resource group is not in the state", x.ID)
		}
		st.disks[key(x.ID)] = &disk{resourceBase: resourceBase{id: x.ID, subscription: strings.ToLower(r.subscription), resourceGroup: r.resourceGroup,
			name: r.name, location: x.Location, tags: x.Tags}, uniqueID: x.UniqueID, sizeGiB: x.SizeGiB, sku: x.SKU, osType: x.OSType, content: c,
			desID: x.DESID, dataAccessAuthMode: x.DataAccessAuthMode, networkAccessPolicy: x.NetworkAccessPolicy, created: x.Created,
			createOption: "Restore", sourceID: x.SourceID, completes: x.Completes, failed: x.Failed}
	}
	for _, x := range doc.Locks {
		st.locks[key(x.ID)] = &lock{id: x.ID, scope: x.Scope, name: parseLockName(x.ID), level: x.Level, notes: x.Notes}
		summary.Locks++
	}
	now := s.now()
	for _, x := range doc.Grants {
		c, err := contentOf(x.Content)
		if err != nil {
			return fmt.Errorf("SAS grant %s: %w", x.ID, err)
		}
		g := &accessGrant{id: x.ID, resourceID: x.ResourceID, resourceKind: x.Kind, family: x.Family, content: c, container: x.Container,
			expires: x.Expires, revoked: x.Revoked, aadOnly: x.AADOnly}
		st.grants[x.ID] = g
		if g.active(now) {
			summary.Grants++
		}
	}
	for _, x := range doc.Operations {
		op := &operation{id: x.ID, subscription: x.Subscription, location: x.Location, provider: x.Provider, method: x.Method,
			resourceID: x.ResourceID, output: x.Output, grantID: x.GrantID, started: x.Started, ends: x.Ends}
		if x.FailureCode != "" {
			op.failure = &armError{status: x.FailureHTTP, Code: x.FailureCode, Message: x.FailureMsg}
		}
		if op.output == "accessSAS" && st.grants[op.grantID] == nil {
			return fmt.Errorf("operation %s: its SAS grant is not in the state", x.ID)
		}
		st.operations[x.ID] = op
	}
	st.seq = doc.Seq
	for k, t := range crash {
		st.vms[k].lastCrashConsistent = t
	}
	st.calls = s.st.calls
	s.st = st
	s.ids.setCounters(doc.Counters)
	s.restored = summary
	return nil
}

func parseLockName(id string) string {
	i := strings.LastIndex(id, "/")
	return id[i+1:]
}
