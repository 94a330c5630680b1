package awssim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/acquire-forensics/acquire/providers/aws/requestbody"
)

func TestThrottlingAndServerErrors(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)

	ts.SetFaults(Faults{ThrottleDescribeRate: 1})
	_, err := client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})
	wantCode(t, err, "RequestLimitExceeded")
	snapshotOf(t, client, dataVolume) // mutating calls are not throttled

	ts.SetFaults(Faults{ThrottleMutatingRate: 1, ThrottleDescribeRate: 1, Actions: []string{"ec2:CreateSnapshot", "kms:CreateKey", "sts:GetCallerIdentity"}})
	_, err = client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(dataVolume)})
	wantCode(t, err, "RequestLimitExceeded")
	_, err = ts.kms(t, responder, region).CreateKey(t.Context(), &kms.CreateKeyInput{})
	wantCode(t, err, "ThrottlingException")
	_, err = ts.sts(t, responder).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	wantCode(t, err, "Throttling")
	must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{}))

	ts.SetFaults(Faults{ServerErrorRate: 1})
	_, err = client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})
	wantCode(t, err, "InternalError")
	_, err = ts.kms(t, responder, region).DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(cmkID)})
	wantCode(t, err, "KMSInternalException")
}

// With a seed, the same sequence of calls sees the same faults.
func TestFaultsAreDeterministic(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	run := func() []bool {
		ts.SetFaults(Faults{Seed: 9, ThrottleDescribeRate: 0.5})
		var throttled []bool
		for range 20 {
			_, err := client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})
			var apiErr smithy.APIError
			throttled = append(throttled, errors.As(err, &apiErr) && apiErr.ErrorCode() == "RequestLimitExceeded")
		}
		return throttled
	}
	first, second := run(), run()
	some := 0
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("call %d differs between runs", i)
		}
		if first[i] {
			some++
		}
	}
	if some == 0 || some == 20 {
		t.Errorf("%d of 20 calls throttled at rate 0.5", some)
	}
}

func TestWrongChecksumFault(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	id := snapshotOf(t, ts.ec2(t, responder, region), rootVolume)
	client := ts.ebs(t, responder)
	block := listAllBlocks(t, client, id, 100)[0]
	ts.SetFaults(Faults{WrongChecksumRate: 1})
	out := must[*ebs.GetSnapshotBlockOutput](t)(client.GetSnapshotBlock(t.Context(), &ebs.GetSnapshotBlockInput{
		SnapshotId: aws.String(id), BlockIndex: block.BlockIndex, BlockToken: block.BlockToken,
	}))
	data, _ := io.ReadAll(out.BlockData)
	out.BlockData.Close()
	sum := sha256.Sum256(data)
	if aws.ToString(out.Checksum) == base64.StdEncoding.EncodeToString(sum[:]) {
		t.Error("checksum is right despite the fault")
	}
}

func TestSnapshotEndsInError(t *testing.T) {
	sc := fixture(t)
	sc.Faults.FailSnapshotVolumes = []string{dataVolume}
	ts := startServer(t, sc, nil)
	client := ts.ec2(t, responder, region)
	failed := describeSnapshot(t, client, snapshotOf(t, client, dataVolume))
	if failed.State != types.SnapshotStateError {
		t.Errorf("state %s", failed.State)
	}
	if ok := describeSnapshot(t, client, snapshotOf(t, client, rootVolume)); ok.State != types.SnapshotStateCompleted {
		t.Errorf("other volume: %s", ok.State)
	}
}

func TestScenarioFile(t *testing.T) {
	sc, err := LoadScenario("../../../testdata/scenarios/aws-two-accounts.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, sc, nil)
	accounts := ts.Accounts()
	if len(accounts) != 2 || len(accounts[0].Users) == 0 {
		t.Fatalf("accounts %+v", accounts)
	}
	u := accounts[0].Users[0]
	out := must[*ec2.DescribeInstancesOutput](t)(ts.ec2(t, creds{u.AccessKeyID, u.SecretAccessKey}, region).DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{}))
	if len(out.Reservations) == 0 {
		t.Error("the scenario's workload account has no instance")
	}
	if _, err := ParseScenario([]byte(`{"accounts": [{"id": "1"}]}`), "."); err != nil {
		t.Fatal(err)
	}
	if _, err := New(&Scenario{Accounts: []ScenarioAccount{{ID: "1"}}}, nil); err == nil {
		t.Error("a malformed account ID was accepted")
	}
	if _, err := ParseScenario([]byte(`{"acounts": []}`), "."); err == nil {
		t.Error("a misspelt field was accepted")
	}
}

// countingSleeper records the injected waits instead of waiting.
type countingSleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *countingSleeper) Sleep(_ context.Context, d time.Duration) error {
	if d > 0 {
		c.mu.Lock()
		c.waits = append(c.waits, d)
		c.mu.Unlock()
	}
	return nil
}

func (c *countingSleeper) take() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.waits
	c.waits = nil
	return w
}

