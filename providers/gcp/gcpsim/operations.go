package gcpsim

import (
	"net/http"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// requestIDWindow is how long a request ID is remembered: the API
// guarantees at least 60 minutes after the first request.
// https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/insert (requestId)
const requestIDWindow = 60 * time.Minute

// uuidRE is the form of a request ID: a UUID, the zero UUID excepted.
var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func validRequestID(id string) *apiError {
	if id == "" {
		return nil
	}
	if !uuidRE.MatchString(id) || id == "00000000-0000-0000-0000-000000000000" {
		return invalidField("requestId", id, "The request ID must be a valid UUID with the exception that zero UUID is not supported (00000000-0000-0000-0000-000000000000).")
	}
	return nil
}

// opByRequestID finds the operation a request ID made, while it is
// remembered.
func (s *Server) opByRequestID(project, requestID string, now time.Time) *operation {
	k, ok := s.st.requestIDs[project+"/"+strings.ToLower(requestID)]
	if !ok {
		return nil
	}
	op := s.st.operations[k]
	if op == nil || now.Sub(parseTime(op.pb.GetInsertTime())) > requestIDWindow {
		delete(s.st.requestIDs, project+"/"+strings.ToLower(requestID))
		return nil
	}
	return op
}

// newOperation records an operation on target that completes after d.
func (c *call) newOperation(opType, scope, targetLink string, targetID uint64, d time.Duration) *computepb.Operation {
	return c.newOperationFailing(opType, scope, targetLink, targetID, d, nil)
}

func (c *call) newOperationFailing(opType, scope, targetLink string, targetID uint64, d time.Duration, fail *opError) *computepb.Operation {
	s := c.s
	name := s.ids.operationName(c.now)
	base := selfLinkBase + "projects/" + c.proj.id + "/"
	pb := &computepb.Operation{
		Kind:          proto.String("compute#operation"),
		Id:            proto.Uint64(s.ids.resourceID()),
		Name:          proto.String(name),
		OperationType: proto.String(opType),
		TargetLink:    proto.String(targetLink),
		User:          proto.String(c.who.email),
		InsertTime:    proto.String(timestamp(c.now)),
		StartTime:     proto.String(timestamp(c.now)),
		SelfLink:      proto.String(base + scope + "/operations/" + name),
	}
	if targetID != 0 {
		pb.TargetId = proto.Uint64(targetID)
	}
	switch {
	case strings.HasPrefix(scope, "zones/"):
		pb.Zone = proto.String(base + scope)
	case strings.HasPrefix(scope, "regions/"):
		pb.Region = proto.String(base + scope)
	}
	op := &operation{pb: pb, project: c.proj.id, scope: scope, doneAt: c.now.Add(d), opError: fail, requestID: c.requestID}
	k := key(c.proj.id, scope, name)
	s.st.operations[k] = op
	if c.requestID != "" {
		s.st.requestIDs[c.proj.id+"/"+strings.ToLower(c.requestID)] = k
	}
	return op.view(c.now)
}

// view is the operation as a client sees it at now.
func (op *operation) view(now time.Time) *computepb.Operation {
	v := proto.Clone(op.pb).(*computepb.Operation)
	if now.Before(op.doneAt) {
		v.Status = computepb.Operation_RUNNING.Enum()
		total := op.doneAt.Sub(parseTime(op.pb.GetStartTime()))
		done := now.Sub(parseTime(op.pb.GetStartTime()))
		pct := int32(0)
		if total > 0 {
			pct = int32(100 * done / total)
		}
		v.Progress = proto.Int32(pct)
		return v
	}
	v.Status = computepb.Operation_DONE.Enum()
	v.Progress = proto.Int32(100)
	v.EndTime = proto.String(timestamp(op.doneAt))
	if e := op.opError; e != nil {
		v.Error = &computepb.Error{Errors: []*computepb.Errors{{Code: proto.String(e.Code), Message: proto.String(e.Message)}}}
		if e.HTTPStatus != 0 {
			// https://cloud.google.com/compute/docs/reference/rest/v1/zoneOperations (httpErrorStatusCode)
			v.HttpErrorStatusCode = proto.Int32(e.HTTPStatus)
			v.HttpErrorMessage = proto.String(strings.ToUpper(http.StatusText(int(e.HTTPStatus))))
		}
	}
	return v
}

// failedOperation accepts a call whose operation a fault makes fail: the
// operation names the target the call would have touched and ends DONE with
// the error soon after; nothing else changes.
func (c *call) failedOperation(rt *route, fail *opError) *computepb.Operation {
	scope := "global"
	switch {
	case c.vars["zone"] != "":
		scope = "zones/" + c.vars["zone"]
	case c.vars["region"] != "":
		scope = "regions/" + c.vars["region"]
	}
	verb := rt.method[strings.LastIndexByte(rt.method, '.')+1:]
	target := selfLinkBase + "projects/" + c.proj.id + "/" + strings.Join(fillVars(rt.segs, c.vars), "/")
	if verb == "insert" {
		target += "/" + bodyName(c.body)
	} else if i := strings.LastIndexByte(target, '/'); i > 0 && verb != "delete" {
		target = target[:i] // zones/Z/disks/D/createSnapshot targets the disk
	}
	return c.newOperationFailing(verb, scope, target, 0, 0, fail)
}

func fillVars(segs []string, vars map[string]string) []string {
	out := make([]string, len(segs))
	for i, p := range segs {
		if strings.HasPrefix(p, "{") {
			p = vars[p[1:len(p)-1]]
		}
		out[i] = p
	}
	return out
}

// operationScope is the scope of the call's operation route.
func (c *call) operationScope(kind string) string {
	switch kind {
	case "zone":
		return "zones/" + c.vars["zone"]
	case "region":
		return "regions/" + c.vars["region"]
	}
	return "global"
}

func operationPermission(kind, verb string) string {
	return "compute." + kind + "Operations." + verb
}

func (s *Server) getOperation(kind string) func(c *call) (proto.Message, *apiError) {
	return func(c *call) (proto.Message, *apiError) {
		scope := c.operationScope(kind)
		resource := "projects/" + c.proj.id + "/" + scope + "/operations/" + c.vars["operation"]
		if e := c.require(operationPermission(kind, "get"), resource); e != nil {
			return nil, e
		}
		op := s.st.operations[key(c.proj.id, scope, c.vars["operation"])]
		if op == nil {
			return nil, notFound(resource)
		}
		return op.view(c.now), nil
	}
}

// waitOperation answers when the operation is DONE or after about two
// minutes, whichever is first; the simulator answers at once with the
// current state, which the documentation allows ("not guaranteed to wait").
// https://cloud.google.com/compute/docs/reference/rest/v1/zoneOperations/wait
func (s *Server) waitOperation(kind string) func(c *call) (proto.Message, *apiError) {
	get := s.getOperation(kind)
	return func(c *call) (proto.Message, *apiError) {
		return get(c)
	}
}

func (s *Server) listOperations(kind string) func(c *call) (proto.Message, *apiError) {
	return func(c *call) (proto.Message, *apiError) {
		scope := c.operationScope(kind)
		if e := c.require(operationPermission(kind, "list"), "projects/"+c.proj.id); e != nil {
			return nil, e
		}
		var items []proto.Message
		for _, op := range s.st.operations {
			if op.project == c.proj.id && op.scope == scope {
				items = append(items, op.view(c.now))
			}
		}
		page, e := c.page(items)
		if e != nil {
			return nil, e
		}
		out := &computepb.OperationList{Kind: proto.String("compute#operationList"), NextPageToken: page.next,
			SelfLink: proto.String(selfLinkBase + "projects/" + c.proj.id + "/" + scope + "/operations")}
		for _, m := range page.items {
			out.Items = append(out.Items, m.(*computepb.Operation))
		}
		return out, nil
	}
}

func parseTime(s string) time.Time {
	t, _ := time.Parse("2006-01-02T15:04:05.000-07:00", s)
	return t
}
