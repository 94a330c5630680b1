package gcp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// The constraint that refuses, in practice, the use of one project's disks in another.
// https://cloud.google.com/compute/docs/images/restricting-image-access
const storageConstraint = "constraints/compute.storageResourceUseRestrictions"

// Error reasons of the Compute Engine API by the engine's code they map to
// (https://cloud.google.com/compute/docs/api/how-tos/api-requests-responses#error-response).
var reasons = map[string]driver.Code{
	"rateLimitExceeded":              driver.CodeThrottled,
	"userRateLimitExceeded":          driver.CodeThrottled,
	"RATE_LIMIT_EXCEEDED":            driver.CodeThrottled,
	"backendError":                   driver.CodeUnavailable,
	"internalError":                  driver.CodeUnavailable,
	"unavailable":                    driver.CodeUnavailable,
	"forbidden":                      driver.CodePermissionDenied,
	"insufficientPermissions":        driver.CodePermissionDenied,
	"kmsPermissionDenied":            driver.CodePermissionDenied,
	"authError":                      driver.CodePermissionDenied,
	"required":                       driver.CodeInvalid,
	"invalid":                        driver.CodeInvalid,
	"badRequest":                     driver.CodeInvalid,
	"notFound":                       driver.CodeNotFound,
	"alreadyExists":                  driver.CodeConflict,
	"resourceInUseByAnotherResource": driver.CodeConflict,
	"resourceNotReady":               driver.CodeConflict,
	"quotaExceeded":                  driver.CodeConflict, // a resource quota: it passes only as resources are freed
}

// ErrorCode maps the driver's errors: the API's reason first, then the HTTP status; an operation that
// ended in error is failed, and a credential that cannot get a token is denied.
func (d *Driver) ErrorCode(err error) driver.Code { return errorCode(err) }

func errorCode(err error) driver.Code {
	var op *opError
	if errors.As(err, &op) {
		if c, ok := reasons[op.code]; ok && c == driver.CodeThrottled {
			return c
		}
		return driver.CodeFailed
	}
	var we *workerError
	if errors.As(err, &we) {
		return driver.CodeFailed
	}
	var policy *orgPolicyError
	if errors.As(err, &policy) {
		return driver.CodePermissionDenied
	}
	var mp *missingPermissionsError
	if errors.As(err, &mp) {
		return driver.CodePermissionDenied
	}
	var ka *keyAgentError
	if errors.As(err, &ka) {
		return driver.CodePermissionDenied
	}
	var inv *invalidError
	if errors.As(err, &inv) {
		return driver.CodeInvalid
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		for _, it := range ge.Errors {
			if c, ok := reasons[it.Reason]; ok {
				return c
			}
		}
		return statusCode(ge.Code)
	}
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Response != nil {
		// The token endpoint's answer: throttled and unavailable as any call, otherwise the
		// credentials are refused (a revoked key, a bad grant).
		switch s := ae.Response.StatusCode; {
		case s == http.StatusTooManyRequests:
			return driver.CodeThrottled
		case s >= 500:
			return driver.CodeUnavailable
		}
		return driver.CodePermissionDenied
	}
	return driver.CodeUnknown
}

func statusCode(s int) driver.Code {
	switch {
	case s == http.StatusTooManyRequests:
		return driver.CodeThrottled
	case s >= 500:
		return driver.CodeUnavailable
	case s == http.StatusForbidden || s == http.StatusUnauthorized:
		return driver.CodePermissionDenied
	case s == http.StatusNotFound:
		return driver.CodeNotFound
	case s == http.StatusConflict || s == http.StatusPreconditionFailed:
		return driver.CodeConflict
	case s >= 400:
		return driver.CodeInvalid
	}
	return driver.CodeUnknown
}

// opError is an operation that ended DONE with an error: the Go client's Wait returns nil for one whose
// error carries no httpErrorStatusCode, so every operation's error is read from its message.
type opError struct {
	op      string // the operation's name
	code    string
	message string
}

func (e *opError) Error() string {
	return fmt.Sprintf("operation %s failed: %s: %s", e.op, e.code, e.message)
}

// operationError is the error of a DONE operation, or nil.
func operationError(op *computepb.Operation) error {
	errs := op.GetError().GetErrors()
	if len(errs) == 0 {
		return nil
	}
	var msgs []string
	for _, e := range errs[1:] {
		msgs = append(msgs, e.GetCode()+": "+e.GetMessage())
	}
	msg := errs[0].GetMessage()
	if len(msgs) > 0 {
		msg += " (also " + strings.Join(msgs, "; ") + ")"
	}
	return &opError{op: op.GetName(), code: errs[0].GetCode(), message: msg}
}

// orgPolicyError is a refusal by the storage-resource-use constraint, said plainly: it is what
// cross-project acquisitions meet in practice.
type orgPolicyError struct {
	project string // whose policy refuses
	source  string // the project whose disks it refuses
	err     error
}

func (e *orgPolicyError) Error() string {
	return fmt.Sprintf("the organization policy %s of project %s does not allow disks of project %s to be used there: "+
		"ask the organization's policy administrator to add projects/%s to the constraint's allowed values for %s (%v)",
		storageConstraint, e.project, e.source, e.source, e.project, e.err)
}

func (e *orgPolicyError) Unwrap() error { return e.err }

// explainPolicy names the org policy when it is what refused a call made in project about source's disks.
func explainPolicy(err error, project, source string) error {
	if err != nil && strings.Contains(err.Error(), storageConstraint) {
		return &orgPolicyError{project: project, source: source, err: err}
	}
	return err
}

// invalidError is a target or setting refused before any call.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// isStatus reports whether err is an API answer with one of these HTTP statuses.
func isStatus(err error, codes ...int) bool {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return false
	}
	for _, c := range codes {
		if ge.Code == c {
			return true
		}
	}
	return false
}
