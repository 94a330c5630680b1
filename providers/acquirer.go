package providers

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/acquire-forensics/acquire/custody"
)

// Acquirer runs acquisitions with one driver.
type Acquirer struct {
	d Driver
}

// New returns an Acquirer for a driver.
func New(d Driver) *Acquirer { return &Acquirer{d: d} }

// Result is what an acquisition achieved, volume by volume, and what it left where.
type Result struct {
	CaseID     string             `json:"caseId"`
	Principals map[Side]Principal `json:"principals"`
	Volumes    []VolumeResult     `json:"volumes"`
	Findings   []Finding          `json:"findings"`
	Left       []Leftover         `json:"left"`
	Sealed     *custody.Sealed    `json:"-"`
	Checkpoint string             `json:"checkpoint,omitempty"`
}

// VolumeResult is the evidence of one volume, or why there is none.
type VolumeResult struct {
	Volume         Volume    `json:"volume"`
	SourceSnapshot *Snapshot `json:"sourceSnapshot,omitempty"`
	ForensicCopy   *Snapshot `json:"forensicCopy,omitempty"`
	Locked         bool      `json:"locked,omitempty"`
	Digest         *Digest   `json:"digest,omitempty"`
	Error          string    `json:"error,omitempty"`
	Code           Code      `json:"code,omitempty"`
}

// Leftover is a resource the acquisition leaves in place, on purpose (evidence) or not (a cleanup that
// failed): the responder must know where everything is.
type Leftover struct {
	Side   Side   `json:"side"`
	Region string `json:"region"`
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Note   string `json:"note"`
}

// PartialError is returned when some volumes were acquired and others were not.
type PartialError struct {
	Failed, Total int
	First         error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d of %d volumes were not acquired; first: %v", e.Failed, e.Total, e.First)
}

func (e *PartialError) Unwrap() error { return e.First }

// run is the state of one acquisition.
type run struct {
	d          Driver
	opts       Options
	caseID     string
	journal    *journal
	principals map[Side]Principal
	pollers    map[string]*poller
	ctx        context.Context // lives as long as the run, for the pollers

	mu       sync.Mutex // guards the fields below and serializes progress events
	shareKey *Key
	tempKey  bool
	left     []Leftover

	keyOnce sync.Mutex // one share-key creation at a time

	copySlots   map[Side]chan struct{} // bound the copies in flight in each account (AWS: 20 per region)
	digestSlots chan struct{}          // bound the digests in flight
}

// Run acquires the target into the forensic side and records every step in the case. Running it again
// for the same case continues where the last run stopped. When some volumes fail, the others are still
// acquired and a *PartialError is returned with the result.
func (a *Acquirer) Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.defaults(); err != nil {
		return nil, &Error{Code: CodeInvalid, Op: "acquire", Err: err}
	}
	j, err := readJournal(opts.Ledger.Dir())
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	r := &run{d: a.d, opts: opts, caseID: opts.Ledger.CaseID(), journal: j, principals: map[Side]Principal{}, pollers: map[string]*poller{}, ctx: runCtx}
	res := &Result{CaseID: r.caseID, Principals: r.principals}

	vols, err := r.prepare(ctx, res)
	if err == nil {
		res.Volumes = r.acquireAll(ctx, vols)
		err = ctx.Err()
	}
	if ferr := r.finish(ctx, res, err); ferr != nil {
		return res, errors.Join(err, ferr)
	}
	if err != nil {
		return res, err
	}
	return res, partial(res.Volumes)
}

// finish ends every run, complete or not, under a fresh context: the temporary key goes, an aborted run
// says so in the case, what is left where is listed, and the case is sealed.
func (r *run) finish(ctx context.Context, res *Result, cause error) error {
	ctx = context.WithoutCancel(ctx)
	if err := r.retireShareKey(ctx); err != nil {
		if k := r.currentShareKey(); k != nil {
			r.leave(Leftover{Side: Source, Region: k.Region, Kind: "kms-key", ID: k.ID, Note: "temporary share key: retiring it failed: " + err.Error()})
		}
	}
	res.Left = r.leftovers(res.Volumes)
	note := fmt.Sprintf("acquisition of %d volumes: %d acquired", len(res.Volumes), countOK(res.Volumes))
	if cause != nil {
		status := custody.StatusFailed
		if c := CodeOf(cause); c == CodeCancelled || c == CodeTimeout {
			status = custody.StatusAborted
		}
		if _, err := r.opts.Ledger.Append(ctx, custody.Entry{
			Action:  "acquisition.aborted",
			Result:  custody.Result{Status: status, Code: string(CodeOf(cause)), Message: cause.Error()},
			Details: map[string]any{"left": asDetail(res.Left)},
			Note:    "stopped; temporary resources removed as listed; run the same command again to continue",
		}); err != nil {
			return err
		}
		note = "aborted: " + note
	}
	sealed, err := r.opts.Ledger.Seal(ctx, note)
	if err != nil {
		return err
	}
	res.Sealed = &sealed
	res.Checkpoint = string(sealed.Checkpoint.Note)
	return nil
}

