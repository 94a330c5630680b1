package gcpsim

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// ErrStateRefused wraps the reason New refuses Options.State.
var ErrStateRefused = errors.New("gcpsim: saved state refused")

const (
	stateFormat  = "gcpsim-state"
	stateVersion = 1
)

// StateSummary counts what a restored state brought back.
type StateSummary struct {
	SavedAt   time.Time
	Snapshots int
	Disks     int
	Instances int
}

func (s StateSummary) String() string {
	return fmt.Sprintf("%d snapshots, %d disks, %d instances", s.Snapshots, s.Disks, s.Instances)
}

// RestoredState says what Options.State restored; ok is false when the
// simulator started from the scenario alone.
func (s *Server) RestoredState() (StateSummary, bool) {
	if s.restored == nil {
		return StateSummary{}, false
	}
	return *s.restored, true
}

// savedState is the document SaveState writes: every resource as the API
// would return it (protojson), with what the simulator keeps beside it.
// Disk content is never copied: a resource names the scenario disk its
// content comes from (origin) and its size, and the content digest of each
// scenario disk is checked on restore.
type savedState struct {
	Format           string              `json:"format"`
	Version          int                 `json:"version"`
	Scenario         string              `json:"scenario"`
	SavedAt          time.Time           `json:"savedAt"`
	TokenKey         []byte              `json:"tokenKey"`
	Counters         map[string]uint64   `json:"counters"`
	ServiceAccounts  map[string]string   `json:"serviceAccountKeys"`
	ContentDigests   map[string]string   `json:"contentDigests"`
	Buckets          map[string][]string `json:"buckets"`
	Disks            []savedResource     `json:"disks"`
	Instances        []savedInstance     `json:"instances"`
	Snapshots        []savedSnapshot     `json:"snapshots"`
	ResourcePolicies []savedResource     `json:"resourcePolicies"`
	InstantSnapshots []savedResource     `json:"instantSnapshots"`
	Groups           []savedResource     `json:"instantSnapshotGroups"`
	Operations       []savedOperation    `json:"operations"`
	RequestIDs       map[string]string   `json:"requestIds"`
}

type savedResource struct {
	Resource json.RawMessage `json:"resource"`
	Project  string          `json:"project"`
	Scope    string          `json:"scope,omitempty"` // zone or region
	Origin   *string         `json:"origin,omitempty"`
	SizeGb   int64           `json:"sizeGb,omitempty"`
	Disk     string          `json:"disk,omitempty"`
	Scenario bool            `json:"scenario,omitempty"`
}

type savedInstance struct {
	savedResource
	GuestAttributes map[string]map[string]string `json:"guestAttributes,omitempty"`
	WorkerExit      *int                         `json:"workerExit,omitempty"`
	WorkerRunning   bool                         `json:"workerRunning,omitempty"`
	GuestFlushes    int                          `json:"guestFlushes,omitempty"`
}

type savedSnapshot struct {
	savedResource
	Started time.Time       `json:"started"`
	ReadyAt time.Time       `json:"readyAt"`
	Policy  json.RawMessage `json:"policy,omitempty"`
}

type savedOperation struct {
	Resource  json.RawMessage `json:"resource"`
	Project   string          `json:"project"`
	Scope     string          `json:"scope"`
	DoneAt    time.Time       `json:"doneAt"`
	Error     *opError        `json:"error,omitempty"`
	RequestID string          `json:"requestId,omitempty"`
}

func marshalPB(m proto.Message) json.RawMessage {
	b, _ := protojson.Marshal(m)
	return b
}

func contentRef(c *content) (*string, int64) {
	o := c.origin
	return &o, c.sizeGb
}

