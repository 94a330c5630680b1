package awssim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/acquire-forensics/acquire/providers/aws/requestbody"
)

const (
	workloadAccount  = "111111111111"
	forensicsAccount = "222222222222"
	region           = "us-east-1"
	otherRegion      = "eu-west-1"

	rootVolume      = "vol-0aaaaaaaaaaaaaaa1"
	dataVolume      = "vol-0aaaaaaaaaaaaaaa2"
	encryptedVolume = "vol-0aaaaaaaaaaaaaaa3"
	cmkVolume       = "vol-0aaaaaaaaaaaaaaa4"
	webInstance     = "i-0aaaaaaaaaaaaaaa1"

	cmkID          = "11111111-2222-4333-8444-555555555555"
	signKeyID      = "99999999-2222-4333-8444-555555555555"
	forensicsKeyID = "22222222-3333-4444-8555-666666666666"
)

// creds are a test principal's access key.
type creds struct{ id, secret string }

var (
	responder = creds{"AKIAWORKLOAD00000001", "workload-secret"}
	readonly  = creds{"AKIAWORKLOAD00000002", "readonly-secret"}
	analyst   = creds{"AKIAFORENSICS0000001", "forensics-secret"}
)

// fakeClock is a settable clock for deterministic progress, locks and
// eventual consistency.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// writeImage writes a sparse disk image with data in blocks 0 and 3 and a
// partial last block, and returns its path.
func writeImage(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(4*BlockSize + 100*1024); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{0, 3*BlockSize + 17, 4 * BlockSize} {
		if _, err := f.WriteAt([]byte("evidence at offset "+time.Duration(at).String()), at); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

const cmkPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*"}
  ]
}`

// fixture is the test scenario: a workload account with an instance and its
// volumes, and a forensics account that may assume a role in it.
func fixture(t testing.TB) *Scenario {
	return &Scenario{
		Seed:                   1,
		SnapshotBytesPerSecond: -1, // snapshots complete at once unless a test sets a rate
		Accounts: []ScenarioAccount{
			{
				ID: workloadAccount, Name: "workload",
				Users: []ScenarioUser{
					{Name: "responder", AccessKeyID: responder.id, SecretAccessKey: responder.secret},
					{Name: "readonly", AccessKeyID: readonly.id, SecretAccessKey: readonly.secret, Allow: []string{"ec2:Describe*", "kms:DescribeKey"}},
				},
				Roles: []ScenarioRole{{Name: "ForensicsAccess", Trust: []string{forensicsAccount}}},
				Keys: []ScenarioKey{
					{ID: cmkID, Region: region, Alias: "alias/workload-ebs", Policy: []byte(cmkPolicy)},
					{ID: signKeyID, Region: region, Alias: "alias/custody", Usage: "SIGN_VERIFY", Spec: "ECC_NIST_P256"},
				},
				Volumes: []ScenarioVolume{
					{ID: rootVolume, Region: region, SizeGiB: 8, Synthetic: &SyntheticContent{Blocks: []int32{0, 1, 5}, Seed: 7}, Tags: map[string]string{"Name": "root"}},
					{ID: dataVolume, Region: region, SizeGiB: 1, Image: writeImage(t)},
					{ID: encryptedVolume, Region: region, SizeGiB: 1, Encrypted: true, Synthetic: &SyntheticContent{Blocks: []int32{2}}},
					{ID: cmkVolume, Region: region, SizeGiB: 1, KMSKeyID: "alias/workload-ebs", Synthetic: &SyntheticContent{Blocks: []int32{4}}},
				},
				Instances: []ScenarioInstance{{
					ID: webInstance, Region: region, AvailabilityZone: "us-east-1b", InstanceType: "m5.large",
					IAMInstanceProfile: "web-server", UserData: "#!/bin/sh\necho compromised\n",
					SecurityGroups: []securityGroup{{ID: "sg-0123456789abcdef0", Name: "web"}},
					Tags:           map[string]string{"Name": "web", "env": "prod"},
					Volumes: []ScenarioAttachment{
						{VolumeID: rootVolume, Device: "/dev/xvda", DeleteOnTermination: true},
						{VolumeID: dataVolume, Device: "/dev/sdf"},
						{VolumeID: encryptedVolume, Device: "/dev/sdg"},
					},
				}},
			},
			{
				ID: forensicsAccount, Name: "forensics",
				Users: []ScenarioUser{{Name: "analyst", AccessKeyID: analyst.id, SecretAccessKey: analyst.secret}},
				Keys:  []ScenarioKey{{ID: forensicsKeyID, Region: region, Alias: "alias/evidence"}, {ID: "33333333-3333-4444-8555-666666666666", Region: otherRegion, Alias: "alias/evidence"}},
			},
		},
	}
}

// testServer runs the simulator on an httptest server.
type testServer struct {
	*Server
	url   string
	clock *fakeClock // nil when on the real clock
}

func startServer(t testing.TB, sc *Scenario, clock *fakeClock) *testServer {
	t.Helper()
	opts := &Options{}
	if clock != nil {
		opts.Now = clock.Now
	}
	return startServerWith(t, sc, clock, opts)
}

// startServerWith runs the simulator with the given options; clock is the
// fake clock behind opts.Now, if any.
func startServerWith(t testing.TB, sc *Scenario, clock *fakeClock, opts *Options) *testServer {
	t.Helper()
	sim, err := New(sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(func() { hs.Close(); sim.Close() })
	return &testServer{Server: sim, url: hs.URL, clock: clock}
}

func (ts *testServer) config(t testing.TB, c creds, regionName string) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(regionName),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.id, c.secret, "")),
		config.WithBaseEndpoint(ts.url),
		config.WithRetryMaxAttempts(1),
		config.WithAPIOptions([]func(*middleware.Stack) error{requestbody.Guard}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (ts *testServer) ec2(t testing.TB, c creds, regionName string) *ec2.Client {
	return ec2.NewFromConfig(ts.config(t, c, regionName))
}

func (ts *testServer) ebs(t testing.TB, c creds) *ebs.Client {
	return ebs.NewFromConfig(ts.config(t, c, region))
}

func (ts *testServer) kms(t testing.TB, c creds, regionName string) *kms.Client {
	return kms.NewFromConfig(ts.config(t, c, regionName))
}

func (ts *testServer) sts(t testing.TB, c creds) *sts.Client {
	return sts.NewFromConfig(ts.config(t, c, region))
}

// wantCode fails unless err is an API error with the given code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("want API error %s, got %v", code, err)
	}
	if apiErr.ErrorCode() != code {
		t.Fatalf("want error code %s, got %s (%s)", code, apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
}

// signedRequest sends a request signed as an SDK signs it, for requests the
// SDK would refuse to send (missing parameters, out-of-range values, unknown
// actions). body is form-encoded Query parameters, or nil.
func (ts *testServer) signedRequest(t testing.TB, c creds, service, method, path string, body url.Values) *http.Response {
	t.Helper()
	var payload []byte
	if body != nil {
		payload = []byte(body.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.url+path, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	sum := sha256.Sum256(payload)
	err = v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret},
		req, hex.EncodeToString(sum[:]), service, region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// ec2ErrorOf reads the code and message of an EC2 XML error body.
func ec2ErrorOf(t testing.TB, resp *http.Response) (code, message string) {
	t.Helper()
	var body struct {
		Errors []struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Errors>Error"`
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(data, &body); err != nil || len(body.Errors) == 0 {
		t.Fatalf("status %d, not an EC2 error: %s", resp.StatusCode, data)
	}
	return body.Errors[0].Code, body.Errors[0].Message
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
