package gcpsim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Faults are the failures the simulator injects. The zero value injects
// none. Each rule fires with its Rate, drawn from a generator seeded with
// Seed (so a sequential test sees the same faults on every run), at most Max
// times when Max is set.
type Faults struct {
	Seed int64 `json:"seed,omitempty"`
	// Latency is added to every call.
	Latency Duration    `json:"latency,omitempty"`
	Rules   []FaultRule `json:"rules,omitempty"`
}

// Fault kinds.
const (
	// FaultRateLimit answers 429 rateLimitExceeded.
	FaultRateLimit = "rateLimit"
	// FaultServerError answers Status (default 500 backendError; 503 is
	// "unavailable", which the Go clients retry on reads).
	FaultServerError = "serverError"
	// FaultLostReply carries the call out, then closes the connection
	// before the answer.
	FaultLostReply = "lostReply"
	// FaultOperationError accepts a mutating call and returns an operation
	// that ends DONE with Code and Message, and httpErrorStatusCode Status
	// when Status is set; the work is not done.
	FaultOperationError = "operationError"
	// FaultLatency delays the call by Latency.
	FaultLatency = "latency"
)

// FaultRule is one injected failure.
type FaultRule struct {
	Kind string `json:"kind"`
	// Methods limits the rule to these methods, named as in the REST
	// reference ("compute.snapshots.insert", "compute.zoneOperations.get");
	// the token endpoint is "oauth2.token" and impersonation
	// "iamcredentials.generateAccessToken". Empty means every method.
	Methods []string `json:"methods,omitempty"`
	// Resources, when set, limits the rule to calls that name one of these
	// resources by name: in the call's path (the disk of
	// disks/D/createSnapshot), or as the source of what it makes (the body's
	// sourceDisk, sourceSnapshot or sourceInstantSnapshot), so that one disk's
	// snapshots can fail while the others' succeed.
	Resources []string `json:"resources,omitempty"`
	// Rate is the probability in (0, 1] that a matching call is hit.
	Rate float64 `json:"rate"`
	// Max, when positive, is how many calls the rule hits at most.
	Max     int      `json:"max,omitempty"`
	Status  int      `json:"status,omitempty"`
	Code    string   `json:"code,omitempty"`
	Message string   `json:"message,omitempty"`
	Latency Duration `json:"latency,omitempty"`
}

// faultInjector draws the faults of each call.
type faultInjector struct {
	mu     sync.Mutex
	faults Faults
	hits   []int
	rng    *rand.Rand
}

func newFaultInjector(f Faults) (*faultInjector, error) {
	for i, r := range f.Rules {
		switch r.Kind {
		case FaultRateLimit, FaultServerError, FaultLostReply, FaultOperationError, FaultLatency:
		default:
			return nil, fmt.Errorf("faults: rule %d: kind %q is not one of rateLimit, serverError, lostReply, operationError, latency", i, r.Kind)
		}
		if r.Rate <= 0 || r.Rate > 1 {
			return nil, fmt.Errorf("faults: rule %d (%s): rate %v must be in (0, 1]", i, r.Kind, r.Rate)
		}
		if r.Kind == FaultServerError && r.Status != 0 && (r.Status < 500 || r.Status > 599) {
			return nil, fmt.Errorf("faults: rule %d: a server error's status must be 5xx, not %d", i, r.Status)
		}
	}
	f.Rules = slices.Clone(f.Rules)
	return &faultInjector{faults: f, hits: make([]int, len(f.Rules)), rng: rand.New(rand.NewPCG(uint64(f.Seed), 0x6c70))}, nil
}

// replace takes another injector's faults and draws.
func (fi *faultInjector) replace(other *faultInjector) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.faults, fi.hits, fi.rng = other.faults, other.hits, other.rng
}

func (fi *faultInjector) get() Faults {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.faults
}

// callFault is what happens to one call.
type callFault struct {
	delay     time.Duration
	reply     *apiError // answered instead of serving
	lostReply bool
	opError   *opError
}

// forCall draws the faults of one call of method. A rule is drawn only while
// no earlier rule has decided the call's fate (latency always adds up).
func (fi *faultInjector) forCall(method string) callFault { return fi.forCallOn(method, nil) }

// forCallOn draws the faults of one call of method about the named resources.
func (fi *faultInjector) forCallOn(method string, names []string) callFault {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	out := callFault{delay: fi.faults.Latency.D()}
	decided := false
	for i, r := range fi.faults.Rules {
		if len(r.Methods) > 0 && !slices.Contains(r.Methods, method) {
			continue
		}
		if r.Max > 0 && fi.hits[i] >= r.Max {
			continue
		}
		if len(r.Resources) > 0 && !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(r.Resources, n) }) {
			continue
		}
		if r.Kind != FaultLatency && decided {
			continue
		}
		if fi.rng.Float64() >= r.Rate {
			continue
		}
		fi.hits[i]++
		switch r.Kind {
		case FaultLatency:
			out.delay += r.Latency.D()
		case FaultRateLimit:
			// https://cloud.google.com/compute/api-quotas#rate_limit_exceeded
			out.reply = &apiError{Code: http.StatusTooManyRequests, Reason: "rateLimitExceeded",
				Message: "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com'.",
				Status:  "RESOURCE_EXHAUSTED"}
		case FaultServerError:
			status := r.Status
			if status == 0 {
				status = http.StatusInternalServerError
			}
			reason := "backendError"
			if status == http.StatusServiceUnavailable {
				reason = "unavailable"
			}
			out.reply = &apiError{Code: status, Reason: reason, Message: "Internal error. Please try again or contact Google Support."}
		case FaultLostReply:
			out.lostReply = true
		case FaultOperationError:
			code, msg := r.Code, r.Message
			if code == "" {
				code = "INTERNAL_ERROR"
			}
			if msg == "" {
				msg = "Internal error. Please try again or contact Google Support."
			}
			out.opError = &opError{Code: code, Message: msg, HTTPStatus: int32(r.Status)}
		}
		decided = r.Kind != FaultLatency
	}
	return out
}

// callNames are the resources a Compute Engine call names, for the
// Resources of fault rules: its path's names and the sources in its body.
func callNames(vars map[string]string, body []byte) []string {
	var names []string
	for k, v := range vars {
		if k != "project" && k != "zone" && k != "region" {
			names = append(names, v)
		}
	}
	var src struct {
		SourceDisk            string `json:"sourceDisk"`
		SourceSnapshot        string `json:"sourceSnapshot"`
		SourceInstantSnapshot string `json:"sourceInstantSnapshot"`
	}
	if len(body) > 0 && json.Unmarshal(body, &src) == nil {
		for _, u := range []string{src.SourceDisk, src.SourceSnapshot, src.SourceInstantSnapshot} {
			if u != "" {
				names = append(names, lastSegment(u))
			}
		}
	}
	return names
}
