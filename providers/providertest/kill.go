package providertest

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

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/acquire-forensics/acquire/custody"
)

// Killable is a harness whose acquisitions can also run in a helper process, for the SIGKILL tests.
type Killable interface {
	Harness
	// HelperCommand is this test binary run as a helper process that acquires the named scenario into
	// the case, signed with the key file, against env's simulator (by calling Acquire in the process).
	HelperCommand(env *Env, scenario, caseDir, keyFile string) *exec.Cmd
}

// RunKillTests kills acquiring processes (SIGKILL) at every step boundary: each helper process is
// killed as soon as it writes a record of a step (intent or result) that no earlier process wrote, so
// that each dies one boundary further into the acquisition than the one before, and the next resumes
// the case it left. Once a helper finishes on its own, a last run in this process must find nothing to redo
// wrongly: the end state is an uninterrupted run's.
func RunKillTests(t *testing.T, h Killable) {
	for _, name := range []string{"two-volume-instance", "default-key"} {
		t.Run(name, func(t *testing.T) {
			env := h.New(t)
			if _, ok := env.Scenarios[name]; !ok {
				if name == "two-volume-instance" {
					t.Fatalf("the harness has no scenario %q", name)
				}
				return // a scenario of some clouds only
			}
			key := writeKey(t)
			c := CaseWithKey(t, filepath.Join(t.TempDir(), "case"), key)
			kills := 0
			for range 400 {
				seen := steps(c.Dir)
				before := recordFiles(c.Dir)
				cmd := h.HelperCommand(env, name, c.Dir, key)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				finished := false
			watch:
				for {
					select {
					case err := <-done:
						if err != nil {
							t.Fatalf("helper process: %v", err)
						}
						finished = true
						break watch
					case <-time.After(time.Millisecond):
						if recordFiles(c.Dir) > before && newStep(c.Dir, seen) {
							_ = cmd.Process.Signal(syscall.SIGKILL)
							<-done
							kills++
							break watch
						}
					}
				}
				if finished {
					break
				}
			}
			// Records written in a burst (volumes in parallel, a loaded machine) can share a kill, so how many
			// boundaries had a kill of their own depends on timing; the end state may not.
			total := len(steps(c.Dir))
			if kills < 5 {
				t.Errorf("only %d processes were killed for %d step records: the boundaries were not reached", kills, total)
			}
			t.Logf("%d processes killed for %d step records, each at a step boundary no earlier one reached", kills, total)
			sc := env.Scenarios[name]
			res, err := Acquire(context.Background(), t, env, c, sc, nil)
			if err != nil {
				t.Fatalf("the run after the kills: %v", err)
			}
			CheckEndState(t, env, c, sc, res)
		})
	}
}

// steps lists the step records a case holds, by step and phase.
func steps(dir string) map[string]bool {
	recs, _, _ := custody.ReadReadableRecords(dir)
	out := map[string]bool{}
	for _, r := range recs {
		if ev := r.Statement.Predicate; ev.Step != "" {
			out[ev.Step+"|"+ev.Phase] = true
		}
	}
	return out
}

// newStep reports whether the case holds a step record not in seen.
func newStep(dir string, seen map[string]bool) bool {
	for k := range steps(dir) {
		if !seen[k] {
			return true
		}
	}
	return false
}

func recordFiles(dir string) int {
	m, _ := filepath.Glob(filepath.Join(dir, "records", "*.sigstore.json"))
	return len(m)
}

// writeKey writes an unencrypted custody key a helper process can load.
func writeKey(t *testing.T) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := cryptoutils.MarshalPrivateKeyToPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "custody.key")
	if err := os.WriteFile(key, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}
