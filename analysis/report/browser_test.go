package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/internal/testenv"
)

// TestBrowserRendersReport opens the HTML report of a hostile case in a real browser (headless
// Chromium, Debian package chromium) and checks the document the browser built: every section and
// row, the hostile strings shown as text, nothing active, and no Content-Security-Policy violation
// (which would mean the page tried something it does not allow, or that its own style sheet was
// refused).
func TestBrowserRendersReport(t *testing.T) {
	chromium := testenv.RequireTool(t, "chromium")
	dir, key := acquisitionCase(t, true)
	r := build(t, dir, key)
	work := t.TempDir()
	page := filepath.Join(work, "report.html")
	if err := os.WriteFile(page, renderHTML(t, r), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(work, "profile"),
		"--enable-logging=stderr", "--v=0",
		"--dump-dom", "file://"+page)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "Content Security Policy") {
		t.Errorf("the browser reports a Content-Security-Policy violation:\n%s", stderr.String())
	}
	doc := parseHTML(t, stdout.Bytes())
	checkDOM(t, doc, r)
	text := textOf(doc)
	for _, s := range []string{hostileScript, "</td></tr></table>", `invoice\u202Etxt.exe`, "Custody report: case IR-7"} {
		if !strings.Contains(text, s) {
			t.Errorf("the page the browser built does not show %q", s)
		}
	}
}
