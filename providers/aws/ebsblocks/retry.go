package ebsblocks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// backoff is the wait before retry number attempt (1 for the first retry):
// exponential with full jitter, so that workers throttled together do not
// retry together.
// https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
func backoff(attempt int) time.Duration {
	ceiling := maxBackoff
	if attempt < 20 {
		ceiling = min(maxBackoff, minBackoff<<(attempt-1))
	}
	return time.Duration(rand.Int64N(int64(ceiling))) + time.Millisecond
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// withTimeout runs one request under its own deadline. An expired deadline
// becomes errRequestTimeout (transient) as long as ctx itself is alive; the
// SDK reports a deadline as a cancellation, which it never retries.
func withTimeout[T any](ctx context.Context, d time.Duration, call func(ctx context.Context) (T, error)) (T, error) {
	actx, cancel := context.WithTimeoutCause(ctx, d, errRequestTimeout)
	defer cancel()
	v, err := call(actx)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		return v, fmt.Errorf("%w (%s): %v", errRequestTimeout, d, err)
	}
	return v, err
}