// SaveState writes what clients created or changed, to be given back as
// Options.State to a Server built from the same scenario. The document holds
// the service accounts' private keys and the token key: keep it private.
func (s *Server) SaveState(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	doc := savedState{Format: stateFormat, Version: stateVersion, Scenario: s.scenarioDigest, SavedAt: s.now().UTC(),
		TokenKey: s.tokenKey, Counters: s.ids.snapshot(), ServiceAccounts: map[string]string{},
		ContentDigests: map[string]string{}, Buckets: map[string][]string{}, RequestIDs: s.st.requestIDs}
	for email, sa := range s.st.serviceAccounts {
		der, err := x509.MarshalPKCS8PrivateKey(sa.key)
		if err != nil {
			return err
		}
		doc.ServiceAccounts[email] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	for origin, c := range s.scenarioContent {
		doc.ContentDigests[origin] = c.digest
	}
	for id, p := range s.st.projects {
		doc.Buckets[id] = p.buckets
	}
	for _, k := range sortedKeys(s.st.disks) {
		d := s.st.disks[k]
		o, size := contentRef(d.content)
		doc.Disks = append(doc.Disks, savedResource{Resource: marshalPB(d.pb), Project: d.project, Scope: d.zone, Origin: o, SizeGb: size, Scenario: d.scenario})
	}
	for _, k := range sortedKeys(s.st.instances) {
		in := s.st.instances[k]
		doc.Instances = append(doc.Instances, savedInstance{savedResource: savedResource{Resource: marshalPB(in.pb), Project: in.project, Scope: in.zone},
			GuestAttributes: in.guestAttributes, WorkerExit: in.workerExit, WorkerRunning: in.worker != nil, GuestFlushes: in.guestFlushes})
	}
	for _, k := range sortedKeys(s.st.snapshots) {
		sn := s.st.snapshots[k]
		o, size := contentRef(sn.content)
		ss := savedSnapshot{savedResource: savedResource{Resource: marshalPB(sn.pb), Project: sn.project, Origin: o, SizeGb: size},
			Started: sn.started, ReadyAt: sn.readyAt}
		if sn.policy != nil {
			ss.Policy = marshalPB(sn.policy)
		}
		doc.Snapshots = append(doc.Snapshots, ss)
	}
	for _, k := range sortedKeys(s.st.resourcePolicies) {
		p := s.st.resourcePolicies[k]
		doc.ResourcePolicies = append(doc.ResourcePolicies, savedResource{Resource: marshalPB(p.pb), Project: p.project, Scope: p.region})
	}
	for _, k := range sortedKeys(s.st.instantSnapshots) {
		is := s.st.instantSnapshots[k]
		o, size := contentRef(is.content)
		doc.InstantSnapshots = append(doc.InstantSnapshots, savedResource{Resource: marshalPB(is.pb), Project: is.project, Scope: is.zone, Origin: o, SizeGb: size, Disk: is.disk})
	}
	for _, k := range sortedKeys(s.st.isGroups) {
		g := s.st.isGroups[k]
		doc.Groups = append(doc.Groups, savedResource{Resource: marshalPB(g.pb), Project: g.project, Scope: g.zone})
	}
	for _, k := range sortedKeys(s.st.operations) {
		op := s.st.operations[k]
		doc.Operations = append(doc.Operations, savedOperation{Resource: marshalPB(op.pb), Project: op.project, Scope: op.scope,
			DoneAt: op.doneAt, Error: op.opError, RequestID: op.requestID})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(doc)
}

// restore replaces the scenario's resources with a saved state's. Nothing
// is applied unless all of it holds together.
func (s *Server) restore(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var doc savedState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("not a gcpsim state: %w", err)
	}
	switch {
	case doc.Format != stateFormat:
		return fmt.Errorf("format %q is not %q", doc.Format, stateFormat)
	case doc.Version != stateVersion:
		return fmt.Errorf("version %d; this simulator reads version %d", doc.Version, stateVersion)
	case doc.Scenario != s.scenarioDigest:
		return errors.New("it was saved for another scenario")
	case len(doc.TokenKey) != 32:
		return errors.New("its token key is missing")
	}
	for origin, digest := range doc.ContentDigests {
		c := s.scenarioContent[origin]
		if c == nil || c.digest != digest {
			return fmt.Errorf("the content of scenario disk %s changed since the state was saved", origin)
		}
	}
	st := newState()
	st.projects, st.calls, st.images = s.st.projects, s.st.calls, s.st.images
	content := func(origin *string, size int64) (*content, error) {
		if origin == nil {
			return nil, errors.New("a resource names no content")
		}
		if *origin == "" {
			return emptyContent(size), nil
		}
		c := s.scenarioContent[*origin]
		if c == nil {
			return nil, fmt.Errorf("content %q is not a scenario disk's", *origin)
		}
		return c.resized(size), nil
	}
	keys := map[string]*serviceAccount{}
	for email, sa := range s.st.serviceAccounts {
		pemText, ok := doc.ServiceAccounts[email]
		if !ok {
			return fmt.Errorf("service account %s has no saved key", email)
		}
		key, err := parseRSAKey(pemText)
		if err != nil {
			return fmt.Errorf("service account %s: %w", email, err)
		}
		c := *sa
		c.key, c.keyID = key, keyID(key)
		keys[email] = &c
	}
	st.serviceAccounts = keys
	for _, d := range doc.Disks {
		pb := &computepb.Disk{}
		if err := protojson.Unmarshal(d.Resource, pb); err != nil {
			return fmt.Errorf("disk: %w", err)
		}
		c, err := content(d.Origin, d.SizeGb)
		if err != nil {
			return fmt.Errorf("disk %s: %w", pb.GetName(), err)
		}
		st.disks[key(d.Project, d.Scope, pb.GetName())] = &diskRes{pb: pb, project: d.Project, zone: d.Scope, content: c, scenario: d.Scenario}
	}
	for _, in := range doc.Instances {
		pb := &computepb.Instance{}
		if err := protojson.Unmarshal(in.Resource, pb); err != nil {
			return fmt.Errorf("instance: %w", err)
		}
		if in.WorkerRunning {
			// The script died with the process that ran it: the VM is off.
			pb.Status = proto.String("TERMINATED")
		}
		ga := in.GuestAttributes
		if ga == nil {
			ga = map[string]map[string]string{}
		}
		st.instances[key(in.Project, in.Scope, pb.GetName())] = &instanceRes{pb: pb, project: in.Project, zone: in.Scope,
			guestAttributes: ga, workerExit: in.WorkerExit, guestFlushes: in.GuestFlushes}
	}
	for _, sn := range doc.Snapshots {
		pb := &computepb.Snapshot{}
		if err := protojson.Unmarshal(sn.Resource, pb); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		c, err := content(sn.Origin, sn.SizeGb)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", pb.GetName(), err)
		}
		res := &snapshotRes{pb: pb, project: sn.Project, content: c, started: sn.Started, readyAt: sn.ReadyAt}
		if len(sn.Policy) > 0 {
			res.policy = &computepb.Policy{}
			if err := protojson.Unmarshal(sn.Policy, res.policy); err != nil {
				return fmt.Errorf("snapshot %s policy: %w", pb.GetName(), err)
			}
		}
		st.snapshots[key(sn.Project, pb.GetName())] = res
	}
	for _, p := range doc.ResourcePolicies {
		pb := &computepb.ResourcePolicy{}
		if err := protojson.Unmarshal(p.Resource, pb); err != nil {
			return fmt.Errorf("resource policy: %w", err)
		}
		st.resourcePolicies[key(p.Project, p.Scope, pb.GetName())] = &resourcePolicyRes{pb: pb, project: p.Project, region: p.Scope}
	}
	for _, is := range doc.InstantSnapshots {
		pb := &computepb.InstantSnapshot{}
		if err := protojson.Unmarshal(is.Resource, pb); err != nil {
			return fmt.Errorf("instant snapshot: %w", err)
		}
		c, err := content(is.Origin, is.SizeGb)
		if err != nil {
			return fmt.Errorf("instant snapshot %s: %w", pb.GetName(), err)
		}
		if st.disks[is.Disk] == nil {
			return fmt.Errorf("instant snapshot %s outlived its disk", pb.GetName())
		}
		st.instantSnapshots[key(is.Project, is.Scope, pb.GetName())] = &instantSnapshotRes{pb: pb, project: is.Project, zone: is.Scope, disk: is.Disk, content: c}
	}
	for _, g := range doc.Groups {
		pb := &computepb.InstantSnapshotGroup{}
		if err := protojson.Unmarshal(g.Resource, pb); err != nil {
			return fmt.Errorf("instant snapshot group: %w", err)
		}
		st.isGroups[key(g.Project, g.Scope, pb.GetName())] = &instantSnapshotGroupRes{pb: pb, project: g.Project, zone: g.Scope}
	}
	for _, op := range doc.Operations {
		pb := &computepb.Operation{}
		if err := protojson.Unmarshal(op.Resource, pb); err != nil {
			return fmt.Errorf("operation: %w", err)
		}
		st.operations[key(op.Project, op.Scope, pb.GetName())] = &operation{pb: pb, project: op.Project, scope: op.Scope,
			doneAt: op.DoneAt, opError: op.Error, requestID: op.RequestID}
	}
	for k, v := range doc.RequestIDs {
		if st.operations[v] == nil {
			return fmt.Errorf("request ID %s names no operation", k)
		}
		st.requestIDs[k] = v
	}
	for _, d := range st.disks {
		for _, u := range d.pb.GetUsers() {
			r, _ := parseRef(u, "instances", "", "")
			if st.instances[r.key()] == nil {
				return fmt.Errorf("disk %s is used by %s, which the state does not hold", d.pb.GetName(), u)
			}
		}
	}
	for id, buckets := range doc.Buckets {
		p := st.projects[id]
		if p == nil {
			return fmt.Errorf("buckets of unknown project %s", id)
		}
		p.buckets = buckets
		for _, b := range buckets {
			s.createBucket(b)
		}
	}
	s.ids.restore(doc.Counters)
	s.tokenKey = doc.TokenKey
	s.st = st
	s.restored = &StateSummary{SavedAt: doc.SavedAt, Snapshots: len(st.snapshots), Disks: len(st.disks), Instances: len(st.instances)}
	return nil
}
