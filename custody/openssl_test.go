package custody

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/internal/testenv"
	"github.com/acquire-forensics/acquire/internal/testtsa"
)

// TestOpenSSLRoute runs the auditors' standard-tools script (docs/verify-openssl.sh: jq, openssl,
// sha256sum) on a time-stamped case this package wrote, then on tampered copies of it.
func TestOpenSSLRoute(t *testing.T) {
	for _, tool := range []string{"bash", "jq", "openssl", "sha256sum"} {
		testenv.RequireTool(t, tool)
	}
	tsa := testtsa.Start(t)
	s := testSigner(t)
	ctx := context.Background()
	opts := testOptions(s)
	opts.TSA = NewTimestampAuthority(tsa.URL, parseTrust(t, tsa.RootPEM), nil)
	opts.Now = nil
	dir := filepath.Join(t.TempDir(), "case")
	l, err := Create(ctx, dir, "IR-OSSL", opts)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := l.AddArtifact("i-1/config.json", []byte(`{"id":"i-1"}`), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range []Entry{{Action: "capture.config", Subjects: []Subject{sub}}, {Action: "note", Note: "two"}, {Action: "note", Note: "three"}, {Action: "note", Note: "four"}} {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(i, err)
		}
	}
	if _, err := l.Seal(ctx, ""); err != nil {
		t.Fatal(err)
	}
	l.Close()
	work := t.TempDir()
	pub := filepath.Join(dir, PublicKeyFile)
	roots := filepath.Join(work, "tsa-roots.pem")
	if err := os.WriteFile(roots, tsa.RootPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(caseDir string) (string, bool) {
		cmd := exec.Command("bash", "../docs/verify-openssl.sh", caseDir, pub, roots)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err == nil
	}
	if out, ok := run(dir); !ok || !strings.Contains(out, "OK: case IR-OSSL, 6 records") {
		t.Fatalf("the script rejects a good case:\n%s", out)
	}

	tampered := func(name string, tamper func(dir string)) string {
		d := filepath.Join(work, name)
		if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		tamper(d)
		return d
	}
	cases := []struct {
		name, want string
		tamper     func(dir string)
	}{
		{"payload", "record 3 (0000000003.sigstore.json): signature does not verify", func(d string) {
			editRecordPayload(t, d, 3, func(p []byte) []byte { return bytes.Replace(p, []byte("two"), []byte("TWO"), 1) })
		}},
		{"removed", "record 4: missing", func(d string) { os.Remove(filepath.Join(d, RecordPath(4))) }},
		{"tail", "covers 6 records but only 5 are present", func(d string) { os.Remove(filepath.Join(d, RecordPath(6))) }},
		{"artifact", "artifacts/i-1/config.json: does not match record 2", func(d string) {
			writeFile(t, filepath.Join(d, "artifacts/i-1/config.json"), []byte(`{"id":"i-2"}`))
		}},
		{"timestamp", "record 2: time-stamp does not verify", func(d string) {
			// Swap record 2's time-stamp for record 3's: a genuine token, over another signature.
			a, _ := os.ReadFile(filepath.Join(d, RecordPath(2)))
			b, _ := os.ReadFile(filepath.Join(d, RecordPath(3)))
			ba, _, _ := parseRecord(a)
			bb, _, _ := parseRecord(b)
			ba.VerificationMaterial.TimestampVerificationData = bb.VerificationMaterial.TimestampVerificationData
			out, _ := ba.encode()
			writeFile(t, filepath.Join(d, RecordPath(2)), out)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := run(tampered(tc.name, tc.tamper))
			if ok || !strings.Contains(out, tc.want) {
				t.Fatalf("want failure naming %q, got ok=%v:\n%s", tc.want, ok, out)
			}
		})
	}
}
