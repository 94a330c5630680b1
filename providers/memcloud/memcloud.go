// Package memcloud is an in-memory cloud and its driver, for testing the acquisition engine without a
// cloud: two accounts, volumes with content, snapshots that take a few status polls to complete,
// shares, intermediate copies and temporary keys, locks, and faults (replies lost after the work was
// done, throttling, denials, snapshots that end in error). It runs in one of two shapes: snapshots on
// the source side moved by a transfer (as on AWS), or snapshots straight into the forensic side (as on
// GCP and Azure). It is not a model of any real cloud's API.
package memcloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Accounts of the in-memory cloud.
const (
	SourceAccount   = "src-account"
	ForensicAccount = "fx-account"
	Location        = "mem-1"
	OtherLocation   = "mem-2"
	ForensicKey     = "fx-key"
	BlockSize       = 4096
)

// Shape says where snapshots land.
type Shape int

// Shapes.
const (
	Transfer Shape = iota // snapshots in the source account, moved by a transfer (AWS)
	Direct                // snapshots straight into the forensic account (GCP, Azure)
)

// Config shapes a cloud.
type Config struct {
	Shape Shape
	// NoBlocks leaves out the block reader: digests are deferred.
	NoBlocks bool
	// NoLock leaves out the locker.
	NoLock bool
	// PollsToComplete is how many status calls a snapshot stays pending for; default 1.
	PollsToComplete int
}

// Error is what the in-memory cloud answers a refused call with.
type Error struct {
	Code  driver.Code
	Msg   string
	After time.Duration // the cloud's Retry-After, if it gives one
}

// RetryAfter is the cloud's word on when to try again.
func (e *Error) RetryAfter() time.Duration { return e.After }

func (e *Error) Error() string { return fmt.Sprintf("memcloud: %s: %s", e.Code, e.Msg) }

// Cloud is the in-memory cloud and its driver. It is safe for concurrent use.
type Cloud struct {
	cfg Config

	mu        sync.Mutex
	volumes   map[string]*volume
	workloads map[string][]string
	snaps     map[string]*snap
	keys      map[string]*key
	locks     map[string]driver.LockRequest
	next      int
	faults    map[string]*fault
	calls     map[string]int
	peak      map[driver.Side]int // the most copies pending at once on a side
	preflight *driver.Preflight   // what the last preflight was asked
}

type volume struct {
	v      driver.Volume
	blocks map[int64][]byte
}

type snap struct {
	copy   bool // made by a transfer
	s      driver.Snapshot
	labels driver.Labels
	shared bool // the forensic account may use it
	polls  int
	fail   bool
	blocks map[int64][]byte
	role   string
}

type key struct {
	id      string
	token   string
	retired bool
}

type fault struct {
	code  driver.Code // the error to answer with; "" loses the reply after doing the work
	after time.Duration
	count int
}

// New makes a cloud with the fixture's volumes: "vol-plain" (unencrypted), "vol-cmk" (customer key),
// "vol-default" (provider default key), the workload "vm-1" with "vol-root" and "vol-data", and
// "vol-far" in OtherLocation.
func New(cfg Config) *Cloud {
	if cfg.PollsToComplete <= 0 {
		cfg.PollsToComplete = 1
	}
	c := &Cloud{cfg: cfg, volumes: map[string]*volume{}, workloads: map[string][]string{}, snaps: map[string]*snap{},
		keys: map[string]*key{}, locks: map[string]driver.LockRequest{}, faults: map[string]*fault{}, calls: map[string]int{}, peak: map[driver.Side]int{}}
	add := func(id, workload string, kind driver.KeyKind, loc string, blocks ...int64) {
		v := &volume{v: driver.Volume{ID: id, Workload: workload, Location: loc, SizeBytes: 64 * BlockSize, KeyKind: kind}, blocks: map[int64][]byte{}}
		for _, b := range blocks {
			data := make([]byte, BlockSize)
			sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", id, b)))
			for i := range data {
				data[i] = sum[i%len(sum)]
			}
			v.blocks[b] = data
		}
		c.volumes[id] = v
		if workload != "" {
			c.workloads[workload] = append(c.workloads[workload], id)
		}
	}
	add("vol-plain", "", driver.KeyNone, Location, 0, 3, 63)
	add("vol-cmk", "", driver.KeyCustomer, Location, 1, 2)
	add("vol-default", "", driver.KeyProviderDefault, Location, 0, 10)
	add("vol-root", "vm-1", driver.KeyProviderDefault, Location, 0, 5, 6)
	add("vol-data", "vm-1", driver.KeyCustomer, Location, 7, 40)
	add("vol-far", "", driver.KeyNone, OtherLocation, 4)
	return c
}

