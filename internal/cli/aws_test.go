package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/testenv"
	"github.com/acquire-forensics/acquire/providers/aws/awssim"
)

// rangeEnv starts the AWS simulator with the cloud range's two-account scenario and sets up the
// environment a responder would have: source credentials in the environment, the forensic account as
// a profile.
func rangeEnv(t *testing.T, edit func(*awssim.Scenario)) (endpoint string, sim *awssim.Server) {
	t.Helper()
	sc, err := awssim.LoadScenario("../../testdata/scenarios/aws-two-accounts.json")
	if err != nil {
		t.Fatal(err)
	}
	sc.SnapshotBytesPerSecond = -1 // snapshots complete at once
	// Smaller volumes: a digest hashes every byte, zeros included.
	for i := range sc.Accounts[0].Volumes {
		sc.Accounts[0].Volumes[i].SizeGiB = 2
	}
	if edit != nil {
		edit(sc)
	}
	sim, err = awssim.New(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[forensics]\naws_access_key_id = AKIAFORENSICS0000001\naws_secret_access_key = cloudsim-forensics-analyst-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAWORKLOAD00000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "cloudsim-workload-responder-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return srv.URL, sim
}

func awsArgs(endpoint, caseDir string, extra ...string) []string {
	return append([]string{"aws", "--case", caseDir, "--case-id", "IR-AWS", "--instance", "i-0a1b2c3d4e5f60001",
		"--forensic-account", "222222222222", "--forensic-profile", "forensics", "--forensic-kms-key", "alias/evidence",
		"--endpoint", endpoint, "--poll-interval", "10ms"}, extra...)
}

func TestAWSAcquisitionCommand(t *testing.T) {
	endpoint, sim := rangeEnv(t, nil)
	_, env := fixture(t)
	caseDir := filepath.Join(t.TempDir(), "IR-AWS")
	code, out, stderr := run(t, env, awsArgs(endpoint, caseDir)...)
	if code != ExitOK {
		t.Fatalf("acquire aws: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"vol-0a1b2c3d4e5f60001", "vol-0a1b2c3d4e5f60002", "vol-0a1b2c3d4e5f60003", "evidence, encrypted under key", "acquire verify"} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary does not mention %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "digest") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
	if shares := sim.Shares(); len(shares) > 0 {
		t.Errorf("still shared: %+v", shares)
	}
	pub := filepath.Join(filepath.Dir(env[envKey]), "custody.pub")
	if code, out, _ := run(t, env, "verify", caseDir, "--key", pub); code != ExitOK {
		t.Fatalf("verify: %d\n%s", code, out)
	}
	// The same command again continues a finished case: nothing more is made.
	before := len(sim.Snapshots())
	if code, out, stderr := run(t, env, awsArgs(endpoint, caseDir)...); code != ExitOK {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, stderr)
	}
	if after := len(sim.Snapshots()); after != before {
		t.Errorf("the second run made %d more snapshots", after-before)
	}
}

func TestAWSJSONEventsAndDryRun(t *testing.T) {
	endpoint, sim := rangeEnv(t, nil)
	_, env := fixture(t)
	code, out, stderr := run(t, env, append(awsArgs(endpoint, filepath.Join(t.TempDir(), "c")), "--dry-run")...)
	if code != ExitOK || !strings.Contains(out, "ec2:CreateSnapshots") || !strings.Contains(out, "crash-consistent") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, stderr)
	}
	if n := len(sim.Snapshots()); n != 0 {
		t.Fatalf("the dry run made %d snapshots", n)
	}
	code, out, stderr = run(t, env, append(awsArgs(endpoint, filepath.Join(t.TempDir(), "c")), "-o", "json")...)
	if code != ExitOK {
		t.Fatalf("json run: exit %d\n%s", code, stderr)
	}
	var events, results int
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{\"type\":\"event\"") {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event line is not JSON: %v: %s", err, line)
		}
		events++
	}
	results = strings.Count(out, `{"type":"result"`)
	if events < 20 || results != 1 {
		t.Fatalf("%d events and %d results in the JSON stream:\n%s", events, results, out)
	}
}

