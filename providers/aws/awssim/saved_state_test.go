package awssim

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/acquire-forensics/acquire/providers/aws/requestbody"
)

// restart saves ts's state and starts another simulator from the same
// scenario and that state, on the same clock: the process restarting.
func restart(t *testing.T, ts *testServer, sc *Scenario) *testServer {
	t.Helper()
	var saved bytes.Buffer
	if err := ts.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	return startServerWith(t, sc, ts.clock, &Options{Now: ts.clock.Now, State: &saved})
}

// Everything a client created or changed is there after a restart, with the
// same IDs and states; time-based state carries on by the clock; and new IDs
// continue the old sequences.
func TestStateSurvivesRestart(t *testing.T) {
	sc := fixture(t)
	sc.SnapshotBytesPerSecond = BlockSize // three written blocks: three seconds
	clock := newFakeClock()
	before := startServer(t, sc, clock)
	workload, analystEC2 := before.ec2(t, responder, region), before.ec2(t, analyst, region)
	keys := before.kms(t, responder, region)

	// A completed, tagged snapshot, shared with the forensics account and
	// locked in compliance mode.
	shared := aws.ToString(must[*ec2.CreateSnapshotOutput](t)(workload.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{
		VolumeId: aws.String(dataVolume),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot,
			Tags: []types.Tag{{Key: aws.String("case"), Value: aws.String("42")}}}},
	})).SnapshotId)
	clock.Advance(3 * time.Second)
	if err := share(t, workload, shared, forensicsAccount); err != nil {
		t.Fatal(err)
	}
	must[*ec2.LockSnapshotOutput](t)(workload.LockSnapshot(t.Context(), &ec2.LockSnapshotInput{
		SnapshotId: aws.String(shared), LockMode: types.LockModeCompliance, LockDuration: aws.Int32(1), CoolOffPeriod: aws.Int32(1),
	}))
	// A cross-account copy and a snapshot, both a third of the way through.
	copied := aws.ToString(must[*ec2.CopySnapshotOutput](t)(analystEC2.CopySnapshot(t.Context(), &ec2.CopySnapshotInput{
		SourceSnapshotId: aws.String(shared), SourceRegion: aws.String(region),
		Encrypted: aws.Bool(true), KmsKeyId: aws.String("alias/evidence"),
	})).SnapshotId)
	pending := snapshotOf(t, workload, rootVolume)
	clock.Advance(time.Second)
	// A volume from the shared snapshot, attached to the instance.
	volumeInput := &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1b"), SnapshotId: aws.String(shared),
		Size: aws.Int32(2), ClientToken: aws.String("restart-test")}
	vol := aws.ToString(must[*ec2.CreateVolumeOutput](t)(workload.CreateVolume(t.Context(), volumeInput)).VolumeId)
	must[*ec2.AttachVolumeOutput](t)(workload.AttachVolume(t.Context(), &ec2.AttachVolumeInput{
		VolumeId: aws.String(vol), InstanceId: aws.String(webInstance), Device: aws.String("/dev/sdh"),
	}))
	must[*ec2.EnableEbsEncryptionByDefaultOutput](t)(before.ec2(t, responder, otherRegion).EnableEbsEncryptionByDefault(t.Context(), &ec2.EnableEbsEncryptionByDefaultInput{}))
	// A key created at runtime, with a grant, scheduled for deletion.
	key := aws.ToString(must[*kms.CreateKeyOutput](t)(keys.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("case 42")})).KeyMetadata.KeyId)
	grant := aws.ToString(must[*kms.CreateGrantOutput](t)(keys.CreateGrant(t.Context(), &kms.CreateGrantInput{
		KeyId: aws.String(key), GranteePrincipal: aws.String(rootARN(forensicsAccount)),
		Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt},
	})).GrantId)
	scheduled := must[*kms.ScheduleKeyDeletionOutput](t)(keys.ScheduleKeyDeletion(t.Context(), &kms.ScheduleKeyDeletionInput{
		KeyId: aws.String(key), PendingWindowInDays: aws.Int32(7),
	}))
	// A signature by the scenario's signing key, whose private key is drawn
	// at random when the scenario is loaded.
	message := []byte("custody checkpoint")
	signed := must[*kms.SignOutput](t)(keys.Sign(t.Context(), &kms.SignInput{KeyId: aws.String("alias/custody"),
		Message: message, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256}))
	// An AssumeRole session.
	session := must[*sts.AssumeRoleOutput](t)(before.sts(t, analyst).AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + workloadAccount + ":role/ForensicsAccess"), RoleSessionName: aws.String("case-42"),
	})).Credentials

	after := restart(t, before, sc)
	if summary, ok := after.RestoredState(); !ok || summary.String() != "3 snapshots, 1 volume, 1 key, 1 grant, 1 session" {
		t.Errorf("restored %q (%v)", summary, ok)
	}
	if _, ok := before.RestoredState(); ok {
		t.Error("a simulator started from the scenario alone reports a restored state")
	}

	// The inspection API sees the same state at the same instant.
	inspections := map[string]func(*testServer) any{
		"Snapshots": func(ts *testServer) any { return ts.Snapshots() },
		"Shares":    func(ts *testServer) any { return ts.Shares() },
		"Keys":      func(ts *testServer) any { return ts.Keys() },
		"Grants":    func(ts *testServer) any { return ts.Grants() },
	}
	for name, inspect := range inspections {
		if b, a := inspect(before), inspect(after); !reflect.DeepEqual(b, a) {
			t.Errorf("%s before the restart:\n%+v\nafter:\n%+v", name, b, a)
		}
	}

	// And so do the clients.
	workload, analystEC2 = after.ec2(t, responder, region), after.ec2(t, analyst, region)
	keys = after.kms(t, responder, region)
	own := must[*ec2.DescribeSnapshotsOutput](t)(workload.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}}))
	var ids []string
	for _, s := range own.Snapshots {
		ids = append(ids, aws.ToString(s.SnapshotId))
	}
	if !slices.Equal(ids, []string{shared, pending}) {
		t.Fatalf("workload owns %v, want %v", ids, []string{shared, pending})
	}
	if s := own.Snapshots[0]; s.State != types.SnapshotStateCompleted || len(s.Tags) != 1 || aws.ToString(s.Tags[0].Value) != "42" {
		t.Errorf("shared snapshot %s, tags %+v", s.State, s.Tags)
	}
	for _, c := range []struct {
		client *ec2.Client
		id     string
	}{{workload, pending}, {analystEC2, copied}} {
		if s := describeSnapshot(t, c.client, c.id); s.State != types.SnapshotStatePending || aws.ToString(s.Progress) != "33%" {
			t.Errorf("%s: %s %s, want pending 33%%", c.id, s.State, aws.ToString(s.Progress))
		}
	}
	restorable := must[*ec2.DescribeSnapshotsOutput](t)(analystEC2.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{workloadAccount}, RestorableByUserIds: []string{"self"},
	}))
	if len(restorable.Snapshots) != 1 || aws.ToString(restorable.Snapshots[0].SnapshotId) != shared {
		t.Errorf("the forensics account may restore %+v", restorable.Snapshots)
	}
	if lock := lockedSnapshot(t, workload, shared); lock.LockState != types.LockStateComplianceCooloff {
		t.Errorf("lock state %s", lock.LockState)
	}
	_, err := workload.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(shared)})
	wantCode(t, err, "OperationNotPermitted")
	blocks := must[*ebs.ListSnapshotBlocksOutput](t)(after.ebs(t, responder).ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(shared)}))
	if len(blocks.Blocks) != 3 {
		t.Errorf("the shared snapshot lists %d blocks, want the image's 3", len(blocks.Blocks))
	}

	volumes := must[*ec2.DescribeVolumesOutput](t)(workload.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{VolumeIds: []string{vol}}))
	if v := volumes.Volumes[0]; v.State != types.VolumeStateInUse || aws.ToInt32(v.Size) != 2 || aws.ToString(v.SnapshotId) != shared ||
		len(v.Attachments) != 1 || aws.ToString(v.Attachments[0].InstanceId) != webInstance || aws.ToString(v.Attachments[0].Device) != "/dev/sdh" {
		t.Errorf("volume %+v", v)
	}
	if again := must[*ec2.CreateVolumeOutput](t)(workload.CreateVolume(t.Context(), volumeInput)); aws.ToString(again.VolumeId) != vol {
		t.Errorf("CreateVolume with the same ClientToken made %s, want %s", aws.ToString(again.VolumeId), vol)
	}
	instances := must[*ec2.DescribeInstancesOutput](t)(workload.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{webInstance}}))
	if n := len(instances.Reservations[0].Instances[0].BlockDeviceMappings); n != 4 {
		t.Errorf("the instance has %d block devices, want 4", n)
	}
	byDefault := must[*ec2.GetEbsEncryptionByDefaultOutput](t)(after.ec2(t, responder, otherRegion).GetEbsEncryptionByDefault(t.Context(), &ec2.GetEbsEncryptionByDefaultInput{}))
	if !aws.ToBool(byDefault.EbsEncryptionByDefault) {
		t.Error("encryption by default was lost")
	}

	described := must[*kms.DescribeKeyOutput](t)(keys.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(key)}))
	if m := described.KeyMetadata; m.KeyState != kmstypes.KeyStatePendingDeletion || !aws.ToTime(m.DeletionDate).Equal(aws.ToTime(scheduled.DeletionDate)) {
		t.Errorf("key %s, deletion %v, want PendingDeletion at %v", m.KeyState, m.DeletionDate, scheduled.DeletionDate)
	}
	grants := must[*kms.ListGrantsOutput](t)(keys.ListGrants(t.Context(), &kms.ListGrantsInput{KeyId: aws.String(key)}))
	if len(grants.Grants) != 1 || aws.ToString(grants.Grants[0].GrantId) != grant {
		t.Errorf("grants %+v", grants.Grants)
	}
	verified := must[*kms.VerifyOutput](t)(keys.Verify(t.Context(), &kms.VerifyInput{KeyId: aws.String("alias/custody"),
		Message: message, Signature: signed.Signature, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256}))
	if !verified.SignatureValid {
		t.Error("a signature made before the restart does not verify")
	}
	sessionCfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion(region), config.WithBaseEndpoint(after.url),
		config.WithRetryMaxAttempts(1), config.WithAPIOptions([]func(*middleware.Stack) error{requestbody.Guard}), config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			aws.ToString(session.AccessKeyId), aws.ToString(session.SecretAccessKey), aws.ToString(session.SessionToken))))
	if err != nil {
		t.Fatal(err)
	}
	who := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(sessionCfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}))
	if want := "arn:aws:sts::" + workloadAccount + ":assumed-role/ForensicsAccess/case-42"; aws.ToString(who.Arn) != want {
		t.Errorf("session is %s, want %s", aws.ToString(who.Arn), want)
	}

	// A new snapshot gets the ID the uninterrupted simulator gives next,
	// not one of the old ones.
	next := snapshotOf(t, workload, cmkVolume)
	if uninterrupted := snapshotOf(t, before.ec2(t, responder, region), cmkVolume); next != uninterrupted || slices.Contains([]string{shared, pending, copied}, next) {
		t.Errorf("new snapshot %s after the restart; the uninterrupted simulator made %s", next, uninterrupted)
	}

	// Time carries on: the pending snapshot and the copy complete, the
	// cool-off ends, and the key is deleted at the end of its window.
	clock.Advance(2 * time.Second)
	for _, c := range []struct {
		client *ec2.Client
		id     string
	}{{workload, pending}, {analystEC2, copied}} {
		if s := describeSnapshot(t, c.client, c.id); s.State != types.SnapshotStateCompleted {
			t.Errorf("%s: %s after its time, want completed", c.id, s.State)
		}
	}
	clock.Advance(time.Hour)
	_, err = workload.UnlockSnapshot(t.Context(), &ec2.UnlockSnapshotInput{SnapshotId: aws.String(shared)})
	wantCode(t, err, "OperationNotPermitted")
	clock.Advance(7 * 24 * time.Hour)
	_, err = keys.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(key)})
	wantCode(t, err, "NotFoundException")
}