// prepare runs the case-level steps: who acts on each side, what the target is, what is already exposed.
func (r *run) prepare(ctx context.Context, res *Result) ([]Volume, error) {
	for _, side := range []Side{Source, Forensic} {
		p, err := r.identity(ctx, side)
		if err != nil {
			return nil, err
		}
		r.principals[side] = p
	}
	if src := r.principals[Source].Account; src == r.opts.Forensic.Account || src == r.principals[Forensic].Account {
		return nil, &Error{Code: CodeInvalid, Op: "preflight", Err: fmt.Errorf("the forensic account is %s, the compromised account itself: evidence must leave the attacker's reach", src)}
	}
	if r.principals[Forensic].Account != r.opts.Forensic.Account {
		return nil, &Error{Code: CodeInvalid, Op: "preflight", Err: fmt.Errorf("the forensic credentials act in account %s, not in the forensic account %s given", r.principals[Forensic].Account, r.opts.Forensic.Account)}
	}
	vols, err := r.describe(ctx)
	if err != nil {
		return nil, err
	}
	findings, err := r.exposure(ctx, vols)
	if err != nil {
		return nil, err
	}
	res.Findings = findings
	return vols, nil
}

func (r *run) identity(ctx context.Context, side Side) (Principal, error) {
	s := step{id: "case/identity." + string(side), action: "identity", side: side, region: r.regionOf(side), readOnly: true}
	var p Principal
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		var err error
		p, err = r.d.Identity(ctx, side)
		if err != nil {
			return outcome{}, err
		}
		r.principals[side] = p // so that the result record names the principal
		return outcome{details: map[string]any{"principal": asDetail(p)}, note: fmt.Sprintf("%s side acts as %s", side, p.ID)}, nil
	})
	return p, err
}

// describe captures the target's configuration as artifacts, once per case: a resumed run acquires
// what the first run found.
func (r *run) describe(ctx context.Context) ([]Volume, error) {
	const id = "case/describe"
	if details, ok := r.journal.done(id); ok {
		var vols []Volume
		if err := detail(details, "volumes", &vols); err != nil {
			return nil, err
		}
		return vols, nil
	}
	s := step{id: id, action: "describe", side: Source, region: r.opts.Target.Region}
	for _, w := range r.opts.Target.Workloads {
		s.resources = append(s.resources, custody.Resource{Kind: "instance", ID: w})
	}
	for _, v := range r.opts.Target.Volumes {
		s.resources = append(s.resources, custody.Resource{Kind: "volume", ID: v})
	}
	var vols []Volume
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		workloads, err := r.d.Describe(ctx, r.opts.Target)
		if err != nil {
			return outcome{}, err
		}
		var out outcome
		for _, w := range workloads {
			for _, a := range w.Artifacts {
				sub, err := r.addArtifact(a)
				if err != nil {
					return outcome{}, err
				}
				out.subjects = append(out.subjects, sub)
			}
			vols = append(vols, w.Volumes...)
		}
		if len(vols) == 0 {
			return outcome{}, &Error{Code: CodeNotFound, Op: "describe", Err: errors.New("the target has no volumes")}
		}
		out.details = map[string]any{"volumes": asDetail(vols)}
		out.note = fmt.Sprintf("%d workloads, %d volumes", len(workloads), len(vols))
		return out, nil
	})
	return vols, err
}

// addArtifact stores a captured artifact. A capture resumed after a crash may find the name taken by
// what the interrupted run captured, and the workload may have changed since: both captures are kept,
// the new one under its name with its digest appended.
func (r *run) addArtifact(a Artifact) (custody.Subject, error) {
	sub, err := r.opts.Ledger.AddArtifact(a.Name, a.Data, a.MediaType)
	if errors.Is(err, custody.ErrArtifactExists) {
		sum := sha256.Sum256(a.Data)
		return r.opts.Ledger.AddArtifact(fmt.Sprintf("%s.%x", a.Name, sum[:6]), a.Data, a.MediaType)
	}
	return sub, err
}

// exposure records, once per case, every existing snapshot of the target volumes that someone other
// than the forensic account can use: the attacker may already have taken a copy.
func (r *run) exposure(ctx context.Context, vols []Volume) ([]Finding, error) {
	const id = "case/exposure"
	if details, ok := r.journal.done(id); ok {
		var f []Finding
		err := detail(details, "findings", &f)
		return f, err
	}
	s := step{id: id, action: "exposure.check", side: Source, region: r.opts.Target.Region, readOnly: true}
	var findings []Finding
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		var err error
		findings, err = r.d.Exposure(ctx, vols)
		if err != nil {
			return outcome{}, err
		}
		for _, f := range findings {
			r.event(Event{Kind: EventFinding, Volume: f.VolumeID, Resource: f.Snapshot, Message: f.Detail})
		}
		note := "no snapshot of the target volumes is public or shared"
		if len(findings) > 0 {
			note = fmt.Sprintf("FINDING: %d snapshots of the target volumes are public or shared with other accounts", len(findings))
		}
		return outcome{details: map[string]any{"findings": asDetail(findings)}, note: note}, nil
	})
	return findings, err
}