func TestAWSExitCodes(t *testing.T) {
	tests := []struct {
		name string
		edit func(*awssim.Scenario)
		args func(endpoint, dir string) []string
		code int
		msg  string
	}{
		{name: "unknown instance", args: func(e, d string) []string {
			a := awsArgs(e, d)
			a[6] = "i-0000000000000dead"
			return a
		}, code: ExitNotFound, msg: "i-0000000000000dead"},
		{name: "malformed instance", args: func(e, d string) []string {
			a := awsArgs(e, d)
			a[6] = "i-12"
			return a
		}, code: ExitUsage, msg: "not an EC2 instance ID"},
		{name: "forensic account is the source", args: func(e, d string) []string {
			a := awsArgs(e, d)
			a[8] = "111111111111"
			return a
		}, code: ExitUsage, msg: "compromised account itself"},
		{name: "not a region", args: func(e, d string) []string { return append(awsArgs(e, d), "--region", "not a region") },
			code: ExitUsage, msg: "not an AWS region name"},
		{name: "cool-off longer than EBS allows", args: func(e, d string) []string {
			return append(awsArgs(e, d), "--lock", "compliance", "--lock-cool-off-hours", "100")
		}, code: ExitUsage, msg: "1 to 72"},
		{name: "unknown forensic key", args: func(e, d string) []string { return append(awsArgs(e, d), "--forensic-kms-key", "alias/none") },
			code: ExitNotFound, msg: "alias/none"},
		{name: "access denied at the share", edit: func(sc *awssim.Scenario) {
			sc.Accounts[0].Users[0].Allow = []string{"sts:*", "ec2:Describe*", "ec2:CreateSnapshot*", "ec2:CreateTags", "ec2:CopySnapshot", "ec2:DeleteSnapshot", "kms:*"}
		}, args: func(e, d string) []string { return awsArgs(e, d) }, code: ExitPermissionDenied, msg: "ec2:ModifySnapshotAttribute"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			endpoint, sim := rangeEnv(t, tc.edit)
			_, env := fixture(t)
			code, out, stderr := run(t, env, tc.args(endpoint, filepath.Join(t.TempDir(), "c"))...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)\n%s", code, tc.code, stderr, tc.msg, out)
			}
			if shares := sim.Shares(); len(shares) > 0 {
				t.Errorf("still shared: %+v", shares)
			}
		})
	}
}

// TestKMSCustodyKeyOnTheRange signs the case with the forensic account's KMS signing key through
// sigstore's awskms:// provider, against the simulator, and verifies it with the same URI.
func TestKMSCustodyKeyOnTheRange(t *testing.T) {
	endpoint, _ := rangeEnv(t, nil)
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFORENSICS0000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "cloudsim-forensics-analyst-secret")
	env := map[string]string{envOperator: "tester"}
	dir := filepath.Join(t.TempDir(), "case")
	if code, out, stderr := run(t, env, "custody", "init", dir, "--key", "awskms:///alias/custody", "--case-id", "IR-KMS"); code != ExitOK {
		t.Fatalf("init with a KMS key: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := run(t, env, "custody", "seal", dir, "--key", "awskms:///alias/custody"); code != ExitOK {
		t.Fatalf("seal: %d %s", code, stderr)
	}
	code, out, _ := run(t, env, "verify", dir, "--key", "awskms:///alias/custody")
	if code != ExitOK || !strings.Contains(out, "VERIFIED") {
		t.Fatalf("verify against the KMS key: %d\n%s", code, out)
	}
	recs, _ := custody.ReadRecords(dir)
	if recs[0].Statement.Predicate.Signer.KeyRef != "awskms:///alias/custody" {
		t.Errorf("record names key %q", recs[0].Statement.Predicate.Signer.KeyRef)
	}
}

