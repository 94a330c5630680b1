package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go/middleware"

	"github.com/acquire-forensics/acquire/internal/testenv"
	"github.com/acquire-forensics/acquire/providers/aws/requestbody"
)

const scenarioFile = "../../testdata/scenarios/aws-two-accounts.json"

// runAsCloudsim makes the test binary run cloudsim's main instead of the
// tests, so that a test can start the range as a process of its own (see
// startRange) without building it.
const runAsCloudsim = "CLOUDSIM_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsCloudsim) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// readEnvFile parses the NAME='value' lines cloudsim writes.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		env[name] = strings.Trim(value, "'")
	}
	return env
}

// waitReady reads cloudsim's output until it says it is ready.
func waitReady(t *testing.T, out io.Reader) {
	t.Helper()
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if lines.Text() == "cloudsim: ready" {
			go io.Copy(io.Discard, out)
			return
		}
	}
	t.Fatalf("cloudsim stopped before it was ready: %v", lines.Err())
}

func TestRunServesAndStops(t *testing.T) {
	stateDir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	out, outWriter := io.Pipe()
	var stderr strings.Builder
	var code int
	var wg sync.WaitGroup
	wg.Go(func() {
		code = run(ctx, []string{"--scenario", scenarioFile, "--state-dir", stateDir}, outWriter, &stderr)
		outWriter.Close()
	})
	waitReady(t, out)

	env := readEnvFile(t, filepath.Join(stateDir, "cloudsim.env"))
	for _, name := range []string{"AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "CLOUDSIM_AWS_FORENSICS_SECRET_ACCESS_KEY"} {
		if env[name] == "" {
			t.Errorf("env file lacks %s", name)
		}
	}
	cfg, err := config.LoadDefaultConfig(t.Context(),
		config.WithSharedConfigFiles([]string{env["AWS_CONFIG_FILE"]}),
		config.WithSharedCredentialsFiles([]string{env["AWS_SHARED_CREDENTIALS_FILE"]}),
		config.WithSharedConfigProfile("forensics"),
		config.WithRetryMaxAttempts(1),
		config.WithAPIOptions([]func(*middleware.Stack) error{requestbody.Guard}))
	if err != nil {
		t.Fatal(err)
	}
	// endpoint_url comes from the generated config file.
	snaps, err := ec2.NewFromConfig(cfg).DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps.Snapshots) != 0 {
		t.Errorf("forensics owns %d snapshots at start", len(snaps.Snapshots))
	}

	cancel()
	wg.Wait()
	if code != exitOK {
		t.Errorf("exit code %d: %s", code, stderr.String())
	}
}

func TestUsage(t *testing.T) {
	var stderr strings.Builder
	if code := run(t.Context(), nil, io.Discard, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "usage: cloudsim --scenario FILE") || !strings.Contains(stderr.String(), "--state-dir") {
		t.Errorf("no scenario: exit %d, %q", code, stderr.String())
	}
	if code := run(t.Context(), []string{"--scenario", "nope.json"}, io.Discard, io.Discard); code != exitError {
		t.Errorf("missing scenario file: exit %d", code)
	}
}

// awsCLI finds the AWS CLI on PATH (Debian's, or any other that runs). Under CI it must be there.
func awsCLI(t *testing.T) string { return testenv.RequireTool(t, "aws", "--version") }

// TestAWSCLI builds cloudsim, starts it, and drives it with the AWS CLI
// through the generated config and credentials files.
func TestAWSCLI(t *testing.T) {
	cli := awsCLI(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "cloudsim")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	stateDir := filepath.Join(dir, "state")
	sim := exec.Command(bin, "--scenario", scenarioFile, "--state-dir", stateDir)
	stdout, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Process.Signal(os.Interrupt)
		sim.Wait()
	})
	waitReady(t, stdout)
	env := readEnvFile(t, filepath.Join(stateDir, "cloudsim.env"))

	awsRun := func(profile string, args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--endpoint-url", env["AWS_ENDPOINT_URL"], "--profile", profile, "--output", "json"}, args...)...)
		cmd.Env = []string{
			"HOME=" + dir, "PATH=/usr/bin:/bin",
			"AWS_CONFIG_FILE=" + env["AWS_CONFIG_FILE"], "AWS_SHARED_CREDENTIALS_FILE=" + env["AWS_SHARED_CREDENTIALS_FILE"],
			"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		}
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if exitErr, ok := err.(*exec.ExitError); ok {
				stderr = exitErr.Stderr
			}
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		result := map[string]any{}
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &result); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return result
	}

	instances := awsRun("workload", "ec2", "describe-instances")
	if !strings.Contains(mustJSON(t, instances), "i-0a1b2c3d4e5f60001") {
		t.Fatalf("describe-instances: %v", instances)
	}
	created := awsRun("workload", "ec2", "create-snapshot", "--volume-id", "vol-0a1b2c3d4e5f60003", "--description", "case 42")
	snapID, _ := created["SnapshotId"].(string)
	if !strings.HasPrefix(snapID, "snap-") {
		t.Fatalf("create-snapshot: %v", created)
	}
	state := ""
	for range 20 {
		described := awsRun("workload", "ec2", "describe-snapshots", "--snapshot-ids", snapID)
		state = described["Snapshots"].([]any)[0].(map[string]any)["State"].(string)
		if state == "completed" {
			break
		}
	}
	if state != "completed" {
		t.Fatalf("snapshot state %s", state)
	}
	awsRun("workload", "ec2", "modify-snapshot-attribute", "--snapshot-id", snapID,
		"--attribute", "createVolumePermission", "--operation-type", "add", "--user-ids", "222222222222")
	copied := awsRun("forensics", "ec2", "copy-snapshot", "--source-region", "us-east-1", "--source-snapshot-id", snapID,
		"--encrypted", "--kms-key-id", "alias/evidence", "--description", "forensic copy")
	copyID, _ := copied["SnapshotId"].(string)
	if !strings.HasPrefix(copyID, "snap-") {
		t.Fatalf("copy-snapshot: %v", copied)
	}
	described := awsRun("forensics", "ec2", "describe-snapshots", "--snapshot-ids", copyID)
	copy := described["Snapshots"].([]any)[0].(map[string]any)
	if copy["OwnerId"] != "222222222222" || copy["State"] == "error" {
		t.Errorf("copy: %v", copy)
	}
}

func mustJSON(t *testing.T, v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestAWSSummaryNamesProfiles: the start-up summary names the profile each account's first user gets,
// the account's ID where it has no name, and no secret.
func TestAWSSummaryNamesProfiles(t *testing.T) {
	raw := []byte(`{"accounts": [
	  {"id": "111111111111", "name": "Workload Prod", "users": [{"name": "responder", "accessKeyId": "AKIASUMMARY000000001", "secretAccessKey": "summary-secret-1"}]},
	  {"id": "222222222222", "users": [{"name": "examiner", "accessKeyId": "AKIASUMMARY000000002", "secretAccessKey": "summary-secret-2"}]}]}`)
	c, err := newAWSCloud(raw, t.TempDir(), slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Summary(), "\n")
	for _, want := range []string{"account 111111111111, profile workload-prod: ", "account 222222222222, profile 222222222222: "} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `""`) || strings.Contains(got, "summary-secret") {
		t.Errorf("summary shows an empty name or a secret:\n%s", got)
	}
}
