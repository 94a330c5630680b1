package aws

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// TestAcquireHelperProcess is not a test: TestKilledAcquisition runs the test binary with it selected
// to acquire in a separate process, which it then kills.
func TestAcquireHelperProcess(t *testing.T) {
	endpoint := os.Getenv("ACQUIRE_KILL_ENDPOINT")
	if endpoint == "" {
		return
	}
	d, err := New(context.Background(), Config{
		Region: region, ForensicAccount: forensicAccount, Endpoint: endpoint, RetryMaxBackoff: 50 * time.Millisecond,
		SourceCredentials:   credentials.NewStaticCredentialsProvider("AKIASOURCE0000000001", "source-secret", ""),
		ForensicCredentials: credentials.NewStaticCredentialsProvider("AKIAFORENSIC00000001", "forensic-secret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	env := killEnv(d)
	c := providertest.CaseWithKey(t, os.Getenv("ACQUIRE_KILL_CASE"), os.Getenv("ACQUIRE_KILL_KEY"))
	_, _ = providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], nil)
}

func killEnv(d *Driver) *providertest.Env {
	env := harness{}.envFor(d, nil)
	return env
}

// TestKilledAcquisition kills acquiring processes (SIGKILL) at several instants, each resuming the
// case the previous one left, then finishes in this process: one copy per volume, nothing shared, no
// temporary key alive, a case that verifies.
func TestKilledAcquisition(t *testing.T) {
	sc := scenario(t)
	sc.SnapshotBytesPerSecond = 6 << 20 // a snapshot or copy of a few written blocks takes a few hundred ms
	sim, d, url := startSim(t, sc, nil)
	env := harness{}.envFor(d, sim)

	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemBytes, err := cryptoutils.MarshalPrivateKeyToPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "custody.key")
	if err := os.WriteFile(key, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	c := providertest.CaseWithKey(t, filepath.Join(t.TempDir(), "case"), key)
	for _, after := range []time.Duration{150, 450, 900, 1400} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAcquireHelperProcess$")
		cmd.Env = append(os.Environ(), "ACQUIRE_KILL_ENDPOINT="+url, "ACQUIRE_KILL_CASE="+c.Dir, "ACQUIRE_KILL_KEY="+key)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		recs, _ := custody.ReadRecords(c.Dir)
		t.Logf("killed after %v: the case holds %d records", after*time.Millisecond, len(recs))
	}
	res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], nil)
	if err != nil {
		t.Fatalf("the run after the kills: %v", err)
	}
	providertest.CheckEndState(t, env, c, env.Scenarios["two-volume-instance"], res)

}

var _ driver.Driver = (*Driver)(nil)
