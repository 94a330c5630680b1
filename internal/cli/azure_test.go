package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/internal/testenv"
	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
)

const (
	azSource   = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b01"
	azForensic = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b02"
)

// azureRangeEnv serves the Azure member of compromised-web-server over TLS, with synthetic disks in
// place of the images, and the responder's environment: its service principal in AZURE_* variables.
func azureRangeEnv(t *testing.T) (endpoint, caFile string, sim *azuresim.Server) {
	t.Helper()
	sc, err := azuresim.LoadScenario("../../testdata/scenarios/compromised-web-server.json")
	if err != nil {
		t.Fatal(err)
	}
	sc.SnapshotBytesPerSecond, sc.RetryAfterSeconds = -1, -1
	for i := range sc.Subscriptions {
		for j := range sc.Subscriptions[i].ResourceGroups {
			disks := sc.Subscriptions[i].ResourceGroups[j].Disks
			for k := range disks {
				disks[k].Image = ""
				disks[k].Synthetic = &azuresim.SyntheticContent{Chunks: []int64{0, 3, int64(40 + k)}, Seed: uint64(k + 1)}
			}
		}
	}
	sim, err = azuresim.New(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = sim.TLSConfig()
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); sim.Close() })
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, sim.CA().CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_TENANT_ID", sc.Tenants[0].ID)
	t.Setenv("AZURE_CLIENT_ID", sc.Tenants[0].Principals[0].ClientID)
	t.Setenv("AZURE_CLIENT_SECRET", sc.Tenants[0].Principals[0].ClientSecret)
	t.Setenv("AZURE_AUTHORITY_HOST", srv.URL+"/")
	return srv.URL, caFile, sim
}

func azureArgs(endpoint, caFile, caseDir string, extra ...string) []string {
	return append([]string{"azure", "--case", caseDir, "--case-id", "IR-AZ", "--subscription", azSource, "--resource-group", "rg-web", "--vm", "web-1",
		"--forensic-subscription", azForensic, "--forensic-resource-group", "rg-evidence", "--forensic-disk-encryption-set", "des-evidence",
		"--endpoint", endpoint, "--ca-file", caFile, "--poll-interval", "10ms"}, extra...)
}

