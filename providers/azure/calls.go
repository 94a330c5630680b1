package azure

import (
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// recordCalls reports every ARM call's operation and identifiers to the engine's call log in the
// context, for the custody record (an auditor finds them in the Activity Log, by correlation ID, and
// Microsoft support by request ID) and for call counts. The operation is the method and the resource
// type, never the query string.
type recordCalls struct{ side driver.Side }

func (p recordCalls) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if resp != nil {
		driver.RecordCall(req.Raw().Context(), "azure:"+req.Raw().Method+" "+operationOf(req.Raw().URL.Path), callIDs(resp.Header))
	}
	return resp, err
}

// callIDs are the identifiers ARM returns on every response, both always, even when equal: the
// request ID (x-ms-request-id) and the correlation ID (x-ms-correlation-request-id), as
// "request ID correlation ID"; a missing one is "-".
// (https://learn.microsoft.com/rest/api/azure/#response-headers)
func callIDs(h http.Header) string {
	id, corr := h.Get("x-ms-request-id"), h.Get("x-ms-correlation-request-id")
	if id == "" && corr == "" {
		return ""
	}
	return "request " + orDash(id) + " correlation " + orDash(corr)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// operationOf names a call by the resource types after the last provider namespace in its path
// ("snapshots/beginGetAccess", "subscriptions/resourcegroups").
func operationOf(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(segs) - 2; i >= 0; i-- {
		if strings.EqualFold(segs[i], "providers") {
			segs = segs[i+2:]
			break
		}
	}
	var kinds []string
	for i := 0; i < len(segs); i += 2 {
		kinds = append(kinds, segs[i])
	}
	return strings.Join(kinds, "/")
}
