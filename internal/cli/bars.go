package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/acquire-forensics/acquire/providers/acquisition"
)

// barsPrinter renders engine events on a terminal: one bar per volume showing its current step and
// how far it is, with case-level news, findings and failures printed above the bars, in colour.
type barsPrinter struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*volumeBar
}

type volumeBar struct {
	bar   *mpb.Bar
	mu    sync.Mutex
	label string
}

func (v *volumeBar) setLabel(s string) {
	v.mu.Lock()
	v.label = s
	v.mu.Unlock()
}

func (v *volumeBar) getLabel() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.label
}

const (
	colourRed    = "\x1b[31m"
	colourYellow = "\x1b[33m"
	colourGreen  = "\x1b[32m"
	colourReset  = "\x1b[0m"
)

func newBarsPrinter(w io.Writer) *barsPrinter {
	return &barsPrinter{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(30), mpb.WithAutoRefresh()), bars: map[string]*volumeBar{}}
}

func (b *barsPrinter) bar(volume string) *volumeBar {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.bars[volume]; ok {
		return v
	}
	v := &volumeBar{label: "starting"}
	v.bar = b.p.AddBar(100,
		mpb.PrependDecorators(decor.Name(volume, decor.WC{C: decor.DindentRight | decor.DextraSpace}),
			decor.Any(func(decor.Statistics) string { return v.getLabel() }, decor.WC{W: 16, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Percentage()),
	)
	b.bars[volume] = v
	return v
}

func (b *barsPrinter) line(colour, format string, args ...any) {
	fmt.Fprintf(b.p, colour+format+colourReset+"\n", args...)
}

func (b *barsPrinter) event(e acquisition.Event) {
	if e.Volume == "" {
		switch e.Kind {
		case acquisition.EventFinding:
			b.line(colourYellow, "!!! FINDING: %s", e.Message)
		case acquisition.EventStepError:
			b.line(colourRed, "%s FAILED (%s): %s", e.Step, e.Code, e.Message)
		case acquisition.EventStepDone:
			if e.Message != "" {
				b.line("", "%s: %s", e.Step, e.Message)
			}
		}
		return
	}
	v := b.bar(e.Volume)
	step := e.Step[strings.LastIndex(e.Step, "/")+1:]
	switch e.Kind {
	case acquisition.EventStepStart:
		v.setLabel(step)
		v.bar.SetCurrent(0)
	case acquisition.EventProgress:
		if e.Total > 0 {
			v.bar.SetCurrent(e.Done * 100 / e.Total)
		}
	case acquisition.EventStepDone:
		v.bar.SetCurrent(100)
		if step == "evidence" {
			v.setLabel("done")
		}
	case acquisition.EventStepError:
		v.setLabel("FAILED")
		b.line(colourRed, "%s %s FAILED (%s): %s", e.Volume, step, e.Code, e.Message)
	case acquisition.EventFinding:
		b.line(colourYellow, "!!! FINDING: %s", e.Message)
	case acquisition.EventInfo:
		b.line("", "%s: %s", e.Volume, e.Message)
	}
}

// close completes every bar and waits for the last render.
func (b *barsPrinter) close() {
	b.mu.Lock()
	for _, v := range b.bars {
		v.bar.SetTotal(-1, true)
	}
	b.mu.Unlock()
	b.p.Wait()
}
