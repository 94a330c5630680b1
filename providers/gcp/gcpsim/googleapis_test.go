package gcpsim

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/auth/credentials"
	"google.golang.org/api/cloudkms/v1"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	oauth2 "google.golang.org/api/oauth2/v2"
	"google.golang.org/api/option"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

const agent = "serviceAccount:service-222222222222@compute-system.iam.gserviceaccount.com"

// projects.testIamPermissions through the official discovery client: the subset the caller holds in
// the project, compute.* included, for each caller; wildcards are refused.
func TestProjectTestIamPermissions(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	ask := []string{"compute.snapshots.create", "compute.instances.create", "compute.disks.create", "cloudkms.cryptoKeys.getIamPolicy"}
	for _, tc := range []struct {
		who  string
		want []string
	}{
		{responder, []string{"compute.snapshots.create", "compute.instances.create", "compute.disks.create"}}, // compute.admin
		{examiner, nil}, // compute.viewer only
	} {
		svc, err := crm.NewService(t.Context(), e.opts(tc.who)...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.Projects.TestIamPermissions(forensicProject, &crm.TestIamPermissionsRequest{Permissions: ask}).Context(t.Context()).Do()
		if err != nil {
			t.Fatalf("%s: %v", tc.who, err)
		}
		if !slices.Equal(got.Permissions, tc.want) {
			t.Errorf("%s holds %v in %s, want %v", tc.who, got.Permissions, forensicProject, tc.want)
		}
	}
	svc, _ := crm.NewService(t.Context(), e.opts(responder)...)
	_, err := svc.Projects.TestIamPermissions(forensicProject, &crm.TestIamPermissionsRequest{Permissions: []string{"compute.*"}}).Do()
	if ge := wantAPIError(t, err, http.StatusBadRequest, "badRequest"); !strings.Contains(ge.Message, "wildcard") {
		t.Errorf("wildcard refused with %q", ge.Message)
	}
	_, err = svc.Projects.TestIamPermissions("no-such-project", &crm.TestIamPermissionsRequest{Permissions: ask}).Do()
	wantAPIError(t, err, http.StatusForbidden, "forbidden")
	if n := e.sim.CallCounts()["cloudresourcemanager.projects.testIamPermissions"]; n != 4 {
		t.Errorf("%d calls counted, want 4", n)
	}
}

// cryptoKeys.getIamPolicy shows who holds the encrypter/decrypter role on the key, to a caller with
// cloudkms.cryptoKeys.getIamPolicy only; a key ring's policy is empty; projects.getIamPolicy shows
// the project's bindings by role.
func TestKMSAndProjectPolicies(t *testing.T) {
	sc := testScenario()
	sc.Projects[1].IAM = append(sc.Projects[1].IAM, ScenarioBinding{Member: "serviceAccount:" + examiner,
		Permissions: []string{"cloudkms.cryptoKeys.getIamPolicy", "cloudkms.keyRings.getIamPolicy", "resourcemanager.projects.getIamPolicy"}})
	e := startSim(t, sc, nil)
	kms, err := cloudkms.NewService(t.Context(), e.opts(examiner)...)
	if err != nil {
		t.Fatal(err)
	}
	keys := kms.Projects.Locations.KeyRings.CryptoKeys
	pol, err := keys.GetIamPolicy(evidenceKey).Context(t.Context()).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(pol.Bindings) != 1 || pol.Bindings[0].Role != "roles/cloudkms.cryptoKeyEncrypterDecrypter" || !slices.Equal(pol.Bindings[0].Members, []string{agent}) {
		t.Errorf("key policy %+v", pol.Bindings)
	}
	ring := evidenceKey[:strings.Index(evidenceKey, "/cryptoKeys/")]
	rp, err := kms.Projects.Locations.KeyRings.GetIamPolicy(ring).Do()
	if err != nil || len(rp.Bindings) != 0 {
		t.Errorf("key ring policy %+v %v, want empty", rp, err)
	}
	_, err = keys.GetIamPolicy(ring + "/cryptoKeys/no-such-key").Do()
	wantAPIError(t, err, http.StatusNotFound, "notFound")
	other, _ := cloudkms.NewService(t.Context(), e.opts(responder)...)
	_, err = other.Projects.Locations.KeyRings.CryptoKeys.GetIamPolicy(evidenceKey).Do()
	if ge := wantAPIError(t, err, http.StatusForbidden, "forbidden"); !strings.Contains(ge.Message, "cloudkms.cryptoKeys.getIamPolicy") {
		t.Errorf("denial %q does not name the permission", ge.Message)
	}

	svc, _ := crm.NewService(t.Context(), e.opts(examiner)...)
	pp, err := svc.Projects.GetIamPolicy(forensicProject, &crm.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string][]string{}
	for _, b := range pp.Bindings {
		roles[b.Role] = b.Members
	}
	if !slices.Contains(roles["roles/compute.admin"], "serviceAccount:"+responder) || !slices.Contains(roles["projects/acme-forensics/roles/scenarioGrants"], "serviceAccount:"+examiner) {
		t.Errorf("project policy %v", roles)
	}
}

// A CMEK whose encrypter/decrypter role the service agent holds on the key's project, not on the key,
// may be used: the key inherits the project's policy.
func TestCMEKRoleOnTheKeysProject(t *testing.T) {
	sc := testScenario()
	sc.Projects[1].KMSKeys[0].EncrypterDecrypters = nil
	snaps := func(e *simEnv) error {
		_, err := e.snapshots(responder).Insert(t.Context(), &computepb.InsertSnapshotRequest{Project: forensicProject, SnapshotResource: &computepb.Snapshot{
			Name: proto.String("s1"), SourceDisk: proto.String("projects/" + workloadProject + "/zones/" + testZone + "/disks/web-1"),
			SnapshotEncryptionKey: &computepb.CustomerEncryptionKey{KmsKeyName: proto.String(evidenceKey)}}})
		return err
	}
	wantAPIError(t, snaps(startSim(t, sc, nil)), http.StatusBadRequest, "kmsPermissionDenied")
	sc = testScenario()
	sc.Projects[1].KMSKeys[0].EncrypterDecrypters = nil
	sc.Projects[1].IAM = append(sc.Projects[1].IAM, ScenarioBinding{Member: agent, Roles: []string{"roles/cloudkms.cryptoKeyEncrypterDecrypter"}})
	if err := snaps(startSim(t, sc, nil)); err != nil {
		t.Fatalf("with the role on the project: %v", err)
	}
}

// A user's authorized_user file (gcloud auth application-default login) gets access tokens from the
// simulator's refresh-token grant, through the unmodified client, and the userinfo endpoint names
// the user; IAM bindings of user:EMAIL apply. A forged refresh token is refused.
func TestUserCredentials(t *testing.T) {
	const user = "alice@example.com"
	sc := testScenario()
	sc.Users = []ScenarioUser{{Email: user}, {Email: "bob@example.com", Scopes: []string{cloudPlatformScope}}}
	sc.Projects[1].IAM = append(sc.Projects[1].IAM, ScenarioBinding{Member: "user:" + user, Roles: []string{"roles/compute.viewer"}})
	e := startSim(t, sc, nil)
	userOpts := func(email string) []option.ClientOption {
		data, err := e.sim.UserFile(email)
		if err != nil {
			t.Fatal(err)
		}
		creds, err := credentials.NewCredentialsFromJSON(credentials.AuthorizedUser, data, &credentials.DetectOptions{TokenURL: e.srv.URL + "/token"})
		if err != nil {
			t.Fatal(err)
		}
		return []option.ClientOption{option.WithEndpoint(e.srv.URL), option.WithAuthCredentials(creds)}
	}
	svc, err := oauth2.NewService(t.Context(), userOpts(user)...)
	if err != nil {
		t.Fatal(err)
	}
	info, err := svc.Userinfo.Get().Context(t.Context()).Do()
	if err != nil || info.Email != user || info.Id == "" {
		t.Fatalf("userinfo %+v %v, want %s", info, err, user)
	}
	projects := newClient(t, compute.NewProjectsRESTClient, userOpts(user))
	if _, err := projects.Get(t.Context(), &computepb.GetProjectRequest{Project: forensicProject}); err != nil {
		t.Errorf("the user's binding: %v", err)
	}
	// Without the email scope the token does not show the email.
	svc, _ = oauth2.NewService(t.Context(), userOpts("bob@example.com")...)
	if _, err := svc.Userinfo.Get().Do(); err == nil {
		t.Error("userinfo answered a token without the openid or email scope")
	}
	forged := strings.Replace(string(must(e.sim.UserFile(user))), "1//sim.", "1//sim.x", 1)
	path := filepath.Join(t.TempDir(), "forged.json")
	os.WriteFile(path, []byte(forged), 0o600)
	creds, _ := credentials.DetectDefault(&credentials.DetectOptions{CredentialsFile: path, TokenURL: e.srv.URL + "/token"})
	if _, err := creds.Token(t.Context()); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("a forged refresh token: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
