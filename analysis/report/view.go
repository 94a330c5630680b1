package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/acquire-forensics/acquire/custody"
)

// These helpers turn the model into the plain phrases both renderers show. They return unescaped text:
// each renderer escapes it for its format.

func viewFuncs() map[string]any {
	return map[string]any{
		"tool":      toolText,
		"place":     placeText,
		"principal": principalText,
		"authority": authorityText,
		"result":    resultText,
		"who":       whoText,
		"where":     whereText,
		"what":      whatText,
		"seqs":      seqsText,
		"bytes":     humanBytes,
		"lock":      lockText,
		"join":      strings.Join,
		"exposure":  exposureText,
		"leftover":  leftoverText,
		"problem":   func(p custody.Problem) string { return p.String() },
		"kindTitle": kindTitle,
		"inc":       func(i int) int { return i + 1 },
		"orNone":    orNone,
		"override":  overrideText,
		"destination": func(c Comparison) string {
			if c.Host != "" && c.Destination != "" {
				return c.Destination + " on " + c.Host
			}
			return c.Destination + c.Host
		},
		"requestIDs": func(ev *custody.Event) []string {
			if ev.Provider == nil {
				return nil
			}
			return ev.Provider.RequestIDs
		},
	}
}

func toolText(t custody.Tool) string {
	s := strings.TrimSpace(t.Name + " " + t.Version)
	if t.Commit != "" {
		s += " (commit " + t.Commit + ")"
	}
	return s
}

func placeText(p Place) string {
	parts := []string{p.Cloud}
	if p.Account != "" {
		parts = append(parts, "account "+p.Account)
	}
	if p.Region != "" {
		parts = append(parts, "region "+p.Region)
	}
	s := strings.Join(parts, ", ")
	if len(p.Resources) > 0 {
		s += ": " + strings.Join(p.Resources, ", ")
	}
	return s
}

func principalText(p Principal) string {
	var ctx []string
	if p.Side != "" {
		ctx = append(ctx, p.Side+" side")
	}
	if p.Cloud != "" {
		ctx = append(ctx, p.Cloud)
	}
	if p.Account != "" {
		ctx = append(ctx, "account "+p.Account)
	}
	if len(ctx) == 0 {
		return p.ID
	}
	return p.ID + " (" + strings.Join(ctx, ", ") + ")"
}

func authorityText(a custody.Authority) string {
	var parts []string
	if a.Ticket != "" {
		parts = append(parts, "ticket: "+a.Ticket)
	}
	if a.Justification != "" {
		parts = append(parts, "justification: "+a.Justification)
	}
	if a.Approver != "" {
		parts = append(parts, "approver: "+a.Approver)
	}
	return strings.Join(parts, "; ")
}

func resultText(ev *custody.Event) string {
	s := ev.Result.Status
	if ev.Result.Code != "" {
		s += " (" + ev.Result.Code + ")"
	}
	if ev.Result.Message != "" {
		s += ": " + ev.Result.Message
	}
	return s
}

func whoText(ev *custody.Event) string {
	s := ev.Actor.Operator
	if ev.Actor.Principal != "" {
		s += " as " + ev.Actor.Principal
	}
	if ev.Actor.Host != "" {
		s += " on " + ev.Actor.Host
	}
	return s
}

func whereText(ev *custody.Event) string {
	p := ev.Provider
	if p == nil {
		return ""
	}
	parts := []string{p.Cloud}
	for _, kv := range [][2]string{{"account", p.Account}, {"region", p.Region}, {"zone", p.Zone}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	return strings.Join(parts, ", ")
}

// whatText lists what a record is about: where, the resources, its note and its subjects.
func whatText(rec Record) []string {
	ev := rec.Event
	var out []string
	if w := whereText(ev); w != "" {
		out = append(out, w)
	}
	if ev.Provider != nil {
		for _, r := range ev.Provider.Resources {
			out = append(out, r.Kind+" "+r.ID)
		}
	}
	if ev.Note != "" {
		out = append(out, ev.Note)
	}
	for _, s := range rec.Subjects {
		if t := subjectText(s); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// subjectText names a subject with its digest; the case's own subject says nothing worth a line.
func subjectText(s custody.Subject) string {
	if s.Kind() == custody.KindCase {
		return ""
	}
	kind := s.Kind()
	if kind == "" {
		kind = "subject"
	}
	return fmt.Sprintf("%s %s sha256:%s", kind, s.Name, s.Digest["sha256"])
}

func seqsText(seqs []uint64) string {
	parts := make([]string, len(seqs))
	for i, s := range seqs {
		parts[i] = strconv.FormatUint(s, 10)
	}
	return strings.Join(parts, ", ")
}

func lockText(l *Lock) string {
	if l == nil {
		return "none recorded"
	}
	s := fmt.Sprintf("%s for %d days", orNone(l.Mode), l.Days)
	if l.CoolOffHours > 0 {
		s += fmt.Sprintf(", cool-off %d hours", l.CoolOffHours)
	}
	return s + fmt.Sprintf(" (record %d: %s)", l.Record, l.Status)
}

func exposureText(e Exposure) string {
	s := strings.TrimSpace(e.Kind + " " + e.Snapshot)
	if e.VolumeID != "" {
		s += " of " + e.VolumeID
	}
	if len(e.Accounts) > 0 {
		s += ", usable by " + strings.Join(e.Accounts, ", ")
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func leftoverText(l Leftover) string {
	s := strings.TrimSpace(l.Kind + " " + l.ID)
	var where []string
	if l.Side != "" {
		where = append(where, l.Side+" side")
	}
	if l.Region != "" {
		where = append(where, l.Region)
	}
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	if l.Note != "" {
		s += ": " + l.Note
	}
	return s
}

func kindTitle(kind string) string {
	switch kind {
	case FindingExposure:
		return "Exposure before acquisition"
	case FindingNotAcquired:
		return "Volume NOT acquired"
	case FindingAborted:
		return "Acquisition stopped"
	case FindingFailed:
		return "Failed step"
	case FindingUnfinished:
		return "Step without a result"
	}
	return kind
}

func orNone(s string) string {
	if s == "" {
		return "not recorded"
	}
	return s
}

// overrideText says that an export went ahead although the case failed verification.
func overrideText(c Comparison) string {
	switch {
	case !c.Forced:
		return ""
	case c.OverriddenProblems > 0:
		return fmt.Sprintf(", forced past %d verification problems", c.OverriddenProblems)
	}
	return ", forced past a failed verification"
}
