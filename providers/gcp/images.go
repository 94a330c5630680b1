package gcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// kindImage is a raw image a worker wrote to the image bucket: kept as evidence. ID: gs://BUCKET/OBJECT.
const kindImage = "image-object"

// imageStore is the forensic project's image bucket: a resumable upload session per image, made by
// the forensic principal and handed to the worker, and the finished object's attributes, compared
// with what the worker read.
type imageStore struct {
	bucket string
	base   string // where the JSON API's upload path is served
	http   *http.Client
	gcs    *storage.Client
}

func newImageStore(ctx context.Context, endpoint, bucket string, creds option.ClientOption) (*imageStore, error) {
	base, gcsOpts := "https://storage.googleapis.com", []option.ClientOption{creds}
	if endpoint != "" {
		base = strings.TrimRight(endpoint, "/")
		gcsOpts = append(gcsOpts, option.WithEndpoint(base+"/storage/v1/"))
	}
	hc, _, err := htransport.NewClient(ctx, creds, option.WithScopes(storage.ScopeReadWrite))
	if err != nil {
		return nil, err
	}
	gcs, err := storage.NewClient(ctx, gcsOpts...)
	if err != nil {
		return nil, err
	}
	return &imageStore{bucket: bucket, base: base, http: hc, gcs: gcs}, nil
}

func (s *imageStore) close() error { return s.gcs.Close() }

// objectName is where a snapshot's image goes: under the case, named after the snapshot.
func imageObject(caseLabel, snapshot string) string {
	return "acquire/" + caseLabel + "/" + snapshot + ".raw"
}

func gsURL(bucket, object string) string { return "gs://" + bucket + "/" + object }

// session starts a resumable upload of object that may only create it (ifGenerationMatch=0: an image
// in the bucket is never replaced), and returns the session URI: a credential for that one upload,
// never logged or recorded. https://cloud.google.com/storage/docs/performing-resumable-uploads
func (s *imageStore) session(ctx context.Context, object string, meta map[string]string) (string, error) {
	q := url.Values{"uploadType": {"resumable"}, "name": {object}, "ifGenerationMatch": {"0"}}
	body, err := json.Marshal(map[string]any{"name": object, "contentType": "application/octet-stream", "metadata": meta})
	if err != nil {
		return "", err
	}
	u := s.base + "/upload/storage/v1/b/" + url.PathEscape(s.bucket) + "/o?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	resp, err := s.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("starting the upload of %s: %w", gsURL(s.bucket, object), err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusOK || loc == "" {
		return "", &imageError{object: gsURL(s.bucket, object), status: resp.StatusCode, msg: string(msg)}
	}
	return loc, nil
}

// imageError is a refused upload session, with the cloud's word on why.
type imageError struct {
	object string
	status int
	msg    string
}

func (e *imageError) Error() string {
	return fmt.Sprintf("starting the upload of %s: HTTP %d: %s", e.object, e.status, strings.TrimSpace(e.msg))
}

// check compares the finished object with what the worker read: its size, and the MD5 Cloud Storage
// computed against the one the worker computed of the same bytes.
func (s *imageStore) check(ctx context.Context, object string, size int64, md5 string) (*storage.ObjectAttrs, error) {
	a, err := s.gcs.Bucket(s.bucket).Object(object).Attrs(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil, fmt.Errorf("the worker reported its image written, but %s does not exist", gsURL(s.bucket, object))
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", gsURL(s.bucket, object), err)
	}
	if got := base64.StdEncoding.EncodeToString(a.MD5); a.Size != size || got != md5 {
		return nil, fmt.Errorf("%s holds %d bytes with MD5 %s, but the worker read %d bytes with MD5 %s: the image is not the disk's",
			gsURL(s.bucket, object), a.Size, got, size, md5)
	}
	return a, nil
}

// imageResource is the kept image, for the record.
func imageResource(bucket, object string, v driver.Volume, a *storage.ObjectAttrs) driver.Resource {
	return driver.Resource{Side: driver.Forensic, Kind: kindImage, ID: gsURL(bucket, object), Volume: v.ID,
		Note: fmt.Sprintf("raw image written by the digest worker, generation %d, %d bytes, MD5 %s and CRC32C %08x as Cloud Storage computed them",
			a.Generation, a.Size, base64.StdEncoding.EncodeToString(a.MD5), a.CRC32C)}
}
