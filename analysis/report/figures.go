package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acquire-forensics/acquire/custody"
)

// The HTML report draws two figures as inline SVG, from the same model the tables show: each evidence
// item's steps on one time axis, and where each volume's evidence went. They carry no script and load
// nothing; every label is escaped by html/template, and a label too long to draw is cut, with the whole
// text in the element's <title>.

// Figure geometry, in SVG user units.
const (
	figWidth     = 1000
	figLabelW    = 230 // the timeline's label column
	figRowH      = 30
	figTop       = 34
	figMaxLabel  = 34 // runes drawn of a label; the rest is in its title
	flowBoxW     = 330
	flowArrowGap = 20
)

// timelineFigure is every evidence item's steps, from its first record to the seal, on one time axis.
type timelineFigure struct {
	Width, Height int
	PlotX, PlotW  int
	AxisY         int
	Rows          []timelineRow
	Ticks         []figTick
	Seal          *figTick // where the case was sealed
	Legend        []figLegend
	LegendY       int
}

type timelineRow struct {
	Y, TextY        int
	Label, Title    string
	Segments        []figSegment
	Marks           []figSegment // one per record, at its time
	BarY, BarHeight int
}

type figSegment struct {
	X, W  string
	Class string
	Title string
}

type figTick struct {
	X     string
	Label string
}

type figLegend struct {
	X, TextX int
	Class    string
	Label    string
}

// stepKinds name the colours of the timeline, in legend order.
var stepKinds = []struct{ class, label string }{
	{"snapshot", "snapshot"},
	{"transfer", "transfer and copy"},
	{"lock", "lock"},
	{"digest", "digest"},
	{"evidence", "evidence recorded"},
	{"cleanup", "clean-up"},
	{"other", "other"},
	{"sealing", "until the seal"},
}

// stepKind sorts an action into one of stepKinds.
func stepKind(action string) string {
	switch {
	case strings.HasPrefix(action, "snapshot."):
		return "snapshot"
	case action == "remove" || strings.HasPrefix(action, "un") || strings.HasSuffix(action, ".discard") || strings.HasPrefix(action, "delete"):
		return "cleanup"
	case strings.HasPrefix(action, "transfer") || strings.HasPrefix(action, "copy") || strings.HasPrefix(action, "share") || action == "stage":
		return "transfer"
	case action == "lock", action == "digest", action == "evidence":
		return action
	}
	return "other"
}

// timeline builds the timeline figure; nil when no evidence item has records with times.
func timeline(r *Report) *timelineFigure {
	bySeq := make(map[uint64]*custody.Event, len(r.Timeline))
	for _, rec := range r.Timeline {
		if rec.Event != nil {
			bySeq[rec.Seq] = rec.Event
		}
	}
	type stamped struct {
		at time.Time
		ev *custody.Event
	}
	var items [][]stamped
	var t0, t1 time.Time
	widen := func(t time.Time) {
		if t0.IsZero() || t.Before(t0) {
			t0 = t
		}
		if t.After(t1) {
			t1 = t
		}
	}
	for _, e := range r.Evidence {
		var steps []stamped
		for _, seq := range e.Records {
			ev := bySeq[seq]
			if ev == nil {
				continue
			}
			at, err := time.Parse(custody.TimeFormat, ev.Time)
			if err != nil {
				continue
			}
			steps = append(steps, stamped{at, ev})
			widen(at)
		}
		slices.SortStableFunc(steps, func(a, b stamped) int { return a.at.Compare(b.at) })
		items = append(items, steps)
	}
	var seal time.Time
	if r.Case.Sealed {
		if at, err := time.Parse(custody.TimeFormat, r.Case.LastTime); err == nil {
			seal = at
			widen(at)
		}
	}
	if t0.IsZero() {
		return nil
	}
	span := t1.Sub(t0)
	if span <= 0 {
		span = time.Second
	}
	f := &timelineFigure{Width: figWidth, PlotX: figLabelW, PlotW: figWidth - figLabelW - 20}
	x := func(t time.Time) float64 { return float64(f.PlotX) + float64(t.Sub(t0))/float64(span)*float64(f.PlotW) }
	for i, steps := range items {
		e := r.Evidence[i]
		y := figTop + i*figRowH
		row := timelineRow{Y: y, TextY: y + 19, BarY: y + 7, BarHeight: 16}
		row.Label, _ = cutLabelN(orNone(e.SourceVolume), 30)
		row.Title = orNone(e.SourceVolume) + " → " + orNone(e.Snapshot)
		for j, s := range steps {
			title := fmt.Sprintf("record %d, %s: %s", s.ev.Seq, s.ev.Time, s.ev.Action)
			if s.ev.Phase != "" {
				title += " (" + s.ev.Phase + ")"
			}
			if st := s.ev.Result.Status; st != "" {
				title += ", " + st
			}
			class := "mark"
			if s.ev.Result.Status == custody.StatusFailed || s.ev.Result.Status == custody.StatusAborted {
				class = "mark failed"
			}
			row.Marks = append(row.Marks, figSegment{X: num(x(s.at) - 1), W: "2", Class: class, Title: title})
			if j == 0 {
				continue
			}
			// A segment ends at the record that closed the step, and takes that step's colour.
			from, to := x(steps[j-1].at), x(s.at)
			row.Segments = append(row.Segments, figSegment{X: num(from), W: num(max(to-from, 0.5)), Class: stepKind(s.ev.Action), Title: title})
		}
		if !seal.IsZero() && len(steps) > 0 {
			from, to := x(steps[len(steps)-1].at), x(seal)
			row.Segments = append(row.Segments, figSegment{X: num(from), W: num(max(to-from, 0.5)), Class: "sealing", Title: "until the seal, " + r.Case.LastTime})
		}
		f.Rows = append(f.Rows, row)
	}
	f.AxisY = figTop + len(items)*figRowH + 4
	for k := 0; k <= 4; k++ {
		at := t0.Add(span * time.Duration(k) / 4)
		label := "+" + roundSpan(at.Sub(t0))
		if k == 0 {
			label = t0.UTC().Format("2006-01-02 15:04:05Z")
		}
		f.Ticks = append(f.Ticks, figTick{X: num(x(at)), Label: label})
	}
	if !seal.IsZero() {
		f.Seal = &figTick{X: num(x(seal)), Label: "sealed"}
	}
	// The legend names the colours the figure uses, in a fixed order.
	used := map[string]bool{}
	for _, row := range f.Rows {
		for _, sg := range row.Segments {
			used[sg.Class] = true
		}
	}
	f.LegendY = f.AxisY + 36
	lx := f.PlotX
	for _, k := range stepKinds {
		if used[k.class] {
			f.Legend = append(f.Legend, figLegend{X: lx, TextX: lx + 16, Class: k.class, Label: k.label})
			lx += 16 + 7*len(k.label) + 14
		}
	}
	f.Height = f.LegendY + 20
	return f
}