// Fail makes the next count calls of op fail with code; op is a method name of the driver
// ("CreateSnapshots", "Transfer", "Delete", ...).
func (c *Cloud) Fail(op string, code driver.Code, count int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults[op] = &fault{code: code, count: count}
}

// Throttle makes the next count calls of op fail as throttled, asking to wait after before trying again.
func (c *Cloud) Throttle(op string, after time.Duration, count int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults[op] = &fault{code: driver.CodeThrottled, after: after, count: count}
}

// LoseReplies makes the next count calls of op do their work and then fail as a connection closed
// before the answer does.
func (c *Cloud) LoseReplies(op string, count int) { c.Fail(op, "", count) }

// FailSnapshots makes the snapshots and copies of these volumes end in state error.
func (c *Cloud) FailSnapshots(volumes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range volumes {
		c.faults["snapshot:"+id] = &fault{count: 1 << 30}
	}
}

// ClearFaults removes every fault.
func (c *Cloud) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.faults)
}

// Calls is how many times each method was called.
func (c *Cloud) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// errLostReply stands for the transport error a client sees when the connection closes before the
// answer: the work was done.
var errLostReply = fmt.Errorf("memcloud: connection closed before the reply: %w", io.ErrUnexpectedEOF)

// enter counts a call and decides its fault: an error to return before doing anything, or whether
// to lose the reply after the work. A call under a context that ended fails as an SDK's does. It
// must be called with c.mu held.
func (c *Cloud) enter(ctx context.Context, op string) (err error, lose bool) {
	if err := ctx.Err(); err != nil {
		return err, false
	}
	c.calls[op]++
	f := c.faults[op]
	if f == nil || f.count <= 0 {
		return nil, false
	}
	f.count--
	if f.code == "" {
		return nil, true
	}
	return &Error{Code: f.code, Msg: op + " refused by a fault", After: f.after}, false
}

func (c *Cloud) id(prefix string) string {
	c.next++
	return fmt.Sprintf("%s-%04d", prefix, c.next)
}

// Cloud names the provider.
func (c *Cloud) Cloud() string { return "mem" }

// Capabilities of the shape.
func (c *Cloud) Capabilities() driver.Capabilities {
	if c.cfg.Shape == Direct {
		return driver.Capabilities{SnapshotSide: driver.Forensic, Crash: driver.CrashWritesSource}
	}
	return driver.Capabilities{SnapshotSide: driver.Source, Crash: driver.CrashNative, CrossLocation: true}
}

// Features of the configuration: a transfer in the Transfer shape, the block reader and the locker
// unless left out, exposure and preflight checks.
func (c *Cloud) Features() driver.Features {
	f := driver.Features{Exposure: c, Preflight: c}
	if c.cfg.Shape == Transfer {
		f.Transfer = c
	}
	if !c.cfg.NoBlocks {
		f.Blocks = c
	}
	if !c.cfg.NoLock {
		f.Lock = c
	}
	return f
}

// Identity of each side.
func (c *Cloud) Identity(ctx context.Context, side driver.Side) (driver.Principal, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, _ := c.enter(ctx, "Identity"); err != nil {
		return driver.Principal{}, err
	}
	acct := SourceAccount
	if side == driver.Forensic {
		acct = ForensicAccount
	}
	return driver.Principal{Side: side, Account: acct, ID: "responder@" + acct}, nil
}

