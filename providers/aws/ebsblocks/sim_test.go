package ebsblocks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go/middleware"

	"github.com/acquire-forensics/acquire/providers/aws/awssim"
	"github.com/acquire-forensics/acquire/providers/aws/requestbody"
)

const (
	testAccount  = "111111111111"
	testRegion   = "us-east-1"
	testVolumeID = "vol-0aaaaaaaaaaaaaaa1"
	testKeyID    = "AKIAFORENSICS0000001"
	testSecret   = "forensics-secret"
)

// simSnapshot is a completed snapshot of an image in an in-process AWS
// simulator, with an EBS client for it.
type simSnapshot struct {
	sim        *awssim.Server
	client     *ebs.Client
	snapshotID string
}

// simSetup adjusts the scenario and simulator options before the start.
type simSetup struct {
	scenario func(*awssim.Scenario)
	options  *awssim.Options
}

// startSnapshot serves img as a volume in the simulator and snapshots it.
func startSnapshot(t testing.TB, img *testImage, setup simSetup) *simSnapshot {
	t.Helper()
	sc := &awssim.Scenario{
		Seed:                   1,
		SnapshotBytesPerSecond: -1, // completed at once
		Accounts: []awssim.ScenarioAccount{{
			ID: testAccount, Name: "forensics",
			Users:   []awssim.ScenarioUser{{Name: "analyst", AccessKeyID: testKeyID, SecretAccessKey: testSecret}},
			Volumes: []awssim.ScenarioVolume{{ID: testVolumeID, Region: testRegion, SizeGiB: int32(img.size >> 30), Image: img.path}},
		}},
	}
	if setup.scenario != nil {
		setup.scenario(sc)
	}
	faults := sc.Faults
	sc.Faults = awssim.Faults{} // the snapshot is taken without faults
	sim, err := awssim.New(sc, setup.options)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	cfg := simConfig(t, srv.URL)
	out, err := ec2.NewFromConfig(cfg).CreateSnapshot(context.Background(), &ec2.CreateSnapshotInput{VolumeId: aws.String(testVolumeID)})
	if err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(faults)
	sim.ResetCallCounts()
	return &simSnapshot{sim: sim, client: ebs.NewFromConfig(cfg), snapshotID: aws.ToString(out.SnapshotId)}
}

// simConfig is an SDK configuration for the simulator. The SDK's own retries
// stay on (three attempts): the package must turn them off per call. Idle
// connections are kept for every worker, as a real caller should.
func simConfig(t testing.TB, url string) aws.Config {
	t.Helper()
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 256
	}).WithTimeout(5 * time.Minute)
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(testRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")),
		config.WithBaseEndpoint(url),
		config.WithHTTPClient(httpClient),
		config.WithAPIOptions([]func(*middleware.Stack) error{requestbody.Guard}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// calls is how often the simulator served an action.
func (s *simSnapshot) calls(action string) int { return s.sim.CallCounts()["ebs:"+action] }