// flowFigure is where each volume's evidence went: the source volume in its account, an arrow, the
// forensic copy in the forensic account with its digest.
type flowFigure struct {
	Width, Height     int
	LeftX, RightX     int
	HeadRightX        int // where the forensic side's heading ends
	BoxW              int
	SourceHead        string
	SourceHeadTitle   string
	ForensicHead      string
	ForensicHeadTitle string
	Rows              []flowRow
}

type flowRow struct {
	Y, TextY, SubY     int
	ArrowX1, ArrowX2   int
	ArrowY, LabelX     int
	Head               string // the arrowhead's points
	Volume, VolumeT    string
	Copy, CopyT        string
	Digest             string
	Via                string
	SourcePlace, Place string
}

// flow builds the flow figure; nil when the case records no evidence.
func flow(r *Report) *flowFigure {
	if len(r.Evidence) == 0 {
		return nil
	}
	f := &flowFigure{Width: figWidth, LeftX: 10, BoxW: flowBoxW}
	f.RightX = figWidth - 10 - flowBoxW
	f.HeadRightX = figWidth - 10
	var sources, dests []string
	for i, e := range r.Evidence {
		y := 50 + i*56
		src := sourcePlace(r.Case.Sources, e.SourceVolume)
		dst := placeText(Place{Cloud: e.Cloud, Account: e.Account, Region: e.Region})
		sources, dests = appendNew(sources, src), appendNew(dests, dst)
		row := flowRow{Y: y, TextY: y + 19, SubY: y + 37, ArrowX1: f.LeftX + flowBoxW + 4, ArrowX2: f.RightX - 6, ArrowY: y + 22,
			LabelX: figWidth / 2, SourcePlace: src, Place: dst}
		row.Head = fmt.Sprintf("%d,%d %d,%d %d,%d", row.ArrowX2, row.ArrowY, row.ArrowX2-10, row.ArrowY-5, row.ArrowX2-10, row.ArrowY+5)
		row.Volume, row.VolumeT = cutLabel(orNone(e.SourceVolume))
		row.Copy, row.CopyT = cutLabel(orNone(e.Snapshot))
		switch {
		case e.ImageSHA256 != "":
			row.Digest = "SHA-256 " + cut(e.ImageSHA256, 16)
		case e.DigestStatus != "":
			row.Digest = "digest " + e.DigestStatus
		default:
			row.Digest = "no digest recorded"
		}
		var via []string
		if e.Consistency != "" {
			via = append(via, e.Consistency)
		}
		if e.Lock != nil {
			via = append(via, "locked")
		}
		row.Via = strings.Join(via, ", ")
		f.Rows = append(f.Rows, row)
	}
	f.SourceHead, f.SourceHeadTitle = cutLabelN("from "+strings.Join(sources, "; "), 52)
	f.ForensicHead, f.ForensicHeadTitle = cutLabelN("to "+strings.Join(dests, "; "), 52)
	f.Height = 50 + len(r.Evidence)*56 + 6
	return f
}

// sourcePlace is the account and region a volume was acquired from, as the case summary lists them.
func sourcePlace(places []Place, volume string) string {
	for _, p := range places {
		if slices.Contains(p.Resources, "volume "+volume) {
			return placeText(Place{Cloud: p.Cloud, Account: p.Account, Region: p.Region})
		}
	}
	if len(places) == 1 {
		p := places[0]
		return placeText(Place{Cloud: p.Cloud, Account: p.Account, Region: p.Region})
	}
	return "source not recorded"
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// cutLabel returns a label short enough to draw and the whole text for its title.
func cutLabel(s string) (label, title string) { return cutLabelN(s, figMaxLabel) }

func cutLabelN(s string, n int) (label, title string) { return cut(s, n), s }

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func num(f float64) string { return fmt.Sprintf("%.1f", f) }

// roundSpan writes a duration for an axis: "45 s", "3 min 20 s", "2 h 5 min".
func roundSpan(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%d min %d s", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
