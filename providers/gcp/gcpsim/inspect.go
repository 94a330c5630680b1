package gcpsim

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The inspection API lets tests and the cloud range look at the state
// without going through the cloud's API (and its permissions).

// ProjectInfo is a project of the scenario.
type ProjectInfo struct {
	ID     string
	Number int64
}

// Projects lists the projects.
func (s *Server) Projects() []ProjectInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ProjectInfo
	for _, id := range sortedKeys(s.st.projects) {
		out = append(out, ProjectInfo{ID: id, Number: s.st.projects[id].number})
	}
	return out
}

// ServiceAccountInfo is a service account, without its key.
type ServiceAccountInfo struct {
	Email, Project, KeyID string
}

// ServiceAccounts lists the service accounts.
func (s *Server) ServiceAccounts() []ServiceAccountInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ServiceAccountInfo
	for _, email := range sortedKeys(s.st.serviceAccounts) {
		sa := s.st.serviceAccounts[email]
		out = append(out, ServiceAccountInfo{Email: email, Project: sa.project, KeyID: sa.keyID})
	}
	return out
}

// Users lists the scenario's user accounts, by email.
func (s *Server) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.st.users)
}

// KeyFile is the JSON key file of a service account, as the IAM console
// writes it, with tokenURI as its token_uri: Application Default
// Credentials (GOOGLE_APPLICATION_CREDENTIALS) read it unmodified.
// https://cloud.google.com/iam/docs/keys-create-delete
func (s *Server) KeyFile(email, tokenURI string) ([]byte, error) {
	s.mu.Lock()
	sa := s.st.serviceAccounts[email]
	s.mu.Unlock()
	if sa == nil {
		return nil, fmt.Errorf("no service account %s", email)
	}
	der, err := x509.MarshalPKCS8PrivateKey(sa.key)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  sa.project,
		"private_key_id":              sa.keyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                email,
		"client_id":                   sa.uniqueID,
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + strings.ReplaceAll(email, "@", "%40"),
		"universe_domain":             "googleapis.com",
	}, "", "  ")
}

// UserFile is the Application Default Credentials file gcloud auth
// application-default login writes for a user (type authorized_user): the
// OAuth client and the user's refresh token. It names no token endpoint: a
// client reaches the simulator's /token through its own setting
// (cloud.google.com/go/auth's DetectOptions.TokenURL).
func (s *Server) UserFile(email string) ([]byte, error) {
	s.mu.Lock()
	u := s.st.users[email]
	s.mu.Unlock()
	if u == nil {
		return nil, fmt.Errorf("no user %s", email)
	}
	return json.MarshalIndent(map[string]string{
		"type":          "authorized_user",
		"client_id":     SimClientID,
		"client_secret": SimClientSecret,
		"refresh_token": s.refreshToken(email),
	}, "", "  ")
}

// ImpersonationFile is an Application Default Credentials file of type
// impersonated_service_account, as gcloud auth application-default login
// --impersonate-service-account writes it: the source account's key and
// the simulator's generateAccessToken URL for target.
func (s *Server) ImpersonationFile(source, target, endpoint string) ([]byte, error) {
	src, err := s.KeyFile(source, endpoint+tokenPath)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(map[string]any{
		"type":                              "impersonated_service_account",
		"service_account_impersonation_url": endpoint + iamCredentialsPrefix + target + ":generateAccessToken",
		"source_credentials":                json.RawMessage(src),
		"delegates":                         []string{},
	}, "", "  ")
}

// SnapshotInfo is a snapshot as tests look at it.
type SnapshotInfo struct {
	Name, Status, SourceDisk, SourceInstantSnapshot, KMSKeyName string
	StorageLocations                                            []string
	Labels                                                      map[string]string
	DataBytes                                                   int64
	// IAM is the snapshot's own policy: role -> members.
	IAM map[string][]string
}