// A state is refused, with an error saying why, when it is not one, when it
// is of another version, or when it was saved for another scenario or over
// other disk content. Faults are no part of the scenario's identity.
func TestSavedStateRefused(t *testing.T) {
	sc := fixture(t)
	ts := startServer(t, sc, nil)
	snapshotOf(t, ts.ec2(t, responder, region), dataVolume)
	var saved bytes.Buffer
	if err := ts.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	good := saved.String()

	otherSeed := *sc
	otherSeed.Seed++
	withFaults := *sc
	withFaults.Faults = Faults{ThrottleDescribeRate: 0.5, Seed: 3}

	for _, c := range []struct {
		name  string
		sc    *Scenario
		state string
		want  string // in the error; "" when the state is accepted
	}{
		{"another scenario", &otherSeed, good, "saved for another scenario"},
		{"garbage", sc, "not json at all", "not a valid state document"},
		{"truncated", sc, good[:len(good)/2], "not a valid state document"},
		{"unknown version", sc, strings.Replace(good, `"version": 1,`, `"version": 2,`, 1), "version 2 is not supported"},
		{"another format", sc, `{"format": "something-else", "version": 1}`, "not an awssim state document"},
		{"unknown field", sc, strings.Replace(good, `"version": 1,`, `"version": 1, "extra": true,`, 1), "not a valid version 1 document"},
		{"dangling grant", sc, strings.Replace(good, `"grants": null`, `"grants": [{"id": "g", "keyId": "nope"}]`, 1), "grant g"},
		{"faults changed", &withFaults, good, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim, err := New(c.sc, &Options{State: strings.NewReader(c.state)})
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == "":
				sim.Close()
			case err == nil:
				sim.Close()
				t.Fatalf("accepted, want an error about %q", c.want)
			case !errors.Is(err, ErrStateRefused) || !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q, want ErrStateRefused about %q", err, c.want)
			}
		})
	}

	t.Run("disk image changed", func(t *testing.T) {
		image := sc.Accounts[0].Volumes[1].Image
		if err := os.WriteFile(image, bytes.Repeat([]byte("other content "), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := New(sc, &Options{State: strings.NewReader(good)})
		if !errors.Is(err, ErrStateRefused) || !strings.Contains(err.Error(), "content of volume "+dataVolume) {
			t.Fatalf("error %v, want one about the content of %s", err, dataVolume)
		}
	})
}

// OnChange hears of requests that change the state, and of changes made
// aside from their action, and not of reads.
func TestOnChange(t *testing.T) {
	var changes atomic.Int32
	ts := startServerWith(t, fixture(t), nil, &Options{OnChange: func() { changes.Add(1) }})
	// The forensics account has no volume under aws/ebs: its managed key
	// does not exist yet.
	client, keys := ts.ec2(t, responder, region), ts.kms(t, analyst, region)

	must[*ec2.DescribeSnapshotsOutput](t)(client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}}))
	if n := changes.Load(); n != 0 {
		t.Errorf("%d changes after a describe call", n)
	}
	snapshotOf(t, client, dataVolume)
	if n := changes.Load(); n != 1 {
		t.Errorf("%d changes after CreateSnapshot, want 1", n)
	}
	// The AWS managed key is created on first use, by any call.
	must[*kms.DescribeKeyOutput](t)(keys.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")}))
	if n := changes.Load(); n != 2 {
		t.Errorf("%d changes after DescribeKey created aws/ebs, want 2", n)
	}
	must[*kms.DescribeKeyOutput](t)(keys.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")}))
	if n := changes.Load(); n != 2 {
		t.Errorf("%d changes after a second DescribeKey, want 2", n)
	}
}
