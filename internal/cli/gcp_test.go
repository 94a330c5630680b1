package cli

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/providers/gcp/gcpsim"
)

const (
	gcpSource    = "acme-web-prod"
	gcpForensic  = "acme-forensics"
	gcpZone      = "us-central1-a"
	gcpResponder = "responder@acme-forensics.iam.gserviceaccount.com"
	gcpKey       = "projects/acme-forensics/locations/us/keyRings/evidence/cryptoKeys/snapshots"
)

// gcpScenario is a compromised web server with two disks in a workload project, and a forensic project.
func gcpScenario() *gcpsim.Scenario {
	return &gcpsim.Scenario{
		Seed: 3, SnapshotBytesPerSecond: -1,
		Projects: []gcpsim.ScenarioProject{
			{ID: gcpSource, Number: 111111111111,
				IAM: []gcpsim.ScenarioBinding{{Member: "serviceAccount:" + gcpResponder, Roles: []string{"roles/compute.viewer", "roles/compute.storageAdmin"}}},
				Disks: []gcpsim.ScenarioDisk{
					{Name: "web-1", Zone: gcpZone, SizeGb: 1, Synthetic: &gcpsim.SyntheticContent{Blocks: []int64{0, 3}, Seed: 1}},
					{Name: "web-1-data", Zone: gcpZone, SizeGb: 1, Synthetic: &gcpsim.SyntheticContent{Blocks: []int64{1}, Seed: 2}},
				},
				Instances: []gcpsim.ScenarioInstance{{Name: "web-1", Zone: gcpZone,
					Metadata: map[string]string{"startup-script": "echo cli-metadata-secret"},
					Disks:    []gcpsim.ScenarioAttachedDisk{{Disk: "web-1", Boot: true}, {Disk: "web-1-data"}}}},
			},
			{ID: gcpForensic, Number: 222222222222,
				ServiceAccounts: []gcpsim.ScenarioServiceAccount{{Email: gcpResponder}},
				IAM: []gcpsim.ScenarioBinding{{Member: "serviceAccount:" + gcpResponder, Roles: []string{"roles/compute.admin"},
					Permissions: []string{"cloudkms.cryptoKeys.getIamPolicy"}}}, // the preflight reads the key's policy
				KMSKeys: []gcpsim.ScenarioKMSKey{{Name: gcpKey,
					EncrypterDecrypters: []string{"serviceAccount:service-222222222222@compute-system.iam.gserviceaccount.com"}}},
			},
		},
	}
}

