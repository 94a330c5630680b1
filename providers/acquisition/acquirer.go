package acquisition

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/pace"
)

// Acquirer runs acquisitions with one driver.
type Acquirer struct {
	d driver.Driver
	f driver.Features
}

// New returns an Acquirer for a driver.
func New(d driver.Driver) *Acquirer { return &Acquirer{d: d, f: driver.FeaturesOf(d)} }

// Result is what an acquisition achieved, volume by volume, and what it left where.
type Result struct {
	CaseID      string                           `json:"caseId"`
	Acquisition int                              `json:"acquisition"` // its number in the case
	Resumed     bool                             `json:"resumed"`     // this run continued an earlier one
	Principals  map[driver.Side]driver.Principal `json:"principals"`
	Volumes     []VolumeResult                   `json:"volumes"`
	Findings    []driver.Finding                 `json:"findings"`
	Left        []Leftover                       `json:"left"`
	Sealed      *custody.Sealed                  `json:"-"`
	Checkpoint  string                           `json:"checkpoint,omitempty"`
}

// VolumeResult is the evidence of one volume, or why there is none.
type VolumeResult struct {
	Volume         driver.Volume      `json:"volume"`
	SourceSnapshot *driver.Snapshot   `json:"sourceSnapshot,omitempty"` // where the cloud snapshots on the source side
	Evidence       *driver.Snapshot   `json:"evidence,omitempty"`       // the forensic-side snapshot
	Consistency    driver.Consistency `json:"consistency,omitempty"`
	Locked         string             `json:"locked,omitempty"`
	Digest         *driver.Digest     `json:"digest,omitempty"`
	Deferred       string             `json:"deferred,omitempty"` // why the digest was not computed
	Recorded       bool               `json:"recorded"`           // the evidence record was written
	Error          string             `json:"error,omitempty"`
	Code           driver.Code        `json:"code,omitempty"`
	err            error              // the error itself, wrapped once already
}

// Leftover is a resource the acquisition leaves in place, on purpose (evidence) or not (a cleanup that
// failed): the responder must know where everything is.
type Leftover struct {
	Side     driver.Side `json:"side"`
	Location string      `json:"location"`
	Kind     string      `json:"kind"`
	ID       string      `json:"id"`
	Note     string      `json:"note"`
}

// PartialError is returned when some volumes were acquired and others were not.
type PartialError struct {
	Failed, Total int
	First         error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d of %s not acquired; first: %v", e.Failed, many(e.Total, "volume"), e.First)
}

func (e *PartialError) Unwrap() error { return e.First }

// run is the state of one run of an acquisition.
type run struct {
	d       driver.Driver
	f       driver.Features
	caps    driver.Capabilities
	opts    Options
	caseID  string
	n       int    // the acquisition's number in the case
	prefix  string // of its step IDs: "a1/"
	journal *journal
	tokens  tokens
	pace    *pace.Set
	ctx     context.Context // lives as long as the run, for the pollers

	principals map[driver.Side]driver.Principal // written during prepare only

	mu       sync.Mutex // guards the fields below and serializes progress events
	pollers  map[string]*poller
	left     []Leftover
	prepared []driver.Resource // what PrepareTransfers made, for every transfer
	prepGen  string            // the step ID of the preparation that made them

	copySlots   map[driver.Side]chan struct{} // bound the copies in flight on each side
	digestSlots chan struct{}                 // bound the digests in flight
}