func TestLatencyFault(t *testing.T) {
	sleeper := &countingSleeper{}
	ts := startServerWith(t, fixture(t), nil, &Options{Sleep: sleeper.Sleep})
	client := ts.ec2(t, responder, region)
	id := snapshotOf(t, client, rootVolume)
	block := listAllBlocks(t, ts.ebs(t, responder), id, 100)[0]
	if w := sleeper.take(); len(w) != 0 {
		t.Fatalf("waits without a latency fault: %v", w)
	}

	ts.SetFaults(Faults{Latency: Duration(250 * time.Millisecond), BlockLatency: Duration(100 * time.Millisecond)})
	must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{}))
	if w := sleeper.take(); !slices.Equal(w, []time.Duration{250 * time.Millisecond}) {
		t.Errorf("DescribeVolumes waited %v, want [250ms]", w)
	}
	readBlock(t, ts.ebs(t, responder), id, block)
	if w := sleeper.take(); !slices.Equal(w, []time.Duration{250 * time.Millisecond, 100 * time.Millisecond}) {
		t.Errorf("GetSnapshotBlock waited %v, want [250ms 100ms]", w)
	}
	// The default sleeper gives up with the request's context.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep under a canceled context: %v", err)
	}
}

// Faults set in a scenario file apply from the start.
func TestFaultsFromScenarioFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "faults.json")
	doc := `{"aws": {
	  "seed": 3, "snapshotBytesPerSecond": -1,
	  "accounts": [{"id": "111111111111",
	    "users": [{"name": "responder", "accessKeyId": "AKIAWORKLOAD00000001", "secretAccessKey": "workload-secret"}],
	    "volumes": [{"id": "vol-0aaaaaaaaaaaaaaa1", "region": "us-east-1", "synthetic": {"blocks": [0, 1]}},
	                {"id": "vol-0aaaaaaaaaaaaaaa2", "region": "us-east-1", "synthetic": {"blocks": [0]}}]}],
	  "faults": {"seed": 5, "throttleDescribeRate": 1, "actions": ["ec2:DescribeVolumes"],
	             "wrongChecksumRate": 1, "failSnapshotVolumes": ["vol-0aaaaaaaaaaaaaaa2"], "latency": "1ms"}
	}}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	sc, err := LoadScenario(path)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Faults.Latency.D() != time.Millisecond {
		t.Errorf("latency %v", sc.Faults.Latency.D())
	}
	sleeper := &countingSleeper{}
	ts := startServerWith(t, sc, nil, &Options{Sleep: sleeper.Sleep})
	client := ts.ec2(t, responder, region)
	_, err = client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})
	wantCode(t, err, "RequestLimitExceeded")
	must[*ec2.DescribeSnapshotsOutput](t)(client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{})) // not listed in actions
	if failed := describeSnapshot(t, client, snapshotOf(t, client, dataVolume)); failed.State != types.SnapshotStateError {
		t.Errorf("snapshot of a failing volume: %s", failed.State)
	}
	id := snapshotOf(t, client, rootVolume)
	block := listAllBlocks(t, ts.ebs(t, responder), id, 100)[0]
	data, checksum := readBlock(t, ts.ebs(t, responder), id, block)
	if sum := sha256.Sum256(data); checksum == base64.StdEncoding.EncodeToString(sum[:]) {
		t.Error("the wrong-checksum fault from the file is not applied")
	}
	if len(sleeper.take()) == 0 {
		t.Error("the latency fault from the file is not applied")
	}
}

func TestVolumeEventualConsistency(t *testing.T) {
	sc := fixture(t)
	sc.Faults.ConsistencyDelay = Duration(2 * time.Second)
	clock := newFakeClock()
	ts := startServer(t, sc, clock)
	client := ts.ec2(t, responder, region)
	vol := must[*ec2.CreateVolumeOutput](t)(client.CreateVolume(t.Context(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1b"), Size: aws.Int32(1)}))
	id := aws.ToString(vol.VolumeId)
	_, err := client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
	wantCode(t, err, "InvalidVolume.NotFound")
	all := must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{}))
	if len(all.Volumes) != 4 {
		t.Errorf("the new volume is listed early: %d volumes", len(all.Volumes))
	}
	_, err = client.AttachVolume(t.Context(), &ec2.AttachVolumeInput{Device: aws.String("/dev/sdh"), InstanceId: aws.String(webInstance), VolumeId: vol.VolumeId})
	wantCode(t, err, "InvalidVolume.NotFound")
	clock.Advance(2 * time.Second)
	got := must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{VolumeIds: []string{id}}))
	if got.Volumes[0].State != types.VolumeStateAvailable {
		t.Errorf("volume state %s", got.Volumes[0].State)
	}
}

func TestEBSThrottleFault(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	id := snapshotOf(t, ts.ec2(t, responder, region), rootVolume)
	client := ts.ebs(t, responder)
	block := listAllBlocks(t, client, id, 100)[0]
	ts.SetFaults(Faults{ThrottleDescribeRate: 1, Actions: []string{"ebs:GetSnapshotBlock"}})
	_, err := client.GetSnapshotBlock(t.Context(), &ebs.GetSnapshotBlockInput{SnapshotId: aws.String(id), BlockIndex: block.BlockIndex, BlockToken: block.BlockToken})
	var throttled *ebstypes.RequestThrottledException
	if !errors.As(err, &throttled) || throttled.Reason != ebstypes.RequestThrottledExceptionReasonAccountThrottled {
		t.Fatalf("want RequestThrottledException ACCOUNT_THROTTLED, got %v", err)
	}
	listAllBlocks(t, client, id, 100) // not among the actions
	ts.SetFaults(Faults{ServerErrorRate: 1, Actions: []string{"ebs:ListSnapshotBlocks"}})
	_, err = client.ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(id)})
	wantCode(t, err, "InternalServerException")
}

// noBackoff retries at once: the test checks that the SDK retries, not how
// long it waits.
type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// The SDK's standard retryer (its default) recovers from RequestLimitExceeded.
func TestSDKRetryerRecoversFromThrottling(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	cfg, err := config.LoadDefaultConfig(t.Context(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(responder.id, responder.secret, "")),
		config.WithBaseEndpoint(ts.url),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = noBackoff{} })
		}),
		config.WithAPIOptions([]func(*middleware.Stack) error{requestbody.Guard}),
	)
	if err != nil {
		t.Fatal(err)
	}
	client := ec2.NewFromConfig(cfg)
	// With this seed some calls are throttled once or twice in a row, none
	// three times: the default three attempts recover every call.
	ts.SetFaults(Faults{Seed: 12, ThrottleDescribeRate: 0.5, Actions: []string{"ec2:DescribeVolumes"}})
	ts.ResetCallCounts()
	const calls = 6
	for range calls {
		must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{}))
	}
	if n := ts.CallCounts()["ec2:DescribeVolumes"]; n <= calls {
		t.Errorf("%d requests for %d calls: nothing was retried", n, calls)
	}
}

// Only authenticated requests for implemented actions are counted.
func TestCallCountsIgnoreJunk(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	ts.ResetCallCounts()
	for i := range 20 {
		ts.signedRequest(t, responder, "ec2", http.MethodPost, "/", url.Values{"Action": {fmt.Sprintf("Junk%d", i)}, "Version": {"2016-11-15"}})
		ts.signedRequest(t, creds{responder.id, "wrong"}, "ec2", http.MethodPost, "/", url.Values{"Action": {"DescribeVolumes"}, "Version": {"2016-11-15"}})
	}
	resp, err := http.Post(ts.url, "application/x-www-form-urlencoded", strings.NewReader("Action=DescribeVolumes&Version=2016-11-15"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if counts := ts.CallCounts(); len(counts) != 0 {
		t.Errorf("junk counted: %v", counts)
	}
	must[*ec2.DescribeVolumesOutput](t)(ts.ec2(t, responder, region).DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{}))
	if counts := ts.CallCounts(); len(counts) != 1 || counts["ec2:DescribeVolumes"] != 1 {
		t.Errorf("counts %v", counts)
	}
}

// A lost reply: the call is carried out and the connection closes before the answer. The client sees a
// transport error, and the snapshot exists; Max bounds how many replies are lost.
func TestLostReply(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	ts.SetFaults(Faults{LostReplies: []LostReply{{Action: "ec2:CreateSnapshot", Rate: 1, Max: 1}}})
	tags := []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: []types.Tag{{Key: aws.String("probe"), Value: aws.String("lost")}}}}
	_, err := client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(dataVolume), TagSpecifications: tags},
		func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} })
	var api smithy.APIError
	if err == nil || errors.As(err, &api) {
		t.Fatalf("CreateSnapshot with its reply lost: %v, want a transport error", err)
	}
	out := must[*ec2.DescribeSnapshotsOutput](t)(client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"}, Filters: []types.Filter{{Name: aws.String("tag:probe"), Values: []string{"lost"}}}}))
	if len(out.Snapshots) != 1 {
		t.Fatalf("%d snapshots made by the call whose reply was lost, want 1", len(out.Snapshots))
	}
	// The second call's reply arrives: Max is 1.
	must[*ec2.CreateSnapshotOutput](t)(client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(dataVolume)},
		func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} }))
}

func TestFaultRangesChecked(t *testing.T) {
	for _, f := range []Faults{{ServerErrorRate: 5}, {ThrottleMutatingRate: -0.1}, {LostReplies: []LostReply{{Action: "CopySnapshot", Rate: 1}}},
		{LostReplies: []LostReply{{Action: "ec2:CopySnapshot", Rate: 2}}}} {
		sc := fixture(t)
		sc.Faults = f
		if _, err := New(sc, nil); err == nil || !strings.Contains(err.Error(), "faults.") {
			t.Errorf("faults %+v: error %v, want one naming the field", f, err)
		}
	}
}
