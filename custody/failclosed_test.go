package custody

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// copyCase copies a case directory, without its lock and cache, to a new place.
func copyCase(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(dst, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dst, lockFile))
	os.RemoveAll(filepath.Join(dst, CacheDir))
	return dst
}

func problemAt(r *Report, code, path string) bool {
	for _, p := range r.Problems {
		if p.Code == code && p.Path == path {
			return true
		}
	}
	return false
}

// TestLinksFailVerification: a case holds no symbolic links, and nothing is read through one, even a
// link to an identical copy.
func TestLinksFailVerification(t *testing.T) {
	s := testSigner(t)
	v := testVerifier(t, s)
	tests := []struct {
		name   string
		link   func(t *testing.T, dir string)
		at     string
		others []string // other problems that must be there
	}{
		{"records directory linked to a copy", func(t *testing.T, dir string) {
			cp := copyCase(t, dir)
			must(t, os.RemoveAll(filepath.Join(dir, RecordsDir)))
			must(t, os.Symlink(filepath.Join(cp, RecordsDir), filepath.Join(dir, RecordsDir)))
		}, "records", nil},
		{"record linked to an identical copy", func(t *testing.T, dir string) {
			cp := copyCase(t, dir)
			rec := filepath.Join(dir, RecordPath(3))
			must(t, os.Remove(rec))
			must(t, os.Symlink(filepath.Join(cp, RecordPath(3)), rec))
		}, "records/0000000003.sigstore.json", []string{CodeRecordUnreadable}},
		{"artifact directory linked", func(t *testing.T, dir string) {
			cp := copyCase(t, dir)
			d := filepath.Join(dir, ArtifactsDir, "i-0abc")
			must(t, os.RemoveAll(d))
			must(t, os.Symlink(filepath.Join(cp, ArtifactsDir, "i-0abc"), d))
		}, "artifacts/i-0abc", []string{CodeUnreadable}},
		{"manifest linked", func(t *testing.T, dir string) {
			cp := copyCase(t, dir)
			m := filepath.Join(dir, ManifestPath(5))
			must(t, os.Remove(m))
			must(t, os.Symlink(filepath.Join(cp, ManifestPath(5)), m))
		}, "manifests/0000000005.json", []string{CodeSealIncomplete}},
		{"stray link", func(t *testing.T, dir string) {
			must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")))
		}, "passwd", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newCase(t, s, 3, true)
			tc.link(t, dir)
			r := verifyCase(t, dir, v)
			if r.OK() || !problemAt(r, CodeSymlink, tc.at) {
				t.Fatalf("want a %s problem at %s: %v", CodeSymlink, tc.at, r.Problems)
			}
			for _, code := range tc.others {
				if !hasCode(r, code) {
					t.Errorf("missing %s: %v", code, r.Problems)
				}
			}
		})
	}
}

