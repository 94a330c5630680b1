package acquisition

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Plan is what defines an acquisition: recorded when it starts, and compared with the options of
// every later run of the same case, so that a re-run with other arguments is not mistaken for a resume.
type Plan struct {
	Cloud                 string              `json:"cloud"`
	Target                driver.Target       `json:"target"`
	Destination           driver.Destination  `json:"destination"`
	Consistency           driver.Consistency  `json:"consistency,omitempty"`
	Lock                  *driver.LockRequest `json:"lock,omitempty"`
	Digest                DigestMode          `json:"digest"`
	DeleteSourceSnapshots bool                `json:"deleteSourceSnapshots,omitempty"`
	Settings              map[string]string   `json:"settings,omitempty"`
}

func planOf(d driver.Driver, o Options) Plan {
	return Plan{Cloud: d.Cloud(), Target: o.Target, Destination: o.Destination, Consistency: o.Consistency, Lock: o.Lock,
		Digest: o.Digest, DeleteSourceSnapshots: o.DeleteSourceSnapshots, Settings: o.Settings}
}

// differences lists, in words, how another run's plan differs from the recorded one.
func (p Plan) differences(q Plan) []string {
	var out []string
	add := func(what string, recorded, given any) {
		if fmt.Sprint(recorded) != fmt.Sprint(given) {
			out = append(out, fmt.Sprintf("%s: recorded %v, given %v", what, show(recorded), show(given)))
		}
	}
	add("cloud", p.Cloud, q.Cloud)
	add("target location", p.Target.Location, q.Target.Location)
	add("target workloads", p.Target.Workloads, q.Target.Workloads)
	add("target volumes", p.Target.Volumes, q.Target.Volumes)
	add("forensic account", p.Destination.Account, q.Destination.Account)
	add("forensic location", p.Destination.Location, q.Destination.Location)
	add("forensic key", p.Destination.Key, q.Destination.Key)
	add("consistency", p.Consistency, q.Consistency)
	add("lock", lockWords(p.Lock), lockWords(q.Lock))
	add("digest", p.Digest, q.Digest)
	add("delete source snapshots", p.DeleteSourceSnapshots, q.DeleteSourceSnapshots)
	for _, k := range slices.Sorted(maps.Keys(union(p.Settings, q.Settings))) {
		add(k, p.Settings[k], q.Settings[k])
	}
	return out
}

func union(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return "(none)"
		}
		return x
	case []string:
		if len(x) == 0 {
			return "(none)"
		}
		return strings.Join(x, ", ")
	}
	return fmt.Sprint(v)
}

func lockWords(l *driver.LockRequest) string {
	if l == nil {
		return ""
	}
	s := fmt.Sprintf("%s for %d days", l.Mode, l.Days)
	if l.CoolOffHours > 0 {
		s += fmt.Sprintf(", cool-off %d hours", l.CoolOffHours)
	}
	return s
}

