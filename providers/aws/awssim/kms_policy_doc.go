package awssim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// keyPolicy is a KMS key policy as the simulator evaluates it: statements
// with Effect, Principal (AWS) and Action. Resource is always the key itself.
// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html
//
// Elements the simulator cannot evaluate (Condition, NotAction, NotPrincipal,
// NotResource) are refused when the policy is set, rather than ignored: a
// policy whose meaning depends on them would otherwise grant more than it
// says, or less.
type keyPolicy struct {
	statements []policyStatement
}

type policyStatement struct {
	effect     string   // Allow | Deny
	principals []string // "*", account IDs, ARNs
	actions    []string // "kms:Decrypt", "kms:*"
}

// Policy elements, top level and per statement.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
var (
	policyTopElements       = []string{"Version", "Id", "Statement"}
	statementElements       = []string{"Sid", "Effect", "Principal", "Action", "Resource"}
	unevaluatedElements     = []string{"Condition", "NotAction", "NotPrincipal", "NotResource"}
	principalTypesEvaluated = []string{"AWS", "Service", "Federated", "CanonicalUser"}
)

// parseKeyPolicy checks a policy document and returns it in evaluable form.
func parseKeyPolicy(doc string) (*keyPolicy, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &top); err != nil {
		return nil, err
	}
	if err := onlyElements(top, policyTopElements, "policy"); err != nil {
		return nil, err
	}
	raw := top["Statement"]
	var stmts []map[string]json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, fmt.Errorf("Statement: %w", err)
		}
		stmts = append(stmts, one)
	} else if err := json.Unmarshal(raw, &stmts); err != nil {
		return nil, fmt.Errorf("Statement: %w", err)
	}
	if len(stmts) == 0 {
		return nil, fmt.Errorf("policy has no statements")
	}
	p := &keyPolicy{}
	for i, raw := range stmts {
		st, err := parseStatement(raw)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i+1, err)
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

func parseStatement(raw map[string]json.RawMessage) (policyStatement, error) {
	var st policyStatement
	for _, name := range unevaluatedElements {
		if _, ok := raw[name]; ok {
			return st, fmt.Errorf("%s is not supported by the simulator's policy evaluator", name)
		}
	}
	if err := onlyElements(raw, statementElements, "statement"); err != nil {
		return st, err
	}
	if err := json.Unmarshal(raw["Effect"], &st.effect); err != nil || (st.effect != "Allow" && st.effect != "Deny") {
		return st, fmt.Errorf("Effect must be Allow or Deny")
	}
	var actions stringList
	if err := json.Unmarshal(raw["Action"], &actions); err != nil || len(actions) == 0 {
		return st, fmt.Errorf("Action must be a string or a list of strings")
	}
	st.actions = actions
	principals, err := parsePrincipal(raw["Principal"])
	if err != nil {
		return st, err
	}
	st.principals = principals
	return st, nil
}

// parsePrincipal reads "*" or {"AWS": ...}; other principal types name no
// caller the simulator authenticates.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
func parsePrincipal(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("a key policy statement needs a Principal")
	}
	var star string
	if err := json.Unmarshal(raw, &star); err == nil {
		if star != "*" {
			return nil, fmt.Errorf("Principal %q: only \"*\" may be given as a string", star)
		}
		return []string{star}, nil
	}
	var byType map[string]stringList
	if err := json.Unmarshal(raw, &byType); err != nil {
		return nil, fmt.Errorf("Principal: %w", err)
	}
	for kind := range byType {
		if !slices.Contains(principalTypesEvaluated, kind) {
			return nil, fmt.Errorf("Principal type %q", kind)
		}
	}
	return byType["AWS"], nil
}

// onlyElements refuses elements outside allowed.
func onlyElements(m map[string]json.RawMessage, allowed []string, what string) error {
	var extra []string
	for name := range m {
		if !slices.Contains(allowed, name) {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		return fmt.Errorf("unknown %s element %q", what, extra[0])
	}
	return nil
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

// decide evaluates the policy for principal p and action ("kms:Decrypt"):
// an explicit Deny wins, then any Allow.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
func (kp *keyPolicy) decide(p *principal, action string) (allowed, denied bool) {
	for _, st := range kp.statements {
		if !matchesAny(st.actions, action) || !slices.ContainsFunc(st.principals, p.matchesPrincipal) {
			continue
		}
		if st.effect == "Deny" {
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
