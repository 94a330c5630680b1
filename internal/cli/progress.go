package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	"github.com/acquire-forensics/acquire/internal/termsafe"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
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
	who := shortName(e.Volume)
	if who == "" {
		who = "case"
	}
	step := safe(stepName(e.Step))
	switch e.Kind {
	case acquisition.EventStepStart:
		fmt.Fprintf(p.w, "%s  %-27s %s ...\n", ts, who, step)
	case acquisition.EventStepDone:
		if e.Message != "" {
			fmt.Fprintf(p.w, "%s  %-27s %s: %s\n", ts, who, step, safe(e.Message))
		}
	case acquisition.EventStepError:
		if stopped(e.Code) {
			fmt.Fprintf(p.w, "%s  %-27s %s stopped\n", ts, who, step)
			break
		}
		fmt.Fprintf(p.w, "%s  %-27s %s FAILED (%s): %s\n", ts, who, step, e.Code, safe(firstLine(e.Message)))
	case acquisition.EventRetry:
		fmt.Fprintf(p.w, "%s  %-27s %s: retrying (%s)\n", ts, who, step, safe(e.Message))
	case acquisition.EventVolumes:
		if e.Volume != "" {
			fmt.Fprintf(p.w, "%s  %d of %d volumes done", ts, e.Done, e.Total)
			if e.Failed > 0 {
				fmt.Fprintf(p.w, " (%d failed)", e.Failed)
			}
			fmt.Fprintln(p.w)
		}
	case acquisition.EventFinding:
		fmt.Fprintf(p.w, "%s  !!! FINDING: %s\n", ts, safe(e.Message))
	case acquisition.EventInfo:
		fmt.Fprintf(p.w, "%s  %-27s %s\n", ts, who, safe(e.Message))
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
			fmt.Fprintf(p.w, "%s  %-27s %s %d%% (%d of %d MiB)\n", ts, who, step, pct, e.Done>>20, e.Total>>20)
		} else {
			fmt.Fprintf(p.w, "%s  %-27s %s %d%%\n", ts, who, step, pct)
		}
	}
}

// safe escapes what a terminal would act on in a string from a record or a cloud.
func safe(s string) string { return termsafe.String(s) }

// stopped reports whether a code means the run was stopped (Ctrl-C, --timeout) rather than a failure.
func stopped(c driver.Code) bool { return c == driver.CodeCancelled || c == driver.CodeTimeout }
