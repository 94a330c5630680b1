package azuresim

import (
	"fmt"
	"net/http"
	"strings"
)

// armError is an error as ARM and the resource providers write it:
// {"error": {"code": "...", "message": "..."}}, the code also in the
// x-ms-error-code header. azcore turns it into *azcore.ResponseError with
// ErrorCode set to the code.
// https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/common-api-details.md#error-response-content
type armError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	// retryAfter, when positive, is sent as Retry-After (throttling).
	retryAfter int
}

func (e *armError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, format string, args ...any) *armError {
	return &armError{status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// notFound is ARM's answer for a resource that does not exist.
// https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-not-found
func notFound(id string) *armError {
	r := parseResourceID(id)
	return newError(http.StatusNotFound, "ResourceNotFound",
		"The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
		r.providerType(), r.name, r.resourceGroup)
}

func badRequest(code, format string, args ...any) *armError {
	return newError(http.StatusBadRequest, code, format, args...)
}

func conflict(code, format string, args ...any) *armError {
	return newError(http.StatusConflict, code, format, args...)
}

// authorizationFailed is ARM's 403 naming the action and scope.
// https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---authorization-failed
func authorizationFailed(p *principal, action, scope string) *armError {
	return newError(http.StatusForbidden, "AuthorizationFailed",
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		p.clientID, p.objectID, action, scope)
}

// linkedAuthorizationFailed is ARM's 403 when the caller may act on the
// target but not on a resource the request links to (a copy's source).
// https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---linked-authorization-failed
func linkedAuthorizationFailed(p *principal, action, scope string, linkedActions []string, linkedScope string) *armError {
	return newError(http.StatusForbidden, "LinkedAuthorizationFailed",
		"The client '%s' with object id '%s' has permission to perform action '%s' on scope '%s'; however, it does not have permission to perform action(s) '%s' on the linked scope(s) '%s' (respectively) or the linked scope(s) are invalid.",
		p.clientID, p.objectID, action, scope, strings.Join(linkedActions, ","), linkedScope)
}
