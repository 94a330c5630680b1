package azuresim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// call is one ARM request on its way through the simulator.
type call struct {
	s          *Server
	w          *bufferedWriter
	r          *http.Request
	body       []byte
	base       string // https://host
	params     map[string]string
	route      *route
	apiVersion string
	token      *accessToken
	principal  *principal
	scope      string // the resource ID the route acts on
	now        time.Time
	faults     callFaults
}

// route is one ARM operation.
type route struct {
	method  string
	pattern []string // path segments; "{name}" captures
	op      string   // REST operation ID, as faults and call counts name it
	// action is the RBAC action checked at the route's scope; "" checks
	// none beyond authentication.
	action string
	// scopeDrop is how many trailing path segments to drop to reach the
	// scope (1 for actions such as beginGetAccess, 3 for lists).
	scopeDrop int
	api       apiFamily
	// writes are refused under a ReadOnly lock, deletes under any lock.
	writes, deletes bool
	// noSubscription: the path names no subscription (tenants, the
	// subscription list).
	noSubscription bool
	handle         func(c *call)
}

func (rt *route) match(method string, segs []string) (map[string]string, bool) {
	if rt.method != method || len(segs) != len(rt.pattern) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range rt.pattern {
		if strings.HasPrefix(p, "{") {
			params[strings.Trim(p, "{}")] = segs[i]
		} else if !strings.EqualFold(p, segs[i]) {
			return nil, false
		}
	}
	return params, true
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// serveARM serves Azure Resource Manager.
func (s *Server) serveARM(rw http.ResponseWriter, r *http.Request) {
	start := s.now()
	c := &call{s: s, w: newBufferedWriter(rw), r: r, base: "https://" + r.Host, now: start}
	h := c.w.Header()
	// The headers ARM returns on every response; clients record them.
	// https://learn.microsoft.com/rest/api/azure/#response-headers
	reqID := s.ids.newGUID("request")
	corr := r.Header.Get("x-ms-correlation-request-id")
	if corr == "" {
		corr = reqID
	}
	h.Set("x-ms-request-id", reqID)
	h.Set("x-ms-correlation-request-id", corr)
	h.Set("x-ms-routing-request-id", "WESTEUROPE:"+start.UTC().Format("20060102T150405Z")+":"+reqID)
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
	h.Set("Cache-Control", "no-cache")
	defer func() {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("cloud", "azure"), slog.String("method", r.Method),
			slog.String("op", c.opName()), slog.Int("status", c.w.status), slog.String("request_id", reqID),
			slog.Duration("elapsed", s.now().Sub(start)))
	}()

	if strings.EqualFold(strings.Trim(r.URL.Path, "/"), "metadata/endpoints") {
		s.count("Metadata_Endpoints")
		s.metadataEndpoints(c)
		c.w.flush()
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		c.fail(badRequest("InvalidRequestContent", "The request content could not be read."))
		c.w.flush()
		return
	}
	c.body = body
	s.dispatch(c)
	if c.faults.lostReply {
		// The request was carried out; its answer never arrives.
		c.w.lose()
		return
	}
	c.w.flush()
	if r.Method != http.MethodGet && r.Method != http.MethodHead && c.route != nil {
		s.changed()
	}
}

func (c *call) opName() string {
	if c.route == nil {
		return ""
	}
	return c.route.op
}

