package awssim

import (
	"math/rand/v2"
	"slices"
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
}

// faultInjector holds the current Faults and their random source.
type faultInjector struct {
	mu     sync.Mutex
	faults Faults
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
	fi.faults = f
	fi.faults.Actions = slices.Clone(f.Actions)
	fi.faults.FailSnapshotVolumes = slices.Clone(f.FailSnapshotVolumes)
	fi.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0x5eed))
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
