package gcp

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/acquire-forensics/acquire/providers/providertest"
)

// TestAcquireHelperProcess is not a test: the kill tests run the test binary with it selected to
// acquire in a separate process, which they then kill.
func TestAcquireHelperProcess(t *testing.T) {
	endpoint := os.Getenv("ACQUIRE_KILL_ENDPOINT")
	if endpoint == "" {
		return
	}
	cfg := testConfig(endpoint, os.Getenv("ACQUIRE_KILL_CREDENTIALS"))
	if f := os.Getenv("ACQUIRE_KILL_FORENSIC_CREDENTIALS"); f != "" {
		cfg = stagedConfig(endpoint, cfg.CredentialsFile, f)
	}
	cfg.Worker.ImageBucket = os.Getenv("ACQUIRE_KILL_IMAGE_BUCKET")
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	env := harness{}.envFor(d, nil)
	c := providertest.CaseWithKey(t, os.Getenv("ACQUIRE_KILL_CASE"), os.Getenv("ACQUIRE_KILL_KEY"))
	_, _ = providertest.Acquire(context.Background(), t, env, c, env.Scenarios[os.Getenv("ACQUIRE_KILL_SCENARIO")], nil)
}

// killHarness runs the simulator slowly enough that a snapshot of a few blocks takes a few hundred
// milliseconds, so that kills fall while the cloud is still working.
type killHarness struct{ harness }

func (h killHarness) New(t *testing.T) *providertest.Env {
	sc := scenario(t)
	sc.SnapshotBytesPerSecond = 6 << 20
	e := startSim(t, sc)
	env := h.envFor(newDriver(t, testConfig(e.url, e.keyFile)), e.sim)
	env.HelperEnv = []string{"ACQUIRE_KILL_ENDPOINT=" + e.url, "ACQUIRE_KILL_CREDENTIALS=" + e.keyFile}
	return env
}

func (h killHarness) HelperCommand(env *providertest.Env, scenario, caseDir, keyFile string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcquireHelperProcess$")
	cmd.Env = append(append(os.Environ(), env.HelperEnv...), "ACQUIRE_KILL_CASE="+caseDir, "ACQUIRE_KILL_KEY="+keyFile, "ACQUIRE_KILL_SCENARIO="+scenario)
	return cmd
}

// TestKilledAcquisition kills acquiring processes (SIGKILL) at every step boundary, each resuming the
// case the previous one left, then finishes in this process with the end state of an uninterrupted run.
func TestKilledAcquisition(t *testing.T) {
	providertest.RunKillTests(t, killHarness{})
}
