package azuresim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Long-running operations as the Compute resource provider runs them: the
// first answer is 202 Accepted (201 for restore points) with an
// Azure-AsyncOperation header (the status document) and a Location header
// (the monitor that answers 202 while running and the result when done),
// and Retry-After.
// https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/async-api-reference.md
// https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations

// startOperation records an operation and answers the request that began
// it. Callers hold no lock.
func (c *call) startOperation(op *operation, status int, body any) {
	s := c.s
	op.id = s.ids.newGUID("operation")
	op.started = c.now
	if op.ends.Before(op.started) {
		op.ends = op.started
	}
	if c.faults.failOperation {
		op.failure = newError(http.StatusInternalServerError, "InternalOperationError", "The operation failed: the simulator injected this failure.")
	}
	s.mu.Lock()
	s.st.operations[op.id] = op
	s.mu.Unlock()
	status_ := c.operationURL(op, false)
	h := c.w.Header()
	h.Set("Azure-AsyncOperation", status_)
	h.Set("Location", c.operationURL(op, true))
	h.Set("Retry-After", fmt.Sprint(s.retryAfter))
	c.reply(status, body)
}

func (c *call) operationURL(op *operation, monitor bool) string {
	u := fmt.Sprintf("%s/subscriptions/%s/providers/Microsoft.Compute/locations/%s/%s/%s?p=%s&api-version=%s",
		c.base, op.subscription, strings.ToLower(strings.ReplaceAll(op.location, " ", "")), op.provider, op.id,
		c.s.ids.guid("operation-p/"+op.id), c.apiVersion)
	if monitor {
		u += "&monitor=true"
	}
	return u
}

func (op *operation) status(now time.Time) string {
	switch {
	case now.Before(op.ends):
		return "InProgress"
	case op.failure != nil:
		return "Failed"
	}
	return "Succeeded"
}

// getOperation serves the status document, or with monitor=true the
// Location monitor.
func (s *Server) getOperation(c *call) {
	id := c.params["operationId"]
	s.mu.Lock()
	op := s.st.operations[id]
	s.mu.Unlock()
	if op == nil || !strings.EqualFold(op.subscription, c.params["subscriptionId"]) ||
		!strings.EqualFold(op.provider, c.params["kind"]) || c.r.URL.Query().Get("p") != s.ids.guid("operation-p/"+id) {
		c.fail(newError(http.StatusNotFound, "NotFound", "The operation '%s' was not found.", id))
		return
	}
	status := op.status(c.now)
	if c.r.URL.Query().Get("monitor") == "true" {
		switch status {
		case "InProgress":
			c.w.Header().Set("Location", c.operationURL(op, true))
			c.w.Header().Set("Retry-After", fmt.Sprint(s.retryAfter))
			c.reply(http.StatusAccepted, nil)
		case "Failed":
			c.fail(op.failure)
		default:
			s.writeOperationResult(c, op)
		}
		return
	}
	doc := map[string]any{"name": op.id, "status": status, "startTime": op.started.UTC().Format(time.RFC3339Nano)}
	if status != "InProgress" {
		doc["endTime"] = op.ends.UTC().Format(time.RFC3339Nano)
	} else {
		c.w.Header().Set("Retry-After", fmt.Sprint(s.retryAfter))
	}
	if status == "Failed" {
		doc["error"] = op.failure
	}
	if status == "Succeeded" && op.output == "accessSAS" {
		doc["properties"] = map[string]any{"output": map[string]any{"accessSAS": s.sasURL(c.base, op.grantID)}}
	}
	c.reply(http.StatusOK, doc)
}

// writeOperationResult is what the monitor answers once an operation
// succeeded: the resource, the access URI, or nothing.
func (s *Server) writeOperationResult(c *call, op *operation) {
	switch op.output {
	case "accessSAS":
		c.reply(http.StatusOK, map[string]any{"accessSAS": s.sasURL(c.base, op.grantID)})
	case "resource":
		body, e := s.renderByID(op.resourceID, c.now)
		if e != nil {
			c.fail(e)
			return
		}
		c.reply(http.StatusOK, body)
	default:
		c.reply(http.StatusOK, nil)
	}
}
