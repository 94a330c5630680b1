package awssim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Faults are the failures the simulator injects. The zero value injects none.
// Rates are probabilities in [0, 1], drawn from a generator seeded with Seed,
// so that a sequential test sees the same faults on every run.
type Faults struct {
	Seed int64 `json:"seed,omitempty"`

	// ThrottleMutatingRate and ThrottleDescribeRate answer calls with the
	// service's throttling error (EC2 RequestLimitExceeded, KMS
	// ThrottlingException, EBS RequestThrottledException, STS Throttling).
	// Describe calls are those named Describe*, List* and Get*.
	ThrottleMutatingRate float64 `json:"throttleMutatingRate,omitempty"`
	ThrottleDescribeRate float64 `json:"throttleDescribeRate,omitempty"`
	// ServerErrorRate answers calls with the service's 5xx error.
	ServerErrorRate float64 `json:"serverErrorRate,omitempty"`
	// Actions restricts the three rates above to these actions
	// ("ec2:CreateSnapshot", "ebs:GetSnapshotBlock"); empty means all.
	Actions []string `json:"actions,omitempty"`

	// Latency is added to every call, BlockLatency to every GetSnapshotBlock.
	Latency      Duration `json:"latency,omitempty"`
	BlockLatency Duration `json:"blockLatency,omitempty"`

	// ConsistencyDelay hides a newly created snapshot, volume or copy: for this
	// long it answers NotFound and is left out of lists, as EC2's eventual
	// consistency allows.
	// https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html
	ConsistencyDelay Duration `json:"consistencyDelay,omitempty"`

	// WrongChecksumRate serves GetSnapshotBlock with an x-amz-Checksum that does
	// not match the data (the data itself is intact).
	WrongChecksumRate float64 `json:"wrongChecksumRate,omitempty"`

	// FailSnapshotVolumes: snapshots and copies of these volumes end in state
	// "error" instead of "completed".
	FailSnapshotVolumes []string `json:"failSnapshotVolumes,omitempty"`

	// LostReplies carry a call out, then close the connection before the
	// answer, as a network failure after the request reached AWS does: the
	// client cannot tell whether the call happened.
	LostReplies []LostReply `json:"lostReplies,omitempty"`
}

// LostReply loses the replies of one action ("ec2:CopySnapshot") with a
// probability, at most Max times (0: no limit).
type LostReply struct {
	Action string  `json:"action"`
	Rate   float64 `json:"rate"`
	Max    int     `json:"max,omitempty"`
}

// check refuses faults outside their ranges, naming the field.
func (f Faults) check() error {
	for name, rate := range map[string]float64{"throttleMutatingRate": f.ThrottleMutatingRate, "throttleDescribeRate": f.ThrottleDescribeRate,
		"serverErrorRate": f.ServerErrorRate, "wrongChecksumRate": f.WrongChecksumRate} {
		if rate < 0 || rate > 1 {
			return fmt.Errorf("faults.%s %v: a probability, 0 to 1", name, rate)
		}
	}
	for i, l := range f.LostReplies {
		switch {
		case !strings.Contains(l.Action, ":"):
			return fmt.Errorf("faults.lostReplies[%d].action %q: name it as service:Action, e.g. ec2:CopySnapshot", i, l.Action)
		case l.Rate < 0 || l.Rate > 1:
			return fmt.Errorf("faults.lostReplies[%d].rate %v: a probability, 0 to 1", i, l.Rate)
		case l.Max < 0:
			return fmt.Errorf("faults.lostReplies[%d].max %d: a count, 0 for no limit", i, l.Max)
		}
	}
	return nil
}

// faultInjector holds the current Faults and their random source.
type faultInjector struct {
	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand
	lost   map[string]int // replies lost so far, by action
}

func newFaultInjector(f Faults) *faultInjector {
	fi := &faultInjector{}
	fi.set(f)
	return fi
}

func (fi *faultInjector) set(f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.faults = f
	fi.faults.Actions = slices.Clone(f.Actions)
	fi.faults.FailSnapshotVolumes = slices.Clone(f.FailSnapshotVolumes)
	fi.faults.LostReplies = slices.Clone(f.LostReplies)
	fi.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0x5eed))
	fi.lost = map[string]int{}
}

// loseReply decides whether the reply to one call of an action is lost.
func (fi *faultInjector) loseReply(qualifiedAction string) bool {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for _, l := range fi.faults.LostReplies {
		if l.Action != qualifiedAction || (l.Max > 0 && fi.lost[l.Action] >= l.Max) {
			continue
		}
		if l.Rate > 0 && fi.rng.Float64() < l.Rate {
			fi.lost[l.Action]++
			return true
		}
	}
	return false
}

func (fi *faultInjector) get() Faults {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.faults
}

// draw reports whether an event of probability p happens.
func (fi *faultInjector) draw(p float64) bool {
	if p <= 0 {
		return false
	}
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.rng.Float64() < p
}

// callFault decides, for one call, whether it is throttled or fails with a
// server error, and how long it waits first.
type callFault struct {
	delay       time.Duration
	throttle    bool
	serverError bool
}

func (fi *faultInjector) forCall(qualifiedAction string, describe bool) callFault {
	f := fi.get()
	out := callFault{delay: f.Latency.D()}
	if len(f.Actions) > 0 && !slices.Contains(f.Actions, qualifiedAction) {
		return out
	}
	rate := f.ThrottleMutatingRate
	if describe {
		rate = f.ThrottleDescribeRate
	}
	out.throttle = fi.draw(rate)
	if !out.throttle {
		out.serverError = fi.draw(f.ServerErrorRate)
	}
	return out
}

func (fi *faultInjector) wrongChecksum() bool { return fi.draw(fi.get().WrongChecksumRate) }

func (fi *faultInjector) snapshotFails(volumeID string) bool {
	return slices.Contains(fi.get().FailSnapshotVolumes, volumeID)
}

// isDescribeAction tells read calls from mutating ones for throttling.
func isDescribeAction(action string) bool {
	for _, prefix := range []string{"Describe", "List", "Get"} {
		if len(action) > len(prefix) && action[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}