// Describe resolves workloads and volumes.
func (c *Cloud) Describe(ctx context.Context, t driver.Target) ([]driver.Workload, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, _ := c.enter(ctx, "Describe"); err != nil {
		return nil, err
	}
	var out []driver.Workload
	for _, w := range t.Workloads {
		ids, ok := c.workloads[w]
		if !ok {
			return nil, &Error{Code: driver.CodeNotFound, Msg: "no workload " + w}
		}
		wl := driver.Workload{ID: w, Location: Location, Artifacts: []driver.Artifact{{Name: w + "/config.json", Data: []byte(`{"workload":"` + w + `"}`), MediaType: "application/json"}}}
		for _, id := range ids {
			wl.Volumes = append(wl.Volumes, c.volumes[id].v)
		}
		out = append(out, wl)
	}
	for _, id := range t.Volumes {
		v, ok := c.volumes[id]
		if !ok {
			return nil, &Error{Code: driver.CodeNotFound, Msg: "no volume " + id}
		}
		out = append(out, driver.Workload{Location: v.v.Location, Volumes: []driver.Volume{v.v}})
	}
	return out, nil
}

// CreateSnapshots snapshots volumes on the shape's side, labelled.
func (c *Cloud) CreateSnapshots(ctx context.Context, req driver.SnapshotRequest) (driver.SnapshotResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err, lose := c.enter(ctx, "CreateSnapshots")
	if err != nil {
		return driver.SnapshotResult{}, err
	}
	var vols []driver.Volume
	switch {
	case req.Workload != nil:
		vols = req.Workload.Volumes
	case req.Volume != nil:
		vols = []driver.Volume{*req.Volume}
	default:
		return driver.SnapshotResult{}, errors.New("memcloud: a snapshot request names a workload or a volume")
	}
	side := c.Capabilities().SnapshotSide
	res := driver.SnapshotResult{Consistency: req.Consistency}
	start := time.Now().UTC()
	for _, v := range vols {
		if req.Retry {
			if s := c.findLocked(side, req.Token, v.ID, "snapshot"); s != nil {
				res.Snapshots = append(res.Snapshots, s.s)
				continue
			}
		}
		labels := cloneLabels(req.Labels)
		labels[driver.LabelSourceVolume] = v.ID
		s := c.newSnap(side, v.ID, v.Location, labels, c.volumes[v.ID].blocks, start)
		res.Snapshots = append(res.Snapshots, s.s)
	}
	if side == driver.Forensic && req.Consistency == driver.CrashConsistent && len(vols) > 1 {
		group := &snap{s: driver.Snapshot{ID: c.id("group"), Side: driver.Source, Location: Location}, labels: cloneLabels(req.Labels), role: "group"}
		c.snaps[group.s.ID] = group
		res.Temporary = append(res.Temporary, driver.Resource{Side: driver.Source, Location: Location, Kind: "group", ID: group.s.ID, Note: "consistency group"})
	}
	if lose {
		return driver.SnapshotResult{}, errLostReply
	}
	return res, nil
}

func (c *Cloud) newSnap(side driver.Side, volID, loc string, labels driver.Labels, blocks map[int64][]byte, start time.Time) *snap {
	acct := SourceAccount
	if side == driver.Forensic {
		acct = ForensicAccount
	}
	s := &snap{s: driver.Snapshot{ID: c.id("snap"), VolumeID: volID, Side: side, Account: acct, Location: loc, State: driver.StatePending,
		StartTime: start, SizeBytes: c.volumes[volID].v.SizeBytes}, labels: labels, blocks: blocks, role: labels[driver.LabelRole]}
	if f := c.faults["snapshot:"+volID]; f != nil {
		s.fail = true
	}
	c.snaps[s.s.ID] = s
	return s
}

