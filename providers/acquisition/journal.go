package acquisition

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/acquire-forensics/acquire/custody"
)

// Actions of the records that frame an acquisition.
const (
	actionStart   = "acquisition.start"
	actionAborted = "acquisition.aborted"
)

// journal is what earlier runs of the case did, rebuilt from its custody records: the acquisitions
// started in it, and for each step whether its intent was written and how it last ended. It is read
// through the ledger, which checked every record's signature and chain when it opened the case, so a
// record that was not signed by the case key never steers a resumed run.
type journal struct {
	mu           sync.Mutex
	steps        map[string]*journalStep
	acquisitions []startRecord
}

type journalStep struct {
	intent  bool // an intent was written after the last result: the step was in flight
	result  *custody.Result
	details map[string]any
	first   map[string]any // the details of its first ok result
}

// startRecord is what an acquisition.start record says.
type startRecord struct {
	N    int  `json:"acquisition"`
	Plan Plan `json:"plan"`
}

func readJournal(ctx context.Context, l *custody.Ledger) (*journal, error) {
	j := &journal{steps: map[string]*journalStep{}}
	err := l.History(ctx, func(r custody.Record) error {
		ev := r.Statement.Predicate
		if ev.Action == actionStart && ev.Result.Status == custody.StatusOK {
			var s startRecord
			if err := detail(ev.Details, "start", &s); err != nil {
				return fmt.Errorf("record %d: %w", r.Seq, err)
			}
			j.acquisitions = append(j.acquisitions, s)
		}
		j.note(ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the case's journal: %w", err)
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
		if s.first == nil && res.Status == custody.StatusOK {
			s.first = ev.Details
		}
	}
}

// firstDone returns the details of a step's first ok result (a step run on every run, such as an
// identity check, keeps what the first run found).
func (j *journal) firstDone(step string) (map[string]any, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.steps[step]
	if s == nil || s.first == nil {
		return nil, false
	}
	return s.first, true
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

// unsettled reports whether a step was tried and did not end well: in flight when a run stopped, or
// failed. Its cloud call may have happened either way (a lost reply, a timeout, a crash), so a
// creating step looks up by its token what it may have made before making it again.
func (j *journal) unsettled(step string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.steps[step]
	return s != nil && (s.intent || s.result == nil || s.result.Status != custody.StatusOK)
}

// inFlight reports whether a step's intent was written without a result.
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

// pending lists the steps, among those with the prefix, that a run left in flight or failed.
func (j *journal) pending(prefix string) (inFlight, failed []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for id, s := range j.steps {
		if len(id) < len(prefix) || id[:len(prefix)] != prefix {
			continue
		}
		switch {
		case s.intent:
			inFlight = append(inFlight, id)
		case s.result != nil && s.result.Status != custody.StatusOK:
			failed = append(failed, id)
		}
	}
	return inFlight, failed
}

// tokens derives the idempotency token of each step from the case's nonce: the same on every run of
// the case, different in every other case directory, even one with the same case ID. A token is a
// UUID (version 5, the nonce as namespace), which every cloud accepts: GCE requestId must be one, and
// it fits AWS tags and Azure tags.
type tokens struct{ ns uuid.UUID }

func newTokens(nonce string) (tokens, error) {
	b, err := hex.DecodeString(nonce)
	if err != nil || len(b) != 16 {
		return tokens{}, errors.New("the case has no nonce in its opening record (it was opened by an older acquire): acquire into a new case")
	}
	ns, err := uuid.FromBytes(b)
	if err != nil {
		return tokens{}, err
	}
	return tokens{ns: ns}, nil
}

func (t tokens) of(step string) string { return uuid.NewSHA1(t.ns, []byte(step)).String() }

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
