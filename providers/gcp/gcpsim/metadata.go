package gcpsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The metadata server of a worker VM: the instance's own view of itself
// (identity, attributes, service-account tokens) and the guest attributes
// it publishes. Every request needs "Metadata-Flavor: Google" and may not
// carry X-Forwarded-For, as on the real server.
// https://cloud.google.com/compute/docs/metadata/querying-metadata
// https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys
// https://cloud.google.com/compute/docs/metadata/manage-guest-attributes

const metadataPrefix = "/computeMetadata/v1/"

// maxGuestAttributeValue bounds a guest attribute value (the simulator's
// own bound; see README.md).
const maxGuestAttributeValue = 256 << 10

var guestAttrNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (s *Server) metadataHandler(instanceKey string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Metadata-Flavor", "Google")
		w.Header().Set("Server", "Metadata Server for VM")
		if r.Header.Get("Metadata-Flavor") != "Google" || r.Header.Get("X-Forwarded-For") != "" {
			http.Error(w, "Missing required header \"Metadata-Flavor\": \"Google\"", http.StatusForbidden)
			return
		}
		path, ok := strings.CutPrefix(r.URL.Path, metadataPrefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if ns, k, ok := strings.Cut(strings.TrimPrefix(path, "instance/guest-attributes/"), "/"); ok && strings.HasPrefix(path, "instance/guest-attributes/") {
			s.serveGuestAttribute(w, r, instanceKey, ns, k)
			return
		}
		if r.Method != http.MethodGet {
			http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
			return
		}
		value, found := s.metadataValue(instanceKey, path, r.URL.Query())
		if !found {
			http.NotFound(w, r)
			return
		}
		switch v := value.(type) {
		case string:
			w.Header().Set("Content-Type", "application/text")
			io.WriteString(w, v)
		default:
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(v)
		}
	})
}

// metadataValue answers one metadata path for the instance.
func (s *Server) metadataValue(instanceKey, path string, q map[string][]string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.st.instances[instanceKey]
	if in == nil {
		return nil, false
	}
	p := s.st.projects[in.project]
	pb := in.pb
	attrs := map[string]string{}
	for _, it := range pb.GetMetadata().GetItems() {
		attrs[it.GetKey()] = it.GetValue()
	}
	email := ""
	var scopes []string
	if sas := pb.GetServiceAccounts(); len(sas) > 0 {
		email, scopes = sas[0].GetEmail(), sas[0].GetScopes()
	}
	switch {
	case path == "instance/id":
		return fmt.Sprint(pb.GetId()), true
	case path == "instance/name":
		return pb.GetName(), true
	case path == "instance/hostname":
		return pb.GetName() + "." + in.zone + ".c." + p.id + ".internal", true
	case path == "instance/zone":
		return "projects/" + itoa(p.number) + "/zones/" + in.zone, true
	case path == "instance/machine-type":
		return "projects/" + itoa(p.number) + "/machineTypes/" + lastSegment(pb.GetMachineType()), true
	case path == "project/project-id":
		return p.id, true
	case path == "project/numeric-project-id":
		return itoa(p.number), true
	case path == "instance/attributes/":
		return keyList(attrs), true
	case strings.HasPrefix(path, "instance/attributes/"):
		v, ok := attrs[strings.TrimPrefix(path, "instance/attributes/")]
		return v, ok
	case path == "project/attributes/":
		return keyList(p.metadata), true
	case strings.HasPrefix(path, "project/attributes/"):
		v, ok := p.metadata[strings.TrimPrefix(path, "project/attributes/")]
		return v, ok
	case path == "instance/disks/":
		var out []string
		for i := range pb.GetDisks() {
			out = append(out, fmt.Sprintf("%d/", i))
		}
		return strings.Join(out, "\n") + "\n", true
	case path == "instance/service-accounts/":
		if email == "" {
			return "", true
		}
		return "default/\n" + email + "/\n", true
	}
	sa, rest, ok := strings.Cut(strings.TrimPrefix(path, "instance/service-accounts/"), "/")
	if !ok || !strings.HasPrefix(path, "instance/service-accounts/") || email == "" || (sa != "default" && sa != email) {
		return nil, false
	}
	switch rest {
	case "email":
		return email, true
	case "scopes":
		return strings.Join(scopes, "\n") + "\n", true
	case "token":
		// The instance's access token carries the instance's scopes, or the
		// ones asked for with ?scopes= within them.
		// https://cloud.google.com/compute/docs/access/authenticate-workloads#applications
		if want := q["scopes"]; len(want) > 0 {
			// Never more than the instance was given.
			var narrowed []string
			for _, sc := range strings.Split(want[0], ",") {
				if slices.Contains(scopes, sc) {
					narrowed = append(narrowed, sc)
				}
			}
			scopes = narrowed
		}
		expires := s.now().Add(DefaultTokenLifetime)
		return map[string]any{"access_token": s.mintToken(email, scopes, expires),
			"expires_in": int(DefaultTokenLifetime / time.Second), "token_type": "Bearer"}, true
	}
	return nil, false
}

func keyList(m map[string]string) string {
	return strings.Join(sortedKeys(m), "\n") + "\n"
}

// serveGuestAttribute writes, reads or deletes one guest attribute. Guest
// attributes must be enabled by the metadata key enable-guest-attributes
// = TRUE on the instance or the project.
func (s *Server) serveGuestAttribute(w http.ResponseWriter, r *http.Request, instanceKey, ns, k string) {
	s.mu.Lock()
	in := s.st.instances[instanceKey]
	enabled := false
	if in != nil {
		for _, it := range in.pb.GetMetadata().GetItems() {
			if it.GetKey() == "enable-guest-attributes" {
				enabled = strings.EqualFold(it.GetValue(), "TRUE")
			}
		}
		if v, ok := s.st.projects[in.project].metadata["enable-guest-attributes"]; ok && !enabled {
			enabled = strings.EqualFold(v, "TRUE")
		}
	}
	s.mu.Unlock()
	if in == nil {
		http.NotFound(w, r)
		return
	}
	if !enabled {
		http.Error(w, "guest attributes endpoint access is disabled.", http.StatusForbidden)
		return
	}
	if !guestAttrNameRE.MatchString(ns) || (k != "" && !guestAttrNameRE.MatchString(k)) {
		http.Error(w, "Invalid guest attribute namespace or key: use letters, digits, '-' and '_'.", http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodPut:
		if k == "" {
			http.Error(w, "A guest attribute needs a key.", http.StatusBadRequest)
			return
		}
		v, err := io.ReadAll(io.LimitReader(r.Body, maxGuestAttributeValue+1))
		if err != nil || len(v) > maxGuestAttributeValue {
			http.Error(w, "The guest attribute value is too large.", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		if in := s.st.instances[instanceKey]; in != nil {
			if in.guestAttributes[ns] == nil {
				in.guestAttributes[ns] = map[string]string{}
			}
			in.guestAttributes[ns][k] = string(v)
		}
		s.mu.Unlock()
		s.changed()
	case http.MethodDelete:
		s.mu.Lock()
		delete(in.guestAttributes[ns], k)
		s.mu.Unlock()
		s.changed()
	case http.MethodGet:
		s.mu.Lock()
		v, ok := in.guestAttributes[ns][k]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, v)
	default:
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
	}
}
