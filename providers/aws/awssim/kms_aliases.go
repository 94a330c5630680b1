package awssim

import "sort"

// https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html
func (s *Server) kmsCreateAlias(r *kmsRequest) (any, *apiError) {
	var in struct{ AliasName, TargetKeyId string }
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if !r.principal.allows("kms:CreateAlias") {
		return nil, kmsAccessDenied(r.principal, "CreateAlias", aliasARN(r.region, r.accountID(), in.AliasName))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.TargetKeyId, "CreateAlias")
	if e != nil {
		return nil, e
	}
	if key.accountID != r.accountID() {
		return nil, badRequest("NotFoundException", "Key '%s' does not exist", in.TargetKeyId)
	}
	if e := s.createAlias(r.accountID(), r.region, in.AliasName, key, r.now); e != nil {
		return nil, e
	}
	return struct{}{}, nil
}

type aliasListEntry struct {
	AliasName       string  `json:"AliasName"`
	AliasArn        string  `json:"AliasArn"`
	TargetKeyID     string  `json:"TargetKeyId"`
	CreationDate    float64 `json:"CreationDate"`
	LastUpdatedDate float64 `json:"LastUpdatedDate"`
}

// ListAliases: Limit 1 to 100, default 50.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_ListAliases.html
func (s *Server) kmsListAliases(r *kmsRequest) (any, *apiError) {
	var in struct {
		listInput
		KeyID string `json:"KeyId"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	page, e := in.page(50, 100)
	if e != nil {
		return nil, e
	}
	if !r.principal.allows("kms:ListAliases") {
		return nil, kmsAccessDenied(r.principal, "ListAliases", "*")
	}
	s.mu.Lock()
	targetID := ""
	if in.KeyID != "" {
		key, e := s.findKey(r.accountID(), r.region, in.KeyID, r.now)
		if e != nil {
			s.mu.Unlock()
			return nil, e
		}
		targetID = key.id
	}
	var entries []aliasListEntry
	for _, a := range s.st.aliases {
		if a.ref.accountID != r.accountID() || a.ref.region != r.region || (targetID != "" && a.keyID != targetID) {
			continue
		}
		entries = append(entries, aliasListEntry{AliasName: a.ref.name, AliasArn: a.arn, TargetKeyID: a.keyID,
			CreationDate: epochSeconds(a.created), LastUpdatedDate: epochSeconds(a.created)})
	}
	s.mu.Unlock()
	sort.Slice(entries, func(i, j int) bool { return entries[i].AliasName < entries[j].AliasName })
	pageItems, next, e := paginate(s, pager{scope: r.accountID() + "|ListAliases|" + r.region + "|" + targetID, now: r.now, badToken: errInvalidMarker}, entries, page)
	if e != nil {
		return nil, e
	}
	return struct {
		Aliases    []aliasListEntry `json:"Aliases"`
		NextMarker string           `json:"NextMarker,omitempty"`
		Truncated  bool             `json:"Truncated"`
	}{append([]aliasListEntry{}, pageItems...), next, next != ""}, nil
}
