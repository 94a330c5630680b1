package gcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/gcp/gcsblocks"
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

// errEmulatorHost: with STORAGE_EMULATOR_HOST set, Google's storage client sends every request to
// that host without credentials, whatever it is given: evidence would go, or be read, elsewhere.
var errEmulatorHost = errors.New("STORAGE_EMULATOR_HOST is set, which makes Google's storage client send requests to that host without credentials: " +
	"unset it (--endpoint names the cloud range's endpoint)")

func newImageStore(ctx context.Context, endpoint, bucket string, creds option.ClientOption) (*imageStore, error) {
	if os.Getenv("STORAGE_EMULATOR_HOST") != "" {
		return nil, errEmulatorHost
	}
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

// exists says whether object is in the bucket.
func (s *imageStore) exists(ctx context.Context, object string) (bool, error) {
	_, err := s.gcs.Bucket(s.bucket).Object(object).Attrs(ctx)
	switch {
	case errors.Is(err, storage.ErrObjectNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("looking for %s: %w", gsURL(s.bucket, object), err)
	}
	return true, nil
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

// ImageAccess is how a raw image in the image bucket is read back (export, verify --rehash): the
// forensic side's credentials, and the cloud range's endpoint when it is one.
type ImageAccess struct {
	CredentialsFile string // a service-account key or ADC file; Application Default Credentials when empty
	Endpoint        string
	Logger          *slog.Logger
}

// OpenImage opens the raw image an acquisition wrote to its image bucket (the evidence's recorded
// gs://BUCKET/OBJECT and size) as the evidence's blocks. Compute Engine has no API that reads a
// snapshot, so evidence acquired without --image-bucket cannot be read back; the error says so.
func OpenImage(ctx context.Context, acc ImageAccess, image string, size int64) (driver.BlockSource, error) {
	if image == "" {
		return nil, &driver.Error{Code: driver.CodeNotFound, Op: "read", Err: errors.New(
			"no raw image of this evidence was written: Compute Engine has no API that reads a snapshot's content, so Google Cloud evidence is read back from the image " +
				"its digest worker wrote to Cloud Storage (acquire gcp --image-bucket); acquire it again with --image-bucket, or attach a disk made from the snapshot to a VM")}
	}
	if os.Getenv("STORAGE_EMULATOR_HOST") != "" {
		return nil, &driver.Error{Code: driver.CodeInvalid, Op: "read", Resource: image, Err: errEmulatorHost}
	}
	creds, email, err := loadCredentials(acc.CredentialsFile, "", acc.Endpoint)
	if err != nil {
		return nil, &driver.Error{Code: driver.CodeInvalid, Op: "read", Resource: image, Err: fmt.Errorf("the forensic side's credentials: %w", err)}
	}
	opts := []option.ClientOption{option.WithAuthCredentials(creds), option.WithScopes(storage.ScopeReadOnly)}
	if acc.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimRight(acc.Endpoint, "/")+"/storage/v1/"))
	}
	gcs, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, &driver.Error{Code: driver.CodeInvalid, Op: "read", Resource: image, Err: err}
	}
	src, err := gcsblocks.Open(ctx, gcs, image, size, &gcsblocks.Options{Reader: email, Logger: acc.Logger}, gcs.Close)
	if err != nil {
		return nil, imageReadError(image, err)
	}
	return &imageSource{Source: src, image: image}, nil
}

// imageSource gives read errors their code, as the engine's errors have.
type imageSource struct {
	*gcsblocks.Source
	image string
}

func (s *imageSource) ReadBlocks(ctx context.Context, from int64, visit func(driver.Block) error) error {
	return imageReadError(s.image, s.Source.ReadBlocks(ctx, from, visit))
}

func imageReadError(image string, err error) error {
	var de *driver.Error
	var ie *gcsblocks.IntegrityError
	switch {
	case err == nil || errors.As(err, &de):
		return err
	case errors.As(err, &ie):
		return &driver.Error{Code: driver.CodeIntegrity, Op: "read", Resource: image, Err: err}
	case errors.Is(err, storage.ErrObjectNotExist):
		return &driver.Error{Code: driver.CodeNotFound, Op: "read", Resource: image, Err: err}
	case errors.Is(err, context.Canceled):
		return &driver.Error{Code: driver.CodeCancelled, Op: "read", Resource: image, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &driver.Error{Code: driver.CodeTimeout, Op: "read", Resource: image, Err: err}
	}
	code := errorCode(err)
	if code == driver.CodeUnknown && driver.IsTransport(err) {
		code = driver.CodeUnavailable
	}
	return &driver.Error{Code: code, Op: "read", Resource: image, Err: err}
}
