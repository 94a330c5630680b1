package acquisition

import (
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/pace"
)

// DigestMode says whether evidence is digested during the acquisition.
type DigestMode string

// Digest modes.
const (
	DigestCompute DigestMode = "compute" // through the cloud's block reader or its digester; the default
	DigestDefer   DigestMode = "defer"   // recorded as deferred: export or a later digest computes it
)

// Options of an acquisition. Ledger, Target and Destination are required; every other field has a
// default. The fields that say what is acquired and how (Target, Destination, Consistency, Lock,
// Digest, DeleteSourceSnapshots, Settings) are recorded as the acquisition's plan: a later run of the
// same case must give the same, unless NewAcquisition is set.
type Options struct {
	Ledger      *custody.Ledger    // the case: custody records, journal and artifacts
	Target      driver.Target      // what to acquire
	Destination driver.Destination // where it goes

	// Consistency asks for crash-consistent snapshots of each workload's volumes, or per-volume
	// snapshots; empty takes the cloud's default (crash-consistent where that writes nothing more to
	// the source account).
	Consistency driver.Consistency
	// Lock, when set, locks every forensic snapshot against deletion (a mode the driver declares).
	Lock *driver.LockRequest
	// Digest is DigestCompute (the default) or DigestDefer.
	Digest DigestMode
	// DeleteSourceSnapshots deletes the snapshots taken on the source side (where the cloud takes
	// them there) once their evidence is recorded. By default they are kept, labelled with the case.
	DeleteSourceSnapshots bool
	// Settings are the driver's own choices that change what is made (AWS: the share key), recorded
	// with the plan.
	Settings map[string]string
	// NewAcquisition starts another acquisition in a case that holds one with another plan.
	NewAcquisition bool

	CopyConcurrency   int           // snapshot copies in flight on each side; default 20 (AWS's concurrent copies per destination region)
	DigestConcurrency int           // digests at once; default 4 (each reads many blocks in parallel already)
	PollInterval      time.Duration // first wait between status polls; default 2s
	MaxPollInterval   time.Duration // longest wait between polls; default 30s
	CleanupTimeout    time.Duration // time allowed to undo temporary resources after a failure or cancel; default 2m
	MissingTimeout    time.Duration // how long a new snapshot may stay unknown to the cloud (eventual consistency); default 5m
	RetryDeadline     time.Duration // how long a step retries throttling and unavailability; default 10m
	RetryBackoff      time.Duration // first backoff between those attempts (it doubles, to 30s); default 1s
	// Pace is the client-side rate of each side's API calls, shared by all workers of the run; the
	// default starts at 50 calls per second, between 1 and 200, with a second's worth at once: a
	// fleet's snapshots start together rather than a tenth of a second's worth at a time. The clouds
	// meter calls with token buckets that hold bursts (Azure Resource Manager: 200 writes, refilled 10
	// a second, https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling;
	// EC2: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html), and a throttled
	// share of calls halves the rate and the burst with it.
	Pace pace.Settings

	Progress func(Event)  // progress events; none when nil
	Logger   *slog.Logger // operational log; silent when nil
	Now      func() time.Time
}

func (o *Options) defaults() error {
	o.Target.Workloads = unique(o.Target.Workloads)
	o.Target.Volumes = unique(o.Target.Volumes)
	if len(o.Target.Workloads) == 0 && len(o.Target.Volumes) == 0 {
		return errors.New("nothing to acquire: give instances or volumes")
	}
	if o.Destination.Account == "" {
		return errors.New("the forensic account is required")
	}
	if o.Digest == "" {
		o.Digest = DigestCompute
	}
	if o.Digest != DigestCompute && o.Digest != DigestDefer {
		return errors.New("digest mode " + string(o.Digest) + ": use compute or defer")
	}
	switch o.Consistency {
	case "", driver.PerVolume, driver.CrashConsistent:
	default:
		return errors.New("consistency " + string(o.Consistency) + ": use crash-consistent or per-volume")
	}
	if o.CopyConcurrency <= 0 {
		o.CopyConcurrency = 20
	}
	if o.DigestConcurrency <= 0 {
		o.DigestConcurrency = 4
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.MaxPollInterval < o.PollInterval {
		o.MaxPollInterval = max(30*time.Second, o.PollInterval)
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 2 * time.Minute
	}
	if o.MissingTimeout <= 0 {
		o.MissingTimeout = 5 * time.Minute
	}
	if o.RetryDeadline <= 0 {
		o.RetryDeadline = 10 * time.Minute
	}
	if o.Pace.Initial <= 0 {
		o.Pace = pace.Settings{Initial: 50, Min: 1, Max: 200, Burst: 1}
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = time.Second
	}
	if o.Progress == nil {
		o.Progress = func(Event) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// unique returns the IDs sorted, each once: a target named twice is acquired once.
func unique(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