// notePeak counts the copies pending on a side. It must be called with c.mu held.
func (c *Cloud) notePeak(side driver.Side) {
	n := 0
	for _, s := range c.snaps {
		if s.copy && s.s.Side == side && s.s.State == driver.StatePending {
			n++
		}
	}
	c.peak[side] = max(c.peak[side], n)
}

// PeakCopies is the most copies that were pending at once on a side.
func (c *Cloud) PeakCopies(side driver.Side) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak[side]
}

func cloneLabels(l driver.Labels) driver.Labels {
	out := driver.Labels{}
	for k, v := range l {
		out[k] = v
	}
	return out
}

// findLocked returns the snapshot (or group) on a side labelled with token for a volume.
func (c *Cloud) findLocked(side driver.Side, token, volID, role string) *snap {
	for _, s := range c.sortedSnaps() {
		if s.s.Side == side && s.labels[driver.LabelToken] == token && (volID == "" || s.s.VolumeID == volID) && (role == "" || s.kind() == role) {
			return s
		}
	}
	return nil
}

func (s *snap) kind() string {
	if s.role == "group" {
		return "group"
	}
	return "snapshot"
}

func (c *Cloud) sortedSnaps() []*snap {
	out := make([]*snap, 0, len(c.snaps))
	for _, s := range c.snaps {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].s.ID < out[j].s.ID })
	return out
}

// FindSnapshots returns the snapshots labelled with token.
func (c *Cloud) FindSnapshots(ctx context.Context, side driver.Side, location, token string) ([]driver.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, _ := c.enter(ctx, "FindSnapshots"); err != nil {
		return nil, err
	}
	var out []driver.Snapshot
	for _, s := range c.sortedSnaps() {
		if s.kind() == "snapshot" && s.s.Side == side && s.labels[driver.LabelToken] == token {
			out = append(out, s.s)
		}
	}
	return out, nil
}

// SnapshotStatus advances and reports snapshots.
func (c *Cloud) SnapshotStatus(ctx context.Context, side driver.Side, location string, ids []string) ([]driver.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, _ := c.enter(ctx, "SnapshotStatus"); err != nil {
		return nil, err
	}
	if len(ids) > 100 {
		return nil, &Error{Code: driver.CodeInvalid, Msg: "at most 100 IDs at a time"}
	}
	var out []driver.Snapshot
	for _, id := range ids {
		s, ok := c.snaps[id]
		if !ok || s.s.Side != side {
			continue
		}
		if s.s.State == driver.StatePending {
			s.polls++
			s.s.Progress = min(99, 100*s.polls/(c.cfg.PollsToComplete+1))
			if s.polls >= c.cfg.PollsToComplete {
				s.s.State, s.s.Progress = driver.StateCompleted, 100
				if s.fail {
					s.s.State, s.s.Message = driver.StateError, "injected failure"
				}
			}
		}
		out = append(out, s.s)
	}
	return out, nil
}

// Delete removes a snapshot, a share, a group or a key.
func (c *Cloud) Delete(ctx context.Context, r driver.Resource) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err, lose := c.enter(ctx, "Delete")
	if err != nil {
		return err
	}
	switch r.Kind {
	case "snapshot", "group":
		if _, locked := c.locks[r.ID]; locked {
			return &Error{Code: driver.CodeConflict, Msg: "snapshot " + r.ID + " is locked"}
		}
		delete(c.snaps, r.ID)
	case "share":
		if s, ok := c.snaps[r.ID]; ok {
			s.shared = false
		}
	case "key":
		if k, ok := c.keys[r.ID]; ok {
			k.retired = true
		}
	default:
		return &Error{Code: driver.CodeInvalid, Msg: "unknown kind " + r.Kind}
	}
	if lose {
		return errLostReply
	}
	return nil
}

// ErrorCode maps the cloud's errors.
func (c *Cloud) ErrorCode(err error) driver.Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return driver.CodeUnknown
}

