package acquisition

import (
	"time"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	EventStepStart EventKind = "step-start"
	EventStepDone  EventKind = "step-done"
	EventStepError EventKind = "step-failed"
	EventRetry     EventKind = "retry"    // a step failed transiently and is tried again; Done counts the attempts so far
	EventProgress  EventKind = "progress" // Done of Total (percent of a snapshot, bytes of a digest)
	EventFinding   EventKind = "finding"  // something the responder must know now
	EventInfo      EventKind = "info"
	// EventVolumes counts the volumes finished (Done, Failed among them) of Total; Volume names the one
	// that just finished, if one did.
	EventVolumes EventKind = "volumes"
)

// Event is one progress report. The engine calls Options.Progress with events from many goroutines,
// one call at a time.
type Event struct {
	Time     time.Time   `json:"time"`
	Kind     EventKind   `json:"kind"`
	Step     string      `json:"step,omitempty"`
	Volume   string      `json:"volume,omitempty"`
	Resource string      `json:"resource,omitempty"`
	Done     int64       `json:"done,omitempty"`
	Total    int64       `json:"total,omitempty"`
	Failed   int64       `json:"failed,omitempty"`
	Unit     string      `json:"unit,omitempty"` // "%", "bytes"
	Message  string      `json:"message,omitempty"`
	Code     driver.Code `json:"code,omitempty"`
}
