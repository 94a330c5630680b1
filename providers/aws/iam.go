package aws

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// permission is an IAM action the driver needs, and why.
type permission struct {
	Action string
	Why    string
}

// permissions are the IAM actions each side's principal needs, call by call. Actions the driver does
// not call itself are authorized by AWS on its behalf: tags given at creation (ec2:CreateTags,
// kms:TagResource) and the KMS operations EBS performs for a copy under a key
// (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html).
var permissions = map[driver.Side][]permission{
	driver.Source: {
		{"sts:GetCallerIdentity", "who the source credentials are, for the record"},
		{"ec2:DescribeInstances", "capture the instance's configuration"},
		{"ec2:DescribeInstanceAttribute", "capture the instance's user data"},
		{"ec2:DescribeVolumes", "find the attached volumes and their encryption"},
		{"ec2:DescribeSnapshots", "exposure check; follow snapshots to completion; find an interrupted step's snapshot"},
		{"ec2:DescribeSnapshotAttribute", "exposure check: who may use existing snapshots"},
		{"ec2:CreateSnapshots", "crash-consistent snapshots of an instance's volumes"},
		{"ec2:CreateSnapshot", "snapshots of volumes given alone"},
		{"ec2:CreateTags", "tag snapshots with the case when they are created"},
		{"ec2:CopySnapshot", "re-encrypt snapshots under the AWS managed key with the share key"},
		{"ec2:ModifySnapshotAttribute", "share a snapshot with the forensic account, and withdraw the share"},
		{"ec2:DeleteSnapshot", "delete intermediate copies (and source snapshots when asked)"},
		{"kms:DescribeKey", "tell AWS managed keys from customer managed ones; find the temporary key again"},
		{"kms:ListKeys", "find the temporary key again after an interruption"},
		{"kms:CreateKey", "the temporary share key, when no --share-kms-key is given"},
		{"kms:TagResource", "tag the temporary key when it is created"},
		{"kms:ScheduleKeyDeletion", "retire the temporary key"},
		{"kms:CreateGrant", "let the forensic account use a customer managed key for the copy"},
		{"kms:RevokeGrant", "withdraw that grant"},
		{"kms:Decrypt", "EBS reads the source snapshot for the intermediate copy"},
		{"kms:ReEncrypt*", "EBS re-encrypts the intermediate copy"},
		{"kms:GenerateDataKeyWithoutPlaintext", "EBS encrypts the intermediate copy"},
	},
	driver.Forensic: {
		{"sts:GetCallerIdentity", "who the forensic credentials are, for the record"},
		{"ec2:CopySnapshot", "copy the shared snapshot into the forensic account"},
		{"ec2:CreateTags", "tag the copy with the case when it is created"},
		{"ec2:DescribeSnapshots", "follow copies to completion; find an interrupted copy"},
		{"ec2:DeleteSnapshot", "delete a copy that failed"},
		{"ec2:LockSnapshot", "lock the copies, with --lock"},
		{"ebs:ListSnapshotBlocks", "digest: list the copy's blocks"},
		{"ebs:GetSnapshotBlock", "digest: read and check every block"},
		{"kms:DescribeKey", "EBS checks the keys of the copy"},
		{"kms:CreateGrant", "EBS uses the keys of the copy"},
		{"kms:Decrypt", "EBS reads the shared snapshot, and the digest reads the copy"},
		{"kms:ReEncrypt*", "EBS re-encrypts the copy under the forensic key"},
		{"kms:GenerateDataKeyWithoutPlaintext", "EBS encrypts the copy under the forensic key"},
	},
}

// Permissions returns the IAM actions a side needs, sorted.
func Permissions(side driver.Side) []string {
	var out []string
	for _, p := range permissions[side] {
		out = append(out, p.Action)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Policy returns a least-privilege IAM policy document for a side's role, one statement per service.
func Policy(side driver.Side) ([]byte, error) {
	byService := map[string][]string{}
	for _, a := range Permissions(side) {
		svc, _, _ := strings.Cut(a, ":")
		byService[svc] = append(byService[svc], a)
	}
	var statements []map[string]any
	for _, svc := range []string{"sts", "ec2", "ebs", "kms"} {
		if acts := byService[svc]; len(acts) > 0 {
			statements = append(statements, map[string]any{
				"Sid":      "Acquire" + strings.ToUpper(string(side[:1])) + string(side[1:]) + strings.ToUpper(svc),
				"Effect":   "Allow",
				"Action":   acts,
				"Resource": "*",
			})
		}
	}
	return json.MarshalIndent(map[string]any{"Version": "2012-10-17", "Statement": statements}, "", "  ")
}

// Explain lists each action with the reason it is needed, for `acquire iam aws --explain` and dry runs.
func Explain(side driver.Side) [][2]string {
	var out [][2]string
	for _, p := range permissions[side] {
		out = append(out, [2]string{p.Action, p.Why})
	}
	return out
}