// acquireAll moves every volume at once: waiting costs nothing, since one status call per round serves
// every waiting snapshot. What the cloud or the machine limits is bounded separately: copies in each
// account (AWS allows 20 concurrent copies per destination region) and digests (CPU and the block-read
// quota). Volumes of one
// workload are snapshotted together first, at one point in time where the cloud allows it.
func (r *run) acquireAll(ctx context.Context, vols []Volume) []VolumeResult {
	results := make([]VolumeResult, len(vols))
	r.copySlots = map[Side]chan struct{}{Source: make(chan struct{}, r.opts.CopyConcurrency), Forensic: make(chan struct{}, r.opts.CopyConcurrency)}
	r.digestSlots = make(chan struct{}, r.opts.DigestConcurrency)
	var wg sync.WaitGroup
	for _, group := range groupByWorkload(vols) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snaps, err := r.groupSnapshots(ctx, group, vols)
			var vwg sync.WaitGroup
			for _, i := range group.index {
				if err != nil {
					results[i] = failed(vols[i], err)
					continue
				}
				vwg.Add(1)
				go func() {
					defer vwg.Done()
					results[i] = r.acquireVolume(ctx, vols[i], snaps[vols[i].ID])
				}()
			}
			vwg.Wait()
		}()
	}
	wg.Wait()
	return results
}

// slot takes a place in a bounded phase, or gives up when the run is cancelled.
func slot(ctx context.Context, slots chan struct{}) (release func(), err error) {
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type workloadGroup struct {
	workload string
	index    []int // into the volumes
}

func groupByWorkload(vols []Volume) []workloadGroup {
	var groups []workloadGroup
	at := map[string]int{}
	for i, v := range vols {
		key := v.Workload
		if key == "" {
			key = "volume:" + v.ID
		}
		g, ok := at[key]
		if !ok {
			g = len(groups)
			at[key] = g
			groups = append(groups, workloadGroup{workload: v.Workload})
		}
		groups[g].index = append(groups[g].index, i)
	}
	return groups
}

func failed(v Volume, err error) VolumeResult {
	return VolumeResult{Volume: v, Error: err.Error(), Code: CodeOf(err)}
}

func countOK(vs []VolumeResult) int {
	n := 0
	for _, v := range vs {
		if v.Error == "" {
			n++
		}
	}
	return n
}

func partial(vs []VolumeResult) error {
	var first error
	failedN := 0
	for _, v := range vs {
		if v.Error != "" {
			failedN++
			if first == nil {
				first = &Error{Code: v.Code, Op: "acquire", Resource: v.Volume.ID, Err: errors.New(v.Error)}
			}
		}
	}
	switch {
	case failedN == 0:
		return nil
	case failedN == len(vs):
		return first
	}
	return &PartialError{Failed: failedN, Total: len(vs), First: first}
}

func (r *run) regionOf(side Side) string {
	if side == Forensic {
		return r.opts.Forensic.Region
	}
	return r.opts.Target.Region
}

func (r *run) event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = r.opts.Now()
	}
	r.opts.Progress(e)
}

func (r *run) leave(l Leftover) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.left = append(r.left, l)
}

// leftovers lists what stays: the evidence, the source snapshots kept, the share key pending deletion,
// and whatever a cleanup could not remove.
func (r *run) leftovers(vols []VolumeResult) []Leftover {
	var out []Leftover
	for _, v := range vols {
		if c := v.ForensicCopy; c != nil {
			note := "forensic copy (evidence), encrypted with the forensic key"
			if v.Locked {
				note += ", locked"
			}
			out = append(out, Leftover{Side: Forensic, Region: c.Region, Kind: "snapshot", ID: c.ID, Note: note})
		}
		if s := v.SourceSnapshot; s != nil && !(r.opts.DeleteSourceSnapshots && v.Error == "") {
			out = append(out, Leftover{Side: Source, Region: s.Region, Kind: "snapshot", ID: s.ID, Note: "source snapshot, tagged with the case (kept)"})
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out = append(out, r.left...)
	slices.SortStableFunc(out, func(a, b Leftover) int {
		if a.Side != b.Side {
			if a.Side == Forensic {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

// poller returns the batched status poller of a side and region.
func (r *run) poller(side Side, region string) *poller {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := string(side) + "/" + region
	p := r.pollers[key]
	if p == nil {
		p = &poller{ctx: r.ctx, d: r.d, side: side, region: region, min: r.opts.PollInterval, max: r.opts.MaxPollInterval, missingLimit: r.opts.MissingTimeout}
		r.pollers[key] = p
	}
	return p
}
