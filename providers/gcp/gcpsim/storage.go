package gcpsim

import (
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Cloud Storage is fake-gcs-server's fakestorage, mounted in the simulator's
// handler without a listener of its own: the JSON API (/storage/v1/...,
// /upload/storage/v1/..., /download/storage/v1/...) and the XML API
// (/BUCKET/OBJECT for a bucket that exists). The simulator adds what
// fakestorage leaves out: a valid access token with a storage scope, and
// the caller's permission in the bucket's project. fakestorage's
// /_internal/ endpoints (reseed, delete all) are never reachable.
// https://cloud.google.com/storage/docs/json_api
// https://cloud.google.com/storage/docs/xml-api/overview

// storagePublicHost is the host fakestorage serves the XML API under.
const storagePublicHost = "storage.googleapis.com"

var storagePrefixes = []string{"/storage/v1/", "/upload/storage/v1/", "/download/storage/v1/", "/upload/resumable/"}

// newStorage builds the storage server; with a root directory, objects are
// kept there (fakestorage's file-system backend) and survive a restart.
func newStorage(root string) (*fakestorage.Server, error) {
	return fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, PublicHost: storagePublicHost, StorageRoot: root})
}

func (s *Server) createBucket(name string) error {
	if _, err := s.storage.Backend().GetBucket(name); err == nil {
		return nil
	}
	s.storage.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	return nil
}

// SetStorageURL tells the simulator the address ("http://HOST:PORT") clients
// reach it at: fakestorage puts it in the links it returns (resumable upload
// sessions, media links) and worker scripts get it as STORAGE_EMULATOR_HOST.
func (s *Server) SetStorageURL(endpoint string) {
	s.mu.Lock()
	s.storageHost = endpoint
	s.mu.Unlock()
	req := httptest.NewRequest(http.MethodPut, "/_internal/config", strings.NewReader(`{"externalUrl":"`+endpoint+`"}`))
	s.storage.HTTPHandler().ServeHTTP(httptest.NewRecorder(), req)
}

// bucketOf is the bucket a storage request addresses.
func bucketOf(r *http.Request) string {
	p := r.URL.Path
	for _, prefix := range storagePrefixes[:3] {
		if rest, ok := strings.CutPrefix(p, prefix+"b/"); ok {
			b, _, _ := strings.Cut(rest, "/")
			return b
		}
	}
	b, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return b
}

func (s *Server) isStorageRequest(r *http.Request) bool {
	for _, prefix := range storagePrefixes {
		if strings.HasPrefix(r.URL.Path, prefix) {
			return true
		}
	}
	if strings.HasPrefix(r.URL.Path, "/_internal") {
		return false
	}
	b := bucketOf(r)
	if b == "" {
		return false
	}
	_, err := s.storage.Backend().GetBucket(b)
	return err == nil
}

// storagePermission is what a storage call needs.
// https://cloud.google.com/storage/docs/access-control/iam-json
func storagePermission(r *http.Request) string {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		if strings.HasSuffix(p, "/o") || strings.HasSuffix(p, "/o/") || strings.Count(strings.Trim(p, "/"), "/") == 0 {
			return "storage.objects.list"
		}
		if strings.HasPrefix(p, "/storage/v1/b/") && !strings.Contains(strings.TrimPrefix(p, "/storage/v1/b/"), "/") {
			return "storage.buckets.get"
		}
		if p == "/storage/v1/b" || p == "/storage/v1/b/" {
			return "storage.buckets.list"
		}
		return "storage.objects.get"
	case r.Method == http.MethodDelete:
		return "storage.objects.delete"
	case (p == "/storage/v1/b" || p == "/storage/v1/b/") && r.Method == http.MethodPost:
		return "storage.buckets.create"
	}
	return "storage.objects.create"
}

// serveStorage checks the token and permission, then lets fakestorage answer.
func (s *Server) serveStorage(w http.ResponseWriter, r *http.Request) {
	if isUploadSession(r) {
		s.count("storage.objects.create")
		s.serveUpload(w, r) // the session URI is the credential
		return
	}
	now := s.now()
	who, e := s.authenticate(r, now)
	if e != nil {
		writeError(w, e)
		return
	}
	if !who.hasScope(cloudPlatformScope, "https://www.googleapis.com/auth/devstorage.full_control",
		"https://www.googleapis.com/auth/devstorage.read_write", "https://www.googleapis.com/auth/devstorage.read_only") ||
		(who.hasScope("https://www.googleapis.com/auth/devstorage.read_only") && !who.hasScope(cloudPlatformScope,
			"https://www.googleapis.com/auth/devstorage.full_control", "https://www.googleapis.com/auth/devstorage.read_write") &&
			r.Method != http.MethodGet && r.Method != http.MethodHead) {
		writeError(w, &apiError{Code: http.StatusForbidden, Reason: "insufficientPermissions", Message: "Request had insufficient authentication scopes.", Status: "PERMISSION_DENIED"})
		return
	}
	perm := storagePermission(r)
	bucket := bucketOf(r)
	s.mu.Lock()
	var p *project
	if perm == "storage.buckets.create" || perm == "storage.buckets.list" {
		p = s.st.projects[r.URL.Query().Get("project")]
	} else {
		p = s.bucketProject(bucket)
	}
	ok := s.allowed(who, p, perm, nil)
	s.mu.Unlock()
	if !ok {
		// https://cloud.google.com/storage/docs/json_api/v1/status-codes#403-forbidden
		writeError(w, newError(http.StatusForbidden, "forbidden", "%s does not have %s access to the Google Cloud Storage %s.",
			who.email, perm, storageResourceName(bucket)))
		return
	}
	s.count(perm)
	r.Host = storagePublicHost
	if isUploadStart(r) {
		s.startUpload(w, r, bucket)
		return
	}
	if perm == "storage.buckets.create" {
		defer s.noteBucket(r, p)
	}
	s.storage.HTTPHandler().ServeHTTP(w, r)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.changed()
	}
}

func storageResourceName(bucket string) string {
	if bucket == "" {
		return "project"
	}
	return "bucket " + bucket
}

// bucketProject is the project that owns a bucket. Callers hold s.mu.
func (s *Server) bucketProject(bucket string) *project {
	for _, p := range s.st.projects {
		for _, b := range p.buckets {
			if b == bucket {
				return p
			}
		}
	}
	return nil
}

// noteBucket records the project of a bucket a client created.
func (s *Server) noteBucket(r *http.Request, p *project) {
	if p == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	buckets, _ := s.storage.Backend().ListBuckets()
	for _, b := range buckets {
		if s.bucketProject(b.Name) == nil {
			p.buckets = append(p.buckets, b.Name)
		}
	}
}
