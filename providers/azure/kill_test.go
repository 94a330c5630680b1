package azure

import (
	"context"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// TestAcquireHelperProcess is not a test: the kill tests run the test binary with it selected to
// acquire in a separate process, which they then kill.
func TestAcquireHelperProcess(t *testing.T) {
	endpoint := os.Getenv("ACQUIRE_KILL_ENDPOINT")
	if endpoint == "" {
		return
	}
	ca, err := os.ReadFile(os.Getenv("ACQUIRE_KILL_CA"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	d, err := New(clientWithCA(endpoint, pool).config(t))
	if err != nil {
		t.Fatal(err)
	}
	env := harness{}.envFor(d, nil)
	c := providertest.CaseWithKey(t, os.Getenv("ACQUIRE_KILL_CASE"), os.Getenv("ACQUIRE_KILL_KEY"))
	consistency := driver.Consistency(os.Getenv("ACQUIRE_KILL_CONSISTENCY"))
	_, _ = providertest.Acquire(context.Background(), t, env, c, env.Scenarios[os.Getenv("ACQUIRE_KILL_SCENARIO")], func(o *acquisition.Options) {
		o.Consistency = consistency
	})
}

// killHarness runs the simulator slowly enough that a copy of a few blocks takes a few hundred
// milliseconds, so that kills fall while the cloud is still working.
type killHarness struct{ harness }

func (h killHarness) New(t *testing.T) *providertest.Env {
	sc := scenario(t)
	sc.SnapshotBytesPerSecond = 6 << 20
	sim, d, rc := startSim(t, sc, nil)
	env := h.envFor(d, sim)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, sim.CA().CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	env.HelperEnv = []string{"ACQUIRE_KILL_ENDPOINT=" + rc.url, "ACQUIRE_KILL_CA=" + caFile}
	return env
}

func (h killHarness) HelperCommand(env *providertest.Env, scenario, caseDir, keyFile string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcquireHelperProcess$")
	cmd.Env = append(append(os.Environ(), env.HelperEnv...), "ACQUIRE_KILL_CASE="+caseDir, "ACQUIRE_KILL_KEY="+keyFile, "ACQUIRE_KILL_SCENARIO="+scenario)
	return cmd
}

// TestKilledAcquisition kills acquiring processes (SIGKILL) at every step boundary, each resuming the
// case the previous one left, then finishes in this process with the end state of an uninterrupted
// run: no SAS left open, nothing left in the source subscription.
func TestKilledAcquisition(t *testing.T) {
	providertest.RunKillTests(t, killHarness{})
}
