package driver

import (
	"context"
	"sync"
)

// Drivers report each cloud call they make (its operation and the provider's request ID) through the
// context, so that the custody record of a step names the request IDs an auditor can find in the
// cloud's own audit log (CloudTrail, Cloud Audit Logs, Activity Log), and benchmarks can count calls.

type callLogKey struct{}

// CallLog collects the calls made under one context.
type CallLog struct {
	mu    sync.Mutex
	calls []Call
}

// Call is one request to a cloud API.
type Call struct {
	Operation string `json:"operation"`
	RequestID string `json:"requestId,omitempty"`
}

// WithCallLog returns a context whose cloud calls are recorded in log.
func WithCallLog(ctx context.Context, log *CallLog) context.Context {
	return context.WithValue(ctx, callLogKey{}, log)
}

// RecordCall notes a call made under ctx. Drivers call it from their SDK's middleware; it does nothing
// when ctx carries no log.
func RecordCall(ctx context.Context, operation, requestID string) {
	if log, ok := ctx.Value(callLogKey{}).(*CallLog); ok {
		log.mu.Lock()
		log.calls = append(log.calls, Call{Operation: operation, RequestID: requestID})
		log.mu.Unlock()
	}
}

// Calls returns the calls recorded so far.
func (l *CallLog) Calls() []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Call(nil), l.calls...)
}

// RequestIDs returns the request IDs recorded so far, in order.
func (l *CallLog) RequestIDs() []string {
	var ids []string
	for _, c := range l.Calls() {
		if c.RequestID != "" {
			ids = append(ids, c.RequestID)
		}
	}
	return ids
}
