package awssim

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
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

	ts.SetFaults(Faults{Latency: Duration(time.Millisecond), BlockLatency: Duration(time.Millisecond)})
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