// PrepareTransfers makes a temporary key when a volume is under the provider's default key.
func (c *Cloud) PrepareTransfers(ctx context.Context, req driver.PrepareRequest) ([]driver.Resource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err, lose := c.enter(ctx, "PrepareTransfers")
	if err != nil {
		return nil, err
	}
	if req.Retry || req.FindOnly {
		for _, k := range c.keys {
			if k.token == req.Token {
				return []driver.Resource{keyResource(k.id)}, nil
			}
		}
	}
	if req.FindOnly || !slices.ContainsFunc(req.Volumes, func(v driver.Volume) bool { return v.KeyKind == driver.KeyProviderDefault }) {
		return nil, nil
	}
	k := &key{id: c.id("key"), token: req.Token}
	c.keys[k.id] = k
	if lose {
		return nil, errLostReply
	}
	return []driver.Resource{keyResource(k.id)}, nil
}

func keyResource(id string) driver.Resource {
	return driver.Resource{Side: driver.Source, Location: Location, Kind: "key", ID: id, Note: "temporary share key", Remains: "retired; deleted in 7 days"}
}

// Transfer: phase 1 shares the snapshot, or makes an intermediate copy under the temporary key for a
// volume under the default key and asks to wait for it; phase 2 shares that copy. The phase that
// shares also makes the forensic copy.
func (c *Cloud) Transfer(ctx context.Context, req driver.TransferRequest) (driver.TransferResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err, lose := c.enter(ctx, "Transfer")
	if err != nil {
		return driver.TransferResult{}, err
	}
	if req.FindOnly {
		return c.findTransfer(req), nil
	}
	var res driver.TransferResult
	src := req.Snapshot
	if req.Volume.KeyKind == driver.KeyProviderDefault && req.Phase == 1 {
		if len(req.Prepared) == 0 {
			return res, &Error{Code: driver.CodeInvalid, Msg: "a volume under the default key needs the temporary key"}
		}
		inter := c.findLocked(driver.Source, req.Token, req.Volume.ID, "snapshot")
		if inter == nil || !req.Retry {
			labels := cloneLabels(req.Labels)
			labels[driver.LabelRole] = driver.RoleTemporary
			inter = c.newSnap(driver.Source, req.Volume.ID, src.Location, labels, c.snaps[src.ID].blocks, time.Now().UTC())
			inter.copy = true
			c.notePeak(driver.Source)
		}
		res.Made = append(res.Made, driver.Resource{Side: driver.Source, Location: src.Location, Kind: "snapshot", ID: inter.s.ID, Volume: req.Volume.ID, Note: "intermediate copy"})
		w := inter.s
		res.Wait = &w
		if lose {
			return driver.TransferResult{}, errLostReply
		}
		return res, nil
	}
	if req.Waited != nil {
		src = *req.Waited
	}
	s, ok := c.snaps[src.ID]
	if !ok {
		return res, &Error{Code: driver.CodeNotFound, Msg: "no snapshot " + src.ID}
	}
	s.shared = true
	res.Made = append(res.Made, driver.Resource{Side: driver.Source, Location: src.Location, Kind: "share", ID: src.ID, Volume: req.Volume.ID, Note: "shared with the forensic account"})
	loc := src.Location
	cp := c.findLocked(driver.Forensic, req.Token, req.Volume.ID, "snapshot")
	if cp == nil || !req.Retry {
		labels := cloneLabels(req.Labels)
		labels[driver.LabelRole] = driver.RoleEvidence
		cp = c.newSnap(driver.Forensic, req.Volume.ID, loc, labels, s.blocks, time.Now().UTC())
		cp.copy = true
		c.notePeak(driver.Forensic)
	}
	out := cp.s
	res.Copy = &out
	if lose {
		return driver.TransferResult{}, errLostReply
	}
	return res, nil
}

