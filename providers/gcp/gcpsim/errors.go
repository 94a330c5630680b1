package gcpsim

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is a Compute Engine error, written as the JSON error body of
// Google APIs, which googleapi.CheckResponse reads into *googleapi.Error:
//
//	{"error": {"code": 404, "message": "...",
//	           "errors": [{"message": "...", "domain": "global", "reason": "notFound"}]}}
//
// https://cloud.google.com/compute/docs/troubleshooting/troubleshooting-api-errors
type apiError struct {
	Code    int
	Reason  string
	Message string
	// Status is the canonical status name some services add ("UNAUTHENTICATED").
	Status string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message) }

func newError(code int, reason, format string, args ...any) *apiError {
	return &apiError{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

type errorItem struct {
	Message      string `json:"message"`
	Domain       string `json:"domain"`
	Reason       string `json:"reason"`
	Location     string `json:"location,omitempty"`
	LocationType string `json:"locationType,omitempty"`
}

type errorBody struct {
	Error struct {
		Code    int         `json:"code"`
		Message string      `json:"message"`
		Errors  []errorItem `json:"errors"`
		Status  string      `json:"status,omitempty"`
	} `json:"error"`
}

func (e *apiError) body() []byte {
	var b errorBody
	b.Error.Code = e.Code
	b.Error.Message = e.Message
	b.Error.Status = e.Status
	b.Error.Errors = []errorItem{{Message: e.Message, Domain: "global", Reason: e.Reason}}
	out, _ := json.Marshal(b)
	return out
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.Code)
	w.Write(e.body())
}

// The errors the API answers most. Messages follow the real ones, so that a
// responder reading them learns what the cloud would have said.

func notFound(resource string) *apiError {
	return newError(http.StatusNotFound, "notFound", "The resource '%s' was not found", resource)
}

func alreadyExists(resource string) *apiError {
	return newError(http.StatusConflict, "alreadyExists", "The resource '%s' already exists", resource)
}

func invalidField(field, value, why string) *apiError {
	return newError(http.StatusBadRequest, "invalid", "Invalid value for field '%s': '%s'. %s", field, value, why)
}

func required(field string) *apiError {
	return newError(http.StatusBadRequest, "required", "Required field '%s' not specified", field)
}

func resourceNotReady(resource string) *apiError {
	return newError(http.StatusBadRequest, "resourceNotReady", "The resource '%s' is not ready", resource)
}

func resourceInUse(resource, by string) *apiError {
	return newError(http.StatusBadRequest, "resourceInUseByAnotherResource",
		"The disk resource '%s' is already being used by '%s'", resource, by)
}

// forbidden is the answer to a call its principal may not make: 403 naming
// the permission and the resource.
// https://cloud.google.com/compute/docs/access/iam-permissions
func forbidden(permission, resource string) *apiError {
	return newError(http.StatusForbidden, "forbidden", "Required '%s' permission for '%s'", permission, resource)
}
