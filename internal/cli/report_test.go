package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runReport runs acquire with the report command.
func runReport(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return run(t, env, args...)
}

func TestReportCommand(t *testing.T) {
	dir, env := fixture(t)
	pub := filepath.Join(filepath.Dir(dir), "custody.pub")
	outDir := t.TempDir()

	code, out, stderr := runReport(t, env, "report", dir, "--key", pub)
	if code != ExitOK || !strings.HasPrefix(out, "# Custody report: case IR-CLI") || !strings.Contains(out, "**Verification: VERIFIED.**") || stderr != "" {
		t.Fatalf("markdown: exit %d, stderr %q\n%s", code, stderr, out)
	}

	code, out, _ = runReport(t, env, "report", dir, "--key", pub, "-o", "json")
	var rep struct {
		Format       string            `json:"format"`
		Timeline     []json.RawMessage `json:"timeline"`
		Verification struct {
			OK        bool `json:"ok"`
			KeyPinned bool `json:"keyPinned"`
		} `json:"verification"`
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &rep) != nil || !rep.Verification.OK || !rep.Verification.KeyPinned || len(rep.Timeline) != 4 || rep.Format != "acquire-report/v1" {
		t.Fatalf("json: exit %d %+v\n%s", code, rep, out)
	}

	page := filepath.Join(outDir, "report.html")
	code, out, stderr = runReport(t, env, "report", dir, "--key", pub, "--format", "html", "--out", page)
	data, err := os.ReadFile(page)
	if code != ExitOK || err != nil || out != "" || !strings.HasPrefix(string(data), "<!DOCTYPE html>") || !strings.Contains(stderr, "written to "+page) {
		t.Fatalf("html to a file: exit %d, %v, stdout %q, stderr %q", code, err, out, stderr)
	}
	byExt := filepath.Join(outDir, "report.json")
	if code, _, stderr := runReport(t, env, "report", dir, "--key", pub, "--out", byExt); code != ExitOK {
		t.Fatalf("json by extension: exit %d %s", code, stderr)
	}
	if data, err := os.ReadFile(byExt); err != nil || !json.Valid(data) {
		t.Fatalf("--out report.json is not JSON: %v", err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(outDir, ".tmp-*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// Without a trusted key the report is written, and says on stderr and at its top that the key was
	// not pinned.
	code, out, stderr = runReport(t, env, "report", dir)
	if code != ExitOK || !strings.Contains(stderr, "the key was not pinned") || !strings.Contains(out, "the signing key was not pinned") {
		t.Fatalf("unpinned: exit %d, stderr %q", code, stderr)
	}
}

func TestReportOnFailingCase(t *testing.T) {
	dir, env := fixture(t)
	pub := filepath.Join(filepath.Dir(dir), "custody.pub")
	if err := os.Remove(filepath.Join(dir, "records", "0000000004.sigstore.json")); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := run(t, env, "verify", dir, "--key", pub); code != ExitVerifyFailed {
		t.Fatalf("verify of the cut case: exit %d, want %d", code, ExitVerifyFailed)
	}
	// The report shows the problems; they are not an error of the report command.
	code, out, stderr := runReport(t, env, "report", dir, "--key", pub)
	if code != ExitOK || !strings.Contains(out, "**Verification: FAILED (") || !strings.Contains(out, "checkpoint-beyond-log") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if !strings.Contains(stderr, "verification FAILED") {
		t.Errorf("stderr does not say verification failed: %q", stderr)
	}
}

func TestReportCommandErrors(t *testing.T) {
	dir, env := fixture(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"not a case", []string{"report", t.TempDir()}, ExitNotFound, "not a custody case"},
		{"unknown format", []string{"report", dir, "--format", "pdf"}, ExitUsage, "--format"},
		{"formats disagree", []string{"report", dir, "--format", "html", "-o", "json"}, ExitUsage, "disagree"},
		{"inside the case", []string{"report", dir, "--out", filepath.Join(dir, "report.md")}, ExitUsage, "inside the case"},
		{"no case", []string{"report"}, ExitUsage, "arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// With -o json the error is the last JSON line on stdout.
			code, stdout, stderr := runReport(t, env, tc.args...)
			if code != tc.code || !strings.Contains(stderr+stdout, tc.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.msg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "report.md")); err == nil {
		t.Error("a report was written inside the case")
	}
}
