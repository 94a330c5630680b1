package providers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/acquire-forensics/acquire/custody"
)

// journal is what an earlier run of the same case did, read back from its custody records: for each
// step, whether its intent was written, and its last result.
type journal struct {
	mu    sync.Mutex
	steps map[string]*journalStep
}

type journalStep struct {
	intent  bool // an intent was written after the last result: the step was in flight
	result  *custody.Result
	details map[string]any
}

func readJournal(dir string) (*journal, error) {
	recs, err := custody.ReadRecords(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the case's journal: %w", err)
	}
	j := &journal{steps: map[string]*journalStep{}}
	for _, r := range recs {
		j.note(r.Statement.Predicate)
	}
	return j, nil
}

// note takes a record into the journal; the run notes its own records as it writes them.
func (j *journal) note(ev custody.Event) {
	if ev.Step == "" {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.steps[ev.Step]
	if s == nil {
		s = &journalStep{}
		j.steps[ev.Step] = s
	}
	switch ev.Phase {
	case custody.PhaseIntent:
		s.intent = true
	case custody.PhaseResult:
		res := ev.Result
		s.intent, s.result, s.details = false, &res, ev.Details
	}
}

// done returns the details of a step whose last result was ok.
func (j *journal) done(step string) (map[string]any, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.steps[step]
	if s == nil || s.result == nil || s.result.Status != custody.StatusOK {
		return nil, false
	}
	return s.details, true
}

// inFlight reports whether a step's intent was written without a result: its cloud call may or may
// not have happened.
func (j *journal) inFlight(step string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.steps[step]
	return s != nil && s.intent
}

// attempted reports whether a step was tried at all.
func (j *journal) attempted(step string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.steps[step] != nil
}

// token is the idempotency token of a step in a case: the same on every run, so that a resumed step
// finds what an interrupted one created.
func token(caseID, step string) string {
	sum := sha256.Sum256([]byte(caseID + "\x00" + step))
	return "acq-" + hex.EncodeToString(sum[:12])
}

// detail reads a step detail back into v (details travel as JSON in the record).
func detail(details map[string]any, key string, v any) error {
	raw, ok := details[key]
	if !ok {
		return fmt.Errorf("journal detail %q missing", key)
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// asDetail turns a value into the plain JSON form a record's details hold.
func asDetail(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	_ = json.Unmarshal(data, &out)
	return out
}