// gcpRange serves the scenario and writes the responder's key file.
func gcpRange(t *testing.T, edit func(*gcpsim.Scenario)) (endpoint, keyFile string, sim *gcpsim.Server) {
	t.Helper()
	sc := gcpScenario()
	if edit != nil {
		edit(sc)
	}
	sim, err := gcpsim.New(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	sim.SetStorageURL(srv.URL) // where upload sessions and workers reach Cloud Storage
	key, err := sim.KeyFile(gcpResponder, srv.URL+"/token")
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(t.TempDir(), "responder.json")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	return srv.URL, keyFile, sim
}

func gcpArgs(endpoint, keyFile, caseDir string, extra ...string) []string {
	return append([]string{"gcp", "--case", caseDir, "--case-id", "IR-GCP", "--project", gcpSource, "--zone", gcpZone,
		"--instance", "web-1", "--forensic-project", gcpForensic, "--forensic-kms-key", gcpKey,
		"--credentials", keyFile, "--endpoint", endpoint, "--poll-interval", "10ms"}, extra...)
}

// gcpDiskArgs acquires one disk rather than the instance.
func gcpDiskArgs(endpoint, keyFile, caseDir, disk string, extra ...string) []string {
	args := gcpArgs(endpoint, keyFile, caseDir, append([]string{"--disk", disk}, extra...)...)
	i := slices.Index(args, "--instance")
	return slices.Delete(args, i, i+2)
}

func TestGCPAcquisitionCommand(t *testing.T) {
	endpoint, keyFile, sim := gcpRange(t, func(sc *gcpsim.Scenario) { sc.Projects[0].Instances[0].LocalSSDs = 1 })
	_, env := fixture(t)
	caseDir := filepath.Join(t.TempDir(), "IR-GCP")
	code, out, stderr := run(t, env, gcpArgs(endpoint, keyFile, caseDir)...)
	if code != ExitOK {
		t.Fatalf("acquire gcp: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"disks/web-1", "disks/web-1-data", "acquire verify", "!!! NOT ACQUIRED: 1 volume of these workloads", `local SSD "local-ssd-0"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary does not mention %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "!!! EXPOSURE") {
		t.Errorf("a local SSD told as an exposure:\n%s", out)
	}
	snaps := sim.Snapshots(gcpForensic)
	if len(snaps) != 2 {
		t.Fatalf("%d forensic snapshots, want 2: %+v", len(snaps), snaps)
	}
	for _, s := range snaps {
		if s.Labels["acquire-case"] != "ir-gcp" || !strings.HasPrefix(s.KMSKeyName, gcpKey) || s.Status != "READY" {
			t.Errorf("snapshot %+v: want READY, labelled with the case, under the forensic key", s)
		}
	}
	if n := len(sim.Snapshots(gcpSource)); n != 0 {
		t.Errorf("%d snapshots in the compromised project", n)
	}
	if d, in := sim.Disks(gcpForensic), sim.Instances(gcpForensic); len(d)+len(in) > 0 {
		t.Errorf("digest workers left: %v %v", d, in)
	}
	if !regexp.MustCompile(`ev-web-1-data-[0-9a-f]+ +[0-9a-f]{64} +ok`).MatchString(out) {
		t.Errorf("the summary gives no digest:\n%s", out)
	}
	pub := filepath.Join(filepath.Dir(env[envKey]), "custody.pub")
	if code, out, _ := run(t, env, "verify", caseDir, "--key", pub); code != ExitOK {
		t.Fatalf("verify: %d\n%s", code, out)
	}
	if code, out, stderr := run(t, env, gcpArgs(endpoint, keyFile, caseDir)...); code != ExitOK {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, stderr)
	}
	if n := len(sim.Snapshots(gcpForensic)); n != 2 {
		t.Errorf("the second run made %d more snapshots", n-2)
	}
}

// TestGCPCrashConsistent: with --consistency crash-consistent the disks are taken at one moment through
// an instant snapshot group in the source project, which is gone afterwards.
func TestGCPCrashConsistent(t *testing.T) {
	endpoint, keyFile, sim := gcpRange(t, nil)
	_, env := fixture(t)
	code, out, stderr := run(t, env, append(gcpArgs(endpoint, keyFile, filepath.Join(t.TempDir(), "c")), "--consistency", "crash-consistent", "--digest", "defer")...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, s := range sim.Snapshots(gcpForensic) {
		if s.SourceInstantSnapshot == "" {
			t.Errorf("snapshot %s not taken from an instant snapshot", s.Name)
		}
	}
	for _, d := range sim.Disks(gcpSource) {
		if len(d.ResourcePolicies) > 0 {
			t.Errorf("disk %s keeps %v", d.Name, d.ResourcePolicies)
		}
	}
}

// TestGCPStaged: with --staged, an operator of the source project takes the snapshots there and the
// responder, who holds nothing in that project, copies them; the source snapshots are deleted once
// their copies are recorded, and kept with --keep-source-snapshots.
func TestGCPStaged(t *testing.T) {
	const operator = "operator@acme-web-prod.iam.gserviceaccount.com"
	for _, keep := range []bool{false, true} {
		endpoint, keyFile, sim := gcpRange(t, func(sc *gcpsim.Scenario) {
			sc.Projects[0].ServiceAccounts = []gcpsim.ScenarioServiceAccount{{Email: operator}}
			sc.Projects[0].IAM = []gcpsim.ScenarioBinding{{Member: "serviceAccount:" + operator, Roles: []string{"roles/compute.viewer", "roles/compute.storageAdmin"}}}
		})
		key, err := sim.KeyFile(operator, endpoint+"/token")
		if err != nil {
			t.Fatal(err)
		}
		opFile := filepath.Join(t.TempDir(), "operator.json")
		if err := os.WriteFile(opFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
		_, env := fixture(t)
		args := append(gcpArgs(endpoint, opFile, filepath.Join(t.TempDir(), "c")), "--staged", "--forensic-credentials", keyFile, "--digest", "defer")
		if keep {
			args = append(args, "--keep-source-snapshots")
		}
		code, out, stderr := run(t, env, args...)
		if code != ExitOK {
			t.Fatalf("keep %v: exit %d\n%s\n%s", keep, code, out, stderr)
		}
		if n := len(sim.Snapshots(gcpForensic)); n != 2 {
			t.Errorf("keep %v: %d forensic snapshots, want 2", keep, n)
		}
		want := 0
		if keep {
			want = 2
		}
		if n := len(sim.Snapshots(gcpSource)); n != want {
			t.Errorf("keep %v: %d source snapshots, want %d", keep, n, want)
		}
		if d := sim.Disks(gcpForensic); len(d) > 0 {
			t.Errorf("keep %v: disks left in the forensic project: %v", keep, d)
		}
	}
}

func TestGCPDryRun(t *testing.T) {
	endpoint, keyFile, sim := gcpRange(t, nil)
	_, env := fixture(t)
	code, out, stderr := run(t, env, append(gcpArgs(endpoint, keyFile, filepath.Join(t.TempDir(), "c")), "--dry-run")...)
	if code != ExitOK || !strings.Contains(out, "compute.disks.createSnapshot") || !strings.Contains(out, "compute.snapshots.create") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, stderr)
	}
	if n := len(sim.Snapshots(gcpForensic)); n != 0 {
		t.Fatalf("the dry run made %d snapshots", n)
	}
}

func TestGCPExitCodes(t *testing.T) {
	set := func(flag, value string) func(e, k, d string) []string {
		return func(e, k, d string) []string {
			a := gcpArgs(e, k, d)
			for i := range a {
				if a[i] == flag {
					a[i+1] = value
				}
			}
			return a
		}
	}
	tests := []struct {
		name string
		edit func(*gcpsim.Scenario)
		args func(endpoint, keyFile, dir string) []string
		code int
		msg  string
	}{
		{name: "unknown instance", args: set("--instance", "no-such-vm"), code: ExitNotFound, msg: "no-such-vm"},
		{name: "malformed instance", args: set("--instance", "Web_1"), code: ExitUsage, msg: "Web_1"},
		{name: "malformed project", args: set("--project", "P"), code: ExitUsage, msg: "not a project ID"},
		{name: "forensic project is the source", args: set("--forensic-project", gcpSource), code: ExitUsage, msg: "compromised project itself"},
		{name: "not a zone", args: set("--zone", "central"), code: ExitUsage, msg: "not a zone name"},
		{name: "not a key", args: set("--forensic-kms-key", "alias/evidence"), code: ExitUsage, msg: "not a Cloud KMS key name"},
		{name: "no credentials file", args: set("--credentials", "/nonexistent/key.json"), code: ExitUsage, msg: "/nonexistent/key.json"},
		{name: "lock", args: func(e, k, d string) []string { return append(gcpArgs(e, k, d), "--lock", "governance") },
			code: ExitUsage, msg: "no lock"},
		{name: "crash consistency of a lone disk", args: func(e, k, d string) []string {
			return []string{"gcp", "--case", d, "--project", gcpSource, "--zone", gcpZone, "--disk", "web-1",
				"--forensic-project", gcpForensic, "--credentials", k, "--endpoint", e, "--consistency", "crash-consistent"}
		}, code: ExitUsage, msg: "not a disk given alone"},
		{name: "image bucket with the digest deferred", args: func(e, k, d string) []string {
			return append(gcpArgs(e, k, d), "--image-bucket", "acme-images", "--digest", "defer")
		}, code: ExitUsage, msg: "--image-bucket is written by the digest workers"},
		{name: "keep source snapshots without staged", args: func(e, k, d string) []string { return append(gcpArgs(e, k, d), "--keep-source-snapshots") },
			code: ExitUsage, msg: "--keep-source-snapshots is for --staged"},
		{name: "staged without forensic credentials", args: func(e, k, d string) []string { return append(gcpArgs(e, k, d), "--staged") },
			code: ExitUsage, msg: "--staged needs --forensic-credentials"},
		{name: "staged as one impersonated account", args: func(e, k, d string) []string {
			return append(gcpArgs(e, k, d), "--staged", "--forensic-credentials", k, "--impersonate-service-account", gcpResponder)
		}, code: ExitUsage, msg: "as one account"},
		{name: "permission missing", edit: func(sc *gcpsim.Scenario) {
			sc.Projects[0].IAM = []gcpsim.ScenarioBinding{{Member: "serviceAccount:" + gcpResponder, Roles: []string{"roles/compute.viewer"}}}
		}, args: func(e, k, d string) []string { return gcpArgs(e, k, d) }, code: ExitPermissionDenied, msg: "compute.disks.createSnapshot"},
		{name: "org policy", edit: func(sc *gcpsim.Scenario) {
			sc.Projects[1].OrgPolicy = &gcpsim.ScenarioOrgPolicy{StorageResourceUseRestrictions: &gcpsim.AllowedProjects{AllowedProjects: []string{}}}
		}, args: func(e, k, d string) []string { return gcpArgs(e, k, d) }, code: ExitPermissionDenied, msg: "constraints/compute.storageResourceUseRestrictions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			endpoint, keyFile, sim := gcpRange(t, tc.edit)
			_, env := fixture(t)
			code, out, stderr := run(t, env, tc.args(endpoint, keyFile, filepath.Join(t.TempDir(), "c"))...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)\n%s", code, tc.code, stderr, tc.msg, out)
			}
			if n := len(sim.Snapshots(gcpForensic)); n != 0 {
				t.Errorf("%d snapshots made", n)
			}
			if strings.Contains(out+stderr, "PRIVATE KEY") || strings.Contains(out+stderr, "ya29.") {
				t.Errorf("a secret in the output:\n%s\n%s", out, stderr)
			}
		})
	}
}

