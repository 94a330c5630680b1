package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/acquire-forensics/acquire/providers/aws/requestbody"
)

// rangeProcess is cloudsim running as a process of its own: the test binary
// re-executed as cloudsim (see TestMain).
type rangeProcess struct {
	cmd    *exec.Cmd
	lines  chan string // standard output, line by line; closed at exit
	stderr bytes.Buffer
}

func startRange(t *testing.T, args ...string) *rangeProcess {
	t.Helper()
	p := &rangeProcess{lines: make(chan string, 64)}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), runAsCloudsim+"=1")
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.lines)
		for lines := bufio.NewScanner(stdout); lines.Scan(); {
			p.lines <- lines.Text()
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// ready returns the range's output up to "cloudsim: ready".
func (p *rangeProcess) ready(t *testing.T) []string {
	t.Helper()
	var out []string
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.cmd.Wait()
				t.Fatalf("cloudsim stopped before it was ready:\n%s\n%s", strings.Join(out, "\n"), p.stderr.String())
			}
			if out = append(out, line); line == "cloudsim: ready" {
				return out
			}
		case <-timeout:
			t.Fatalf("cloudsim is not ready after a minute:\n%s", strings.Join(out, "\n"))
		}
	}
}

// stop sends sig and returns the rest of the output once the process has
// exited.
func (p *rangeProcess) stop(t *testing.T, sig os.Signal) ([]string, error) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range p.lines {
		out = append(out, line)
	}
	return out, p.cmd.Wait()
}

func wantLine(t *testing.T, lines []string, prefix string) {
	t.Helper()
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) }) {
		t.Errorf("no line starts with %q in:\n%s", prefix, strings.Join(lines, "\n"))
	}
}

// workloadEC2 is an EC2 client of the workload account, configured from the
// files the range wrote into its state directory.
func workloadEC2(t *testing.T, stateDir string) *ec2.Client {
	t.Helper()
	env := readEnvFile(t, filepath.Join(stateDir, "cloudsim.env"))
	cfg, err := config.LoadDefaultConfig(t.Context(),
		config.WithSharedConfigFiles([]string{env["AWS_CONFIG_FILE"]}),
		config.WithSharedCredentialsFiles([]string{env["AWS_SHARED_CREDENTIALS_FILE"]}),
		config.WithSharedConfigProfile("workload"),
		config.WithRetryMaxAttempts(1),
		config.WithAPIOptions([]func(*middleware.Stack) error{requestbody.Guard}))
	if err != nil {
		t.Fatal(err)
	}
	return ec2.NewFromConfig(cfg)
}

const logsVolume = "vol-0a1b2c3d4e5f60003"

// A range started again with the same --state-dir finds what clients left:
// after SIGKILL, what was saved after the last change; after SIGTERM,
// everything.
func TestStateSurvivesRestart(t *testing.T) {
	stateDir := t.TempDir()
	args := []string{"--scenario", scenarioFile, "--state-dir", stateDir}
	statePath := filepath.Join(stateDir, "aws-state.json")

	first := startRange(t, args...)
	wantLine(t, first.ready(t), "cloudsim: aws: no saved state; started from the scenario")
	created, err := workloadEC2(t, stateDir).CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{
		VolumeId: aws.String(logsVolume), Description: aws.String("case 42"),
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := aws.ToString(created.SnapshotId)
	// The range saves after each change, without being asked.
	for deadline := time.Now().Add(10 * time.Second); ; {
		data, _ := os.ReadFile(statePath)
		if bytes.Contains(data, []byte(snap)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hold %s ten seconds after it was created", statePath, snap)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.stop(t, syscall.SIGKILL)

	second := startRange(t, args...)
	wantLine(t, second.ready(t), "cloudsim: aws: restored 1 snapshot (saved ")
	client := workloadEC2(t, stateDir) // the endpoint has changed
	found, err := client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
	if err != nil {
		t.Fatal(err)
	}
	if d := aws.ToString(found.Snapshots[0].Description); d != "case 42" {
		t.Errorf("restored snapshot's description %q", d)
	}
	created, err = client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(logsVolume)})
	if err != nil {
		t.Fatal(err)
	}
	if other := aws.ToString(created.SnapshotId); other == snap {
		t.Fatalf("the new snapshot has the restored one's ID %s", snap)
	}
	other := aws.ToString(created.SnapshotId)
	if _, err := client.CreateTags(t.Context(), &ec2.CreateTagsInput{Resources: []string{snap},
		Tags: []types.Tag{{Key: aws.String("status"), Value: aws.String("held")}}}); err != nil {
		t.Fatal(err)
	}
	out, err := second.stop(t, syscall.SIGTERM)
	if err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, second.stderr.String())
	}
	wantLine(t, out, "cloudsim: state saved in "+stateDir)

	third := startRange(t, args...)
	wantLine(t, third.ready(t), "cloudsim: aws: restored 2 snapshots (saved ")
	own, err := workloadEC2(t, stateDir).DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range own.Snapshots {
		ids = append(ids, aws.ToString(s.SnapshotId))
	}
	if !slices.Equal(ids, []string{snap, other}) {
		t.Fatalf("after the second restart the workload owns %v, want %v", ids, []string{snap, other})
	}
	if tags := own.Snapshots[0].Tags; len(tags) != 1 || aws.ToString(tags[0].Value) != "held" {
		t.Errorf("tags %+v: the change made just before SIGTERM was lost", tags)
	}
	if _, err := third.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, third.stderr.String())
	}
}

// A state file the simulator refuses stops the range with an error that
// says what to do.
func TestRefusedStateStopsTheRange(t *testing.T) {
	stateDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(stateDir, "aws-state.json"), []byte("{truncated"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	code := run(t.Context(), []string{"--scenario", scenarioFile, "--state-dir", stateDir}, &strings.Builder{}, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "remove that file to start afresh from the scenario") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}

// A start that fails (here: the address is taken) leaves no state behind, so that the next start,
// with another scenario, is not refused for a state saved for this one.
func TestFailedStartLeavesNoState(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	stateDir := t.TempDir()
	var stderr bytes.Buffer
	code := run(t.Context(), []string{"--scenario", scenarioFile, "--state-dir", stateDir, "--listen", busy.Addr().String()}, io.Discard, &stderr)
	if code == exitOK {
		t.Fatal("the range started on a taken address")
	}
	if _, err := os.Stat(filepath.Join(stateDir, "aws-state.json")); err == nil {
		t.Fatal("the failed start left a state file")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(stateDir, ".cloudsim-writable-*")); len(leftovers) > 0 {
		t.Errorf("the writability probe was left: %v", leftovers)
	}
	// The next start finds no state of the failed one.
	p := startRange(t, "--scenario", scenarioFile, "--state-dir", stateDir)
	wantLine(t, p.ready(t), "cloudsim: aws: no saved state; started from the scenario")
	if _, err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("stop: %v", err)
	}
}
