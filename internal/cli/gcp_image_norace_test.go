//go:build !race

package cli

// The image-bucket path moves a 1 GiB raw image through the simulator's Cloud Storage, which keeps
// it in memory: built without -race only, as providers/gcp's TestDigestWritesImage, and run by
// `make test` in a pass of its own.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/testenv"
	"github.com/acquire-forensics/acquire/providers/evidence"
	"github.com/acquire-forensics/acquire/providers/gcp/gcpsim"
)

// TestGCPExportFromImageBucket: evidence acquired with --image-bucket is exported from the raw image
// the worker wrote, checked against custody, recorded; read again by verify --rehash; and an image
// replaced in the bucket afterwards is caught, not exported as evidence.
func TestGCPExportFromImageBucket(t *testing.T) {
	testenv.RequireTool(t, "python3")
	const bucket = "acme-forensics-images"
	endpoint, keyFile, _ := gcpRange(t, func(sc *gcpsim.Scenario) {
		sc.Projects[1].Buckets = []string{bucket}
		sc.Projects[1].IAM[0].Roles = append(sc.Projects[1].IAM[0].Roles, "roles/storage.objectAdmin")
	})
	_, env := fixture(t)
	caseDir := filepath.Join(t.TempDir(), "IR-GCP")
	if code, out, stderr := run(t, env, gcpDiskArgs(endpoint, keyFile, caseDir, "web-1", "--image-bucket", bucket)...); code != ExitOK {
		t.Fatalf("acquire gcp: exit %d\n%s\n%s", code, out, stderr)
	}
	item := "projects/" + gcpSource + "/zones/" + gcpZone + "/disks/web-1"
	outDir := filepath.Join(t.TempDir(), "export")
	exportArgs := func(out string) []string {
		return []string{"export", caseDir, "--item", item, "--out", out, "--endpoint", endpoint, "--forensic-credentials", keyFile, "-o", "json"}
	}
	code, out, stderr := run(t, env, exportArgs(outDir)...)
	if code != ExitOK {
		t.Fatalf("export: %d\n%s\n%s", code, out, stderr)
	}
	var res struct {
		Path, ImageSHA256, BlockListSHA256 string
		Match                              bool
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || !res.Match {
		t.Fatalf("export result: %v %s", err, out)
	}
	if got := testenv.FileSHA256(t, res.Path); got != res.ImageSHA256 {
		t.Fatalf("the exported file hashes to %s, the export said %s", got, res.ImageSHA256)
	}
	recs, err := custody.ReadRecords(caseDir)
	if err != nil {
		t.Fatal(err)
	}
	items, err := evidence.Items(recs)
	if err != nil || len(items) != 1 || items[0].Digest == nil {
		t.Fatalf("the case's evidence: %v %+v", err, items)
	}
	recorded, blockList, image := items[0].Digest.ImageSHA256, items[0].Digest.BlockListSHA256, items[0].Digest.Image
	if res.ImageSHA256 != recorded || res.BlockListSHA256 != blockList || !strings.HasPrefix(image, "gs://"+bucket+"/acquire/") {
		t.Fatalf("export %s / %s, recorded %s / %s, image %q", res.ImageSHA256, res.BlockListSHA256, recorded, blockList, image)
	}
	if exp := recs[len(recs)-2].Statement.Predicate; exp.Action != "export" || exp.Details["match"] != true {
		t.Fatalf("the export record: %+v", exp)
	}

	pub := filepath.Join(filepath.Dir(env[envKey]), "custody.pub")
	rehash := []string{"verify", caseDir, "--key", pub, "--rehash", "--endpoint", endpoint, "--forensic-credentials", keyFile}
	if code, out, _ := run(t, env, rehash...); code != ExitOK || !strings.Contains(out, "  MATCH") {
		t.Fatalf("verify --rehash from the image bucket: %d\n%s", code, out)
	}

	// Whoever can write to the bucket replaces the image with one of the same size: the export does
	// not pass it off as the evidence, and verify --rehash fails.
	gcs, err := storage.NewClient(t.Context(), option.WithEndpoint(endpoint+"/storage/v1/"), option.WithCredentialsFile(keyFile))
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Close()
	bkt, obj, _ := strings.Cut(strings.TrimPrefix(image, "gs://"), "/")
	w := gcs.Bucket(bkt).Object(obj).NewWriter(t.Context())
	st, err := os.Stat(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Repeat([]byte("planted "), int(st.Size()/8))
	if _, err := w.Write(forged); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	outDir2 := filepath.Join(t.TempDir(), "export2")
	code, _, stderr = run(t, env, exportArgs(outDir2)...)
	if code != ExitVerifyFailed {
		t.Fatalf("export of a replaced image: %d %s", code, stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(outDir2, "*.raw")); len(m) > 0 {
		t.Fatalf("a replaced image was exported as evidence: %v", m)
	}
	if code, out, _ := run(t, env, rehash...); code != ExitVerifyFailed {
		t.Fatalf("verify --rehash of a replaced image: %d\n%s", code, out)
	}
}