// TestWritersRefuseLinks: a writer never writes through a link inside the case, so nothing it writes
// lands outside the case.
func TestWritersRefuseLinks(t *testing.T) {
	ctx := context.Background()
	s := testSigner(t)
	outside := t.TempDir()

	t.Run("artifact directory", func(t *testing.T) {
		dir := newCase(t, s, 1, false)
		must(t, os.Symlink(outside, filepath.Join(dir, ArtifactsDir, "attachments")))
		l, err := Open(ctx, dir, testOptions(s))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := l.AddArtifact("attachments/notes.txt", []byte("x"), ""); !errors.Is(err, ErrLink) {
			t.Errorf("artifact through a link: %v, want ErrLink", err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("written outside the case: %v", entries)
		}
	})
	t.Run("records directory", func(t *testing.T) {
		dir := newCase(t, s, 1, false)
		cp := copyCase(t, dir)
		must(t, os.RemoveAll(filepath.Join(dir, RecordsDir)))
		must(t, os.Symlink(filepath.Join(cp, RecordsDir), filepath.Join(dir, RecordsDir)))
		if l, err := Open(ctx, dir, testOptions(s)); !errors.Is(err, ErrLink) {
			if err == nil {
				l.Close()
			}
			t.Errorf("open with records/ a link: %v, want ErrLink", err)
		}
	})
	t.Run("lock", func(t *testing.T) {
		dir := newCase(t, s, 1, false)
		victim := filepath.Join(outside, "victim")
		must(t, os.WriteFile(victim, []byte("keep me"), 0o644))
		must(t, os.Remove(filepath.Join(dir, lockFile)))
		must(t, os.Symlink(victim, filepath.Join(dir, lockFile)))
		if l, err := Open(ctx, dir, testOptions(s)); !errors.Is(err, ErrLink) {
			if err == nil {
				l.Close()
			}
			t.Errorf("open with .lock a link: %v, want ErrLink", err)
		}
		if data, _ := os.ReadFile(victim); string(data) != "keep me" {
			t.Errorf("the lock's link target was overwritten: %q", data)
		}
	})
	t.Run("record name taken by a link", func(t *testing.T) {
		dir := newCase(t, s, 1, false)
		must(t, os.Symlink(filepath.Join(outside, "planted"), filepath.Join(dir, RecordPath(3))))
		if l, err := Open(ctx, dir, testOptions(s)); !errors.Is(err, ErrLink) || !errors.Is(err, ErrTamperedHistory) {
			if err == nil {
				l.Close()
			}
			t.Errorf("open with a record a link: %v, want ErrLink", err)
		}
	})
	t.Run("artifact name taken by a link", func(t *testing.T) {
		dir := newCase(t, s, 1, false)
		target := filepath.Join(outside, "planted")
		must(t, os.Symlink(target, filepath.Join(dir, ArtifactsDir, "notes.txt")))
		l, err := Open(ctx, dir, testOptions(s))
		must(t, err)
		defer l.Close()
		if _, err := l.AddArtifact("notes.txt", []byte("x"), ""); !errors.Is(err, ErrLink) {
			t.Errorf("artifact over a planted link: %v, want ErrLink", err)
		}
		if _, err := os.Lstat(target); err == nil {
			t.Error("the artifact was written through the link")
		}
	})
}

// TestUnreadableIsNeverAPass: a directory or file that cannot be read fails verification as
// unreadable, not as changed, and never passes.
func TestUnreadableIsNeverAPass(t *testing.T) {
	s := testSigner(t)
	v := testVerifier(t, s)
	replaceWithFile := func(rel string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			must(t, os.RemoveAll(filepath.Join(dir, rel)))
			must(t, os.WriteFile(filepath.Join(dir, rel), []byte("not a directory"), 0o644))
		}
	}
	tests := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		code   string
		at     string
	}{
		{"manifests is not a directory", replaceWithFile(ManifestsDir), CodeUnreadable, ManifestsDir},
		{"checkpoints is not a directory", replaceWithFile(CheckpointsDir), CodeUnreadable, CheckpointsDir},
		{"a record is a directory", func(t *testing.T, dir string) {
			must(t, os.Remove(filepath.Join(dir, RecordPath(2))))
			must(t, os.Mkdir(filepath.Join(dir, RecordPath(2)), 0o755))
		}, CodeRecordUnreadable, "records/0000000002.sigstore.json"},
		{"a record is a pipe", func(t *testing.T, dir string) {
			must(t, os.Remove(filepath.Join(dir, RecordPath(2))))
			must(t, syscall.Mkfifo(filepath.Join(dir, RecordPath(2)), 0o644))
		}, CodeRecordUnreadable, "records/0000000002.sigstore.json"},
	}
	if os.Geteuid() != 0 { // permissions do not stop root
		tests = append(tests, struct {
			name   string
			break_ func(t *testing.T, dir string)
			code   string
			at     string
		}{"manifests unreadable", func(t *testing.T, dir string) {
			must(t, os.Chmod(filepath.Join(dir, ManifestsDir), 0o000))
			t.Cleanup(func() { os.Chmod(filepath.Join(dir, ManifestsDir), 0o755) })
		}, CodeUnreadable, ManifestsDir})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newCase(t, s, 3, true)
			tc.break_(t, dir)
			done := make(chan *Report, 1)
			go func() { done <- verifyCase(t, dir, v) }()
			var r *Report
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("verification hangs")
			}
			if r.OK() || r.Verdict != VerdictFailed || !problemAt(r, tc.code, tc.at) {
				t.Fatalf("verdict %s, want a %s problem at %s: %v", r.Verdict, tc.code, tc.at, r.Problems)
			}
			if hasCode(r, CodeManifestFile) && tc.code == CodeRecordUnreadable {
				t.Errorf("an unreadable record is reported as changed: %v", r.Problems)
			}
		})
	}
}

