package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGoldenMarkdown pins the Markdown report of the published valid vector. The clock and the
// generator are the test's; the case path is relative, so nothing in it varies between runs.
// Regenerate with: go test ./analysis/report -run Golden -update
func TestGoldenMarkdown(t *testing.T) {
	r := build(t, filepath.Join(vectors, "valid", "case"), vectorKey(t))
	var got bytes.Buffer
	if err := Markdown(&got, r); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "valid.md")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("the Markdown report differs from %s (run with -update if the change is meant):\n%s", golden, firstDifference(got.Bytes(), want))
	}
}

// firstDifference shows the first line that differs.
func firstDifference(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return "line " + itoa(uint64(i+1)) + ":\n got: " + string(gl) + "\nwant: " + string(wl)
		}
	}
	return ""
}
