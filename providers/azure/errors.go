package azure

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/acquire-forensics/acquire/providers/azure/sasblocks"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// ARM's error codes, by the engine's code they map to.
// (https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors,
// https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling)
var errorCodes = map[string]driver.Code{
	"AuthorizationFailed":                 driver.CodePermissionDenied,
	"LinkedAuthorizationFailed":           driver.CodePermissionDenied,
	"AuthenticationFailed":                driver.CodePermissionDenied,
	"InvalidAuthenticationToken":          driver.CodePermissionDenied,
	"InvalidAuthenticationTokenAudience":  driver.CodePermissionDenied,
	"InvalidAuthenticationTokenTenant":    driver.CodePermissionDenied,
	"ExpiredAuthenticationToken":          driver.CodePermissionDenied,
	"AuthorizationPermissionMismatch":     driver.CodePermissionDenied,
	"NoAuthenticationInformation":         driver.CodePermissionDenied,
	"TooManyRequests":                     driver.CodeThrottled,
	"ServerBusy":                          driver.CodeThrottled,
	"InternalServerError":                 driver.CodeUnavailable,
	"InternalError":                       driver.CodeUnavailable,
	"InternalOperationError":              driver.CodeUnavailable,
	"ServiceUnavailable":                  driver.CodeUnavailable,
	"GatewayTimeout":                      driver.CodeUnavailable,
	"NotFound":                            driver.CodeNotFound,
	"ResourceNotFound":                    driver.CodeNotFound,
	"ResourceGroupNotFound":               driver.CodeNotFound,
	"SubscriptionNotFound":                driver.CodeNotFound,
	"ParentResourceNotFound":              driver.CodeNotFound,
	"OperationNotAllowed":                 driver.CodeConflict,
	"PropertyChangeNotAllowed":            driver.CodeConflict,
	"ScopeLocked":                         driver.CodeConflict,
	"Conflict":                            driver.CodeConflict,
	"InvalidParameter":                    driver.CodeInvalid,
	"BadRequest":                          driver.CodeInvalid,
	"InvalidRequestContent":               driver.CodeInvalid,
	"InvalidResourceName":                 driver.CodeInvalid,
	"LocationRequired":                    driver.CodeInvalid,
	"MissingApiVersionParameter":          driver.CodeInvalid,
	"NoRegisteredProviderFound":           driver.CodeInvalid,
	"InvalidApiVersionParameter":          driver.CodeInvalid,
	"InvalidHeaderValue":                  driver.CodeInvalid,
	"InvalidResourceType":                 driver.CodeInvalid,
	"MissingSubscriptionRegistration":     driver.CodeInvalid,
	"SubscriptionNotRegistered":           driver.CodeInvalid,
	"InvalidQueryParameterValue":          driver.CodeInvalid,
	"DiskEncryptionSetNotFound":           driver.CodeNotFound,
	"ResourceCollectionRequestsThrottled": driver.CodeThrottled,
}

// ErrorCode maps an Azure SDK error to the engine's codes: by ARM's error code first, then by status.
func (d *Driver) ErrorCode(err error) driver.Code {
	var integrity *sasblocks.IntegrityError
	if errors.As(err, &integrity) {
		return driver.CodeIntegrity
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return codeOf(ae.Code, ae.Status)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return codeOf(re.ErrorCode, re.StatusCode)
	}
	var se *sasblocks.Error
	if errors.As(err, &se) {
		return codeOf(se.Code, se.Status)
	}
	var af *azidentity.AuthenticationFailedError
	var cu *azidentity.AuthenticationRequiredError
	if errors.As(err, &af) || errors.As(err, &cu) {
		return driver.CodePermissionDenied
	}
	if strings.Contains(err.Error(), "DefaultAzureCredential") || strings.Contains(err.Error(), "EnvironmentCredential") {
		return driver.CodePermissionDenied // no credential at all
	}
	return driver.CodeUnknown
}

func codeOf(code string, status int) driver.Code {
	if c, ok := errorCodes[code]; ok {
		return c
	}
	switch {
	case status == http.StatusTooManyRequests:
		return driver.CodeThrottled
	case status >= 500:
		return driver.CodeUnavailable
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return driver.CodePermissionDenied
	case status == http.StatusNotFound:
		return driver.CodeNotFound
	case status == http.StatusConflict:
		return driver.CodeConflict
	case status == http.StatusBadRequest:
		return driver.CodeInvalid
	}
	return driver.CodeUnknown
}

// apiError is ARM's answer in one line: its code, its message (which names the action a permission
// error lacks), the request ID an auditor finds in the Activity Log, and the Retry-After it asked for.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RequestID  string
	retryAfter time.Duration
	err        *azcore.ResponseError
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
	if e.RequestID != "" {
		s += " [x-ms-request-id " + e.RequestID + "]"
	}
	return s
}

func (e *apiError) Unwrap() error { return e.err }

// RetryAfter is the delay ARM asked for.
func (e *apiError) RetryAfter() time.Duration { return e.retryAfter }

var armMessage = regexp.MustCompile(`"message"\s*:\s*"((?:[^"\\]|\\.)*)"`)

// apiErr makes an SDK answer an apiError; other errors pass unchanged.
func apiErr(err error) error {
	var re *azcore.ResponseError
	if err == nil || !errors.As(err, &re) {
		return err
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return err
	}
	out := &apiError{Status: re.StatusCode, Code: re.ErrorCode, err: re}
	if re.RawResponse != nil {
		h := re.RawResponse.Header
		out.RequestID = h.Get("x-ms-request-id")
		if s, perr := strconv.Atoi(h.Get("Retry-After")); perr == nil && s > 0 {
			out.retryAfter = time.Duration(s) * time.Second
		}
	}
	if m := armMessage.FindStringSubmatch(re.Error()); m != nil {
		if u, uerr := strconv.Unquote(`"` + m[1] + `"`); uerr == nil {
			out.Message = u
		} else {
			out.Message = m[1]
		}
	}
	if out.Message == "" {
		out.Message = http.StatusText(re.StatusCode)
	}
	return out
}