// TestSealedCaseNeedsItsSeal: every case.seal record must have its checkpoint and manifest, signed;
// the report says the case ends sealed only then.
func TestSealedCaseNeedsItsSeal(t *testing.T) {
	ctx := context.Background()
	s := testSigner(t)
	v := testVerifier(t, s)
	rm := func(rels ...string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			for _, rel := range rels {
				must(t, os.Remove(filepath.Join(dir, rel)))
			}
		}
	}
	m, cp := ManifestPath(7), CheckpointPath(7)
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
	}{
		{"manifest removed", rm(m)},
		{"manifest bundle removed", rm(m + ".sigstore.json")},
		{"manifest and bundle removed", rm(m, m+".sigstore.json")},
		{"checkpoint and bundle removed", rm(cp, cp+".sigstore.json")},
		{"checkpoint bundle removed", rm(cp + ".sigstore.json")},
		{"older manifest renamed into its place", func(t *testing.T, dir string) {
			rm(m, m+".sigstore.json")(t, dir)
			must(t, os.Rename(filepath.Join(dir, ManifestPath(5)), filepath.Join(dir, m)))
			must(t, os.Rename(filepath.Join(dir, ManifestPath(5)+".sigstore.json"), filepath.Join(dir, m+".sigstore.json")))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newCase(t, s, 3, true) // sealed at 5
			l, err := Open(ctx, dir, testOptions(s))
			must(t, err)
			_, err = l.Append(ctx, Entry{Action: "transfer"})
			must(t, err)
			_, err = l.Seal(ctx, "second seal") // sealed at 7
			must(t, err)
			l.Close()
			if r := verifyCase(t, dir, v); !r.OK() || !r.EndsSealed() || len(r.Seals) != 2 {
				t.Fatalf("before: %v %+v", r.Problems, r.Seals)
			}
			tc.tamper(t, dir)
			r := verifyCase(t, dir, v)
			if r.OK() || !problemAt(r, CodeSealIncomplete, "records/0000000007.sigstore.json") || r.EndsSealed() {
				t.Fatalf("want seal-incomplete at record 7 and not sealed: ends sealed %v, %v", r.EndsSealed(), r.Problems)
			}
		})
	}
}

// TestOpenCompletesAnInterruptedSeal: a writer that stopped after the seal record leaves a case that
// fails until the next writer opens it, which completes the seal without a second seal record, so
// that what it appends does not bury a seal that vouches for nothing.
func TestOpenCompletesAnInterruptedSeal(t *testing.T) {
	ctx := context.Background()
	s := testSigner(t)
	v := testVerifier(t, s)
	dir := newCase(t, s, 3, true)
	// As a crash between the seal's checkpoint and its manifest's signature leaves it.
	must(t, os.Remove(filepath.Join(dir, ManifestPath(5)+".sigstore.json")))
	if r := verifyCase(t, dir, v); r.OK() || !interruptedSeal(r) {
		t.Fatalf("interrupted seal: %v", r.Problems)
	}
	l, err := Open(ctx, dir, testOptions(s))
	must(t, err)
	if r := verifyCase(t, dir, v); !r.OK() || !r.EndsSealed() || r.Records != 5 {
		t.Fatalf("after opening: %d records, %v", r.Records, r.Problems)
	}
	_, err = l.Append(ctx, Entry{Action: "note", Note: "after the completed seal"})
	must(t, err)
	sealed, err := l.Seal(ctx, "again")
	must(t, err)
	l.Close()
	if sealed.Completed || sealed.Record.Seq != 7 {
		t.Fatalf("seal: completed %v, record %d", sealed.Completed, sealed.Record.Seq)
	}
	if r := verifyCase(t, dir, v); !r.OK() || !r.EndsSealed() || r.Records != 7 {
		t.Fatalf("after the next seal: %d records, %v", r.Records, r.Problems)
	}
}