func (s *Server) dispatch(c *call) {
	segs := splitPath(c.r.URL.Path)
	methodKnown := false
	for i := range s.routes {
		rt := &s.routes[i]
		params, ok := rt.match(c.r.Method, segs)
		if !ok {
			if _, samePath := (&route{method: c.r.Method, pattern: rt.pattern}).match(c.r.Method, segs); samePath {
				methodKnown = true
			}
			continue
		}
		c.route, c.params = rt, params
		break
	}
	if c.route == nil {
		if methodKnown {
			c.fail(newError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", c.r.Method))
			return
		}
		c.fail(newError(http.StatusNotFound, "InvalidResourceType", "The resource type in path '%s' could not be found in the namespace, or the simulator does not serve it.", c.r.URL.Path))
		return
	}
	rt := c.route
	c.apiVersion = c.r.URL.Query().Get("api-version")
	if e := rt.api.check(c.apiVersion, segs); e != nil {
		c.fail(e)
		return
	}
	if e := s.authenticate(c); e != nil {
		c.fail(e)
		return
	}
	s.count(rt.op)
	c.faults = s.faults.forCall(rt.op)
	if err := s.sleep(c.r.Context(), c.faults.delay); err != nil {
		return
	}
	switch {
	case c.faults.throttle > 0:
		// https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling#error-code
		e := newError(http.StatusTooManyRequests, "TooManyRequests", "The request is being throttled as the limit has been reached for operation type - %s. Retry after %d seconds.", rt.op, c.faults.throttle)
		e.retryAfter = c.faults.throttle
		c.fail(e)
		return
	case c.faults.serverError > 0:
		c.fail(newError(c.faults.serverError, "InternalServerError", "Encountered internal server error. Diagnostic information: the simulator injected this failure."))
		return
	}
	c.scope = scopeOf(segs, rt.scopeDrop)
	s.mu.Lock()
	denied := rt.action != "" && !s.allowed(c.principal.objectID, rt.action, c.scope)
	var locked *armError
	if !denied && (rt.writes || rt.deletes) {
		locked = s.lockedFor(c.scope, rt.deletes)
	}
	s.mu.Unlock()
	if denied {
		c.fail(authorizationFailed(c.principal, rt.action, c.scope))
		return
	}
	if locked != nil {
		c.fail(locked)
		return
	}
	rt.handle(c)
}

func scopeOf(segs []string, drop int) string {
	if drop > len(segs) {
		drop = len(segs)
	}
	return "/" + strings.Join(segs[:len(segs)-drop], "/")
}

// authenticate checks the bearer token and, for a path naming a
// subscription, that the subscription exists and belongs to the token's
// tenant.
// https://learn.microsoft.com/azure/azure-resource-manager/management/authenticate-multi-tenant
func (s *Server) authenticate(c *call) *armError {
	authz := c.r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || raw == "" {
		return newError(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	}
	tok, te := s.verifyToken(raw, armAudience, armAudienceAlt)
	if te != nil {
		return newError(http.StatusUnauthorized, te.code, "%s", te.message)
	}
	c.token = tok
	s.mu.Lock()
	defer s.mu.Unlock()
	c.principal = s.st.principals[strings.ToLower(tok.clientID)]
	if c.principal == nil || c.principal.objectID != tok.objectID {
		return newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token names a principal that no longer exists.")
	}
	if c.route.noSubscription {
		return nil
	}
	subID := c.params["subscriptionId"]
	sub := s.st.subscriptions[strings.ToLower(subID)]
	if sub == nil {
		return newError(http.StatusNotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", subID)
	}
	if sub.tenantID != tok.tenantID {
		return newError(http.StatusUnauthorized, "InvalidAuthenticationTokenTenant",
			"The access token is from the wrong issuer 'https://sts.windows.net/%s/'. It must match the tenant 'https://sts.windows.net/%s/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/%s' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.",
			tok.tenantID, sub.tenantID, sub.tenantID)
	}
	return nil
}

// reply writes a JSON body (nil writes none).
func (c *call) reply(status int, body any) {
	if body == nil {
		c.w.WriteHeader(status)
		return
	}
	data, err := json.Marshal(body)
	if err != nil {
		c.fail(newError(http.StatusInternalServerError, "InternalServerError", "encoding the response: %v", err))
		return
	}
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(status)
	c.w.Write(data)
}

func (c *call) fail(e *armError) {
	h := c.w.Header()
	h.Set("x-ms-error-code", e.Code)
	if e.retryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(e.retryAfter))
	}
	if e.status == http.StatusUnauthorized {
		// The challenge names the authority, as ARM's does.
		h.Set("WWW-Authenticate", `Bearer authorization_uri="`+c.base+`/", error="invalid_token", error_description="`+strings.ReplaceAll(e.Message, `"`, "'")+`"`)
	}
	c.reply(e.status, map[string]any{"error": e})
}

// decode reads the request body into v; an empty body is an error.
func (c *call) decode(v any) *armError {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: the body is empty.")
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: %v.", err)
	}
	return nil
}

// bufferedWriter holds an ARM response until the handler is done, so that
// a lost reply can drop it and close the connection instead.
type bufferedWriter struct {
	rw     http.ResponseWriter
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedWriter(rw http.ResponseWriter) *bufferedWriter {
	return &bufferedWriter{rw: rw, header: http.Header{}}
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedWriter) flush() {
	for k, v := range b.header {
		b.rw.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	b.rw.WriteHeader(b.status)
	b.rw.Write(b.body.Bytes())
}

// lose closes the connection without a word: hijacked where the protocol
// allows it, aborted otherwise.
func (b *bufferedWriter) lose() { loseConnection(b.rw) }

func loseConnection(rw http.ResponseWriter) {
	if hj, ok := rw.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
