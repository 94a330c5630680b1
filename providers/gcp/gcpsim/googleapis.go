package gcpsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/api/cloudkms/v1"
	crm "google.golang.org/api/cloudresourcemanager/v1"
)

// googleAPIsPrefix is where Cloud Resource Manager v1 and Cloud KMS v1
// answer (their hosts are cloudresourcemanager.googleapis.com and
// cloudkms.googleapis.com; the range serves both on one address, told apart
// by the path).
const googleAPIsPrefix = "/v1/projects/"

const (
	cloudPlatformReadScope = "https://www.googleapis.com/auth/cloud-platform.read-only"
	cloudKMSScope          = "https://www.googleapis.com/auth/cloudkms"
	encrypterDecrypterRole = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
)

// serveGoogleAPIs dispatches the Cloud Resource Manager and Cloud KMS
// methods the simulator serves, each named for faults and call counts as in
// its REST reference.
func (s *Server) serveGoogleAPIs(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, googleAPIsPrefix)
	resource, verb, _ := strings.Cut(rest, ":")
	var method string
	var handle func(who *principal, resource string, body []byte) (any, *apiError)
	switch {
	case r.Method == http.MethodPost && verb == "testIamPermissions" && !strings.Contains(resource, "/"):
		method, handle = "cloudresourcemanager.projects.testIamPermissions", s.testProjectPermissions
	case r.Method == http.MethodPost && verb == "getIamPolicy" && !strings.Contains(resource, "/"):
		method, handle = "cloudresourcemanager.projects.getIamPolicy", s.getProjectIAMPolicy
	case r.Method == http.MethodGet && verb == "getIamPolicy" && kmsKeyRE.MatchString("projects/"+resource):
		method, handle = "cloudkms.projects.locations.keyRings.cryptoKeys.getIamPolicy", s.getKeyIAMPolicy
	case r.Method == http.MethodGet && verb == "getIamPolicy" && keyRingRE.MatchString("projects/"+resource):
		method, handle = "cloudkms.projects.locations.keyRings.getIamPolicy", s.getKeyRingIAMPolicy
	default:
		writeError(w, newError(http.StatusNotFound, "notFound", "The requested URL %s was not found on this server.", r.URL.Path))
		return
	}
	who, e := s.authenticate(r, s.now())
	if e != nil {
		writeError(w, e)
		return
	}
	s.count(method)
	fault := s.faults.forCall(method)
	if err := s.sleep(r.Context(), fault.delay); err != nil {
		return
	}
	if fault.reply != nil {
		writeError(w, fault.reply)
		return
	}
	body, e := readBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	out, e := handle(who, resource, body)
	if fault.lostReply {
		loseReply(w)
		return
	}
	if e != nil {
		writeError(w, e)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(out)
}

// callerDenied is the answer to a caller who may not see a resource, whether
// it exists or not (https://google.aip.dev/211).
func callerDenied(permission, resource string) *apiError {
	return &apiError{Code: http.StatusForbidden, Reason: "forbidden", Status: "PERMISSION_DENIED",
		Message: fmt.Sprintf("Permission '%s' denied on resource '%s' (or it may not exist).", permission, resource)}
}

func insufficientScopes() *apiError {
	return &apiError{Code: http.StatusForbidden, Reason: "insufficientPermissions", Status: "PERMISSION_DENIED",
		Message: "Request had insufficient authentication scopes."}
}

