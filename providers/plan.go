package providers

import "fmt"

// PlanStep is one step an acquisition would take, for a dry run.
type PlanStep struct {
	N       int    `json:"n"`
	Side    Side   `json:"side"`
	Subject string `json:"subject"` // the workload or volume it concerns
	Action  string `json:"action"`
}

// Plan lists the steps an acquisition of the described workloads would take, in order, without
// calling the cloud.
func Plan(d Driver, workloads []Workload, o Options) []PlanStep {
	var plan []PlanStep
	add := func(side Side, subject, format string, args ...any) {
		plan = append(plan, PlanStep{N: len(plan) + 1, Side: side, Subject: subject, Action: fmt.Sprintf(format, args...)})
	}
	forensicRegion := o.Forensic.Region
	add(Source, "case", "check who the source credentials are")
	add(Forensic, "case", "check who the forensic credentials are (must be account %s)", o.Forensic.Account)
	add(Source, "case", "capture the configuration of %d workloads as artifacts", len(workloads))
	add(Source, "case", "check whether existing snapshots of the volumes are public or shared")
	needKey := false
	for _, w := range workloads {
		for _, v := range w.Volumes {
			needKey = needKey || d.NeedsShareKey(v)
		}
	}
	if needKey && o.ShareKeyID == "" {
		add(Source, "case", "create a temporary key usable by the forensic account only")
	}
	for _, w := range workloads {
		if w.ID != "" {
			how := "one snapshot per volume"
			if d.Capabilities().CrashConsistentGroups {
				how = "crash-consistent, one point in time"
			}
			add(Source, w.ID, "snapshot its %d volumes (%s), tagged with the case", len(w.Volumes), how)
		}
		for _, v := range w.Volumes {
			if w.ID == "" {
				add(Source, v.ID, "snapshot the volume, tagged with the case")
			}
			switch {
			case d.NeedsShareKey(v):
				add(Source, v.ID, "copy the snapshot under the share key (it is under the provider's unshareable key)")
			case v.KeyKind == KeyCustomer:
				add(Source, v.ID, "grant the forensic account use of key %s for the copy", v.KeyID)
			}
			add(Source, v.ID, "share the snapshot with account %s only", o.Forensic.Account)
			region := forensicRegion
			if region == "" {
				region = v.Region
			}
			add(Forensic, v.ID, "copy it into %s under key %s", region, o.Forensic.KeyID)
			if o.Lock != nil {
				add(Forensic, v.ID, "lock the copy (%s, %d days)", o.Lock.Mode, o.Lock.Days)
			}
			add(Forensic, v.ID, "digest the copy's content (%d GiB)", v.SizeBytes>>30)
			add(Source, v.ID, "withdraw the share and remove the intermediate copy and grants")
			if o.DeleteSourceSnapshots {
				add(Source, v.ID, "delete the source snapshot")
			}
		}
	}
	if needKey && o.ShareKeyID == "" {
		add(Source, "case", "schedule the temporary key's deletion")
	}
	add(Source, "case", "seal the case: checkpoint and manifest")
	return plan
}
