package custody

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
)

func testSigner(t testing.TB) *Signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(context.Background(), sv, "file")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testVerifier(t testing.TB, s *Signer) *Verifier {
	t.Helper()
	v, err := NewVerifier(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// steppingClock returns a clock that starts at a fixed instant and moves one second per reading.
func steppingClock() func() time.Time {
	var n atomic.Int64
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * time.Second) }
}

func testOptions(s *Signer) Options {
	return Options{
		Signer:    s,
		Operator:  "analyst@example.org",
		Tool:      Tool{Name: "acquire", Version: "test", Commit: "0000000"},
		Authority: &Authority{Ticket: "IR-42", Justification: "test", Approver: "lead@example.org"},
		Now:       steppingClock(),
	}
}

// newCase creates a case with n records after the opening one, an artifact cited by record 2, and
// seals it when seal is set.
func newCase(t testing.TB, s *Signer, n int, seal bool) string {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "case")
	l, err := Create(ctx, dir, "IR-42", testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range n {
		e := Entry{Action: "note", Note: "event " + string(rune('a'+i%26))}
		if i == 0 {
			sub, err := l.AddArtifact("i-0abc/config.json", []byte(`{"instance":"i-0abc"}`), "application/json")
			if err != nil {
				t.Fatal(err)
			}
			e.Action, e.Subjects = "capture.config", []Subject{sub}
		}
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if seal {
		if _, err := l.Seal(ctx, "sealed for test"); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func verifyCase(t testing.TB, dir string, v *Verifier) *Report {
	t.Helper()
	r, err := Verify(context.Background(), dir, VerifyOptions{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeFile replaces a case file, whatever its mode.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	_ = os.Chmod(path, 0o644)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// caseFiles lists the evidence files of a case, slash-separated and sorted: not the lock, the cache or
// temporary files.
func caseFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func hasCode(r *Report, code string) bool {
	for _, p := range r.Problems {
		if p.Code == code {
			return true
		}
	}
	return false
}
