package gcp

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/gcp/gcpsim"
)

// without is the least-privilege fixture missing several permissions at once.
func without(t *testing.T, missing ...string) *gcpsim.Scenario {
	sc := leastPrivilege(t, "")
	for i := range sc.Projects {
		b := &sc.Projects[i].IAM[0]
		b.Permissions = slices.DeleteFunc(b.Permissions, func(p string) bool { return slices.Contains(missing, p) })
	}
	return sc
}

func preflightOf(t *testing.T, sc *gcpsim.Scenario, p driver.Preflight) (error, map[string]int) {
	t.Helper()
	e := startSim(t, sc)
	d := newDriver(t, testConfig(e.url, e.keyFile))
	if p.Destination.Account == "" {
		p.Destination.Account = forensicProject
	}
	if p.Volumes == nil {
		p.Volumes = []driver.Volume{{ID: vol("web-1"), Location: zone}, {ID: vol("web-1-data"), Location: zone}}
	}
	err := d.Preflight(context.Background(), p)
	return err, e.sim.CallCounts()
}

func wantNamed(t *testing.T, err error, code driver.Code, names ...string) {
	t.Helper()
	if err == nil || driver.CodeOf(err) != code && (&Driver{}).ErrorCode(err) != code {
		t.Fatalf("error %v: want %s", err, code)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("the error does not name %s: %v", n, err)
		}
	}
}

// TestForensicPermissionsCheckedAtPreflight: what the forensic side lacks for the options chosen is
// found by Cloud Resource Manager's projects.testIamPermissions on the forensic project, every
// missing permission named at once, before anything is made; the worker's permissions only when the
// digest is computed.
func TestForensicPermissionsCheckedAtPreflight(t *testing.T) {
	sc := without(t, "compute.snapshots.setLabels", "compute.snapshots.delete", "compute.instances.create")
	err, calls := preflightOf(t, sc, driver.Preflight{Digest: true})
	wantNamed(t, err, driver.CodePermissionDenied, "compute.snapshots.setLabels", "compute.snapshots.delete", "compute.instances.create", forensicProject)
	if calls["cloudresourcemanager.projects.testIamPermissions"] == 0 {
		t.Error("the forensic project's permissions were not tested")
	}
	err, _ = preflightOf(t, without(t, "compute.instances.create"), driver.Preflight{Digest: false})
	if err != nil {
		t.Errorf("with the digest deferred, the worker's permissions are not needed: %v", err)
	}
	if err, _ := preflightOf(t, leastPrivilege(t, ""), driver.Preflight{Digest: true, Consistency: driver.CrashConsistent}); err != nil {
		t.Errorf("the listed permissions: %v", err)
	}
}

// TestCrashPermissionsCheckedAtPreflight: crash consistency's permissions in the source project
// (and on its disks) are checked when it is asked for, and only then.
func TestCrashPermissionsCheckedAtPreflight(t *testing.T) {
	sc := without(t, "compute.instantSnapshotGroups.create", "compute.resourcePolicies.use", "compute.disks.addResourcePolicies")
	err, calls := preflightOf(t, sc, driver.Preflight{Consistency: driver.CrashConsistent})
	wantNamed(t, err, driver.CodePermissionDenied, "compute.instantSnapshotGroups.create", "compute.resourcePolicies.use",
		"compute.disks.addResourcePolicies", srcProject, vol("web-1"))
	if n := calls["compute.resourcePolicies.insert"]; n > 0 {
		t.Errorf("%d policies made by the preflight", n)
	}
	if err, _ := preflightOf(t, sc, driver.Preflight{Consistency: driver.PerVolume}); err != nil {
		t.Errorf("per-volume snapshots need none of crash consistency's permissions: %v", err)
	}
}

