package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	"github.com/acquire-forensics/acquire/providers/acquisition"
)

// progress picks how engine events are shown: JSON lines on stdout with --output json, bars on a
// terminal, plain lines otherwise (piped, or CI set). done ends the display; calling it twice is fine.
func (a *app) progress() (events func(acquisition.Event), done func()) {
	if a.json() {
		return newProgressPrinter(a.Out, true).event, func() {}
	}
	if f, ok := a.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) && a.env("CI") == "" {
		b := newBarsPrinter(f)
		var once sync.Once
		return b.event, func() { once.Do(b.close) }
	}
	return newProgressPrinter(a.Err, false).event, func() {}
}

// progressPrinter renders engine events: JSON lines for machines, or plain lines for people, with
// percentages thinned out so that a slow snapshot does not flood a log.
type progressPrinter struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	last map[string]int64 // by step: the last percent printed
}

func newProgressPrinter(w io.Writer, asJSON bool) *progressPrinter {
	return &progressPrinter{w: w, json: asJSON, last: map[string]int64{}}
}

func (p *progressPrinter) event(e acquisition.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		data, err := json.Marshal(struct {
			Type string `json:"type"`
			acquisition.Event
		}{"event", e})
		if err == nil {
			fmt.Fprintf(p.w, "%s\n", data)
		}
		return
	}
	ts := e.Time.Format("15:04:05")
	who := e.Volume
	if who == "" {
		who = "case"
	}
	switch e.Kind {
	case acquisition.EventStepStart:
		fmt.Fprintf(p.w, "%s  %-22s %s ...\n", ts, who, e.Step)
	case acquisition.EventStepDone:
		if e.Message != "" {
			fmt.Fprintf(p.w, "%s  %-22s %s: %s\n", ts, who, e.Step, e.Message)
		}
	case acquisition.EventStepError:
		fmt.Fprintf(p.w, "%s  %-22s %s FAILED (%s): %s\n", ts, who, e.Step, e.Code, e.Message)
	case acquisition.EventFinding:
		fmt.Fprintf(p.w, "%s  !!! FINDING: %s\n", ts, e.Message)
	case acquisition.EventInfo:
		fmt.Fprintf(p.w, "%s  %-22s %s\n", ts, who, e.Message)
	case acquisition.EventProgress:
		if e.Total <= 0 {
			return
		}
		pct := e.Done * 100 / e.Total
		if last, ok := p.last[e.Step]; ok && pct < last+25 && pct < 100 {
			return
		}
		p.last[e.Step] = pct
		if e.Unit == "bytes" {
			fmt.Fprintf(p.w, "%s  %-22s %s %d%% (%d of %d MiB)\n", ts, who, e.Step, pct, e.Done>>20, e.Total>>20)
		} else {
			fmt.Fprintf(p.w, "%s  %-22s %s %d%%\n", ts, who, e.Step, pct)
		}
	}
}
