package sasblocks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Error is a failed blob call without its URL: the blob service's code and status, the call, and the
// cause stripped of anything that could carry the SAS.
type Error struct {
	Op       string // "Get Page Ranges", "Get Blob"
	Resource string // the snapshot's resource ID
	Status   int
	Code     string
	err      error
}

func (e *Error) Error() string {
	s := e.Op + " of " + e.Resource
	switch {
	case e.Code != "":
		s += fmt.Sprintf(": %s (HTTP %d)", e.Code, e.Status)
	case e.Status != 0:
		s += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Unwrap gives the cause (a network error, a context error) without the request's URL.
func (e *Error) Unwrap() error { return e.err }

// IntegrityError is a block whose content did not match its Content-MD5, or came without one, read
// after read.
type IntegrityError struct {
	Resource   string
	Block      int64
	Reads      int
	NoChecksum bool // the blob service sent no Content-MD5 at all
}

func (e *IntegrityError) Error() string {
	if e.NoChecksum {
		return fmt.Sprintf("block %d of %s came without the Content-MD5 the blob service sends for a ranged read in %d reads: it cannot be checked", e.Block, e.Resource, e.Reads)
	}
	return fmt.Sprintf("block %d of %s did not match its Content-MD5 in %d reads", e.Block, e.Resource, e.Reads)
}

// StalledError is a block whose ranged read ran past the read timeout, read after read. It is a
// transport failure (a net.Error that timed out): the engine may try the digest again.
type StalledError struct {
	Block int64
	Reads int
	After time.Duration
}

func (e *StalledError) Error() string {
	return fmt.Sprintf("block %d stalled: no complete answer within %s, %d reads", e.Block, e.After, e.Reads)
}

// Timeout and Temporary make it a net.Error that timed out.
func (e *StalledError) Timeout() bool   { return true }
func (e *StalledError) Temporary() bool { return true }

// scrub turns an SDK error into an Error that cannot carry the SAS: a response error keeps its code
// and status only, a transport error (*url.Error names the URL, query and all) its cause only.
func scrub(op, resource string, err error) error {
	if err == nil {
		return nil
	}
	out := &Error{Op: op, Resource: resource}
	var re *azcore.ResponseError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		out.Status, out.Code = re.StatusCode, re.ErrorCode
	case errors.As(err, &ue):
		out.err = ue.Err
	case errors.Is(err, context.Canceled):
		out.err = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		out.err = context.DeadlineExceeded
	default:
		out.err = errors.New(redact(err.Error()))
	}
	return out
}

var queryString = regexp.MustCompile(`\?[^\s"'<>]*`)

// redact removes query strings (where a SAS travels) from a message.
func redact(s string) string { return queryString.ReplaceAllString(s, "?[redacted]") }