// Snapshots lists a project's snapshots by name, their status as of now.
func (s *Server) Snapshots(project string) []SnapshotInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []SnapshotInfo
	for _, k := range sortedKeys(s.st.snapshots) {
		sn := s.st.snapshots[k]
		if sn.project != project {
			continue
		}
		info := SnapshotInfo{Name: sn.pb.GetName(), Status: sn.status(now), SourceDisk: sn.pb.GetSourceDisk(),
			SourceInstantSnapshot: sn.pb.GetSourceInstantSnapshot(), KMSKeyName: sn.pb.GetSnapshotEncryptionKey().GetKmsKeyName(),
			StorageLocations: slices.Clone(sn.pb.GetStorageLocations()),
			Labels:           maps.Clone(sn.pb.GetLabels()), DataBytes: sn.content.dataBytes, IAM: map[string][]string{}}
		for _, b := range sn.policy.GetBindings() {
			info.IAM[b.GetRole()] = slices.Clone(b.GetMembers())
		}
		out = append(out, info)
	}
	return out
}

// DiskInfo is a disk as tests look at it.
type DiskInfo struct {
	Name, Zone, SourceSnapshot string
	SizeGb                     int64
	Users, ResourcePolicies    []string
	// ContentDigest identifies the data the disk holds.
	ContentDigest string
}

// Disks lists a project's disks.
func (s *Server) Disks(project string) []DiskInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DiskInfo
	for _, k := range sortedKeys(s.st.disks) {
		d := s.st.disks[k]
		if d.project == project {
			out = append(out, DiskInfo{Name: d.pb.GetName(), Zone: d.zone, SourceSnapshot: d.pb.GetSourceSnapshot(),
				SizeGb: d.pb.GetSizeGb(), Users: slices.Clone(d.pb.GetUsers()), ResourcePolicies: slices.Clone(d.pb.GetResourcePolicies()),
				ContentDigest: d.content.digest})
		}
	}
	return out
}

// InstanceInfo is an instance as tests look at it.
type InstanceInfo struct {
	Name, Zone, Status string
	// WorkerRunning is true while its startup script runs; WorkerExit is
	// the script's exit status once it ended.
	WorkerRunning   bool
	WorkerExit      *int
	GuestAttributes map[string]map[string]string
	// GuestFlushes counts snapshots that ran an agent in its guest.
	GuestFlushes int
}

// Instances lists a project's instances.
func (s *Server) Instances(project string) []InstanceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []InstanceInfo
	for _, k := range sortedKeys(s.st.instances) {
		in := s.st.instances[k]
		if in.project != project {
			continue
		}
		ga := map[string]map[string]string{}
		for ns, kv := range in.guestAttributes {
			ga[ns] = maps.Clone(kv)
		}
		out = append(out, InstanceInfo{Name: in.pb.GetName(), Zone: in.zone, Status: in.pb.GetStatus(),
			WorkerRunning: in.worker != nil, WorkerExit: in.workerExit, GuestAttributes: ga, GuestFlushes: in.guestFlushes})
	}
	return out
}

// WorkerInfo is a running worker VM.
type WorkerInfo struct {
	Project, Zone, Instance string
	// MetadataHost is its metadata server (GCE_METADATA_HOST), DeviceDir
	// its devices (GCPSIM_DEVICE_DIR).
	MetadataHost, DeviceDir string
}

// Workers lists the worker VMs whose script is running.
func (s *Server) Workers() []WorkerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []WorkerInfo
	for _, k := range sortedKeys(s.st.instances) {
		in := s.st.instances[k]
		if in.worker != nil {
			out = append(out, WorkerInfo{Project: in.project, Zone: in.zone, Instance: in.pb.GetName(),
				MetadataHost: in.worker.metaHost, DeviceDir: in.worker.deviceDir})
		}
	}
	return out
}

// CallCounts is how many authenticated calls each method received.
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.st.calls)
}
