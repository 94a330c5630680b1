package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/acquire-forensics/acquire/providers/acquisition"
)

// barsPrinter renders engine events on a terminal: one bar per volume showing its current step, how
// far the cloud or the read has come, and how many times the step was retried; one overall line with
// the volumes done of all, the bytes read, the time spent and the time left; and, above the bars,
// findings and failures, in colour. Retries are counted, not printed: the full errors go to the log.
type barsPrinter struct {
	p     *mpb.Progress
	start time.Time

	mu      sync.Mutex
	bars    map[string]*volumeBar
	overall *mpb.Bar
	tally   tally
}

// tally is the whole acquisition at a glance.
type tally struct {
	done, failed, total int64
	bytes               map[string]int64 // bytes read, by step
	retries             int64
}

type volumeBar struct {
	bar     *mpb.Bar
	mu      sync.Mutex
	label   string
	retries int
}

func (v *volumeBar) set(label string, retries int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if label != "" {
		v.label = label
	}
	v.retries += retries
}

func (v *volumeBar) text() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.retries > 0 {
		return fmt.Sprintf("%s ↻%d", v.label, v.retries)
	}
	return v.label
}

const (
	colourRed    = "\x1b[31m"
	colourYellow = "\x1b[33m"
	colourGreen  = "\x1b[32m"
	colourReset  = "\x1b[0m"
)

func newBarsPrinter(w io.Writer) *barsPrinter {
	return &barsPrinter{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(120), mpb.WithAutoRefresh()), start: time.Now(),
		bars: map[string]*volumeBar{}, tally: tally{bytes: map[string]int64{}}}
}

// shortName keeps the end of a long volume ID (a GCE or Azure resource name), which tells volumes apart.
func shortName(id string) string {
	id = safe(id)
	if len(id) > 26 {
		return "…" + id[len(id)-25:]
	}
	return id
}

func (b *barsPrinter) bar(volume string) *volumeBar {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.bars[volume]; ok {
		return v
	}
	v := &volumeBar{label: "starting"}
	v.bar = b.p.AddBar(100, mpb.BarWidth(24),
		mpb.PrependDecorators(decor.Name(shortName(volume), decor.WC{W: 27, C: decor.DindentRight}),
			decor.Any(func(decor.Statistics) string { return v.text() }, decor.WC{W: 22, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Percentage()),
	)
	b.bars[volume] = v
	return v
}

// overallBar is made with the first count of volumes, and stays last.
func (b *barsPrinter) overallBar(total int64) {
	if b.overall != nil {
		return
	}
	b.overall = b.p.AddBar(total, mpb.BarWidth(24), mpb.BarPriority(1<<20),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return b.summary() }, decor.WC{W: 49, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return b.times() })),
	)
}

func (b *barsPrinter) summary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var read int64
	for _, n := range b.tally.bytes {
		read += n
	}
	s := fmt.Sprintf("%s of %s volumes", count(b.tally.done), count(b.tally.total))
	if b.tally.failed > 0 {
		s += fmt.Sprintf(", %d failed", b.tally.failed)
	}
	if read > 0 {
		s += ", " + humanBytes(read) + " read"
	}
	if b.tally.retries > 0 {
		s += fmt.Sprintf(", %d retries", b.tally.retries)
	}
	return s
}

func (b *barsPrinter) times() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	elapsed := time.Since(b.start).Round(time.Second)
	s := elapsed.String() + " elapsed"
	if d, t := b.tally.done, b.tally.total; d > 0 && d < t {
		left := time.Duration(float64(elapsed) * float64(t-d) / float64(d)).Round(time.Second)
		s += ", about " + left.String() + " left"
	}
	return s
}

func (b *barsPrinter) line(colour, format string, args ...any) {
	fmt.Fprintf(b.p, colour+format+colourReset+"\n", args...)
}

func (b *barsPrinter) event(e acquisition.Event) {
	switch e.Kind {
	case acquisition.EventVolumes:
		b.mu.Lock()
		b.tally.done, b.tally.failed, b.tally.total = e.Done, e.Failed, e.Total
		b.overallBar(e.Total)
		b.overall.SetCurrent(e.Done)
		b.mu.Unlock()
		if e.Volume != "" {
			v := b.bar(e.Volume)
			if stopped(e.Code) {
				v.set("stopped", 0)
			} else if e.Code != "" {
				v.set("FAILED", 0)
			} else {
				v.set("done", 0)
				v.bar.SetCurrent(100)
			}
		}
		return
	case acquisition.EventRetry:
		b.mu.Lock()
		b.tally.retries++
		b.mu.Unlock()
	case acquisition.EventProgress:
		if e.Unit == "bytes" {
			b.mu.Lock()
			b.tally.bytes[e.Step] = e.Done
			b.mu.Unlock()
		}
	}
	if e.Volume == "" {
		switch e.Kind {
		case acquisition.EventFinding:
			b.line(colourYellow, "!!! FINDING: %s", safe(e.Message))
		case acquisition.EventStepError:
			if !stopped(e.Code) {
				b.line(colourRed, "%s FAILED (%s): %s", safe(stepName(e.Step)), e.Code, safe(firstLine(e.Message)))
			}
		case acquisition.EventStepDone:
			if e.Message != "" {
				b.line("", "%s: %s", safe(stepName(e.Step)), safe(e.Message))
			}
		}
		return
	}
	v := b.bar(e.Volume)
	step := stepName(e.Step)
	switch e.Kind {
	case acquisition.EventStepStart:
		v.set(step, 0)
		v.bar.SetCurrent(0)
	case acquisition.EventRetry:
		v.set("", 1)
	case acquisition.EventProgress:
		if e.Total > 0 {
			v.bar.SetCurrent(e.Done * 100 / e.Total)
		}
	case acquisition.EventStepDone:
		v.bar.SetCurrent(100)
	case acquisition.EventStepError:
		if stopped(e.Code) {
			v.set("stopped", 0)
			break
		}
		v.set("FAILED", 0)
		b.line(colourRed, "%s %s FAILED (%s): %s", safe(e.Volume), step, e.Code, safe(firstLine(e.Message)))
	case acquisition.EventFinding:
		b.line(colourYellow, "!!! FINDING: %s", safe(e.Message))
	case acquisition.EventInfo:
		b.line("", "%s: %s", safe(e.Volume), safe(e.Message))
	}
}

// close completes every bar and waits for the last render.
func (b *barsPrinter) close() {
	b.mu.Lock()
	for _, v := range b.bars {
		v.bar.SetTotal(-1, true)
	}
	if b.overall != nil {
		b.overall.SetTotal(-1, true)
	}
	b.mu.Unlock()
	b.p.Wait()
}

// stepName is a step ID without its acquisition and volume: "snapshot.wait.1", "t1/transfer.2".
func stepName(id string) string {
	parts := strings.Split(id, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "t") && len(p) > 1 && strings.Trim(p[1:], "0123456789") == "" && i+1 < len(parts) {
			return strings.Join(parts[i:], "/")
		}
	}
	return parts[len(parts)-1]
}

// firstLine is the start of a message, short enough for one line: the whole error is in the log.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func count(n int64) string { return fmt.Sprint(n) }

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
