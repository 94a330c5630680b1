package demo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/testenv"
)

// TestDemo builds acquire and cloudsim, builds the range's disk images (checking they are the
// bit-identical images the scenario documents), runs scripts/demo.sh, and checks its outcome: both
// volumes acquired with digests equal to the images', a case that verifies with its key, and a tampered
// copy that fails naming the record.
func TestDemo(t *testing.T) {
	for _, tool := range []string{"bash", "jq", "openssl", "sha256sum", "mkfs.ext4", "debugfs", "e2fsck", "fls"} {
		testenv.RequireTool(t, tool)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	for _, cmd := range []string{"acquire", "cloudsim"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "./cmd/"+cmd)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", cmd, err, out)
		}
	}
	images := filepath.Join(work, "images")
	mk := exec.Command("bash", "scripts/make-images.sh", images)
	mk.Dir = root
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make-images: %v\n%s", err, out)
	}
	golden, err := os.ReadFile(filepath.Join(root, "testdata/scenarios/images.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(golden)), "\n") {
		want, name, _ := strings.Cut(line, "  ")
		if got := testenv.FileSHA256(t, filepath.Join(images, name)); got != want {
			t.Fatalf("%s: SHA-256 %s, the scenario documents %s: the image build is not reproducible here", name, got, want)
		}
	}
	// The scenario names its images relative to itself: serve them from where they were built.
	scenarioDir := filepath.Join(work, "scenarios")
	if err := os.MkdirAll(scenarioDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sc, err := os.ReadFile(filepath.Join(root, "testdata/scenarios/compromised-web-server.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scenarioDir, "compromised-web-server.json"), sc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(images, filepath.Join(scenarioDir, "images")); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(work, "demo")
	demo := exec.Command("bash", "scripts/demo.sh")
	demo.Dir = root
	demo.Env = append(os.Environ(), "ACQUIRE="+filepath.Join(bin, "acquire"), "CLOUDSIM="+filepath.Join(bin, "cloudsim"),
		"DEMO_OUT="+out, "IMAGES="+images, "SCENARIO="+filepath.Join(scenarioDir, "compromised-web-server.json"))
	var log bytes.Buffer
	demo.Stdout, demo.Stderr = &log, &log
	if err := demo.Run(); err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, log.String())
	}
	text := log.String()
	for _, want := range []string{"VERIFIED", "OK: case IR-2026-0042", "exit code 10", "record 5 (records/0000000005.sigstore.json)",
		// The analyst's view of the exported root volume, through sleuthkit: the planted artefacts, the
		// deleted miner included.
		".raw: OK", "shell.php", "sysupdate", "authorized_keys", "* 20:\tminer", "export"} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	// The root volume exported from each of the three clouds, each checked by sha256sum -c.
	if n := strings.Count(text, ".raw: OK"); n != 3 {
		t.Errorf("want three exports checked by sha256sum -c, got %d", n)
	}
	// Two disks on each of the three clouds, each digest against sha256sum of its image.
	if n := strings.Count(text, "  MATCH"); n != 6 || strings.Contains(text, "MISMATCH") || strings.Contains(text, "DIFFERENT") {
		t.Errorf("want six MATCH lines, got %d:\n%s", n, text)
	}

	// Independently of the script: the case verifies with the key it made.
	v, err := custody.LoadVerifier(context.Background(), filepath.Join(out, "custody.pub"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"IR-2026-0042", "IR-2026-0042-gcp", "IR-2026-0042-azure"} {
		r, err := custody.Verify(context.Background(), filepath.Join(out, name), custody.VerifyOptions{Verifier: v})
		if err != nil || !r.OK() {
			t.Fatalf("the demo's case %s: %v %v", name, err, r.Problems)
		}
		if r.Records < 15 || r.Sealed != int64(r.Records) {
			t.Errorf("the demo's case %s has %d records, %d sealed", name, r.Records, r.Sealed)
		}
	}
	for _, name := range []string{"report.md", "report.html"} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !strings.Contains(string(data), "VERIFIED") || !strings.Contains(string(data), "vol-0c0ffee0000000001") {
			t.Errorf("%s: %v, or it lacks the verdict or the evidence", name, err)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