func (c *Cloud) findTransfer(req driver.TransferRequest) driver.TransferResult {
	var res driver.TransferResult
	if inter := c.findLocked(driver.Source, req.Token, req.Volume.ID, "snapshot"); inter != nil {
		res.Made = append(res.Made, driver.Resource{Side: driver.Source, Location: inter.s.Location, Kind: "snapshot", ID: inter.s.ID, Volume: req.Volume.ID, Note: "intermediate copy"})
		if inter.shared {
			res.Made = append(res.Made, driver.Resource{Side: driver.Source, Location: inter.s.Location, Kind: "share", ID: inter.s.ID, Volume: req.Volume.ID})
		}
	}
	if s, ok := c.snaps[req.Snapshot.ID]; ok && s.shared {
		res.Made = append(res.Made, driver.Resource{Side: driver.Source, Location: s.s.Location, Kind: "share", ID: s.s.ID, Volume: req.Volume.ID})
	}
	if cp := c.findLocked(driver.Forensic, req.Token, req.Volume.ID, "snapshot"); cp != nil {
		out := cp.s
		res.Copy = &out
	}
	return res
}

// PhaseCopies: an intermediate copy in phase 1 under the default key, the forensic copy in the phase
// that shares.
func (c *Cloud) PhaseCopies(v driver.Volume, phase int) (driver.Side, bool) {
	switch {
	case v.KeyKind == driver.KeyProviderDefault && phase == 1:
		return driver.Source, true
	case v.KeyKind == driver.KeyProviderDefault && phase == 2, phase == 1:
		return driver.Forensic, true
	}
	return "", false
}

// TransferPlan of a volume.
func (c *Cloud) TransferPlan(v driver.Volume) []string {
	if v.KeyKind == driver.KeyProviderDefault {
		return []string{"copy the snapshot under the temporary key", "share the copy", "copy it into the forensic account"}
	}
	return []string{"share the snapshot", "copy it into the forensic account"}
}

// OpenBlocks reads a completed forensic snapshot.
func (c *Cloud) OpenBlocks(ctx context.Context, sn driver.Snapshot) (driver.BlockSource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, _ := c.enter(ctx, "OpenBlocks"); err != nil {
		return nil, err
	}
	s, ok := c.snaps[sn.ID]
	if !ok || s.s.Side != driver.Forensic {
		return nil, &Error{Code: driver.CodeNotFound, Msg: "no forensic snapshot " + sn.ID}
	}
	if s.s.State != driver.StateCompleted {
		return nil, &Error{Code: driver.CodeConflict, Msg: "snapshot " + sn.ID + " is not completed"}
	}
	return &blockSource{blocks: s.blocks, size: s.s.SizeBytes, c: c}, nil
}

type blockSource struct {
	blocks map[int64][]byte
	size   int64
	c      *Cloud
}

func (b *blockSource) Geometry() driver.Geometry {
	return driver.Geometry{Size: b.size, BlockSize: BlockSize}
}

