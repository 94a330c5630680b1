package awssim

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func TestKMSKeyLifecycle(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.kms(t, responder, region)
	created := must[*kms.CreateKeyOutput](t)(client.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("case 42")}))
	keyID := aws.ToString(created.KeyMetadata.KeyId)
	must[*kms.CreateAliasOutput](t)(client.CreateAlias(t.Context(), &kms.CreateAliasInput{AliasName: aws.String("alias/case-42"), TargetKeyId: aws.String(keyID)}))
	_, err := client.CreateAlias(t.Context(), &kms.CreateAliasInput{AliasName: aws.String("alias/case-42"), TargetKeyId: aws.String(keyID)})
	wantCode(t, err, "AlreadyExistsException")

	for _, ref := range []string{keyID, aws.ToString(created.KeyMetadata.Arn), "alias/case-42", aliasARN(region, workloadAccount, "alias/case-42")} {
		desc := must[*kms.DescribeKeyOutput](t)(client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(ref)}))
		if aws.ToString(desc.KeyMetadata.KeyId) != keyID || desc.KeyMetadata.KeyManager != kmstypes.KeyManagerTypeCustomer {
			t.Errorf("%s: %+v", ref, desc.KeyMetadata)
		}
	}
	managed := must[*kms.DescribeKeyOutput](t)(client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")}))
	if managed.KeyMetadata.KeyManager != kmstypes.KeyManagerTypeAws {
		t.Errorf("aws/ebs key manager %s", managed.KeyMetadata.KeyManager)
	}
	aliases := must[*kms.ListAliasesOutput](t)(client.ListAliases(t.Context(), &kms.ListAliasesInput{}))
	if len(aliases.Aliases) != 4 { // workload-ebs, custody, case-42, aws/ebs
		t.Errorf("%d aliases", len(aliases.Aliases))
	}

	policy := must[*kms.GetKeyPolicyOutput](t)(client.GetKeyPolicy(t.Context(), &kms.GetKeyPolicyInput{KeyId: aws.String(keyID)}))
	if aws.ToString(policy.PolicyName) != "default" {
		t.Errorf("policy name %s", aws.ToString(policy.PolicyName))
	}
	_, err = client.PutKeyPolicy(t.Context(), &kms.PutKeyPolicyInput{KeyId: aws.String(keyID), Policy: aws.String("{not json")})
	wantCode(t, err, "MalformedPolicyDocumentException")

	must[*kms.ScheduleKeyDeletionOutput](t)(client.ScheduleKeyDeletion(t.Context(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)}))
	if pending := ts.KeysPendingDeletion(); len(pending) != 1 || pending[0].ARN != aws.ToString(created.KeyMetadata.Arn) {
		t.Errorf("pending deletion %+v", pending)
	}
	_, err = client.ScheduleKeyDeletion(t.Context(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String("alias/aws/ebs")})
	wantCode(t, err, "UnsupportedOperationException")
	_, err = client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/nope")})
	wantCode(t, err, "NotFoundException")
}

