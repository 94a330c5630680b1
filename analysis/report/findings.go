package report

import (
	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// findings lists what a reader must not miss: exposure checks that found something, aborted runs,
// failed steps, and steps whose intent was recorded without a result (the run stopped mid-step).
func findings(recs []Record) Findings {
	f := Findings{Items: []Finding{}, CleanChecks: []uint64{}}
	resulted := map[string]bool{} // steps with a result record
	for _, rec := range recs {
		if ev := rec.Event; ev != nil && ev.Step != "" && ev.Phase != custody.PhaseIntent {
			resulted[ev.Step] = true
		}
	}
	for _, rec := range recs {
		ev := rec.Event
		if ev == nil {
			continue
		}
		base := Finding{Record: rec.Seq, Time: ev.Time, Action: ev.Action, Step: ev.Step, Code: ev.Result.Code, Message: ev.Result.Message, Note: ev.Note}
		switch {
		case ev.Action == "exposure.check" && ev.Phase != custody.PhaseIntent:
			var shared, missed []Exposure
			for _, e := range exposures(ev.Details["findings"]) {
				if e.Kind == driver.FindingNotAcquired {
					missed = append(missed, e)
				} else {
					shared = append(shared, e)
				}
			}
			if len(missed) > 0 {
				item := base
				item.Kind, item.Exposures = FindingNotAcquired, missed
				f.Items = append(f.Items, item)
			}
			if len(shared) > 0 {
				item := base
				item.Kind, item.Exposures = FindingExposure, shared
				f.Items = append(f.Items, item)
			} else if ev.Result.Status == custody.StatusOK {
				f.CleanChecks = append(f.CleanChecks, rec.Seq)
			}
		case ev.Action == "acquisition.aborted":
			base.Kind, base.Left = FindingAborted, leftovers(ev.Details["left"])
			f.Items = append(f.Items, base)
			continue
		case ev.Phase == custody.PhaseIntent && ev.Step != "" && !resulted[ev.Step]:
			base.Kind = FindingUnfinished
			f.Items = append(f.Items, base)
			continue
		}
		if ev.Result.Status == custody.StatusFailed || ev.Result.Status == custody.StatusAborted {
			base.Kind, base.Exposures = FindingFailed, nil
			f.Items = append(f.Items, base)
		}
	}
	return f
}

func exposures(v any) []Exposure {
	var out []Exposure
	for _, x := range detailList(v) {
		m := detailMap(x)
		if m == nil {
			continue
		}
		out = append(out, Exposure{
			Kind:     detailString(m, "kind"),
			Snapshot: detailString(m, "snapshot"),
			VolumeID: detailString(m, "volumeId"),
			Accounts: detailStrings(m["accounts"]),
			Detail:   detailString(m, "detail"),
		})
	}
	return out
}

func leftovers(v any) []Leftover {
	var out []Leftover
	for _, x := range detailList(v) {
		m := detailMap(x)
		if m == nil {
			continue
		}
		out = append(out, Leftover{
			Side:   detailString(m, "side"),
			Region: detailString(m, "region"),
			Kind:   detailString(m, "kind"),
			ID:     detailString(m, "id"),
			Note:   detailString(m, "note"),
		})
	}
	return out
}
