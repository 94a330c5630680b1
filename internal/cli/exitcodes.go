package cli

import (
	"context"
	"errors"
	"io/fs"

	"github.com/acquire-forensics/acquire/custody"
)

// Exit codes. They are part of the interface (scripts and runbooks test them): never renumber.
const (
	ExitOK               = 0
	ExitError            = 1   // unexpected: a bug, or the environment failed (disk full, I/O)
	ExitUsage            = 2   // bad flags, arguments or input files
	ExitPartial          = 3   // some of the work was done and some failed
	ExitVerifyFailed     = 10  // verification found a problem, or a writer found the case's history changed
	ExitSelfConsistent   = 14  // everything holds, but only against the key the case carries
	ExitPermissionDenied = 11  // wrong password, key readable by others, access denied by a cloud
	ExitNotFound         = 12  // case, key, record or cloud resource not found
	ExitConflict         = 13  // the case is locked by another writer, or already exists
	ExitCancelled        = 130 // interrupted (Ctrl-C, SIGTERM) or timed out
)

const exitCodesHelp = `Exit codes:
  0    success
  1    unexpected error (a bug, or the environment failed: disk full, I/O)
  2    usage: bad flags, arguments or input files
  3    partial: some of the work was done and some failed
  10   verification failed (or a writer found the case's history changed)
  11   permission denied: wrong password, key readable by others, access denied
  12   not found: case, key, record or resource
  13   conflict: the case is locked by another writer, or already exists
  14   self-consistent only: the case holds, but only against the key inside it
       (pin the key with --key or --fingerprint; --insecure-ignore-key-pin accepts it)
  130  cancelled (Ctrl-C, SIGTERM, timeout)`

// exitName is an exit code's name in JSON output: stable, as the codes are.
func exitName(code int) string {
	switch code {
	case ExitOK:
		return "ok"
	case ExitUsage:
		return "usage"
	case ExitPartial:
		return "partial"
	case ExitVerifyFailed:
		return "verification-failed"
	case ExitPermissionDenied:
		return "permission-denied"
	case ExitNotFound:
		return "not-found"
	case ExitConflict:
		return "conflict"
	case ExitSelfConsistent:
		return "self-consistent-only"
	case ExitCancelled:
		return "cancelled"
	}
	return "error"
}

// exitError carries an exit code chosen where the failure is understood best.
type exitError struct {
	code     int
	err      error
	reported bool // the command already told the user; Main prints nothing more
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func usageErrorf(err error) error { return withCode(ExitUsage, err) }

// exitCode maps an error to its exit code.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ExitCancelled
	case errors.Is(err, custody.ErrTamperedHistory), errors.Is(err, custody.ErrLink):
		return ExitVerifyFailed
	case errors.Is(err, custody.ErrWrongPassword), errors.Is(err, custody.ErrKeyPermissions), errors.Is(err, fs.ErrPermission):
		return ExitPermissionDenied
	case errors.Is(err, custody.ErrKeyNotFound), errors.Is(err, custody.ErrNotACase), errors.Is(err, fs.ErrNotExist):
		return ExitNotFound
	case errors.Is(err, custody.ErrLocked), errors.Is(err, fs.ErrExist):
		return ExitConflict
	case errors.Is(err, custody.ErrUnknownScheme), errors.Is(err, custody.ErrKeyAlgorithm), errors.Is(err, custody.ErrMalformedKey):
		return ExitUsage
	}
	return ExitError
}