func TestKMSGrantsAcrossAccounts(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	owner, other := ts.kms(t, responder, region), ts.kms(t, analyst, region)
	cmkARN := keyARN(region, workloadAccount, cmkID)

	_, err := other.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(cmkARN)})
	wantCode(t, err, "AccessDeniedException")
	grant := must[*kms.CreateGrantOutput](t)(owner.CreateGrant(t.Context(), &kms.CreateGrantInput{
		KeyId: aws.String(cmkARN), GranteePrincipal: aws.String(rootARN(forensicsAccount)), Name: aws.String("case-42"),
		RetiringPrincipal: aws.String(rootARN(forensicsAccount)),
		Operations:        []kmstypes.GrantOperation{kmstypes.GrantOperationDescribeKey, kmstypes.GrantOperationDecrypt},
	}))
	again := must[*kms.CreateGrantOutput](t)(owner.CreateGrant(t.Context(), &kms.CreateGrantInput{
		KeyId: aws.String(cmkARN), GranteePrincipal: aws.String(rootARN(forensicsAccount)), Name: aws.String("case-42"),
		Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt, kmstypes.GrantOperationDescribeKey},
	}))
	if aws.ToString(grant.GrantId) != aws.ToString(again.GrantId) {
		t.Error("the same named grant was created twice")
	}
	must[*kms.DescribeKeyOutput](t)(other.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(cmkARN)}))
	grants := must[*kms.ListGrantsOutput](t)(owner.ListGrants(t.Context(), &kms.ListGrantsInput{KeyId: aws.String(cmkID)}))
	if len(grants.Grants) != 1 || len(ts.Grants()) != 1 {
		t.Fatalf("grants %+v", grants.Grants)
	}
	must[*kms.RetireGrantOutput](t)(other.RetireGrant(t.Context(), &kms.RetireGrantInput{GrantToken: grant.GrantToken}))
	_, err = other.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(cmkARN)})
	wantCode(t, err, "AccessDeniedException")

	revocable := must[*kms.CreateGrantOutput](t)(owner.CreateGrant(t.Context(), &kms.CreateGrantInput{
		KeyId: aws.String(cmkID), GranteePrincipal: aws.String(rootARN(forensicsAccount)),
		Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt},
	}))
	must[*kms.RevokeGrantOutput](t)(owner.RevokeGrant(t.Context(), &kms.RevokeGrantInput{KeyId: aws.String(cmkID), GrantId: revocable.GrantId}))
	_, err = owner.RevokeGrant(t.Context(), &kms.RevokeGrantInput{KeyId: aws.String(cmkID), GrantId: revocable.GrantId})
	wantCode(t, err, "InvalidGrantIdException")

	// The AWS managed key cannot be used from another account, whatever the grant.
	managed := must[*kms.DescribeKeyOutput](t)(owner.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")}))
	_, err = other.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: managed.KeyMetadata.Arn})
	wantCode(t, err, "AccessDeniedException")
}

// Sign and GetPublicKey as sigstore's awskms provider calls them, with every
// KeyId form it accepts.
func TestKMSSignVerify(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	client := ts.kms(t, responder, region)
	digest := sha256.Sum256([]byte("custody record"))
	for _, ref := range []string{signKeyID, keyARN(region, workloadAccount, signKeyID), "alias/custody", aliasARN(region, workloadAccount, "alias/custody")} {
		desc := must[*kms.DescribeKeyOutput](t)(client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(ref)}))
		if desc.KeyMetadata.KeySpec != kmstypes.KeySpecEccNistP256 || desc.KeyMetadata.SigningAlgorithms[0] != kmstypes.SigningAlgorithmSpecEcdsaSha256 {
			t.Fatalf("%s: %+v", ref, desc.KeyMetadata)
		}
		pub := must[*kms.GetPublicKeyOutput](t)(client.GetPublicKey(t.Context(), &kms.GetPublicKeyInput{KeyId: aws.String(ref)}))
		parsed, err := x509.ParsePKIXPublicKey(pub.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		sig := must[*kms.SignOutput](t)(client.Sign(t.Context(), &kms.SignInput{
			KeyId: aws.String(ref), Message: digest[:], MessageType: kmstypes.MessageTypeDigest,
			SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256,
		}))
		if !ecdsa.VerifyASN1(parsed.(*ecdsa.PublicKey), digest[:], sig.Signature) {
			t.Errorf("%s: signature does not verify", ref)
		}
		must[*kms.VerifyOutput](t)(client.Verify(t.Context(), &kms.VerifyInput{
			KeyId: aws.String(ref), Message: []byte("custody record"), MessageType: kmstypes.MessageTypeRaw,
			Signature: sig.Signature, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256,
		}))
	}
	_, err := client.Verify(t.Context(), &kms.VerifyInput{KeyId: aws.String(signKeyID), Message: digest[:], MessageType: kmstypes.MessageTypeDigest,
		Signature: []byte{0x30, 0}, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256})
	wantCode(t, err, "KMSInvalidSignatureException")
	_, err = client.Sign(t.Context(), &kms.SignInput{KeyId: aws.String(cmkID), Message: digest[:], MessageType: kmstypes.MessageTypeDigest,
		SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256})
	wantCode(t, err, "InvalidKeyUsageException")
}
