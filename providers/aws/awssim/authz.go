package awssim

import (
	"encoding/json"
	"fmt"
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

// keyPolicy is the part of a KMS key policy the simulator evaluates: Effect,
// Principal (AWS) and Action. Resource is always the key itself; Conditions
// are not evaluated.
// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html
type keyPolicy struct {
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Effect    string          `json:"Effect"`
	Principal json.RawMessage `json:"Principal"`
	Action    stringList      `json:"Action"`
}

// stringList is a policy element that is either one string or a list.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

func parseKeyPolicy(doc string) (*keyPolicy, error) {
	var p keyPolicy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, err
	}
	if len(p.Statement) == 0 {
		return nil, fmt.Errorf("policy has no statements")
	}
	for _, st := range p.Statement {
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return nil, fmt.Errorf("statement effect %q", st.Effect)
		}
		if _, err := st.principals(); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

func (st policyStatement) principals() ([]string, error) {
	if len(st.Principal) == 0 {
		return nil, fmt.Errorf("statement without Principal")
	}
	var star string
	if err := json.Unmarshal(st.Principal, &star); err == nil {
		return []string{star}, nil
	}
	var byType map[string]stringList
	if err := json.Unmarshal(st.Principal, &byType); err != nil {
		return nil, fmt.Errorf("principal: %w", err)
	}
	return byType["AWS"], nil
}

// decide evaluates the policy for principal p and action ("kms:Decrypt"):
// an explicit Deny wins, then any Allow.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
func (kp *keyPolicy) decide(p *principal, action string) (allowed, denied bool) {
	for _, st := range kp.Statement {
		if !matchesAny(st.Action, action) {
			continue
		}
		names, _ := st.principals()
		if !slices.ContainsFunc(names, p.matchesPrincipal) {
			continue
		}
		if st.Effect == "Deny" {
			return false, true
		}
		allowed = true
	}
	return allowed, false
}

// defaultKeyPolicy gives the owning account full access, delegating to its
// IAM policies, as KMS does when CreateKey has no policy.
// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
func defaultKeyPolicy(accountID string) string {
	return fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Id": "key-default-1",
  "Statement": [
    {
      "Sid": "Enable IAM User Permissions",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::%s:root"},
      "Action": "kms:*",
      "Resource": "*"
    }
  ]
}`, accountID)
}

// canUseKey reports whether p may perform kms operation op ("Decrypt") on key.
// Access comes from the key policy together with the caller's own allow
// list, or from a grant; an explicit Deny in the key policy wins over both.
// The AWS managed key aws/ebs is usable only from its own account, which is
// why snapshots encrypted with it cannot be shared.
// https://docs.aws.amazon.com/kms/latest/developerguide/control-access.html
// https://docs.aws.amazon.com/kms/latest/developerguide/grants.html
func (st *state) canUseKey(p *principal, key *kmsKey, op string) bool {
	action := "kms:" + op
	if key.awsManaged {
		return p.accountID == key.accountID && p.allows(action)
	}
	policyAllows, denied := false, false
	if kp, err := parseKeyPolicy(key.policy); err == nil {
		policyAllows, denied = kp.decide(p, action)
	}
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
