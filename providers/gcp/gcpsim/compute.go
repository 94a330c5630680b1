package gcpsim

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const computePrefix = "/compute/v1/projects/"

// route is one Compute Engine method: its HTTP verb and path under
// /compute/v1/projects/{project}/, and its name as in the REST reference
// ("compute.disks.createSnapshot"), which faults and call counts use.
type route struct {
	verb     string
	segs     []string
	method   string
	mutating bool
	handle   func(c *call) (proto.Message, *apiError)
}

// call is one Compute Engine request on its way through the simulator.
type call struct {
	s         *Server
	r         *http.Request
	body      []byte
	method    string
	vars      map[string]string
	proj      *project
	who       *principal
	now       time.Time
	requestID string
}

func (s *Server) buildRoutes() []route {
	get := func(p, m string, h func(*call) (proto.Message, *apiError)) route {
		return route{verb: http.MethodGet, segs: splitPath(p), method: m, handle: h}
	}
	mut := func(verb, p, m string, h func(*call) (proto.Message, *apiError)) route {
		return route{verb: verb, segs: splitPath(p), method: m, mutating: true, handle: h}
	}
	post, del := http.MethodPost, http.MethodDelete
	return []route{
		get("", "compute.projects.get", s.getProject),
		get("zones", "compute.zones.list", s.listZones),
		get("zones/{zone}", "compute.zones.get", s.getZone),

		get("aggregated/instances", "compute.instances.aggregatedList", s.aggregatedInstances),
		get("aggregated/disks", "compute.disks.aggregatedList", s.aggregatedDisks),
		get("zones/{zone}/instances", "compute.instances.list", s.listInstances),
		get("zones/{zone}/instances/{instance}", "compute.instances.get", s.getInstance),
		mut(post, "zones/{zone}/instances", "compute.instances.insert", s.insertInstance),
		mut(del, "zones/{zone}/instances/{instance}", "compute.instances.delete", s.deleteInstance),
		get("zones/{zone}/instances/{instance}/serialPort", "compute.instances.getSerialPortOutput", s.getSerialPortOutput),
		get("zones/{zone}/instances/{instance}/getGuestAttributes", "compute.instances.getGuestAttributes", s.getGuestAttributes),

		get("zones/{zone}/disks", "compute.disks.list", s.listDisks),
		get("zones/{zone}/disks/{disk}", "compute.disks.get", s.getDisk),
		mut(post, "zones/{zone}/disks", "compute.disks.insert", s.insertDisk),
		mut(del, "zones/{zone}/disks/{disk}", "compute.disks.delete", s.deleteDisk),
		mut(post, "zones/{zone}/disks/{disk}/createSnapshot", "compute.disks.createSnapshot", s.createSnapshotFromDisk),
		mut(post, "zones/{zone}/disks/{disk}/addResourcePolicies", "compute.disks.addResourcePolicies", s.addResourcePolicies),
		mut(post, "zones/{zone}/disks/{disk}/removeResourcePolicies", "compute.disks.removeResourcePolicies", s.removeResourcePolicies),
		// testIamPermissions reads: it answers the permissions held, not an operation.
		{verb: post, segs: splitPath("zones/{zone}/disks/{resource}/testIamPermissions"), method: "compute.disks.testIamPermissions", handle: s.testDiskPermissions},

		get("global/snapshots", "compute.snapshots.list", s.listSnapshots),
		get("global/snapshots/{snapshot}", "compute.snapshots.get", s.getSnapshot),
		mut(post, "global/snapshots", "compute.snapshots.insert", s.insertSnapshot),
		mut(del, "global/snapshots/{snapshot}", "compute.snapshots.delete", s.deleteSnapshot),
		mut(post, "global/snapshots/{snapshot}/setLabels", "compute.snapshots.setLabels", s.setSnapshotLabels),
		get("global/snapshots/{snapshot}/getIamPolicy", "compute.snapshots.getIamPolicy", s.getSnapshotIAMPolicy),
		// setIamPolicy answers the policy, not an operation.
		{verb: post, segs: splitPath("global/snapshots/{snapshot}/setIamPolicy"), method: "compute.snapshots.setIamPolicy", mutating: true, handle: s.setSnapshotIAMPolicy},

		get("global/images", "compute.images.list", s.listImages),
		get("global/images/{image}", "compute.images.get", s.getImage),
		get("global/images/{image}/getIamPolicy", "compute.images.getIamPolicy", s.getImageIAMPolicy),

		get("regions/{region}/resourcePolicies", "compute.resourcePolicies.list", s.listResourcePolicies),
		get("regions/{region}/resourcePolicies/{resourcePolicy}", "compute.resourcePolicies.get", s.getResourcePolicy),
		mut(post, "regions/{region}/resourcePolicies", "compute.resourcePolicies.insert", s.insertResourcePolicy),
		mut(del, "regions/{region}/resourcePolicies/{resourcePolicy}", "compute.resourcePolicies.delete", s.deleteResourcePolicy),

		get("zones/{zone}/instantSnapshots", "compute.instantSnapshots.list", s.listInstantSnapshots),
		get("zones/{zone}/instantSnapshots/{instantSnapshot}", "compute.instantSnapshots.get", s.getInstantSnapshot),
		mut(post, "zones/{zone}/instantSnapshots", "compute.instantSnapshots.insert", s.insertInstantSnapshot),
		mut(del, "zones/{zone}/instantSnapshots/{instantSnapshot}", "compute.instantSnapshots.delete", s.deleteInstantSnapshot),
		get("zones/{zone}/instantSnapshotGroups", "compute.instantSnapshotGroups.list", s.listInstantSnapshotGroups),
		get("zones/{zone}/instantSnapshotGroups/{instantSnapshotGroup}", "compute.instantSnapshotGroups.get", s.getInstantSnapshotGroup),
		mut(post, "zones/{zone}/instantSnapshotGroups", "compute.instantSnapshotGroups.insert", s.insertInstantSnapshotGroup),
		mut(del, "zones/{zone}/instantSnapshotGroups/{instantSnapshotGroup}", "compute.instantSnapshotGroups.delete", s.deleteInstantSnapshotGroup),

		get("zones/{zone}/operations", "compute.zoneOperations.list", s.listOperations("zone")),
		get("zones/{zone}/operations/{operation}", "compute.zoneOperations.get", s.getOperation("zone")),
		{verb: post, segs: splitPath("zones/{zone}/operations/{operation}/wait"), method: "compute.zoneOperations.wait", handle: s.waitOperation("zone")},
		get("regions/{region}/operations/{operation}", "compute.regionOperations.get", s.getOperation("region")),
		{verb: post, segs: splitPath("regions/{region}/operations/{operation}/wait"), method: "compute.regionOperations.wait", handle: s.waitOperation("region")},
		get("global/operations", "compute.globalOperations.list", s.listOperations("global")),
		get("global/operations/{operation}", "compute.globalOperations.get", s.getOperation("global")),
		{verb: post, segs: splitPath("global/operations/{operation}/wait"), method: "compute.globalOperations.wait", handle: s.waitOperation("global")},
	}
}

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match finds the route of a path under /compute/v1/projects/: the project
// and the route's variables.
func (s *Server) match(verb, path string) (*route, string, map[string]string, bool) {
	rest := strings.TrimPrefix(path, computePrefix)
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if len(parts) == 0 || parts[0] == "" {
		return nil, "", nil, false
	}
	projectID, segs := parts[0], parts[1:]
	pathKnown := false
	for i := range s.routes {
		rt := &s.routes[i]
		if len(rt.segs) != len(segs) {
			continue
		}
		vars := map[string]string{}
		ok := true
		for j, p := range rt.segs {
			if strings.HasPrefix(p, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				vars[p[1:len(p)-1]] = segs[j]
			} else if p != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		pathKnown = true
		if rt.verb == verb {
			return rt, projectID, vars, true
		}
	}
	return nil, projectID, nil, pathKnown
}

// serveCompute authenticates, injects faults, enforces request IDs and
// dispatches one Compute Engine call.
func (s *Server) serveCompute(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	rt, projectID, vars, known := s.match(r.Method, r.URL.Path)
	if rt == nil {
		if known {
			writeError(w, newError(http.StatusMethodNotAllowed, "badRequest", "Method %s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		writeError(w, newError(http.StatusNotFound, "notFound", "The requested URL %s was not found on this server.", r.URL.Path))
		return
	}
	body, e := readBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	c := &call{s: s, r: r, body: body, method: rt.method, vars: vars, now: start}
	defer func() {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("method", c.method),
			slog.String("project", projectID), slog.String("principal", c.who.String()),
			slog.Duration("elapsed", s.now().Sub(start)))
	}()
	if c.who, e = s.authenticate(r, start); e != nil {
		writeError(w, e)
		return
	}
	s.count(rt.method)
	fault := s.faults.forCallOn(rt.method, callNames(vars, body))
	if err := s.sleep(r.Context(), fault.delay); err != nil {
		return
	}
	if fault.reply != nil {
		writeError(w, fault.reply)
		return
	}
	if e := c.who.requireComputeScope(rt.mutating); e != nil {
		writeError(w, e)
		return
	}
	if c.requestID = r.URL.Query().Get("requestId"); c.requestID != "" && !rt.mutating {
		c.requestID = ""
	}
	if e := validRequestID(c.requestID); e != nil {
		writeError(w, e)
		return
	}

	msg, e := s.dispatch(c, rt, projectID, fault.opError)
	if rt.mutating {
		defer s.changed()
	}
	if fault.lostReply {
		// The work is done; the client never hears of it.
		loseReply(w)
		return
	}
	if e != nil {
		writeError(w, e)
		return
	}
	writeProto(w, http.StatusOK, msg)
}

// dispatch runs the handler under the state lock, answering a request ID
// already seen with its operation and a faulted call with a failing one.
func (s *Server) dispatch(c *call, rt *route, projectID string, failWith *opError) (proto.Message, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.proj = s.st.projects[projectID]
	if c.proj == nil {
		return nil, notFound("projects/" + projectID)
	}
	if c.requestID != "" {
		// https://cloud.google.com/compute/docs/api/how-tos/api-requests-responses#idempotency
		if op := s.opByRequestID(projectID, c.requestID, c.now); op != nil {
			return op.view(c.now), nil
		}
	}
	if failWith != nil && rt.mutating && rt.method != "compute.snapshots.setIamPolicy" {
		return c.failedOperation(rt, failWith), nil
	}
	msg, e := rt.handle(c)
	if e != nil {
		return nil, e
	}
	// The answer is marshalled after the lock is released: give it a copy
	// of the state's messages.
	return proto.Clone(msg), nil
}

func writeProto(w http.ResponseWriter, status int, msg proto.Message) {
	out, err := protojson.Marshal(msg)
	if err != nil {
		writeError(w, newError(http.StatusInternalServerError, "backendError", "encoding the answer: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(out)
}

// loseReply closes the connection without an answer: the client sees a
// transport error although the work was done.
func loseReply(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 cannot be hijacked; aborting the handler resets the stream.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// decode reads the request body into a computepb message, refusing unknown
// fields as the API does.
func (c *call) decode(msg proto.Message) *apiError {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return newError(http.StatusBadRequest, "parseError", "This API does not support parsing form-encoded input.")
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(c.body, msg); err != nil {
		return newError(http.StatusBadRequest, "invalid", "Invalid JSON payload received. %v", err)
	}
	return nil
}

// bodyName reads "name" from a JSON body, for operations made before the
// body is parsed.
func bodyName(body []byte) string {
	var v struct {
		Name string `json:"name"`
	}
	json.Unmarshal(body, &v)
	return v.Name
}

// nameRE is the rule for resource names.
// https://cloud.google.com/compute/docs/naming-resources#resource-name-format
var nameRE = regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$`)

func validName(field, name string) *apiError {
	if name == "" {
		return required(field)
	}
	if !nameRE.MatchString(name) {
		return invalidField(field, name, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	return nil
}

// require checks that the caller holds permission on resource in the
// call's project.
func (c *call) require(permission, resource string) *apiError {
	return c.requireIn(c.proj, permission, resource)
}

func (c *call) requireIn(p *project, permission, resource string) *apiError {
	if c.s.allowed(c.who, p, permission, nil) {
		return nil
	}
	return forbidden(permission, resource)
}

// zone returns the call's zone, which must be one of the project's.
func (c *call) zone() (string, *apiError) {
	z := c.vars["zone"]
	for _, known := range c.proj.zones {
		if known == z {
			return z, nil
		}
	}
	return "", notFound("projects/" + c.proj.id + "/zones/" + z)
}

func (c *call) region() (string, *apiError) {
	r := c.vars["region"]
	for _, z := range c.proj.zones {
		if zoneRegion(z) == r {
			return r, nil
		}
	}
	return "", notFound("projects/" + c.proj.id + "/regions/" + r)
}

// zoneRegion is the region of a zone: us-central1-a -> us-central1.
func zoneRegion(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