// checkPlan refuses, before anything is made, what the driver cannot honour.
func checkPlan(d driver.Driver, f driver.Features, o Options) error {
	caps := d.Capabilities()
	var problems []string
	if caps.SnapshotSide != driver.Forensic && caps.SnapshotSide != driver.Source {
		return fmt.Errorf("the %s driver does not say on which side its snapshots land", d.Cloud())
	}
	if caps.SnapshotSide == driver.Source && f.Transfer == nil {
		return fmt.Errorf("the %s driver snapshots on the source side but cannot transfer snapshots", d.Cloud())
	}
	if o.Lock != nil {
		if f.Lock == nil {
			problems = append(problems, fmt.Sprintf("%s cannot lock evidence against deletion (its snapshots have no lock): drop --lock, "+
				"and keep delete rights on the forensic %s's snapshots from everyone but its custodians instead", d.Cloud(), accountWord(d.Cloud())))
		} else if err := f.Lock.CheckLock(*o.Lock); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if o.Consistency == driver.CrashConsistent && caps.Crash == driver.CrashNone {
		problems = append(problems, fmt.Sprintf("%s cannot snapshot a workload's volumes at one point in time: ask for per-volume snapshots", d.Cloud()))
	}
	if o.DeleteSourceSnapshots && caps.SnapshotSide == driver.Forensic {
		problems = append(problems, fmt.Sprintf("%s snapshots straight into the forensic side: there are no source snapshots to delete", d.Cloud()))
	}
	if loc := o.Destination.Location; loc != "" && !caps.CrossLocation && o.Target.Location != "" && loc != o.Target.Location {
		problems = append(problems, fmt.Sprintf("%s cannot place evidence in %s, away from the volumes in %s", d.Cloud(), loc, o.Target.Location))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// consistencyFor is what the snapshots of a workload are asked for.
func consistencyFor(caps driver.Capabilities, asked driver.Consistency) driver.Consistency {
	switch {
	case asked != "":
		return asked
	case caps.Crash == driver.CrashNative:
		return driver.CrashConsistent
	}
	return driver.PerVolume
}

// PlanStep is one step an acquisition would take, for a dry run.
type PlanStep struct {
	N       int         `json:"n"`
	Side    driver.Side `json:"side"`
	Subject string      `json:"subject"` // the workload or volume it concerns
	Action  string      `json:"action"`
}

// DryRun lists the steps an acquisition of the described workloads would take, in order, without
// calling the cloud, or says why it would be refused.
func DryRun(d driver.Driver, workloads []driver.Workload, o Options) ([]PlanStep, error) {
	if err := o.defaults(); err != nil {
		return nil, &driver.Error{Code: driver.CodeInvalid, Op: "plan", Err: err}
	}
	f := driver.FeaturesOf(d)
	if err := checkPlan(d, f, o); err != nil {
		return nil, &driver.Error{Code: driver.CodeInvalid, Op: "plan", Err: err}
	}
	caps := d.Capabilities()
	var plan []PlanStep
	add := func(side driver.Side, subject, format string, args ...any) {
		plan = append(plan, PlanStep{N: len(plan) + 1, Side: side, Subject: subject, Action: fmt.Sprintf(format, args...)})
	}
	add(driver.Source, "case", "check who the source credentials are")
	add(driver.Forensic, "case", "check who the forensic credentials are (must be account %s)", o.Destination.Account)
	add(driver.Source, "case", "capture the configuration of %s as artifacts", many(len(workloads), "workload"))
	if f.Exposure != nil {
		add(driver.Source, "case", "check whether existing snapshots of the volumes can be used by others")
	}
	if f.Preflight != nil {
		add(driver.Forensic, "case", "check the forensic side can take the evidence (key, location)")
	}
	side := caps.SnapshotSide
	for _, w := range workloads {
		how := "each volume on its own"
		switch consistencyFor(caps, o.Consistency) {
		case driver.CrashConsistent:
			how = "crash-consistent, one point in time"
			if caps.Crash == driver.CrashWritesSource {
				how += ", through resources made in the source account and removed afterwards"
			}
		}
		where := "in the source account"
		if side == driver.Forensic {
			where = "straight into the forensic account " + o.Destination.Account
		}
		subject := w.ID
		if subject == "" && len(w.Volumes) == 1 {
			subject = w.Volumes[0].ID
		}
		add(side, subject, "snapshot %s (%s) %s, labelled with the case", many(len(w.Volumes), "volume"), how, where)
		for _, v := range w.Volumes {
			if side == driver.Source {
				for _, s := range f.Transfer.TransferPlan(v) {
					add(driver.Source, v.ID, "%s", s)
				}
			}
			if o.Lock != nil {
				add(driver.Forensic, v.ID, "lock the evidence (%s)", lockWords(o.Lock))
			}
			switch {
			case o.Digest == DigestDefer:
				add(driver.Forensic, v.ID, "record the digest as deferred, as asked")
			case f.Digest != nil:
				for _, s := range f.Digest.DigestPlan(v) {
					add(driver.Forensic, v.ID, "%s", s)
				}
			case f.Blocks != nil:
				add(driver.Forensic, v.ID, "read the evidence's blocks and compute its digests (%d GiB)", v.SizeBytes>>30)
			default:
				add(driver.Forensic, v.ID, "record the digest as deferred: %s cannot read snapshot content during an acquisition", d.Cloud())
			}
			if o.DeleteSourceSnapshots {
				add(driver.Source, v.ID, "delete the source snapshot")
			}
		}
	}
	add(driver.Source, "case", "remove what the acquisition made for its own use; seal the case: checkpoint and manifest")
	return plan, nil
}

// many says a count with its noun, singular or plural: "1 workload", "2 volumes".
func many(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// accountWord is what a cloud calls the isolated side: an account, a project, a subscription.
func accountWord(cloud string) string {
	switch cloud {
	case "gcp":
		return "project"
	case "azure":
		return "subscription"
	}
	return "account"
}
