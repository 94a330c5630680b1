package report

import (
	"slices"

	"github.com/acquire-forensics/acquire/custody"
)

// summarize gathers the case at a glance from every readable record. Lists keep the order in which
// the records first name each value.
func summarize(dir string, recs []Record, items []Evidence, vr *custody.Report) Summary {
	s := Summary{
		CaseID:       vr.CaseID,
		Dir:          dir,
		Records:      len(recs),
		Sources:      []Place{},
		Destinations: []Place{},
		Principals:   []Principal{},
		Operators:    []string{},
		Hosts:        []string{},
		Authorities:  []custody.Authority{},
		Tools:        []custody.Tool{},
		Signers:      []custody.SignerInfo{},
	}
	for _, rec := range recs {
		ev := rec.Event
		if ev == nil {
			s.Unreadable++
			continue
		}
		if s.CaseID == "" {
			s.CaseID = ev.CaseID
		}
		if ev.Time != "" && (s.FirstTime == "" || ev.Time < s.FirstTime) {
			s.FirstTime = ev.Time // RFC 3339 UTC with fixed milliseconds: text order is time order
		}
		if ev.Time > s.LastTime {
			s.LastTime = ev.Time
		}
		addOnce(&s.Operators, ev.Actor.Operator)
		addOnce(&s.Hosts, ev.Actor.Host)
		if a := ev.Authority; a != nil && *a != (custody.Authority{}) {
			addOnce(&s.Authorities, *a)
		}
		addOnce(&s.Tools, ev.Tool)
		addOnce(&s.Signers, ev.Signer)
		addPrincipal(&s.Principals, ev)
		if ev.Action == "describe" && ev.Phase != custody.PhaseIntent && ev.Result.Status == custody.StatusOK {
			s.Sources = append(s.Sources, describedPlace(ev))
		}
	}
	if n := len(recs); n > 0 {
		if last := recs[n-1].Event; last != nil && last.Action == custody.ActionSeal {
			// A seal is one only with its checkpoint and manifest, which the verifier checked.
			s.SealNote = last.Note
			s.Sealed = vr.EndsSealed()
			s.SealIncomplete = !s.Sealed
		}
	}
	for _, it := range items {
		p := Place{Cloud: it.Cloud, Account: it.Account, Region: it.Region}
		i := slices.IndexFunc(s.Destinations, func(d Place) bool {
			return d.Cloud == p.Cloud && d.Account == p.Account && d.Region == p.Region
		})
		if i < 0 {
			s.Destinations = append(s.Destinations, p)
			i = len(s.Destinations) - 1
		}
		res := "snapshot " + it.Snapshot
		if it.Snapshot == "" {
			res = it.Name
		}
		s.Destinations[i].Resources = append(s.Destinations[i].Resources, res)
	}
	return s
}

func addOnce[T comparable](list *[]T, v T) {
	var zero T
	if v != zero && !slices.Contains(*list, v) {
		*list = append(*list, v)
	}
}

// addPrincipal records the cloud identity a record ran as, with the side an identity record names.
func addPrincipal(list *[]Principal, ev *custody.Event) {
	id := ev.Actor.Principal
	if id == "" {
		return
	}
	p := Principal{ID: id}
	if ev.Provider != nil {
		p.Cloud, p.Account = ev.Provider.Cloud, ev.Provider.Account
	}
	if d := detailMap(ev.Details["principal"]); d != nil && detailString(d, "id") == id {
		p.Side = detailString(d, "side")
		if a := detailString(d, "account"); a != "" {
			p.Account = a
		}
	}
	for i, q := range *list {
		if q.ID == id {
			if q.Side == "" {
				(*list)[i].Side = p.Side
			}
			return
		}
	}
	*list = append(*list, p)
}

// describedPlace is the target a describe record names: its account and region, its workloads and
// their volumes.
func describedPlace(ev *custody.Event) Place {
	var p Place
	if ev.Provider != nil {
		p.Cloud, p.Account, p.Region = ev.Provider.Cloud, ev.Provider.Account, ev.Provider.Region
		for _, r := range ev.Provider.Resources {
			addOnce(&p.Resources, r.Kind+" "+r.ID)
		}
	}
	for _, v := range detailList(ev.Details["volumes"]) {
		if id := detailString(detailMap(v), "id"); id != "" {
			addOnce(&p.Resources, "volume "+id)
		}
	}
	return p
}