func TestExportAndRehash(t *testing.T) {
	endpoint, _ := rangeEnv(t, nil)
	_, env := fixture(t)
	caseDir := filepath.Join(t.TempDir(), "IR-AWS")
	if code, out, stderr := run(t, env, awsArgs(endpoint, caseDir)...); code != ExitOK {
		t.Fatalf("acquire aws: %d\n%s\n%s", code, out, stderr)
	}
	outDir := filepath.Join(t.TempDir(), "export")
	exportArgs := func(item string, extra ...string) []string {
		return append([]string{"export", caseDir, "--item", item, "--out", outDir, "--forensic-profile", "forensics", "--endpoint", endpoint}, extra...)
	}
	// The shell completion offers the case's items.
	if code, out, _ := run(t, env, "__complete", "export", caseDir, "--item", ""); code != ExitOK || !strings.Contains(out, "from vol-0a1b2c3d4e5f60002") {
		t.Errorf("completion of --item: %d %s", code, out)
	}
	// Without --item, a case of three items lists them (usage), instead of naming an empty item.
	if code, _, stderr := run(t, env, "export", caseDir, "--out", outDir, "--forensic-profile", "forensics", "--endpoint", endpoint); code != ExitUsage ||
		!strings.Contains(stderr, "vol-0a1b2c3d4e5f60001") || !strings.Contains(stderr, "--item") {
		t.Fatalf("export without --item: %d %s", code, stderr)
	}
	// With another writer holding the case, nothing is downloaded: the export could not be recorded.
	holder, err := custody.Open(context.Background(), caseDir, custody.Options{Signer: mustSigner(t, env), Operator: "other"})
	if err != nil {
		t.Fatal(err)
	}
	lockedCode, _, lockedErr := run(t, env, exportArgs("vol-0a1b2c3d4e5f60002")...)
	holder.Close()
	if lockedCode != ExitConflict || !strings.Contains(lockedErr, "locked") {
		t.Fatalf("export of a locked case: %d %s", lockedCode, lockedErr)
	}
	if m, _ := filepath.Glob(filepath.Join(outDir, "*")); len(m) > 0 {
		t.Fatalf("the export of a locked case wrote %v", m)
	}
	// With another key, the error names the key the case is bound to.
	other := filepath.Join(t.TempDir(), "other")
	if code, _, stderr := run(t, env, "keygen", "--out", other); code != ExitOK {
		t.Fatalf("keygen: %s", stderr)
	}
	if code, _, stderr := run(t, env, exportArgs("vol-0a1b2c3d4e5f60002", "--key", other+".key")...); code == ExitOK || !strings.Contains(stderr, "is bound to key") {
		t.Fatalf("export with another key: %d %s", code, stderr)
	}
	code, out, stderr := run(t, env, exportArgs("vol-0a1b2c3d4e5f60002", "-o", "json")...)
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
	recs, _ := custody.ReadRecords(caseDir)
	if last := recs[len(recs)-1].Statement.Predicate; last.Action != "case.seal" {
		t.Errorf("the export left the case unsealed: last record %+v", last)
	}
	if exp := recs[len(recs)-2].Statement.Predicate; exp.Action != "export" || exp.Details["match"] != true || exp.Actor.Operator != "tester" {
		t.Fatalf("the export record: %+v", exp)
	}
	// Exported and recorded: a second export says so, naming the record.
	if code, _, stderr := run(t, env, exportArgs("vol-0a1b2c3d4e5f60002")...); code != ExitConflict || !strings.Contains(stderr, "as custody record") {
		t.Fatalf("second export: %d %s", code, stderr)
	}
	// An image finished by a run that could not record it (a crash after the rename) is checked
	// again and recorded by the next run.
	outDir2 := filepath.Join(t.TempDir(), "export2")
	os.MkdirAll(outDir2, 0o755)
	if data, err := os.ReadFile(res.Path); err != nil || os.WriteFile(filepath.Join(outDir2, filepath.Base(res.Path)), data, 0o644) != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, env, "export", caseDir, "--item", "vol-0a1b2c3d4e5f60002", "--out", outDir2, "--forensic-profile", "forensics", "--endpoint", endpoint)
	if code != ExitOK || !strings.Contains(stderr, "recorded now") {
		t.Fatalf("export over an unrecorded image: %d %s", code, stderr)
	}
	recs, _ = custody.ReadRecords(caseDir)
	if exp := recs[len(recs)-2].Statement.Predicate; exp.Action != "export" || exp.Details["path"] != filepath.Join(outDir2, filepath.Base(res.Path)) {
		t.Fatalf("the unrecorded export was not recorded: %+v", exp)
	}
	if code, _, stderr := run(t, env, exportArgs("vol-0000000000000dead")...); code != ExitNotFound || !strings.Contains(stderr, "vol-0a1b2c3d4e5f60001") {
		t.Fatalf("unknown item: %d %s", code, stderr)
	}

	pub := filepath.Join(filepath.Dir(env[envKey]), "custody.pub")
	code, out, _ = run(t, env, "verify", caseDir, "--key", pub, "--image", "vol-0a1b2c3d4e5f60002="+res.Path)
	if code != ExitOK || !strings.Contains(out, "MATCH") {
		t.Fatalf("verify --image: %d\n%s", code, out)
	}
	code, out, _ = run(t, env, "verify", caseDir, "--key", pub, "--rehash", "--forensic-profile", "forensics", "--endpoint", endpoint)
	if code != ExitOK || strings.Count(out, "  MATCH") != 3 {
		t.Fatalf("verify --rehash from the cloud: %d\n%s", code, out)
	}
	// A changed exported image is named.
	f, err := os.OpenFile(res.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{1}, 12345)
	f.Close()
	code, out, _ = run(t, env, "verify", caseDir, "--key", pub, "--image", "vol-0a1b2c3d4e5f60002="+res.Path)
	if code != ExitVerifyFailed || !strings.Contains(out, "MISMATCH") {
		t.Fatalf("verify of a changed image: %d\n%s", code, out)
	}

	// A case that fails verification is not exported, unless forced, and the override is recorded.
	arts, _ := filepath.Glob(filepath.Join(caseDir, "artifacts", "aws", "*", "instance.json"))
	if len(arts) == 0 {
		t.Fatal("no captured instance description")
	}
	os.Chmod(arts[0], 0o644)
	os.WriteFile(arts[0], []byte("{}\n"), 0o644)
	if code, _, stderr := run(t, env, exportArgs("vol-0a1b2c3d4e5f60003")...); code != ExitVerifyFailed || !strings.Contains(stderr, "--force") {
		t.Fatalf("export of a broken case: %d %s", code, stderr)
	}
	if code, _, stderr := run(t, env, exportArgs("vol-0a1b2c3d4e5f60003", "--force")...); code != ExitOK {
		t.Fatalf("forced export: %d %s", code, stderr)
	}
	// The override is the last record: a case that does not verify is not sealed again.
	recs, _, _ = custody.ReadReadableRecords(caseDir)
	if d := recs[len(recs)-1].Statement.Predicate.Details; d["verificationOverridden"] != true {
		t.Fatalf("the override is not recorded: %v", d)
	}

	// A case whose history was changed cannot be written: a forced export writes the image, says it is
	// not recorded, and fails.
	rec := filepath.Join(caseDir, "records", "0000000003.sigstore.json")
	data, _ := os.ReadFile(rec)
	os.Chmod(rec, 0o644)
	os.WriteFile(rec, append(data[:len(data)-1], ' ', '\n'), 0o644)
	files := func() int { m, _ := filepath.Glob(filepath.Join(caseDir, "records", "*.sigstore.json")); return len(m) }
	n := files()
	code, _, stderr = run(t, env, exportArgs("vol-0a1b2c3d4e5f60001", "--force")...)
	if code != ExitVerifyFailed || !strings.Contains(stderr, "NOT recorded") {
		t.Fatalf("forced export of a case with a changed record: %d %s", code, stderr)
	}
	if files() != n {
		t.Errorf("records were written on top of a changed history: %d, were %d", files(), n)
	}
}