// TestOneRuleForWhatACaseHolds: what the verifier fails, the writer refuses to seal; what the
// verifier only warns about (an uncited artifact, a temporary file), no manifest lists.
func TestOneRuleForWhatACaseHolds(t *testing.T) {
	ctx := context.Background()
	s := testSigner(t)
	v := testVerifier(t, s)
	planted := []struct {
		rel  string
		code string
	}{
		{"notes.txt", CodeUnexpectedFile},
		{"records/README", CodeUnexpectedFile},
		{"manifests/0000000099.json.sigstore.json", CodeUnexpectedFile}, // a bundle without its manifest
		{"tsa/planted-root.pem", CodeUnexpectedFile},
		{"tsa/0123456789abcdef.pem", CodeUnexpectedFile}, // named like the writer's, not by its digest
		{"extra/file", CodeUnexpectedFile},
	}
	for _, p := range planted {
		t.Run(p.rel, func(t *testing.T) {
			dir := newCase(t, s, 2, false)
			path := filepath.Join(dir, filepath.FromSlash(p.rel))
			must(t, os.MkdirAll(filepath.Dir(path), 0o755))
			must(t, os.WriteFile(path, []byte("planted"), 0o644))
			r := verifyCase(t, dir, v)
			if r.OK() || !hasCode(r, p.code) {
				t.Fatalf("verify: %v", r.Problems)
			}
			l, err := Open(ctx, dir, testOptions(s))
			must(t, err)
			defer l.Close()
			if _, err := l.Seal(ctx, ""); !errors.Is(err, ErrTamperedHistory) || !strings.Contains(err.Error(), p.code) {
				t.Fatalf("seal over a planted file: %v", err)
			}
		})
	}
	t.Run("uncited artifact", func(t *testing.T) {
		dir := newCase(t, s, 2, false)
		rel := "artifacts/i-0abc/config.json.planted"
		must(t, os.WriteFile(filepath.Join(dir, rel), []byte("planted"), 0o644))
		r := verifyCase(t, dir, v)
		if !r.OK() || !hasWarning(r, WarnUncitedArtifact, rel) {
			t.Fatalf("uncited artifact: problems %v, warnings %v", r.Problems, r.Warnings)
		}
		l, err := Open(ctx, dir, testOptions(s))
		must(t, err)
		sealed, err := l.Seal(ctx, "")
		l.Close()
		must(t, err)
		for _, f := range sealed.Manifest.Files {
			if f.Path == rel {
				t.Fatal("the seal listed the uncited artifact in its manifest")
			}
		}
		if r := verifyCase(t, dir, v); !r.OK() || !hasWarning(r, WarnUncitedArtifact, rel) {
			t.Fatalf("after the seal: %v %v", r.Problems, r.Warnings)
		}
	})
}

func hasWarning(r *Report, code, path string) bool {
	for _, w := range r.Warnings {
		if w.Code == code && w.Path == path {
			return true
		}
	}
	return false
}

// TestVerdicts: only a case checked against a key from outside it verifies; against its own key it is
// self-consistent only.
func TestVerdicts(t *testing.T) {
	s := testSigner(t)
	dir := newCase(t, s, 1, true)
	for _, tc := range []struct {
		name string
		opts VerifyOptions
		want string
	}{
		{"unpinned", VerifyOptions{}, VerdictSelfConsistent},
		{"key given", VerifyOptions{Verifier: testVerifier(t, s)}, VerdictVerified},
		{"fingerprint", VerifyOptions{KeyID: s.KeyID()}, VerdictVerified},
		{"other key", VerifyOptions{Verifier: testVerifier(t, testSigner(t))}, VerdictFailed},
	} {
		r, err := Verify(context.Background(), dir, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != tc.want {
			t.Errorf("%s: verdict %s, want %s", tc.name, r.Verdict, tc.want)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
