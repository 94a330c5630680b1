package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// Code is the small, stable set of failure kinds a driver's errors are mapped to. Custody records carry
// them and scripts read them: never rename one.
type Code string

// Error codes.
const (
	CodeUnknown          Code = "unknown"
	CodeNotFound         Code = "not-found"
	CodePermissionDenied Code = "permission-denied"
	CodeThrottled        Code = "throttled"
	CodeConflict         Code = "conflict"
	CodeInvalid          Code = "invalid"
	CodeUnavailable      Code = "unavailable"
	CodeFailed           Code = "failed"    // the cloud says the operation itself failed (a snapshot in state error)
	CodeIntegrity        Code = "integrity" // content did not match its checksum or digest
	CodeCancelled        Code = "cancelled"
	CodeTimeout          Code = "timeout"
)

// Retryable reports whether an operation that failed with c may succeed if tried again unchanged.
// An unavailable create may have been carried out: it is looked up by its token before it is tried again.
func (c Code) Retryable() bool { return c == CodeThrottled || c == CodeUnavailable }

// Error is a failed operation: what was done, to what, the code, and the driver's own error.
type Error struct {
	Code     Code
	Op       string // "snapshot.create", "share", ...
	Resource string // the resource's native ID
	Err      error
}

func (e *Error) Error() string {
	what := e.Op
	if e.Resource != "" {
		what += " " + e.Resource
	}
	return fmt.Sprintf("%s: %s: %v", what, e.Code, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the code of err: its own when it is an *Error, the context's when it was cancelled.
func CodeOf(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.Canceled):
		return CodeCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	}
	return CodeUnknown
}

// Wrap maps a driver error to its code once, with the operation and resource. Context errors and
// errors already wrapped pass through. A transport failure the driver does not know (a connection
// reset or closed before the answer) is unavailable: retryable, with an unknown outcome.
func Wrap(d Driver, op, resource string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	code := d.ErrorCode(err)
	switch {
	case errors.Is(err, context.Canceled):
		code = CodeCancelled
	case errors.Is(err, context.DeadlineExceeded):
		code = CodeTimeout
	case code == CodeUnknown && IsTransport(err):
		code = CodeUnavailable
	}
	return &Error{Code: code, Op: op, Resource: resource, Err: err}
}

// IsTransport reports whether err is a failure of the connection rather than an answer of the cloud:
// the request may or may not have been carried out.
func IsTransport(err error) bool {
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return true
	case errors.As(err, &opErr):
		return true
	case errors.As(err, &netErr) && netErr.Timeout():
		return true
	}
	return false
}

// RetryAfterer is implemented by an error that carries the cloud's own word on when to try again (an
// HTTP Retry-After header, a throttling answer's delay). A driver whose SDK gives one wraps its error
// so that the engine waits at least that long before the next attempt.
type RetryAfterer interface {
	RetryAfter() time.Duration
}

// RetryAfter returns the delay an error's chain asks for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var ra RetryAfterer
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		return ra.RetryAfter(), true
	}
	return 0, false
}
