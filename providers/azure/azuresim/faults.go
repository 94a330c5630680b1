package azuresim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Faults are the failures the simulator injects. The zero value injects
// none. Each rule fires on the operations it names with its rate, drawn from
// a generator seeded with Seed, at most Max times, so that a sequential test
// sees the same faults on every run and "lose the first reply of snapshot
// create" is one rule: {"kind": "lostReply", "operations":
// ["Snapshots_CreateOrUpdate"], "max": 1}.
type Faults struct {
	Seed  int64       `json:"seed,omitempty"`
	Rules []FaultRule `json:"rules,omitempty"`
}

// Fault kinds.
const (
	// FaultThrottle answers 429 TooManyRequests with Retry-After.
	FaultThrottle = "throttle"
	// FaultServerError answers 500 InternalServerError (or Status).
	FaultServerError = "serverError"
	// FaultLatency waits Latency before serving.
	FaultLatency = "latency"
	// FaultFailOperation lets a long-running operation start, then end
	// Failed (the resource it creates ends in provisioningState Failed).
	FaultFailOperation = "failOperation"
	// FaultLostReply carries the request out, then closes the connection
	// before the answer.
	FaultLostReply = "lostReply"
	// FaultWrongBytes serves a blob read with one byte changed.
	FaultWrongBytes = "wrongBytes"
)

// FaultRule is one injected failure.
type FaultRule struct {
	Kind string `json:"kind"`
	// Operations are REST operation IDs ("Snapshots_CreateOrUpdate",
	// "Snapshots_GrantAccess", "Blob_Download", "PageBlob_GetPageRanges",
	// "Token"; see README.md); empty means every operation.
	Operations []string `json:"operations,omitempty"`
	// Rate is the probability that the rule fires on a matching call;
	// omitted (0) means 1.
	Rate float64 `json:"rate,omitempty"`
	// Max bounds how often the rule fires; 0 means no bound.
	Max int `json:"max,omitempty"`
	// RetryAfterSeconds is a throttle's Retry-After; 0 means 1.
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
	// Status is a server error's status code (500, 502, 503, 504); 0
	// means 500.
	Status int `json:"status,omitempty"`
	// Latency is a latency rule's wait.
	Latency Duration `json:"latency,omitempty"`
	// Sources limits a failOperation rule to the snapshots copied from these resource IDs (a disk,
	// a snapshot): "the snapshot of this disk ends Failed", whatever the order of the copies.
	Sources []string `json:"sources,omitempty"`
}

var faultKinds = []string{FaultThrottle, FaultServerError, FaultLatency, FaultFailOperation, FaultLostReply, FaultWrongBytes}

func (f Faults) validate() error {
	for i, r := range f.Rules {
		if !slices.Contains(faultKinds, r.Kind) {
			return fmt.Errorf("faults.rules[%d]: kind %q is not one of %s", i, r.Kind, strings.Join(faultKinds, ", "))
		}
		if r.Rate < 0 || r.Rate > 1 {
			return fmt.Errorf("faults.rules[%d]: rate %v is outside [0, 1]", i, r.Rate)
		}
		if r.Status != 0 && (r.Status < 500 || r.Status > 599) {
			return fmt.Errorf("faults.rules[%d]: status %d is not a 5xx code", i, r.Status)
		}
		if r.Kind == FaultLatency && r.Latency <= 0 {
			return fmt.Errorf("faults.rules[%d]: a latency rule needs a positive latency (\"250ms\")", i)
		}
	}
	return nil
}

type faultInjector struct {
	mu     sync.Mutex
	faults Faults
	fired  []int
	rng    *rand.Rand
}

func newFaultInjector(f Faults) *faultInjector {
	fi := &faultInjector{}
	fi.set(f)
	return fi
}

func (fi *faultInjector) set(f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.faults = Faults{Seed: f.Seed, Rules: slices.Clone(f.Rules)}
	fi.fired = make([]int, len(f.Rules))
	fi.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0xa2e5))
}

// callFaults is what happens to one call.
type callFaults struct {
	delay         time.Duration
	throttle      int // Retry-After seconds; 0 = not throttled
	serverError   int // status; 0 = none
	failOperation bool
	lostReply     bool
	wrongBytes    bool
}

// forCall draws the faults of one call of operation op. Every matching rule
// draws, in order, so that the sequence is reproducible.
func (fi *faultInjector) forCall(op string) callFaults {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	var out callFaults
	for i, r := range fi.faults.Rules {
		if len(r.Operations) > 0 && !slices.ContainsFunc(r.Operations, func(o string) bool { return strings.EqualFold(o, op) }) {
			continue
		}
		if r.Max > 0 && fi.fired[i] >= r.Max || len(r.Sources) > 0 {
			continue
		}
		rate := r.Rate
		if rate == 0 {
			rate = 1
		}
		if rate < 1 && fi.rng.Float64() >= rate {
			continue
		}
		fi.fired[i]++
		switch r.Kind {
		case FaultLatency:
			out.delay += r.Latency.D()
		case FaultThrottle:
			out.throttle = max(r.RetryAfterSeconds, 1)
		case FaultServerError:
			out.serverError = r.Status
			if out.serverError == 0 {
				out.serverError = 500
			}
		case FaultFailOperation:
			out.failOperation = true
		case FaultLostReply:
			out.lostReply = true
		case FaultWrongBytes:
			out.wrongBytes = true
		}
	}
	return out
}

// failsCopyOf draws the failOperation rules limited to the sources of a snapshot: whether a copy of
// source by operation op ends Failed.
func (fi *faultInjector) failsCopyOf(op, source string) bool {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fail := false
	for i, r := range fi.faults.Rules {
		if r.Kind != FaultFailOperation || len(r.Sources) == 0 || (r.Max > 0 && fi.fired[i] >= r.Max) {
			continue
		}
		if len(r.Operations) > 0 && !slices.ContainsFunc(r.Operations, func(o string) bool { return strings.EqualFold(o, op) }) {
			continue
		}
		if !slices.ContainsFunc(r.Sources, func(s string) bool { return strings.EqualFold(s, source) }) {
			continue
		}
		if r.Rate > 0 && r.Rate < 1 && fi.rng.Float64() >= r.Rate {
			continue
		}
		fi.fired[i]++
		fail = true
	}
	return fail
}