func (b *blockSource) ReadBlocks(ctx context.Context, from int64, visit func(driver.Block) error) error {
	idx := make([]int64, 0, len(b.blocks))
	for i := range b.blocks {
		if i >= from {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	for _, i := range idx {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.c.mu.Lock()
		err, _ := b.c.enter(ctx, "ReadBlock")
		b.c.mu.Unlock()
		if err != nil {
			return err
		}
		if err := visit(driver.Block{Index: i, Data: b.blocks[i]}); err != nil {
			return err
		}
	}
	return nil
}

func (b *blockSource) Info() driver.SourceInfo {
	return driver.SourceInfo{Method: "memcloud blocks read from memory", Access: "in-process"}
}

func (b *blockSource) Close(context.Context) error { return nil }

// LockModes of the in-memory cloud.
func (c *Cloud) LockModes() []driver.LockMode {
	return []driver.LockMode{{Name: "hold", Description: "no one may delete it until the lock ends"}}
}

// CheckLock refuses other modes and durations outside 1 to 30 days.
func (c *Cloud) CheckLock(req driver.LockRequest) error {
	if req.Mode != "hold" {
		return fmt.Errorf("lock mode %q: memcloud has only hold", req.Mode)
	}
	if req.Days < 1 || req.Days > 30 {
		return fmt.Errorf("lock for %d days: memcloud allows 1 to 30", req.Days)
	}
	return nil
}

// Lock protects a forensic snapshot.
func (c *Cloud) Lock(ctx context.Context, sn driver.Snapshot, req driver.LockRequest) (driver.LockResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, _ := c.enter(ctx, "Lock"); err != nil {
		return driver.LockResult{}, err
	}
	if err := c.CheckLock(req); err != nil {
		return driver.LockResult{}, &Error{Code: driver.CodeInvalid, Msg: err.Error()}
	}
	c.locks[sn.ID] = req
	return driver.LockResult{Note: "no one may delete it"}, nil
}

// Exposure finds snapshots of the volumes shared with anyone (none in the fixture unless Share).
func (c *Cloud) Exposure(ctx context.Context, vols []driver.Volume) ([]driver.Finding, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, _ := c.enter(ctx, "Exposure"); err != nil {
		return nil, err
	}
	return nil, nil
}

// Preflight checks the forensic key and location.
func (c *Cloud) Preflight(ctx context.Context, p driver.Preflight) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, _ := c.enter(ctx, "Preflight"); err != nil {
		return err
	}
	c.preflight = &p
	if p.Destination.Key != "" && p.Destination.Key != ForensicKey {
		return &Error{Code: driver.CodeNotFound, Msg: "the forensic account has no key " + p.Destination.Key}
	}
	return nil
}

// LastPreflight is what the last preflight was asked, if any.
func (c *Cloud) LastPreflight() (driver.Preflight, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.preflight == nil {
		return driver.Preflight{}, false
	}
	return *c.preflight, true
}

// SnapshotInfo is a snapshot as the cloud holds it.
type SnapshotInfo struct {
	ID, Volume, Role, Token, Case, State string
	Side                                 driver.Side
	Shared, Locked                       bool
}

// Snapshots lists the snapshots on a side (groups aside).
func (c *Cloud) Snapshots(side driver.Side) []SnapshotInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []SnapshotInfo
	for _, s := range c.sortedSnaps() {
		if s.s.Side != side || s.kind() != "snapshot" {
			continue
		}
		_, locked := c.locks[s.s.ID]
		out = append(out, SnapshotInfo{ID: s.s.ID, Volume: s.s.VolumeID, Role: s.role, Token: s.labels[driver.LabelToken], Case: s.labels[driver.LabelCase],
			State: string(s.s.State), Side: s.s.Side, Shared: s.shared, Locked: locked})
	}
	return out
}

// Temporaries lists what is alive that an acquisition makes only for its own use: shares, groups,
// intermediate copies, keys not retired.
func (c *Cloud) Temporaries() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.sortedSnaps() {
		switch {
		case s.kind() == "group":
			out = append(out, "group "+s.s.ID)
		case s.shared:
			out = append(out, "share of "+s.s.ID)
		}
		if s.kind() == "snapshot" && s.role == driver.RoleTemporary {
			out = append(out, "intermediate "+s.s.ID)
		}
	}
	for _, k := range c.keys {
		if !k.retired {
			out = append(out, "key "+k.id)
		}
	}
	slices.Sort(out)
	return out
}

// ImageSHA256 is the SHA-256 of a volume's full content.
func (c *Cloud) ImageSHA256(volID string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.volumes[volID]
	h := sha256.New()
	zero := make([]byte, BlockSize)
	for i := int64(0); i < v.v.SizeBytes/BlockSize; i++ {
		if b, ok := v.blocks[i]; ok {
			h.Write(b)
		} else {
			h.Write(zero)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

var (
	_ driver.Driver      = (*Cloud)(nil)
	_ driver.Featurer    = (*Cloud)(nil)
	_ driver.Transferer  = (*Cloud)(nil)
	_ driver.BlockReader = (*Cloud)(nil)
	_ driver.Locker      = (*Cloud)(nil)
)