// Run acquires the target into the forensic side and records every step in the case. Running it
// again with the same options continues where the last run stopped; with other options it is refused,
// unless Options.NewAcquisition asks for another acquisition in the same case. When some volumes fail,
// the others are still acquired and a *PartialError is returned with the result.
func (a *Acquirer) Run(ctx context.Context, opts Options) (*Result, error) {
	invalid := func(err error) (*Result, error) {
		return nil, &driver.Error{Code: driver.CodeInvalid, Op: "acquire", Err: err}
	}
	if opts.Ledger == nil {
		return invalid(errors.New("a custody ledger is required"))
	}
	if err := opts.defaults(); err != nil {
		return invalid(err)
	}
	toks, err := newTokens(opts.Ledger.Nonce())
	if err != nil {
		return invalid(err)
	}
	j, err := readJournal(ctx, opts.Ledger)
	if err != nil {
		return nil, &driver.Error{Code: driver.CodeIntegrity, Op: "acquire", Err: err}
	}
	plan := planOf(a.d, opts)
	n, resumed, err := j.choose(plan, opts.NewAcquisition)
	if err != nil {
		return invalid(err)
	}
	if err := checkPlan(a.d, a.f, opts); err != nil {
		return invalid(err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	r := &run{d: a.d, f: a.f, caps: a.d.Capabilities(), opts: opts, caseID: opts.Ledger.CaseID(), n: n, prefix: fmt.Sprintf("a%d/", n),
		journal: j, tokens: toks, pace: pace.NewSet(opts.Pace), ctx: runCtx, principals: map[driver.Side]driver.Principal{}, pollers: map[string]*poller{}}
	res := &Result{CaseID: r.caseID, Acquisition: n, Resumed: resumed, Principals: r.principals}
	if err := r.start(ctx, plan, resumed); err != nil {
		return nil, err
	}

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

// choose says which acquisition a run belongs to: the case's latest, when the plan is the same (a
// resume, or a run of a finished acquisition, which finds every step done); a new one when the case
// holds none, or when asked for. A plan that differs from the latest one is refused with what differs.
func (j *journal) choose(p Plan, newAcquisition bool) (n int, resumed bool, err error) {
	if len(j.acquisitions) == 0 {
		return 1, false, nil
	}
	last := j.acquisitions[len(j.acquisitions)-1]
	if newAcquisition {
		return last.N + 1, false, nil
	}
	if diff := last.Plan.differences(p); len(diff) > 0 {
		return 0, false, fmt.Errorf("this case holds acquisition %d, whose plan differs from these arguments (%s): give the same arguments to continue it, or ask for a new acquisition in this case",
			last.N, strings.Join(diff, "; "))
	}
	return last.N, true, nil
}

// start records that the acquisition starts, or that this run resumes it and what the runs before it
// left in flight or failed.
func (r *run) start(ctx context.Context, plan Plan, resumed bool) error {
	e := custody.Entry{Action: actionStart, Details: map[string]any{"start": asDetail(startRecord{N: r.n, Plan: plan})},
		Note: fmt.Sprintf("acquisition %d of %s and %s into %s", r.n, many(len(plan.Target.Workloads), "workload"), many(len(plan.Target.Volumes), "volume"), plan.Destination.Account)}
	if resumed {
		inFlight, failed := r.journal.pending(r.prefix)
		slices.Sort(inFlight)
		slices.Sort(failed)
		e.Action = "acquisition.resume"
		e.Details["inFlight"], e.Details["failed"] = inFlight, failed
		e.Note = fmt.Sprintf("resuming acquisition %d: when the last run stopped, %s in flight and %s failed", r.n, many(len(inFlight), "step"), many(len(failed), "step"))
	}
	_, err := r.opts.Ledger.Append(ctx, e)
	if err == nil {
		r.journal.acquisitions = append(r.journal.acquisitions, startRecord{N: r.n, Plan: plan})
	}
	return err
}

// finish ends every run, complete or not, under a fresh context: what the transfers shared is
// removed, an aborted run says so in the case, what is left where is listed, and the case is sealed.
func (r *run) finish(ctx context.Context, res *Result, cause error) error {
	ctx = context.WithoutCancel(ctx)
	r.releasePrepared(ctx)
	res.Left = r.leftovers(res.Volumes)
	note := fmt.Sprintf("acquisition %d of %s: %d acquired", r.n, many(len(res.Volumes), "volume"), countOK(res.Volumes))
	if cause != nil {
		status := custody.StatusFailed
		if c := driver.CodeOf(cause); c == driver.CodeCancelled || c == driver.CodeTimeout {
			status = custody.StatusAborted
		}
		if _, err := r.opts.Ledger.Append(ctx, custody.Entry{
			Action:  actionAborted,
			Result:  custody.Result{Status: status, Code: string(driver.CodeOf(cause)), Message: cause.Error()},
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

func failed(v driver.Volume, err error) VolumeResult {
	return VolumeResult{Volume: v, Error: err.Error(), Code: driver.CodeOf(err), err: err}
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
				first = v.err
				if first == nil {
					first = &driver.Error{Code: v.Code, Op: "acquire", Resource: v.Volume.ID, Err: errors.New(v.Error)}
				}
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

func (r *run) locationOf(side driver.Side) string {
	if side == driver.Forensic && r.opts.Destination.Location != "" {
		return r.opts.Destination.Location
	}
	return r.opts.Target.Location
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

// leftovers lists what stays: the evidence, the source snapshots kept, and whatever a removal could
// not remove or leaves behind.
func (r *run) leftovers(vols []VolumeResult) []Leftover {
	var out []Leftover
	for _, v := range vols {
		if e := v.Evidence; e != nil && v.Recorded {
			note := "evidence"
			if e.KeyID != "" {
				note += ", encrypted under key " + e.KeyID
			}
			if v.Locked != "" {
				note += ", locked (" + v.Locked + ")"
			}
			out = append(out, Leftover{Side: driver.Forensic, Location: e.Location, Kind: "snapshot", ID: e.ID, Note: note})
		}
		if s := v.SourceSnapshot; s != nil && !(r.opts.DeleteSourceSnapshots && v.Error == "") {
			out = append(out, Leftover{Side: driver.Source, Location: s.Location, Kind: "snapshot", ID: s.ID, Note: "source snapshot, labelled with the case (kept)"})
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out = append(out, r.left...)
	slices.SortStableFunc(out, func(a, b Leftover) int {
		if a.Side != b.Side {
			if a.Side == driver.Forensic {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

// poller returns the batched status poller of a side and location.
func (r *run) poller(side driver.Side, location string) *poller {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := string(side) + "/" + location
	p := r.pollers[key]
	if p == nil {
		p = &poller{ctx: r.ctx, d: r.d, side: side, location: location, min: r.opts.PollInterval, max: r.opts.MaxPollInterval, missingLimit: r.opts.MissingTimeout}
		r.pollers[key] = p
	}
	return p
}