// TestKeyAgentCheckedAtPreflight: a forensic key whose encrypter/decrypter role the forensic
// project's Compute Engine service agent does not hold is refused at the preflight, naming the
// agent, the key and the gcloud command that grants it; held on the key or on its project, it passes.
func TestKeyAgentCheckedAtPreflight(t *testing.T) {
	sc := scenario(t)
	sc.Projects[1].KMSKeys[0].EncrypterDecrypters = nil
	err, calls := preflightOf(t, sc, driver.Preflight{Destination: driver.Destination{Key: evidenceKey}})
	wantNamed(t, err, driver.CodePermissionDenied, serviceAgent, evidenceKey,
		"gcloud kms keys add-iam-policy-binding snapshots --keyring evidence --location us --project acme-forensics --member "+serviceAgent+" --role roles/cloudkms.cryptoKeyEncrypterDecrypter")
	if calls["cloudkms.projects.locations.keyRings.cryptoKeys.getIamPolicy"] == 0 {
		t.Error("the key's policy was not read")
	}
	if err, _ := preflightOf(t, scenario(t), driver.Preflight{Destination: driver.Destination{Key: evidenceKey}}); err != nil {
		t.Errorf("the role on the key: %v", err)
	}
	sc.Projects[1].IAM = append(sc.Projects[1].IAM, gcpsim.ScenarioBinding{Member: serviceAgent, Roles: []string{"roles/cloudkms.cryptoKeyEncrypterDecrypter"}},
		gcpsim.ScenarioBinding{Member: "serviceAccount:" + responder, Permissions: []string{"cloudkms.keyRings.getIamPolicy", "resourcemanager.projects.getIamPolicy"}})
	if err, _ := preflightOf(t, sc, driver.Preflight{Destination: driver.Destination{Key: evidenceKey}}); err != nil {
		t.Errorf("the role on the key's project: %v", err)
	}
	// A key whose policy cannot be read is refused, not assumed usable.
	sc = scenario(t)
	sc.Projects[1].IAM[0].Permissions = nil
	err, _ = preflightOf(t, sc, driver.Preflight{Destination: driver.Destination{Key: evidenceKey}})
	wantNamed(t, err, driver.CodePermissionDenied, "cloudkms.cryptoKeys.getIamPolicy", evidenceKey)
}

// TestUserCredentialsIdentity: Application Default Credentials of a user (gcloud auth
// application-default login) are recorded with the user's email, as the userinfo endpoint tells it,
// not as an unnamed principal; a token that does not show the email is refused with what to do.
func TestUserCredentialsIdentity(t *testing.T) {
	const user, noEmail = "alice@example.com", "bob@example.com"
	sc := scenario(t)
	sc.Users = []gcpsim.ScenarioUser{{Email: user}, {Email: noEmail, Scopes: []string{"openid", "https://www.googleapis.com/auth/cloud-platform"}}}
	for i := range sc.Projects {
		sc.Projects[i].IAM = append(sc.Projects[i].IAM, gcpsim.ScenarioBinding{Member: "user:" + user, Roles: []string{"roles/compute.viewer"}},
			gcpsim.ScenarioBinding{Member: "user:" + noEmail, Roles: []string{"roles/compute.viewer"}})
	}
	e := startSim(t, sc)
	for _, tc := range []struct{ email, want string }{{user, user}, {noEmail, ""}} {
		data, err := e.sim.UserFile(tc.email)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "application_default_credentials.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		d := newDriver(t, testConfig(e.url, path))
		p, err := d.Identity(context.Background(), driver.Forensic)
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), "userinfo.email") || strings.Contains(err.Error(), "1//") {
				t.Errorf("a token without the email scope: %+v %v", p, err)
			}
			continue
		}
		if err != nil || p.ID != tc.want || p.AccountNumber != "222222222222" {
			t.Errorf("identity %+v %v, want %s", p, err, tc.want)
		}
	}
	if e.sim.CallCounts()["oauth2.userinfo.get"] == 0 {
		t.Error("the userinfo endpoint was not asked")
	}
}
