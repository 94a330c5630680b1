package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/termsafe"
)

// TestUsageErrorsExitTwo: what is wrong with the command line or an input file is a usage error,
// named, and nothing is verified or written.
func TestUsageErrorsExitTwo(t *testing.T) {
	dir, env := fixture(t)
	before, _ := os.ReadDir(filepath.Join(dir, "records"))
	work := t.TempDir()
	noPassword := map[string]string{envPassword: "", envOperator: "x"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		msg  string
	}{
		{"unknown command", env, []string{"bogus"}, `unknown command "bogus"`},
		{"unknown subcommand", env, []string{"custody", "bogus", dir}, `unknown command "bogus"`},
		{"missing --action", env, []string{"custody", "log", dir}, "action"},
		{"a text file as the signing key", env, []string{"custody", "log", dir, "--action", "note", "--key", "/etc/passwd"}, "no PEM private key"},
		{"a directory as the signing key", env, []string{"custody", "log", dir, "--action", "note", "--key", work}, "directory"},
		{"a text file as the trusted key", env, []string{"verify", dir, "--key", "/etc/passwd"}, "no PEM public key"},
		{"a malformed fingerprint", env, []string{"verify", dir, "--fingerprint", "xyz"}, "--fingerprint"},
		{"a malformed fingerprint for a report", env, []string{"report", dir, "--fingerprint", "xyz"}, "--fingerprint"},
		{"keygen without a prefix", env, []string{"keygen", "--out", ""}, "--out"},
		{"keygen into a directory", env, []string{"keygen", "--out", work}, "is a directory"},
		{"keygen with an empty password", noPassword, []string{"keygen", "--out", filepath.Join(work, "k")}, "password is empty"},
		{"report into a directory", env, []string{"report", dir, "--out", work}, "is a directory"},
		{"an image for an item the case does not hold", env, []string{"verify", dir, "--key", filepath.Join(filepath.Dir(dir), "custody.pub"), "--image", "snap-0nosuch=/dev/null"}, "no evidence item snap-0nosuch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := run(t, tc.env, tc.args...)
			if code != ExitUsage || !strings.Contains(stderr, tc.msg) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, ExitUsage, stderr, tc.msg)
			}
			if strings.Contains(out, "VERIFIED") || strings.Contains(out, "FAILED") {
				t.Errorf("a verdict was printed for a usage error: %q", out)
			}
		})
	}
	after, _ := os.ReadDir(filepath.Join(dir, "records"))
	if len(after) != len(before) {
		t.Fatalf("usage errors wrote records: %d before, %d after", len(before), len(after))
	}
	if files, _ := filepath.Glob(filepath.Join(work, "*")); len(files) != 0 {
		t.Errorf("usage errors wrote files: %v", files)
	}
	if _, err := os.Stat(".key"); err == nil {
		t.Error("keygen --out \"\" wrote .key in the current directory")
	}
}

