package awssim

import (
	"regexp"
	"slices"
	"sort"
)

// Grant operations KMS accepts.
// https://docs.aws.amazon.com/kms/latest/developerguide/grants.html#terms-grant-operations
var grantOperations = []string{
	"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
	"Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey", "GenerateDataKeyPair",
	"GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac", "DeriveSharedSecret",
}

var principalARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+$`)

type grantListEntry struct {
	KeyID             string   `json:"KeyId"`
	GrantID           string   `json:"GrantId"`
	Name              string   `json:"Name,omitempty"`
	CreationDate      float64  `json:"CreationDate"`
	GranteePrincipal  string   `json:"GranteePrincipal"`
	RetiringPrincipal string   `json:"RetiringPrincipal,omitempty"`
	IssuingAccount    string   `json:"IssuingAccount"`
	Operations        []string `json:"Operations"`
}

func grantEntry(g *kmsGrant, keyARN string) grantListEntry {
	return grantListEntry{KeyID: keyARN, GrantID: g.id, Name: g.name, CreationDate: epochSeconds(g.created),
		GranteePrincipal: g.grantee, RetiringPrincipal: g.retiringPrincipal,
		IssuingAccount: rootARN(g.issuingAccount), Operations: g.operations}
}

// CreateGrant. A grant with the same name, grantee and operations on the same
// key is the same grant: KMS returns its ID again.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateGrant.html
func (s *Server) kmsCreateGrant(r *kmsRequest) (any, *apiError) {
	var in struct {
		KeyID             string `json:"KeyId"`
		GranteePrincipal  string
		RetiringPrincipal string
		Operations        []string
		Name              string
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if !principalARNPattern.MatchString(in.GranteePrincipal) {
		return nil, badRequest("ValidationException", "GranteePrincipal %q is not a valid principal ARN", in.GranteePrincipal)
	}
	if in.RetiringPrincipal != "" && !principalARNPattern.MatchString(in.RetiringPrincipal) {
		return nil, badRequest("ValidationException", "RetiringPrincipal %q is not a valid principal ARN", in.RetiringPrincipal)
	}
	if len(in.Operations) == 0 {
		return nil, badRequest("ValidationException", "Operations must not be empty")
	}
	for _, op := range in.Operations {
		if !slices.Contains(grantOperations, op) {
			return nil, badRequest("ValidationException", "Operation %q is not a grant operation", op)
		}
	}
	ops := slices.Clone(in.Operations)
	sort.Strings(ops)
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, "CreateGrant")
	if e != nil {
		return nil, e
	}
	if e := requireEnabled(key); e != nil {
		return nil, e
	}
	if in.Name != "" {
		for _, g := range s.st.grants {
			if g.keyID == key.id && g.name == in.Name && g.grantee == in.GranteePrincipal && slices.Equal(g.operations, ops) {
				return struct{ GrantId, GrantToken string }{g.id, g.token}, nil
			}
		}
	}
	id, token := s.ids.grant()
	g := &kmsGrant{
		seq: s.st.nextSeq(), id: id, token: token, keyID: key.id,
		name: in.Name, grantee: in.GranteePrincipal, retiringPrincipal: in.RetiringPrincipal,
		operations: ops, issuingAccount: r.accountID(), created: r.now,
	}
	s.st.grants[g.id] = g
	return struct{ GrantId, GrantToken string }{g.id, g.token}, nil
}

// ListGrants: Limit 1 to 100, default 50.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_ListGrants.html
func (s *Server) kmsListGrants(r *kmsRequest) (any, *apiError) {
	var in struct {
		listInput
		KeyID            string `json:"KeyId"`
		GrantID          string `json:"GrantId"`
		GranteePrincipal string
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	page, e := in.page(50, 100)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	key, e := s.usableKey(r, in.KeyID, "ListGrants")
	if e != nil {
		s.mu.Unlock()
		return nil, e
	}
	var grants []*kmsGrant
	for _, g := range s.st.grants {
		if g.keyID == key.id && (in.GrantID == "" || g.id == in.GrantID) && (in.GranteePrincipal == "" || g.grantee == in.GranteePrincipal) {
			grants = append(grants, g)
		}
	}
	s.mu.Unlock()
	sort.Slice(grants, func(i, j int) bool { return grants[i].seq < grants[j].seq })
	pageItems, next, e := paginate(s, pager{scope: "ListGrants|" + key.id + "|" + in.GrantID + "|" + in.GranteePrincipal, now: r.now, badToken: errInvalidMarker}, grants, page)
	if e != nil {
		return nil, e
	}
	out := struct {
		Grants     []grantListEntry `json:"Grants"`
		NextMarker string           `json:"NextMarker,omitempty"`
		Truncated  bool             `json:"Truncated"`
	}{Grants: []grantListEntry{}, NextMarker: next, Truncated: next != ""}
	for _, g := range pageItems {
		out.Grants = append(out.Grants, grantEntry(g, key.arn))
	}
	return out, nil
}

// https://docs.aws.amazon.com/kms/latest/APIReference/API_RevokeGrant.html
func (s *Server) kmsRevokeGrant(r *kmsRequest) (any, *apiError) {
	var in struct {
		KeyID   string `json:"KeyId"`
		GrantID string `json:"GrantId"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, "RevokeGrant")
	if e != nil {
		return nil, e
	}
	g := s.st.grants[in.GrantID]
	if g == nil || g.keyID != key.id {
		return nil, badRequest("InvalidGrantIdException", "Grant ID %s is not valid for key %s", in.GrantID, key.arn)
	}
	delete(s.st.grants, g.id)
	return struct{}{}, nil
}

// RetireGrant may be called by the grant's retiring principal, by its
// grantee when the grant allows RetireGrant, or by the account that issued
// it.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_RetireGrant.html
func (s *Server) kmsRetireGrant(r *kmsRequest) (any, *apiError) {
	var in struct {
		GrantToken string
		KeyID      string `json:"KeyId"`
		GrantID    string `json:"GrantId"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var g *kmsGrant
	switch {
	case in.GrantToken != "":
		for _, candidate := range s.st.grants {
			if candidate.token == in.GrantToken {
				g = candidate
			}
		}
		if g == nil {
			return nil, badRequest("InvalidGrantTokenException", "The grant token is not valid.")
		}
	case in.KeyID != "" && in.GrantID != "":
		key, e := s.findKey(r.accountID(), r.region, in.KeyID, r.now)
		if e != nil {
			return nil, e
		}
		g = s.st.grants[in.GrantID]
		if g == nil || g.keyID != key.id {
			return nil, badRequest("InvalidGrantIdException", "Grant ID %s is not valid for key %s", in.GrantID, key.arn)
		}
	default:
		return nil, badRequest("ValidationException", "Specify GrantToken, or KeyId and GrantId")
	}
	p := r.principal
	allowed := (g.retiringPrincipal != "" && p.matchesPrincipal(g.retiringPrincipal)) ||
		(p.matchesPrincipal(g.grantee) && slices.Contains(g.operations, "RetireGrant")) ||
		p.accountID == g.issuingAccount
	if !allowed {
		return nil, kmsAccessDenied(p, "RetireGrant", s.st.keys[g.keyID].arn)
	}
	delete(s.st.grants, g.id)
	return struct{}{}, nil
}