func TestIAMGCP(t *testing.T) {
	_, env := fixture(t)
	code, out, stderr := run(t, env, "iam", "gcp", "--project", gcpSource, "--forensic-project", gcpForensic)
	if code != ExitOK {
		t.Fatalf("iam gcp: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"includedPermissions:", "- compute.disks.createSnapshot # ", "- compute.snapshots.create # ",
		"gcloud iam roles create acquireForensicSource --project " + gcpSource, "roles/cloudkms.cryptoKeyEncrypterDecrypter"} {
		if !strings.Contains(out, want) {
			t.Errorf("iam gcp does not print %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, env, "iam", "gcp", "-o", "json")
	if code != ExitOK {
		t.Fatalf("iam gcp -o json: exit %d", code)
	}
	var res struct {
		Roles []struct {
			Side        string                                `json:"side"`
			Permissions []struct{ Permission, Reason string } `json:"includedPermissions"`
		} `json:"roles"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil || len(res.Roles) != 2 {
		t.Fatalf("iam gcp -o json: %v\n%s", err, out)
	}
	for _, r := range res.Roles {
		if len(r.Permissions) < 5 {
			t.Errorf("%s role: %d permissions", r.Side, len(r.Permissions))
		}
		for _, p := range r.Permissions {
			if p.Reason == "" {
				t.Errorf("%s: %s without a reason", r.Side, p.Permission)
			}
		}
	}
}

// TestGCPExportNeedsTheImage: evidence acquired without --image-bucket cannot be read back, and the
// error says why and what to do; reading it back never falls to Application Default Credentials.
func TestGCPExportNeedsTheImage(t *testing.T) {
	endpoint, keyFile, _ := gcpRange(t, nil)
	_, env := fixture(t)
	caseDir := filepath.Join(t.TempDir(), "IR-GCP")
	if code, out, stderr := run(t, env, gcpDiskArgs(endpoint, keyFile, caseDir, "web-1-data")...); code != ExitOK {
		t.Fatalf("acquire gcp: exit %d\n%s\n%s", code, out, stderr)
	}
	outDir := filepath.Join(t.TempDir(), "export")
	item := "projects/" + gcpSource + "/zones/" + gcpZone + "/disks/web-1-data"
	code, _, stderr := run(t, env, "export", caseDir, "--item", item, "--out", outDir, "--endpoint", endpoint)
	if code != ExitUsage || !strings.Contains(stderr, "--forensic-credentials") {
		t.Fatalf("export without the forensic credentials: %d %s", code, stderr)
	}
	code, _, stderr = run(t, env, "export", caseDir, "--item", item, "--out", outDir, "--endpoint", endpoint,
		"--forensic-credentials", keyFile, "--forensic-default-credential")
	if code != ExitUsage || !strings.Contains(stderr, "two credentials") {
		t.Fatalf("export with two credentials: %d %s", code, stderr)
	}
	code, _, stderr = run(t, env, "export", caseDir, "--item", item, "--out", outDir, "--endpoint", endpoint, "--forensic-credentials", keyFile)
	if code != ExitNotFound || !strings.Contains(stderr, "--image-bucket") {
		t.Fatalf("export of evidence without an image: %d %s", code, stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(outDir, "*")); len(m) > 0 {
		t.Fatalf("the refused export wrote %v", m)
	}
}
