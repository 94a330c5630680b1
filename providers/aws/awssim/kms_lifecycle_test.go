package awssim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// At the end of its waiting period a key is deleted: it is no longer found,
// and snapshots under it can be neither read nor copied.
func TestScheduledKeyIsDeleted(t *testing.T) {
	clock := newFakeClock()
	ts := startServer(t, fixture(t), clock)
	client := ts.kms(t, responder, region)
	snap := snapshotOf(t, ts.ec2(t, responder, region), cmkVolume)

	must[*kms.ScheduleKeyDeletionOutput](t)(client.ScheduleKeyDeletion(t.Context(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(cmkID), PendingWindowInDays: aws.Int32(7)}))
	clock.Advance(7*24*time.Hour - time.Second)
	desc := must[*kms.DescribeKeyOutput](t)(client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(cmkID)}))
	if desc.KeyMetadata.KeyState != kmstypes.KeyStatePendingDeletion {
		t.Fatalf("key state %s", desc.KeyMetadata.KeyState)
	}

	clock.Advance(time.Second)
	_, err := client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(cmkID)})
	wantCode(t, err, "NotFoundException")
	_, err = client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/workload-ebs")})
	wantCode(t, err, "NotFoundException")
	if pending := ts.KeysPendingDeletion(); len(pending) != 0 {
		t.Errorf("still pending: %+v", pending)
	}
	for _, k := range ts.Keys() {
		if strings.HasSuffix(k.ARN, cmkID) {
			t.Errorf("deleted key still listed: %+v", k)
		}
	}
	_, err = ts.ebs(t, responder).ListSnapshotBlocks(t.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(snap)})
	wantCode(t, err, "AccessDeniedException")
	ec2Client := ts.ec2(t, responder, region)
	copied := must[*ec2.CopySnapshotOutput](t)(ec2Client.CopySnapshot(t.Context(), &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(snap), SourceRegion: aws.String(region)}))
	if c := describeSnapshot(t, ec2Client, aws.ToString(copied.SnapshotId)); c.State != types.SnapshotStateError {
		t.Errorf("copy of a snapshot under a deleted key: %s", c.State)
	}
}

// Documented Limit ranges: ListKeys 1-1000 (default 100), ListAliases and
// ListGrants 1-100 (default 50); and every list pages to the end.
func TestKMSListsPaginate(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.kms(t, responder, region)
	for i := range 100 { // with the fixture's two and its aws/ebs key: 103 keys
		key := must[*kms.CreateKeyOutput](t)(client.CreateKey(t.Context(), &kms.CreateKeyInput{}))
		if i < 3 {
			must[*kms.CreateAliasOutput](t)(client.CreateAlias(t.Context(), &kms.CreateAliasInput{AliasName: aws.String(fmt.Sprintf("alias/k%d", i)), TargetKeyId: key.KeyMetadata.KeyId}))
		}
	}
	first := must[*kms.ListKeysOutput](t)(client.ListKeys(t.Context(), &kms.ListKeysInput{}))
	if len(first.Keys) != 100 || !first.Truncated {
		t.Errorf("default page: %d keys, truncated %v", len(first.Keys), first.Truncated)
	}
	keys := 0
	for pages := kms.NewListKeysPaginator(client, &kms.ListKeysInput{Limit: aws.Int32(40)}); pages.HasMorePages(); {
		keys += len(must[*kms.ListKeysOutput](t)(pages.NextPage(t.Context())).Keys)
	}
	if keys != 103 {
		t.Errorf("paged through %d keys", keys)
	}
	aliases := 0
	for pages := kms.NewListAliasesPaginator(client, &kms.ListAliasesInput{Limit: aws.Int32(2)}); pages.HasMorePages(); {
		aliases += len(must[*kms.ListAliasesOutput](t)(pages.NextPage(t.Context())).Aliases)
	}
	if aliases != 6 { // workload-ebs, custody, aws/ebs, k0, k1, k2
		t.Errorf("paged through %d aliases", aliases)
	}
	for _, op := range []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt, kmstypes.GrantOperationEncrypt, kmstypes.GrantOperationDescribeKey} {
		must[*kms.CreateGrantOutput](t)(client.CreateGrant(t.Context(), &kms.CreateGrantInput{
			KeyId: aws.String(cmkID), GranteePrincipal: aws.String(rootARN(forensicsAccount)), Operations: []kmstypes.GrantOperation{op},
		}))
	}
	grants := 0
	for pages := kms.NewListGrantsPaginator(client, &kms.ListGrantsInput{KeyId: aws.String(cmkID), Limit: aws.Int32(1)}); pages.HasMorePages(); {
		grants += len(must[*kms.ListGrantsOutput](t)(pages.NextPage(t.Context())).Grants)
	}
	if grants != 3 {
		t.Errorf("paged through %d grants", grants)
	}

	_, err := client.ListKeys(t.Context(), &kms.ListKeysInput{Limit: aws.Int32(1001)})
	wantCode(t, err, "ValidationException")
	must[*kms.ListKeysOutput](t)(client.ListKeys(t.Context(), &kms.ListKeysInput{Limit: aws.Int32(1000)}))
	_, err = client.ListAliases(t.Context(), &kms.ListAliasesInput{Limit: aws.Int32(101)})
	wantCode(t, err, "ValidationException")
	_, err = client.ListGrants(t.Context(), &kms.ListGrantsInput{KeyId: aws.String(cmkID), Limit: aws.Int32(101)})
	wantCode(t, err, "ValidationException")
	_, err = client.ListGrants(t.Context(), &kms.ListGrantsInput{KeyId: aws.String(cmkID), Marker: aws.String("1.0-forged")})
	wantCode(t, err, "InvalidMarkerException")
}

