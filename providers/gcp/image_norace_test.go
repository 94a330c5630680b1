//go:build !race

package gcp

// The image-bucket test moves a 1 GiB raw image through the simulator's Cloud Storage, which
// fakestorage keeps in memory: about 2 GiB of RSS without the race detector, 13.6 GiB with it. It is
// built without -race only, and `make test` runs it in a pass of its own without the race detector
// (the driver's concurrency is covered by the rest of the package under -race).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/testenv"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// TestDigestWritesImage: with an image bucket, the worker writes the raw image there through the
// upload session it is given; the object is the disk's content, its MD5 matches the worker's, the
// record names it as kept, and the session URI is in no record.
func TestDigestWritesImage(t *testing.T) {
	testenv.RequireTool(t, "python3")
	sc := scenario(t)
	sc.Projects[1].Buckets = []string{"acme-evidence-images"}
	env, e := envWith(t, sc, func(c *Config) { c.Worker.ImageBucket = "acme-evidence-images" })
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], nil)
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckEndState(t, env, c, env.Scenarios["single-volume"], res)
	ev := res.Volumes[0].Evidence
	object := imageObject(labelValue(c.CaseID), ev.ID)
	if got := res.Volumes[0].Digest.Image; got != gsURL("acme-evidence-images", object) {
		t.Fatalf("digest names image %q, want %s", got, gsURL("acme-evidence-images", object))
	}
	gcs, err := storage.NewClient(t.Context(), option.WithEndpoint(e.url+"/storage/v1/"), option.WithCredentialsFile(e.keyFile))
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Close()
	r, err := gcs.Bucket("acme-evidence-images").Object(object).NewReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), images.sha256("evidence-1"); got != want {
		t.Errorf("the image in the bucket has SHA-256 %s, the disk %s", got, want)
	}
	recs, err := custody.ReadRecords(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	kept := false
	for _, rec := range recs {
		b, _ := json.Marshal(rec.Statement)
		if strings.Contains(string(b), "upload_id") {
			t.Fatalf("record %d holds the upload session URI", rec.Statement.Predicate.Seq)
		}
		kept = kept || strings.Contains(string(b), `"kept"`) && strings.Contains(string(b), object)
	}
	if !kept {
		t.Error("no record names the image as kept")
	}
}