func TestAzureAcquisitionCommand(t *testing.T) {
	endpoint, caFile, sim := azureRangeEnv(t)
	_, env := fixture(t)
	caseDir := filepath.Join(t.TempDir(), "IR-AZ")
	code, out, stderr := run(t, env, azureArgs(endpoint, caFile, caseDir)...)
	if code != ExitOK {
		t.Fatalf("acquire azure: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"disks/web-1-os", "disks/web-1-data", "acquire verify"} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary does not mention %q:\n%s", want, out)
		}
	}
	if g := sim.OpenGrants(); len(g) > 0 {
		t.Errorf("SAS still open: %+v", g)
	}
	if s := sim.Snapshots(azSource); len(s) > 0 {
		t.Errorf("snapshots in the source subscription: %+v", s)
	}
	evidence := sim.Snapshots(azForensic)
	if len(evidence) != 2 {
		t.Fatalf("%d snapshots in the forensic subscription, want 2", len(evidence))
	}
	for _, s := range evidence {
		if !strings.HasSuffix(s.DiskEncryptionSetID, "/des-evidence") || s.Tags["acquire-case"] != "IR-AZ" {
			t.Errorf("evidence %s: encryption set %q, case tag %q", s.Name, s.DiskEncryptionSetID, s.Tags["acquire-case"])
		}
	}
	pub := filepath.Join(filepath.Dir(env[envKey]), "custody.pub")
	if code, out, _ := run(t, env, "verify", caseDir, "--key", pub); code != ExitOK {
		t.Fatalf("verify: %d\n%s", code, out)
	}
	// The same command again continues a finished case: nothing more is made.
	if code, out, stderr := run(t, env, azureArgs(endpoint, caFile, caseDir)...); code != ExitOK {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, stderr)
	}
	if n := len(sim.Snapshots(azForensic)); n != 2 {
		t.Errorf("the second run left %d snapshots, want 2", n)
	}
	// Export reads the evidence back through a read SAS, ended after.
	outDir := filepath.Join(t.TempDir(), "export")
	code, out, stderr = run(t, env, "export", caseDir, "--item", "/subscriptions/"+azSource+"/resourceGroups/rg-web/providers/Microsoft.Compute/disks/web-1-data", "--out", outDir, "--endpoint", endpoint, "--ca-file", caFile, "--forensic-default-credential", "-o", "json")
	if code != ExitOK {
		t.Fatalf("export: %d\n%s\n%s", code, out, stderr)
	}
	var res struct {
		Path        string `json:"path"`
		ImageSHA256 string `json:"imageSha256"`
		Match       bool   `json:"match"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || !res.Match {
		t.Fatalf("export result: %v %s", err, out)
	}
	if got := testenv.FileSHA256(t, res.Path); got != res.ImageSHA256 {
		t.Fatalf("the exported file hashes to %s, the export said %s", got, res.ImageSHA256)
	}
	if g := sim.OpenGrants(); len(g) > 0 {
		t.Errorf("SAS still open after the export: %+v", g)
	}
	// Every item read again from the forensic subscription matches its record.
	if code, out, stderr := run(t, env, "verify", caseDir, "--key", pub, "--rehash", "--endpoint", endpoint, "--ca-file", caFile, "--forensic-default-credential"); code != ExitOK || strings.Count(out, "  MATCH") != 2 {
		t.Fatalf("verify --rehash from Azure: %d\n%s\n%s", code, out, stderr)
	}
	if g := sim.OpenGrants(); len(g) > 0 {
		t.Errorf("SAS still open after the re-hash: %+v", g)
	}
}

func TestAzureDryRunAndIAM(t *testing.T) {
	endpoint, caFile, sim := azureRangeEnv(t)
	_, env := fixture(t)
	code, out, stderr := run(t, env, append(azureArgs(endpoint, caFile, ""), "--dry-run")...)
	if code != ExitOK || !strings.Contains(out, "Microsoft.Compute/disks/beginGetAccess/action") || !strings.Contains(out, "straight into the forensic account") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, stderr)
	}
	if n := len(sim.Snapshots("")); n != 0 {
		t.Fatalf("the dry run made %d snapshots", n)
	}
	code, out, stderr = run(t, env, "iam", "azure", "--subscription", azSource, "-o", "json")
	if code != ExitOK {
		t.Fatalf("iam azure: %d %s", code, stderr)
	}
	var roles struct {
		Result []struct {
			AssignAt       string            `json:"assignAt"`
			RoleDefinition map[string]any    `json:"roleDefinition"`
			Reasons        map[string]string `json:"reasons"`
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &roles.Result); err != nil {
		t.Fatalf("iam azure -o json: %v\n%s", err, out)
	}
	if len(roles.Result) != 3 {
		t.Fatalf("%d roles, want 3:\n%s", len(roles.Result), out)
	}
	for _, r := range roles.Result {
		for _, a := range r.RoleDefinition["Actions"].([]any) {
			if r.Reasons[a.(string)] == "" {
				t.Errorf("action %s has no reason", a)
			}
		}
	}
	if !strings.Contains(roles.Result[0].AssignAt, azSource) {
		t.Errorf("the source role is assigned at %s", roles.Result[0].AssignAt)
	}
	if strings.Contains(out, "restorePointCollections") {
		t.Errorf("the roles name restore point actions though crash consistency was not asked:\n%s", out)
	}
	code, out, stderr = run(t, env, "iam", "azure", "--subscription", azSource, "--consistency", "crash-consistent")
	if code != ExitOK {
		t.Fatalf("iam azure --consistency crash-consistent: %d %s", code, stderr)
	}
	for _, want := range []string{"acquire source restore point", "Microsoft.Compute/restorePointCollections/restorePoints/write",
		"Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/beginGetAccess/action", "Microsoft.Compute/disks/write"} {
		if !strings.Contains(out, want) {
			t.Errorf("iam azure --consistency crash-consistent does not name %s:\n%s", want, out)
		}
	}
	if code, _, stderr := run(t, env, "iam", "azure", "--consistency", "crash"); code != ExitUsage || !strings.Contains(stderr, "use crash-consistent or per-volume") {
		t.Errorf("--consistency crash: exit %d, %s", code, stderr)
	}
}

func TestAzureBadInput(t *testing.T) {
	endpoint, caFile, sim := azureRangeEnv(t)
	_, env := fixture(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		text string
	}{
		{"subscription not a GUID", replaceArg(azureArgs(endpoint, caFile, filepath.Join(dir, "a")), "--subscription", "workload"), ExitUsage, "not a subscription ID"},
		{"evidence stays in the source", replaceArg(azureArgs(endpoint, caFile, filepath.Join(dir, "b")), "--forensic-subscription", azSource), ExitUsage, "must leave the compromised subscription"},
		{"a name without a resource group", replaceArg(azureArgs(endpoint, caFile, filepath.Join(dir, "c")), "--resource-group", ""), ExitUsage, "give --resource-group"},
		{"plain http", replaceArg(azureArgs(endpoint, caFile, filepath.Join(dir, "d")), "--endpoint", "http://127.0.0.1:1"), ExitUsage, "https"},
		{"lock mode", append(azureArgs(endpoint, caFile, filepath.Join(dir, "e")), "--lock", "compliance"), ExitUsage, "CanNotDelete"},
		{"another region", append(azureArgs(endpoint, caFile, filepath.Join(dir, "f")), "--forensic-location", "northeurope"), ExitUsage, "cannot place evidence in northeurope"},
		{"a disk of another subscription", append(azureArgs(endpoint, caFile, filepath.Join(dir, "i")), "--disk", "/subscriptions/3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b09/resourceGroups/rg-web/providers/Microsoft.Compute/disks/web-1-os"), ExitUsage, "not --subscription"},
		{"a disk of the forensic subscription", append(azureArgs(endpoint, caFile, filepath.Join(dir, "j")), "--disk", "/subscriptions/"+azForensic+"/resourceGroups/rg-evidence/providers/Microsoft.Compute/disks/web-1-os"), ExitUsage, "is in the forensic subscription"},
		{"a VM of another subscription", replaceArg(azureArgs(endpoint, caFile, filepath.Join(dir, "k")), "--vm", "/subscriptions/3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b09/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-1"), ExitUsage, "not --subscription"},
		{"not a resource ID", append(azureArgs(endpoint, caFile, filepath.Join(dir, "l")), "--disk", "/disks/web-1-os"), ExitUsage, "not an Azure resource ID"},
		{"unknown VM", replaceArg(azureArgs(endpoint, caFile, filepath.Join(dir, "g")), "--vm", "web-9"), ExitNotFound, "web-9"},
		{"lock without the permission", append(azureArgs(endpoint, caFile, filepath.Join(dir, "h")), "--lock", "CanNotDelete"), ExitPermissionDenied, "Microsoft.Authorization/locks/write"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := run(t, env, tc.args...)
			if code != tc.code || !strings.Contains(stderr+out, tc.text) {
				t.Fatalf("exit %d, want %d naming %q:\n%s\n%s", code, tc.code, tc.text, out, stderr)
			}
		})
	}
	if n := len(sim.Snapshots("")); n != 0 {
		t.Errorf("refused runs made %d snapshots", n)
	}
}

// replaceArg sets the value that follows flag.
func replaceArg(args []string, flag, value string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == flag && i+1 < len(out) {
			out[i+1] = value
		}
	}
	return out
}

// TestAzureSeparateForensicPrincipal: the forensic side signs in as its own service principal; one
// without the collector's actions is refused before anything is made, every missing action named.
func TestAzureSeparateForensicPrincipal(t *testing.T) {
	endpoint, caFile, sim := azureRangeEnv(t)
	_, env := fixture(t)
	t.Setenv(envForensicSecret, "cloudsim-azure-examiner-secret")
	args := append(azureArgs(endpoint, caFile, filepath.Join(t.TempDir(), "c")), "--forensic-client-id", "5a6b7c8d-0e1f-4a2b-8c3d-4e5f6a7b8c02")
	code, out, stderr := run(t, env, args...)
	if code != ExitPermissionDenied || !strings.Contains(stderr, "Microsoft.Compute/snapshots/write") || !strings.Contains(stderr, "Microsoft.Compute/disks/beginGetAccess/action") {
		t.Fatalf("exit %d, want %d naming the collector's missing actions:\n%s\n%s", code, ExitPermissionDenied, out, stderr)
	}
	if n := len(sim.Snapshots("")); n != 0 {
		t.Errorf("the refused run made %d snapshots", n)
	}
	t.Setenv(envForensicSecret, "")
	if code, _, stderr := run(t, env, args...); code != ExitUsage || !strings.Contains(stderr, envForensicSecret) {
		t.Fatalf("without the secret: exit %d %s", code, stderr)
	}
}

// TestAzureTransportBounded: the client that trusts --ca-file bounds the dial, the handshake and the
// wait for an answer, so that a silent endpoint fails instead of hanging the run.
func TestAzureTransportBounded(t *testing.T) {
	_, caFile, _ := azureRangeEnv(t)
	z := azureAccess{caFile: caFile}
	_, client, err := z.cloudConfig()
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := client.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T", client.Transport)
	}
	if tr.DialContext == nil || tr.TLSHandshakeTimeout <= 0 || tr.ResponseHeaderTimeout <= 0 || tr.IdleConnTimeout <= 0 {
		t.Fatalf("an unbounded transport: handshake %s, headers %s, idle %s", tr.TLSHandshakeTimeout, tr.ResponseHeaderTimeout, tr.IdleConnTimeout)
	}
}

// TestAzureEvidenceReadCredentials: export and verify --rehash read Azure evidence as the forensic
// principal named with --forensic-client-id, or as DefaultAzureCredential only when asked for: never
// by default, which is usually the source side's credential.
func TestAzureEvidenceReadCredentials(t *testing.T) {
	endpoint, caFile, sim := azureRangeEnv(t)
	_, env := fixture(t)
	caseDir := filepath.Join(t.TempDir(), "IR-AZ")
	if code, out, stderr := run(t, env, azureArgs(endpoint, caFile, caseDir)...); code != ExitOK {
		t.Fatalf("acquire azure: exit %d\n%s\n%s", code, out, stderr)
	}
	item := "/subscriptions/" + azSource + "/resourceGroups/rg-web/providers/Microsoft.Compute/disks/web-1-os"
	export := func(extra ...string) (int, string) {
		args := append([]string{"export", caseDir, "--item", item, "--out", filepath.Join(t.TempDir(), "x"), "--endpoint", endpoint, "--ca-file", caFile}, extra...)
		code, _, stderr := run(t, env, args...)
		return code, stderr
	}
	const examiner, responder = "5a6b7c8d-0e1f-4a2b-8c3d-4e5f6a7b8c02", "5a6b7c8d-0e1f-4a2b-8c3d-4e5f6a7b8c01"
	grants := sim.CallCounts()["Snapshots_GrantAccess"]
	if code, stderr := export(); code != ExitUsage || !strings.Contains(stderr, "--forensic-client-id") || !strings.Contains(stderr, "--forensic-default-credential") {
		t.Fatalf("no credential named: exit %d, want %d saying how to name one: %s", code, ExitUsage, stderr)
	}
	if code, stderr := export("--forensic-client-id", responder, "--forensic-default-credential"); code != ExitUsage || !strings.Contains(stderr, "give one") {
		t.Fatalf("two credentials: exit %d: %s", code, stderr)
	}
	if code, stderr := export("--forensic-certificate", "x.pem"); code != ExitUsage || !strings.Contains(stderr, "goes with --forensic-client-id") {
		t.Fatalf("a certificate alone: exit %d: %s", code, stderr)
	}
	if n := sim.CallCounts()["Snapshots_GrantAccess"]; n != grants {
		t.Errorf("refused exports asked for %d read SAS", n-grants)
	}
	t.Setenv(envForensicSecret, "")
	if code, stderr := export("--forensic-client-id", examiner); code != ExitUsage || !strings.Contains(stderr, envForensicSecret) {
		t.Fatalf("without the secret: exit %d: %s", code, stderr)
	}
	// The examiner may read snapshots but not grant access to them: refused as the examiner, not
	// read as the responder of the environment.
	t.Setenv(envForensicSecret, "cloudsim-azure-examiner-secret")
	if code, stderr := export("--forensic-client-id", examiner); code != ExitPermissionDenied || !strings.Contains(stderr, "snapshots/beginGetAccess/action") {
		t.Fatalf("as the examiner: exit %d, want %d naming the missing action: %s", code, ExitPermissionDenied, stderr)
	}
	t.Setenv(envForensicSecret, "cloudsim-azure-responder-secret")
	t.Setenv("AZURE_CLIENT_SECRET", "not-the-secret") // the environment's principal is not used
	if code, stderr := export("--forensic-client-id", responder); code != ExitOK {
		t.Fatalf("as the named principal: exit %d: %s", code, stderr)
	}
	pub := filepath.Join(filepath.Dir(env[envKey]), "custody.pub")
	if code, out, stderr := run(t, env, "verify", caseDir, "--key", pub, "--rehash", "--endpoint", endpoint, "--ca-file", caFile); code != ExitUsage || !strings.Contains(stderr, "--forensic-default-credential") {
		t.Fatalf("verify --rehash without a credential: exit %d\n%s\n%s", code, out, stderr)
	}
	if code, out, stderr := run(t, env, "verify", caseDir, "--key", pub, "--rehash", "--endpoint", endpoint, "--ca-file", caFile, "--forensic-client-id", responder); code != ExitOK || strings.Count(out, "  MATCH") != 2 {
		t.Fatalf("verify --rehash as the named principal: exit %d\n%s\n%s", code, out, stderr)
	}
	if g := sim.OpenGrants(); len(g) > 0 {
		t.Errorf("SAS still open: %+v", g)
	}
}