// mustSigner loads the custody key the test environment names.
func mustSigner(t *testing.T, env map[string]string) *custody.Signer {
	t.Helper()
	s, err := custody.LoadSigner(context.Background(), env[envKey], func(bool) ([]byte, error) { return []byte(env[envPassword]), nil })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAWSStoppedRunSaysHowToContinue: a run that runs out of time says so once, with the command that
// continues it, and exits with the cancelled code; the log file holds the detail, and no secret.
func TestAWSStoppedRunSaysHowToContinue(t *testing.T) {
	endpoint, _ := rangeEnv(t, func(sc *awssim.Scenario) { sc.SnapshotBytesPerSecond = 1 << 20 })
	_, env := fixture(t)
	caseDir := filepath.Join(t.TempDir(), "IR-AWS")
	logFile := filepath.Join(t.TempDir(), "acquire.log")
	args := awsArgs(endpoint, caseDir, "--timeout", "1500ms", "--log-file", logFile)
	code, out, stderr := run(t, env, args...)
	if code != ExitCancelled {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitCancelled, out, stderr)
	}
	if !strings.Contains(out, "ran out of time") || !strings.Contains(out, "run the same command again:\n  acquire aws --case "+caseDir) {
		t.Errorf("the stopped run does not say how to continue:\n%s", out)
	}
	if strings.Contains(stderr, "context deadline exceeded") || strings.Contains(out, "FAILED") {
		t.Errorf("the stop is reported as failures:\n%s\n%s", out, stderr)
	}
	log, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(log), `"msg":"step done"`) {
		t.Fatalf("the log file holds no detail: %v\n%.300s", err, log)
	}
	if strings.Contains(string(log), "cloudsim-workload-responder-secret") || strings.Contains(string(log), env[envPassword]) {
		t.Error("the log file holds a secret")
	}
	// The same command again finishes the job.
	if code, out, stderr := run(t, env, awsArgs(endpoint, caseDir)...); code != ExitOK {
		t.Fatalf("the run that continues: %d\n%s\n%s", code, out, stderr)
	}
}
