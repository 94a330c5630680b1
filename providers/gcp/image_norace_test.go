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
	"errors"
	"io"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/testenv"
	"github.com/acquire-forensics/acquire/providers/driver"
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
	if got, want := objectSHA256(t, gcs, object), images.sha256("evidence-1"); got != want {
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

	// A later attempt whose worker is gone (a failed attempt's worker removed, then a retry) finds
	// the image in the bucket: it is not replaced, and the new worker's MD5 of the disk must match it.
	d := env.Driver.(*Driver)
	before, err := gcs.Bucket("acme-evidence-images").Object(object).Attrs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	req := driver.DigestRequest{Volume: res.Volumes[0].Volume, Snapshot: *ev, Token: "retry-after-removal",
		Labels: driver.Labels{driver.LabelCase: c.CaseID}}
	again, err := d.Digest(t.Context(), req)
	removeAll(t, d, again.Temporary)
	if err != nil {
		t.Fatalf("a digest with the image in the bucket already: %v", err)
	}
	if again.Digest.ImageSHA256 != images.sha256("evidence-1") || again.Digest.Image != gsURL("acme-evidence-images", object) {
		t.Errorf("digest %+v, want the disk's SHA-256 and the same image", again.Digest)
	}
	after, err := gcs.Bucket("acme-evidence-images").Object(object).Attrs(t.Context())
	if err != nil || after.Generation != before.Generation {
		t.Fatalf("the image was replaced: generation %d, then %d (%v)", before.Generation, after.Generation, err)
	}

	// An object of that name that is not the disk's image fails the digest, naming it.
	w := gcs.Bucket("acme-evidence-images").Object(object).NewWriter(t.Context())
	if _, err := w.Write([]byte("planted")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	req.Token = "planted-object"
	planted, err := d.Digest(t.Context(), req)
	removeAll(t, d, planted.Temporary)
	if err == nil || !strings.Contains(err.Error(), "the image is not the disk's") {
		t.Fatalf("a digest against a planted object: %v, want it refused as not the disk's image", err)
	}
}

// removeAll deletes what a digest made, as the engine would: the worker before its disk.
func removeAll(t *testing.T, d *Driver, made []driver.Resource) {
	t.Helper()
	for i := len(made) - 1; i >= 0; i-- {
		if err := d.Delete(context.Background(), made[i]); err != nil {
			t.Errorf("removing %s: %v", made[i].ID, err)
		}
	}
}

// imageKillHarness is the kill harness with an image bucket: kills fall while workers write images.
// Its one simulator lives as long as the whole test (parent), so that the bucket can be read after.
type imageKillHarness struct {
	killHarness
	parent *testing.T
	env    *providertest.Env
	url    string
	key    string
}

func (h *imageKillHarness) New(*testing.T) *providertest.Env {
	if h.env != nil {
		return h.env
	}
	t := h.parent
	sc := scenario(t)
	sc.SnapshotBytesPerSecond = 6 << 20
	sc.Projects[1].Buckets = []string{"acme-evidence-images"}
	e := startSim(t, sc)
	h.url, h.key = e.url, e.keyFile
	cfg := testConfig(e.url, e.keyFile)
	cfg.Worker.ImageBucket = "acme-evidence-images"
	h.env = h.envFor(newDriver(t, cfg), e.sim)
	h.env.HelperEnv = []string{"ACQUIRE_KILL_ENDPOINT=" + e.url, "ACQUIRE_KILL_CREDENTIALS=" + e.keyFile, "ACQUIRE_KILL_IMAGE_BUCKET=acme-evidence-images"}
	return h.env
}

// TestKilledAcquisitionWritingImages: SIGKILL at every step boundary of an acquisition that writes
// raw images to the bucket, each run resuming the last; the end state is an uninterrupted run's, and
// the bucket holds exactly one image per disk, each the disk's content.
func TestKilledAcquisitionWritingImages(t *testing.T) {
	testenv.RequireTool(t, "python3")
	h := &imageKillHarness{parent: t}
	providertest.RunKillTests(t, h)
	gcs, err := storage.NewClient(t.Context(), option.WithEndpoint(h.url+"/storage/v1/"), option.WithCredentialsFile(h.key))
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Close()
	it := gcs.Bucket("acme-evidence-images").Objects(t.Context(), nil)
	found := map[string]string{}
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		found[a.Metadata["acquire-volume"]] = a.Name
	}
	for _, name := range []string{"web-1", "web-1-data"} {
		object, ok := found[vol(name)]
		if !ok {
			t.Errorf("no image of %s in the bucket (%v)", name, found)
			continue
		}
		if got := objectSHA256(t, gcs, object); got != images.sha256(name) {
			t.Errorf("the image of %s has SHA-256 %s, the disk %s", name, got, images.sha256(name))
		}
	}
	if len(found) != 2 {
		t.Errorf("the bucket holds images of %d volumes, want 2: %v", len(found), found)
	}
}

// objectSHA256 is the SHA-256 of an object of the image bucket, read whole.
func objectSHA256(t *testing.T, gcs *storage.Client, object string) string {
	t.Helper()
	r, err := gcs.Bucket("acme-evidence-images").Object(object).NewReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
