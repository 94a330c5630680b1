package custody

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// TestCrashHelperProcess is not a test: TestKilledWriter runs the test binary with it selected, and it
// writes to a case until it is killed.
func TestCrashHelperProcess(t *testing.T) {
	dir, key := os.Getenv("ACQUIRE_CRASH_CASE"), os.Getenv("ACQUIRE_CRASH_KEY")
	if dir == "" {
		return
	}
	ctx := context.Background()
	s, err := LoadSigner(ctx, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(ctx, dir, testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		e := Entry{Action: "note", Note: fmt.Sprint(i)}
		if i%7 == 3 {
			sub, err := l.AddArtifact(fmt.Sprintf("a/%d-%d.json", os.Getpid(), i), []byte(fmt.Sprint(i)), "application/json")
			if err != nil {
				t.Fatal(err)
			}
			e.Subjects = []Subject{sub}
		}
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		if i%11 == 5 {
			if _, err := l.Seal(ctx, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// completeSeal opens the case, which completes an interrupted seal, and checks that it did so
// without a new record.
func completeSeal(t *testing.T, dir string, s *Signer) {
	t.Helper()
	before, _, err := ReadReadableRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(context.Background(), dir, testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	r := verifyCase(t, dir, testVerifier(t, s))
	if !r.OK() || !r.EndsSealed() || r.Records != uint64(len(before)) {
		t.Fatalf("opening did not complete the interrupted seal: %d records (were %d), %v", r.Records, len(before), r.Problems)
	}
}

// TestKilledWriter kills a writing process (SIGKILL) at arbitrary instants: each time the case must
// verify up to its last complete record, and reopen for appending.
func TestKilledWriter(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyPEM, err := cryptoutils.MarshalPrivateKeyToPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "custody.key")
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := LoadSigner(ctx, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := testVerifier(t, s)
	dir := filepath.Join(t.TempDir(), "case")
	l, err := Create(ctx, dir, "IR-CRASH", testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	var last uint64
	// Six kills at set moments; then, on a machine too loaded for the writer to have written ten
	// records by then, more kills a little later each time, up to twenty.
	delays := []time.Duration{30, 70, 110, 160, 230, 310}
	for round := 0; round < len(delays) || (last < 10 && round < len(delays)+20); round++ {
		delay := 310 + 50*time.Duration(round-len(delays)+1)
		if round < len(delays) {
			delay = delays[round]
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$")
		cmd.Env = append(os.Environ(), "ACQUIRE_CRASH_CASE="+dir, "ACQUIRE_CRASH_KEY="+key)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		r := verifyCase(t, dir, v)
		if !r.OK() {
			// Killed after writing a seal record and before its checkpoint or manifest: that seal
			// does not hold until a writer completes it, and nothing else may be wrong.
			if !interruptedSeal(r) {
				t.Fatalf("round %d: after a kill the case does not verify: %v", round, r.Problems)
			}
			completeSeal(t, dir, s)
			if r = verifyCase(t, dir, v); !r.OK() {
				t.Fatalf("round %d: the interrupted seal was completed, yet: %v", round, r.Problems)
			}
		}
		for _, w := range r.Warnings {
			switch w.Code {
			case WarnTemporaryFile, WarnIncomplete, WarnUnsealed, WarnUncitedArtifact:
			default:
				t.Errorf("round %d: unexpected warning %v", round, w)
			}
		}
		if r.Records < last {
			t.Fatalf("round %d: %d records, fewer than the %d before", round, r.Records, last)
		}
		last = r.Records
	}
	if last < 10 {
		t.Fatalf("the writer wrote only %d records in all %d rounds", last, len(delays)+20)
	}
	// After the last kill the case opens, continues and seals cleanly.
	l, err = Open(ctx, dir, testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(ctx, "after the crash"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if r := verifyCase(t, dir, v); !r.OK() {
		t.Fatalf("sealed after the crashes: %v", r.Problems)
	}
	t.Logf("%d records written across 6 killed writers", last)
}