// testProjectPermissions answers projects.testIamPermissions: of the
// permissions asked about, those the caller holds on the project, any
// service's (compute.* included), and nothing about the others. The call
// needs no permission of its own; wildcards are refused.
// https://cloud.google.com/resource-manager/reference/rest/v1/projects/testIamPermissions
func (s *Server) testProjectPermissions(who *principal, projectID string, body []byte) (any, *apiError) {
	if !who.hasScope(cloudPlatformScope, cloudPlatformReadScope, "https://www.googleapis.com/auth/cloudplatformprojects",
		"https://www.googleapis.com/auth/cloudplatformprojects.readonly", "https://www.googleapis.com/auth/iam.test") {
		return nil, insufficientScopes()
	}
	var req crm.TestIamPermissionsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &apiError{Code: http.StatusBadRequest, Reason: "badRequest", Status: "INVALID_ARGUMENT", Message: "Invalid JSON payload received. " + err.Error()}
	}
	for _, p := range req.Permissions {
		if strings.Contains(p, "*") || strings.Count(p, ".") < 2 {
			return nil, &apiError{Code: http.StatusBadRequest, Reason: "badRequest", Status: "INVALID_ARGUMENT",
				Message: fmt.Sprintf("Permission %s is not valid: permissions with wildcards are not allowed.", p)}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.projects[projectID]
	if p == nil {
		return nil, callerDenied("resourcemanager.projects.get", "projects/"+projectID)
	}
	out := &crm.TestIamPermissionsResponse{}
	for _, perm := range req.Permissions {
		if s.allowed(who, p, perm, nil) && !slices.Contains(out.Permissions, perm) {
			out.Permissions = append(out.Permissions, perm)
		}
	}
	return out, nil
}

// getProjectIAMPolicy answers projects.getIamPolicy: the project's bindings
// by role; the single permissions a scenario grants stand for a custom role
// of the project. It needs resourcemanager.projects.getIamPolicy.
// https://cloud.google.com/resource-manager/reference/rest/v1/projects/getIamPolicy
func (s *Server) getProjectIAMPolicy(who *principal, projectID string, _ []byte) (any, *apiError) {
	if !who.hasScope(cloudPlatformScope, cloudPlatformReadScope) {
		return nil, insufficientScopes()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.projects[projectID]
	if p == nil || !s.allowed(who, p, "resourcemanager.projects.getIamPolicy", nil) {
		return nil, callerDenied("resourcemanager.projects.getIamPolicy", "projects/"+projectID)
	}
	members := map[string][]string{}
	var order []string
	add := func(role, member string) {
		if _, ok := members[role]; !ok {
			order = append(order, role)
		}
		if !slices.Contains(members[role], member) {
			members[role] = append(members[role], member)
		}
	}
	for _, b := range p.iam {
		for _, r := range b.roles {
			add(r, b.member)
		}
		if b.custom {
			add("projects/"+p.id+"/roles/scenarioGrants", b.member)
		}
	}
	out := &crm.Policy{Version: 1, Etag: "BwXsim0000=="}
	for _, r := range order {
		out.Bindings = append(out.Bindings, &crm.Binding{Role: r, Members: members[r]})
	}
	return out, nil
}

// keyRingRE is a Cloud KMS key ring's name.
var keyRingRE = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+$`)

// getKeyIAMPolicy answers cryptoKeys.getIamPolicy: the key's own policy,
// whose roles/cloudkms.cryptoKeyEncrypterDecrypter members are the
// scenario's encrypterDecrypters. It needs cloudkms.cryptoKeys.getIamPolicy
// in the key's project.
// https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys/getIamPolicy
func (s *Server) getKeyIAMPolicy(who *principal, resource string, _ []byte) (any, *apiError) {
	name := "projects/" + resource
	if !who.hasScope(cloudPlatformScope, cloudKMSScope) {
		return nil, insufficientScopes()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	projectID, _ := kmsKeyProject(name)
	p := s.st.projects[projectID]
	if p == nil || !s.allowed(who, p, "cloudkms.cryptoKeys.getIamPolicy", nil) {
		return nil, callerDenied("cloudkms.cryptoKeys.getIamPolicy", name)
	}
	k := p.kmsKeys[name]
	if k == nil {
		return nil, &apiError{Code: http.StatusNotFound, Reason: "notFound", Status: "NOT_FOUND", Message: "CryptoKey " + name + " not found."}
	}
	// An empty policy when no one holds a role on the key.
	out := &cloudkms.Policy{Version: 1, Etag: "BwXsim0000=="}
	if len(k.encrypterDecrypters) > 0 {
		out.Bindings = []*cloudkms.Binding{{Role: encrypterDecrypterRole, Members: slices.Clone(k.encrypterDecrypters)}}
	}
	return out, nil
}

// getKeyRingIAMPolicy answers keyRings.getIamPolicy: a key ring exists when
// a key of the scenario is in it; the scenario grants nothing on key rings,
// so its policy is empty. It needs cloudkms.keyRings.getIamPolicy.
// https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings/getIamPolicy
func (s *Server) getKeyRingIAMPolicy(who *principal, resource string, _ []byte) (any, *apiError) {
	name := "projects/" + resource
	if !who.hasScope(cloudPlatformScope, cloudKMSScope) {
		return nil, insufficientScopes()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	projectID, _, _ := strings.Cut(resource, "/")
	p := s.st.projects[projectID]
	if p == nil || !s.allowed(who, p, "cloudkms.keyRings.getIamPolicy", nil) {
		return nil, callerDenied("cloudkms.keyRings.getIamPolicy", name)
	}
	for k := range p.kmsKeys {
		if strings.HasPrefix(k, name+"/cryptoKeys/") {
			return &cloudkms.Policy{Version: 1, Etag: "BwXsim0000=="}, nil
		}
	}
	return nil, &apiError{Code: http.StatusNotFound, Reason: "notFound", Status: "NOT_FOUND", Message: "KeyRing " + name + " not found."}
}