// Policy elements the evaluator does not support are refused, not ignored.
func TestKeyPolicyUnsupportedElements(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.kms(t, responder, region)
	for _, element := range []string{
		`"Condition": {"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}`,
		`"NotAction": "kms:Decrypt"`,
		`"NotPrincipal": {"AWS": "arn:aws:iam::222222222222:root"}`,
		`"NotResource": "*"`,
		`"Condtion": {}`,
	} {
		policy := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*", ` + element + `}]}`
		_, err := client.PutKeyPolicy(t.Context(), &kms.PutKeyPolicyInput{KeyId: aws.String(cmkID), Policy: aws.String(policy)})
		wantCode(t, err, "MalformedPolicyDocumentException")
		_, err = client.CreateKey(t.Context(), &kms.CreateKeyInput{Policy: aws.String(policy)})
		wantCode(t, err, "MalformedPolicyDocumentException")
		sc := fixture(t)
		sc.Accounts[0].Keys[0].Policy = []byte(policy)
		if _, err := New(sc, nil); err == nil {
			t.Errorf("a scenario key policy with %s was accepted", element)
		}
	}
	// The policy in force is unchanged, and a supported one is accepted.
	policy := must[*kms.GetKeyPolicyOutput](t)(client.GetKeyPolicy(t.Context(), &kms.GetKeyPolicyInput{KeyId: aws.String(cmkID)}))
	if aws.ToString(policy.Policy) != cmkPolicy {
		t.Errorf("policy changed to %s", aws.ToString(policy.Policy))
	}
	must[*kms.PutKeyPolicyOutput](t)(client.PutKeyPolicy(t.Context(), &kms.PutKeyPolicyInput{KeyId: aws.String(cmkID), Policy: aws.String(
		`{"Version": "2012-10-17", "Statement": {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111111111111:root"]}, "Action": ["kms:*"], "Resource": "*"}}`)}))
}

// EBS encrypts only with symmetric encryption keys.
func TestAsymmetricKeyRefusedForEBS(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.ec2(t, responder, region)
	snap := snapshotOf(t, client, dataVolume)
	copied := must[*ec2.CopySnapshotOutput](t)(client.CopySnapshot(t.Context(), &ec2.CopySnapshotInput{
		SourceSnapshotId: aws.String(snap), SourceRegion: aws.String(region), Encrypted: aws.Bool(true), KmsKeyId: aws.String("alias/custody"),
	}))
	c := describeSnapshot(t, client, aws.ToString(copied.SnapshotId))
	if c.State != types.SnapshotStateError || !strings.Contains(aws.ToString(c.StateMessage), "symmetric") {
		t.Errorf("copy under a signing key: %s %q", c.State, aws.ToString(c.StateMessage))
	}
	vol := must[*ec2.CreateVolumeOutput](t)(client.CreateVolume(t.Context(), &ec2.CreateVolumeInput{
		AvailabilityZone: aws.String("us-east-1b"), Size: aws.Int32(1), Encrypted: aws.Bool(true), KmsKeyId: aws.String("alias/custody"),
	}))
	v := must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(vol.VolumeId)}})).Volumes[0]
	if v.State != types.VolumeStateError {
		t.Errorf("volume under a signing key: %s", v.State)
	}
	_, err := client.CreateSnapshot(t.Context(), &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	wantCode(t, err, "IncorrectState")

	sc := fixture(t)
	sc.Accounts[0].Volumes[3].KMSKeyID = "alias/custody"
	if _, err := New(sc, nil); err == nil || !strings.Contains(err.Error(), "symmetric") {
		t.Errorf("a scenario volume under a signing key: %v", err)
	}
}
