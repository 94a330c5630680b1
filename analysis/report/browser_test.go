package report

import (
	"bytes"
	"context"
	"image/color"
	"image/png"
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

// TestBrowserDrawsFigures takes a screenshot of the HTML report in headless Chromium and checks that
// the browser drew both figures: the timeline's step colours and the flow's source and forensic boxes
// are on the page as pixels, not only in the markup. REPORT_SCREENSHOT=FILE keeps the screenshot
// (and the page, as FILE.html).
func TestBrowserDrawsFigures(t *testing.T) {
	chromium := testenv.RequireTool(t, "chromium")
	dir, key := acquisitionCase(t, false)
	r := build(t, dir, key)
	work := t.TempDir()
	page := filepath.Join(work, "report.html")
	if err := os.WriteFile(page, renderHTML(t, r), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(work, "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(work, "profile"), "--window-size=1280,5000",
		"--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot: %v", err)
	}
	if keep := os.Getenv("REPORT_SCREENSHOT"); keep != "" {
		for from, to := range map[string]string{shot: keep, page: keep + ".html"} {
			data, _ := os.ReadFile(from)
			if err := os.WriteFile(to, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The colours of report.css: each must cover more than its legend's square (144 pixels), as the
	// fixture's bars and boxes do.
	colours := map[string]color.RGBA{
		"transfer step": {0x8a, 0x5c, 0xc2, 0xff}, "lock step": {0xc9, 0x8a, 0x1b, 0xff}, "evidence step": {0x2a, 0x7d, 0x3a, 0xff},
		"until the seal": {0xcf, 0xe8, 0xd4, 0xff}, "source box": {0xfd, 0xec, 0xea, 0xff}, "forensic box": {0xe8, 0xf4, 0xea, 0xff},
	}
	counts := map[string]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			for name, want := range colours {
				if near(c, want) {
					counts[name]++
				}
			}
		}
	}
	for name := range colours {
		if counts[name] < 250 {
			t.Errorf("the screenshot shows %d pixels of the %s colour; the figure was not drawn", counts[name], name)
		}
	}
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int { return max(int(x), int(y)) - min(int(x), int(y)) }
	return d(a.R, b.R) <= 6 && d(a.G, b.G) <= 6 && d(a.B, b.B) <= 6
}
