package providers

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/acquire-forensics/acquire/custody"
)

// Options of an acquisition. Ledger, Target and Forensic are required; every other field has a default.
type Options struct {
	Ledger   *custody.Ledger // the case: custody records, journal and artifacts
	Target   Target          // what to acquire
	Forensic ForensicOptions // where it goes

	// ShareKeyID is a source-side key the forensic side may use, for volumes whose key cannot be shared
	// (AWS: aws/ebs). When empty and one is needed, a temporary key is created for the case, usable by
	// the forensic account only, and scheduled for deletion when the case no longer needs it.
	ShareKeyID string
	// Lock, when set, locks every forensic copy against deletion.
	Lock *LockRequest
	// DeleteSourceSnapshots deletes the snapshots taken in the source account once their forensic copy
	// is complete and digested. By default they are kept, tagged with the case.
	DeleteSourceSnapshots bool

	CopyConcurrency   int           // transfers (staging copy, share, forensic copy) in flight; default 20, AWS's documented limit of concurrent copies per region
	DigestConcurrency int           // digests at once; default 4 (each reads many blocks in parallel already)
	PollInterval      time.Duration // first wait between status polls; default 2s
	MaxPollInterval   time.Duration // longest wait between polls; default 30s
	CleanupTimeout    time.Duration // time allowed to undo temporary resources after a failure or cancel; default 2m
	MissingTimeout    time.Duration // how long a new snapshot may stay unknown to the cloud (eventual consistency); default 5m
	RetryAttempts     int           // attempts of a create call that failed transiently; default 5
	RetryBackoff      time.Duration // first backoff between those attempts; default 1s

	Progress func(Event)  // progress events; none when nil
	Logger   *slog.Logger // operational log; silent when nil
	Now      func() time.Time
}

// ForensicOptions name the isolated side.
type ForensicOptions struct {
	Account string // the forensic account, project or subscription
	Region  string // where copies go; the target's region when empty
	KeyID   string // the forensic side's key for the copies
}

func (o *Options) defaults() error {
	if o.Ledger == nil {
		return errors.New("a custody ledger is required")
	}
	if len(o.Target.Workloads) == 0 && len(o.Target.Volumes) == 0 {
		return errors.New("nothing to acquire: give instances or volumes")
	}
	if o.Target.Region == "" {
		return errors.New("the target's region is required")
	}
	if o.Forensic.Account == "" {
		return errors.New("the forensic account is required")
	}
	if o.Forensic.KeyID == "" {
		return errors.New("the forensic side's key for the copies is required")
	}
	if o.Forensic.Region == "" {
		o.Forensic.Region = o.Target.Region
	}
	if o.Lock != nil {
		if o.Lock.Mode != "governance" && o.Lock.Mode != "compliance" {
			return fmt.Errorf("lock mode %q: use governance or compliance", o.Lock.Mode)
		}
		if o.Lock.Days < 1 || o.Lock.Days > 36500 {
			return fmt.Errorf("lock duration %d days: use 1 to 36500", o.Lock.Days)
		}
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
	if o.RetryAttempts <= 0 {
		o.RetryAttempts = 5
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