// TestUnpinnedVerificationIsNotAPass: without a key from outside the case the verdict is
// SELF-CONSISTENT ONLY with its own exit code, in text and JSON; only the insecure flag accepts it.
func TestUnpinnedVerificationIsNotAPass(t *testing.T) {
	dir, env := fixture(t)
	code, out, _ := run(t, env, "verify", dir)
	if code != ExitSelfConsistent || !strings.Contains(strings.SplitN(out, "\n", 2)[0], "SELF-CONSISTENT ONLY") || strings.Contains(out, "VERIFIED") {
		t.Fatalf("unpinned: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, env, "verify", dir, "-o", "json")
	out = strings.SplitN(out, "\n", 2)[0] // the result; the error line follows it
	var rep struct {
		OK        bool   `json:"ok"`
		Verdict   string `json:"verdict"`
		KeyPinned bool   `json:"keyPinned"`
	}
	if code != ExitSelfConsistent || json.Unmarshal([]byte(out), &rep) != nil || rep.OK || rep.Verdict != custody.VerdictSelfConsistent || rep.KeyPinned {
		t.Fatalf("unpinned json: exit %d %+v\n%s", code, rep, out)
	}
	code, out, stderr := run(t, env, "verify", dir, "--insecure-ignore-key-pin")
	if code != ExitOK || !strings.Contains(out, "SELF-CONSISTENT ONLY (accepted with --insecure-ignore-key-pin)") || !strings.Contains(stderr, "warning") {
		t.Fatalf("accepted unpinned: exit %d\n%s\n%s", code, out, stderr)
	}
	// A case re-signed end to end with another key is self-consistent; against the real key it fails.
	other, otherEnv := freshFixture(t)
	if code, _, _ := run(t, otherEnv, "verify", other); code != ExitSelfConsistent {
		t.Fatalf("another key's case, unpinned: exit %d", code)
	}
	if code, _, _ := run(t, env, "verify", other, "--key", filepath.Join(filepath.Dir(dir), "custody.pub")); code != ExitVerifyFailed {
		t.Fatalf("another key's case against the real key: exit %d", code)
	}
	code, out, _ = run(t, env, "--help")
	if code != ExitOK || !strings.Contains(out, "14   self-consistent only") {
		t.Fatalf("help does not document exit code 14:\n%s", out)
	}
}

// TestWritersRefuseAChangedCase: every command that signs refuses a case whose history does not
// verify, with exit code 10, and writes nothing.
func TestWritersRefuseAChangedCase(t *testing.T) {
	for _, tc := range []struct {
		name string
		args func(dir string) []string
	}{
		{"custody log", func(dir string) []string { return []string{"custody", "log", dir, "--action", "note"} }},
		{"custody seal", func(dir string) []string { return []string{"custody", "seal", dir} }},
		{"custody checkpoint", func(dir string) []string { return []string{"custody", "checkpoint", dir} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, env := fixture(t)
			if code, _, stderr := run(t, env, "custody", "log", dir, "--action", "transfer"); code != ExitOK { // record 5: after the seal
				t.Fatal(stderr)
			}
			changeNote(t, filepath.Join(dir, "records", "0000000005.sigstore.json"))
			before := listFiles(t, dir)
			code, _, stderr := run(t, env, tc.args(dir)...)
			if code != ExitVerifyFailed || !strings.Contains(stderr, "history does not verify") || !strings.Contains(stderr, "record 5") {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if after := listFiles(t, dir); after != before {
				t.Errorf("the refused command changed the case:\n%s\n---\n%s", before, after)
			}
		})
	}
	t.Run("custody seal over a record a checkpoint covers", func(t *testing.T) {
		dir, env := fixture(t)
		changeNote(t, filepath.Join(dir, "records", "0000000002.sigstore.json"))
		code, _, stderr := run(t, env, "custody", "seal", dir)
		if code != ExitVerifyFailed || !strings.Contains(stderr, "record 2") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("custody seal over a planted file", func(t *testing.T) {
		dir, env := fixture(t)
		if err := os.WriteFile(filepath.Join(dir, "records", "notes.txt"), []byte("planted"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := run(t, env, "custody", "seal", dir)
		if code != ExitVerifyFailed || !strings.Contains(stderr, "unexpected-file") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
}

// changeNote changes one byte of a record's payload, leaving its signature as it was.
func changeNote(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`"payload":"`)) + 40
	data[i] ^= 0x01
	os.Chmod(path, 0o644)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func listFiles(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "/.cache/") && filepath.Base(p) != ".lock" {
			b.WriteString(p + "\n")
		}
		return err
	})
	return b.String()
}

// hostile is what an attacker puts in names and notes: it must not reach the terminal as itself.
const hostile = "\x1b[2J\x1b[Hok\x1b]8;;https://evil.example/\x07link\x1b]8;;\x07 \u202egnp.exe \u009b31m \xff"

// TestTerminalOutputIsEscaped: every command that prints what a record holds escapes it, in text and
// in JSON (where the value stays exact).
func TestTerminalOutputIsEscaped(t *testing.T) {
	dir, env := fixture(t)
	if code, _, stderr := run(t, env, "custody", "log", dir, "--action", "note", "--note", hostile, "--detail", "tag="+hostile, "--failed", hostile); code != ExitOK {
		t.Fatal(stderr)
	}
	pub := filepath.Join(filepath.Dir(dir), "custody.pub")
	for _, args := range [][]string{
		{"custody", "show", dir},
		{"custody", "show", dir, "-o", "json"},
		{"verify", dir, "--key", pub},
		{"verify", dir, "--key", pub, "-o", "json"},
		{"report", dir, "--key", pub},
		{"report", dir, "--key", pub, "-o", "json"},
	} {
		_, out, stderr := run(t, env, args...)
		for _, stream := range []string{out, stderr} {
			for _, r := range stream {
				if termsafe.Unsafe(r) && r != '\n' && r != '\t' {
					t.Errorf("%v printed %U raw", args, r)
					break
				}
			}
			if strings.Contains(stream, "\xff") {
				t.Errorf("%v printed a byte that is not UTF-8", args)
			}
		}
		if args[len(args)-1] == "json" && args[0] != "verify" && !strings.Contains(out, `\u001b[2J`) {
			t.Errorf("%v: the escape sequence is not in the JSON as \\u001b", args)
		}
	}
	_, out, _ := run(t, env, "custody", "show", dir, "-o", "json")
	recs := jsonRecords(t, out)
	if got := recs[len(recs)-1].Predicate.Note; got != strings.ToValidUTF8(hostile, "\uFFFD") {
		t.Errorf("the JSON changed the note: %q", got)
	}
	// The error path escapes too: a case directory named by an attacker.
	_, _, stderr := run(t, env, "verify", filepath.Join(t.TempDir(), "\x1b]0;pwned\x07"))
	if strings.ContainsRune(stderr, 0x1b) {
		t.Errorf("an error printed an escape sequence raw: %q", stderr)
	}
}

// TestRehashVerdict: an item read again that does not match fails the verdict line itself, and the
// cloud is read only with the forensic account named.
func TestRehashVerdict(t *testing.T) {
	dir, env := fixture(t)
	pub := filepath.Join(filepath.Dir(dir), "custody.pub")
	image := filepath.Join(t.TempDir(), "snap.raw")
	data := bytes.Repeat([]byte("evidence"), 4096)
	if err := os.WriteFile(image, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	l, err := openForTest(dir, env)
	if err != nil {
		t.Fatal(err)
	}
	item := evidence.Item{Name: "aws:snapshot:snap-0abc", Cloud: "aws", Account: "222222222222", Location: "eu-west-1", Snapshot: "snap-0abc",
		SourceVolume: "vol-0abc", SizeBytes: 32768, DigestStatus: evidence.DigestComputed, Digest: &driver.Digest{ImageSHA256: hex.EncodeToString(sum[:])}}
	sub, _ := item.Subject()
	_, err = l.Append(context.Background(), custody.Entry{
		Action:   evidence.Action,
		Provider: &custody.Provider{Cloud: "aws", Account: "222222222222", Region: "eu-west-1"},
		Subjects: []custody.Subject{sub},
		Details:  map[string]any{evidence.DetailKey: item},
	})
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, env, "verify", dir, "--key", pub, "--image", "vol-0abc="+image)
	if code != ExitOK || !strings.Contains(out, ": VERIFIED") || !strings.Contains(out, "MATCH") {
		t.Fatalf("matching image: exit %d\n%s", code, out)
	}
	data[100] ^= 1
	if err := os.WriteFile(image, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, env, "verify", dir, "--key", pub, "--image", "snap-0abc="+image)
	head := strings.SplitN(out, "\n", 2)[0]
	if code != ExitVerifyFailed || strings.Contains(head, "VERIFIED") || !strings.Contains(head, "FAILED (1 of 1 items read again") {
		t.Fatalf("changed image: exit %d, headline %q", code, head)
	}
	code, out, _ = run(t, env, "verify", dir, "--key", pub, "--image", "snap-0abc="+image, "-o", "json")
	out = strings.SplitN(out, "\n", 2)[0]
	var rep struct {
		OK      bool   `json:"ok"`
		Verdict string `json:"verdict"`
	}
	if code != ExitVerifyFailed || json.Unmarshal([]byte(out), &rep) != nil || rep.OK || rep.Verdict != custody.VerdictFailed {
		t.Fatalf("changed image, json: exit %d %+v", code, rep)
	}
	code, _, stderr := run(t, env, "verify", dir, "--key", pub, "--rehash")
	if code != ExitUsage || !strings.Contains(stderr, "--forensic-profile") {
		t.Fatalf("--rehash without the forensic account: exit %d %q", code, stderr)
	}
}
