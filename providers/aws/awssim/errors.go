package awssim

import (
	"fmt"
	"net/http"
)

// apiError is an error the simulator answers with. Each protocol writer renders
// it in its own wire format (EC2 XML, awsquery XML, JSON 1.1, REST-JSON).
type apiError struct {
	status  int
	code    string
	message string
	// reason fills the Reason member of EBS exceptions (for example
	// RESOURCE_LEVEL_THROTTLE); empty elsewhere.
	reason string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// badRequest is the common 400 client error.
func badRequest(code, format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, code, format, args...)
}

// Common EC2 client errors.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html#CommonErrors
func errMissingParameter(name string) *apiError {
	return badRequest("MissingParameter", "The request must contain the parameter %s", name)
}

func errInvalidParameterValue(name, value string) *apiError {
	return badRequest("InvalidParameterValue", "Value (%s) for parameter %s is invalid.", value, name)
}

func errInvalidParameterCombination(format string, args ...any) *apiError {
	return badRequest("InvalidParameterCombination", format, args...)
}

func errUnauthorizedOperation(principalARN, action string) *apiError {
	return newError(http.StatusForbidden, "UnauthorizedOperation",
		"You are not authorized to perform this operation. User: %s is not authorized to perform: %s", principalARN, action)
}

// ec2Throttled is the EC2 throttling answer.
// https://docs.aws.amazon.com/AWSEC2/latest/devguide/ec2-api-throttling.html
func ec2Throttled() *apiError {
	return newError(http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
}
