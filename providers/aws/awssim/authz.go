package awssim

import (
	"path"
	"slices"
	"strings"
)

// allows reports whether the principal's allow list permits action
// ("ec2:CreateSnapshot"). The list stands in for the principal's IAM policies:
// entries are action patterns with * and ? wildcards, matched without regard
// to case as IAM does. A nil list allows everything.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
func (p *principal) allows(action string) bool {
	if p.allow == nil {
		return true
	}
	return matchesAny(p.allow, action)
}

func matchesAny(patterns []string, action string) bool {
	action = strings.ToLower(action)
	for _, pattern := range patterns {
		if ok, _ := path.Match(strings.ToLower(pattern), action); ok {
			return true
		}
	}
	return false
}

func rootARN(accountID string) string { return "arn:aws:iam::" + accountID + ":root" }

// matchesPrincipal reports whether a policy or trust entry names the caller:
// "*", its ARN, the role it assumed, its account ID or its account's root ARN
// (which delegates to the account's own IAM policies).
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
func (p *principal) matchesPrincipal(entry string) bool {
	switch entry {
	case "*", p.arn, p.accountID, rootARN(p.accountID):
		return true
	}
	return p.roleARN != "" && entry == p.roleARN
}

// canUseKey reports whether p may perform kms operation op ("Decrypt") on key.
// Access comes from the key policy together with the caller's own allow
// list, or from a grant; an explicit Deny in the key policy wins over both.
// The AWS managed key aws/ebs is usable only from its own account, which is
// why snapshots encrypted with it cannot be shared.
// https://docs.aws.amazon.com/kms/latest/developerguide/control-access.html
// https://docs.aws.amazon.com/kms/latest/developerguide/grants.html
// Callers hold Server.mu.
func (st *state) canUseKey(p *principal, key *kmsKey, op string) bool {
	action := "kms:" + op
	if key.awsManaged {
		return p.accountID == key.accountID && p.allows(action)
	}
	policyAllows, denied := key.policy.decide(p, action)
	if denied {
		return false
	}
	if policyAllows && p.allows(action) {
		return true
	}
	for _, g := range st.grants {
		if g.keyID == key.id && slices.Contains(g.operations, op) && p.matchesPrincipal(g.grantee) && g.grantee != "*" {
			return true
		}
	}
	return false
}

// ebsKeyOperations are the KMS permissions a principal needs to use a KMS key
// for EBS encryption: kms:CreateGrant, kms:Decrypt, kms:DescribeKey,
// kms:GenerateDataKeyWithoutPlaintext and kms:ReEncrypt* (both directions).
// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html
var ebsKeyOperations = []string{
	"CreateGrant", "Decrypt", "DescribeKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
}

// missingEBSKeyPermission returns the first EBS encryption permission p lacks
// on key ("kms:ReEncryptFrom"), or "" when p has them all, through the key
// policy or grants. Callers hold Server.mu.
func (st *state) missingEBSKeyPermission(p *principal, key *kmsKey) string {
	for _, op := range ebsKeyOperations {
		if !st.canUseKey(p, key, op) {
			return "kms:" + op
		}
	}
	return ""
}
