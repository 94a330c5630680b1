package custody

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/acquire-forensics/acquire/internal/testenv"
	"github.com/acquire-forensics/acquire/internal/testtsa"
)

// TestCosignRoute checks a time-stamped case the way docs/VERIFYING.md tells auditors to with cosign
// v3, offline: every record with verify-blob-attestation, the checkpoint and manifest with verify-blob,
// time-stamps against a trusted_root.json naming only the TSA. Then a changed record must fail.
func TestCosignRoute(t *testing.T) {
	cosign := testenv.RequireTool(t, "cosign")
	tsa := testtsa.Start(t)
	trust := parseTrust(t, tsa.RootPEM)
	s := testSigner(t)
	ctx := context.Background()
	opts := testOptions(s)
	opts.Now = nil
	opts.TSA = NewTimestampAuthority(tsa.URL, trust, nil)
	dir := filepath.Join(t.TempDir(), "case")
	l, err := Create(ctx, dir, "IR-COSIGN", opts)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := l.AddArtifact("config.json", []byte(`{}`), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, Entry{Action: "capture.config", Subjects: []Subject{sub}}); err != nil {
		t.Fatal(err)
	}
	sealed, err := l.Seal(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	work := t.TempDir()
	root, err := TrustedRootJSON(trust, tsa.URL)
	if err != nil {
		t.Fatal(err)
	}
	trustedRoot := filepath.Join(work, "trusted_root.json")
	if err := os.WriteFile(trustedRoot, root, 0o644); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, PublicKeyFile)
	cosignRun := func(args ...string) (string, error) {
		cmd := exec.Command(cosign, args...)
		cmd.Env = append(os.Environ(), "HOME="+work) // no cached TUF state, no network
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	verifyRecord := func(path string) (string, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, st, err := parseRecord(data)
		if err != nil {
			return "", err
		}
		return cosignRun("verify-blob-attestation", "--key", pub, "--bundle", path, "--type", PredicateType,
			"--trusted-root", trustedRoot, "--use-signed-timestamps", "--insecure-ignore-tlog=true",
			"--digest", st.Subject[0].Digest["sha256"], "--digestAlg", "sha256")
	}
	for seq := uint64(1); seq <= 3; seq++ {
		if out, err := verifyRecord(filepath.Join(dir, RecordPath(seq))); err != nil {
			t.Fatalf("cosign rejects record %d: %v\n%s", seq, err, out)
		}
	}
	for _, f := range []string{sealed.Checkpoint.Path, sealed.Manifest.Path} {
		path := filepath.Join(dir, f)
		if out, err := cosignRun("verify-blob", "--key", pub, "--bundle", path+".sigstore.json", "--trusted-root", trustedRoot,
			"--use-signed-timestamps", "--insecure-ignore-tlog=true", path); err != nil {
			t.Fatalf("cosign rejects %s: %v\n%s", f, err, out)
		}
	}

	// Time-stamps are checked: under another authority's root the same record fails.
	otherRoot, err := TrustedRootJSON(parseTrust(t, testtsa.Start(t).RootPEM), "other")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trustedRoot, otherRoot, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := verifyRecord(filepath.Join(dir, RecordPath(2))); err == nil {
		t.Fatalf("cosign accepts time-stamps under another authority's root:\n%s", out)
	}
	if err := os.WriteFile(trustedRoot, root, 0o644); err != nil {
		t.Fatal(err)
	}

	// A changed payload, and a manifest checked against another file, must fail.
	editRecordPayload(t, dir, 2, func(p []byte) []byte { return bytes.Replace(p, []byte("capture.config"), []byte("capture.confi9"), 1) })
	if out, err := verifyRecord(filepath.Join(dir, RecordPath(2))); err == nil {
		t.Fatalf("cosign accepts a changed record:\n%s", out)
	}
	if out, err := cosignRun("verify-blob", "--key", pub, "--bundle", filepath.Join(dir, sealed.Manifest.Path)+".sigstore.json",
		"--trusted-root", trustedRoot, "--use-signed-timestamps", "--insecure-ignore-tlog=true", filepath.Join(dir, sealed.Checkpoint.Path)); err == nil {
		t.Fatalf("cosign accepts a bundle for another file:\n%s", out)
	}
}
