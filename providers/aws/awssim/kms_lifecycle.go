package awssim

import (
	"sort"
	"time"
)

// keyMetadata is KeyMetadata on the wire.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_KeyMetadata.html
type keyMetadata struct {
	AWSAccountID                string   `json:"AWSAccountId"`
	KeyID                       string   `json:"KeyId"`
	Arn                         string   `json:"Arn"`
	CreationDate                float64  `json:"CreationDate"`
	Enabled                     bool     `json:"Enabled"`
	Description                 string   `json:"Description"`
	KeyUsage                    string   `json:"KeyUsage"`
	KeyState                    string   `json:"KeyState"`
	DeletionDate                *float64 `json:"DeletionDate,omitempty"`
	PendingDeletionWindowInDays int32    `json:"PendingDeletionWindowInDays,omitempty"`
	Origin                      string   `json:"Origin"`
	KeyManager                  string   `json:"KeyManager"`
	CustomerMasterKeySpec       string   `json:"CustomerMasterKeySpec"`
	KeySpec                     string   `json:"KeySpec"`
	EncryptionAlgorithms        []string `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms           []string `json:"SigningAlgorithms,omitempty"`
	MultiRegion                 bool     `json:"MultiRegion"`
}

func metadataOf(k *kmsKey) keyMetadata {
	m := keyMetadata{
		AWSAccountID: k.accountID, KeyID: k.id, Arn: k.arn, CreationDate: epochSeconds(k.created),
		Enabled: k.keyState() == "Enabled", Description: k.description, KeyUsage: k.usage,
		KeyState: k.keyState(), Origin: "AWS_KMS", KeyManager: "CUSTOMER",
		CustomerMasterKeySpec: k.spec, KeySpec: k.spec,
	}
	if k.awsManaged {
		m.KeyManager = "AWS"
	}
	if !k.deletion.IsZero() {
		d := epochSeconds(k.deletion)
		m.DeletionDate, m.PendingDeletionWindowInDays = &d, k.pendingDays
	}
	if k.usage == "SIGN_VERIFY" {
		m.SigningAlgorithms = signingAlgorithms(k.spec)
	} else {
		m.EncryptionAlgorithms = []string{"SYMMETRIC_DEFAULT"}
	}
	return m
}

type keyMetadataResponse struct {
	KeyMetadata keyMetadata `json:"KeyMetadata"`
}

// https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html
func (s *Server) kmsCreateKey(r *kmsRequest) (any, *apiError) {
	var in struct {
		Policy, Description, KeyUsage, KeySpec, CustomerMasterKeySpec string
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if !r.principal.allows("kms:CreateKey") {
		return nil, kmsAccessDenied(r.principal, "CreateKey", "*")
	}
	usage := orDefault(in.KeyUsage, "ENCRYPT_DECRYPT")
	spec := orDefault(in.KeySpec, orDefault(in.CustomerMasterKeySpec, "SYMMETRIC_DEFAULT"))
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.newKey(r.accountID(), r.region, keyParams{usage: usage, spec: spec, policy: in.Policy, description: in.Description}, r.now)
	if e != nil {
		return nil, e
	}
	return keyMetadataResponse{KeyMetadata: metadataOf(key)}, nil
}

type keyIDInput struct {
	KeyID string `json:"KeyId"`
}

// https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html
func (s *Server) kmsDescribeKey(r *kmsRequest) (any, *apiError) {
	var in keyIDInput
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, "DescribeKey")
	if e != nil {
		return nil, e
	}
	return keyMetadataResponse{KeyMetadata: metadataOf(key)}, nil
}

type keyListEntry struct {
	KeyID  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

// ListKeys: Limit 1 to 1000, default 100.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_ListKeys.html
func (s *Server) kmsListKeys(r *kmsRequest) (any, *apiError) {
	var in listInput
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	page, e := in.page(100, 1000)
	if e != nil {
		return nil, e
	}
	if !r.principal.allows("kms:ListKeys") {
		return nil, kmsAccessDenied(r.principal, "ListKeys", "*")
	}
	s.mu.Lock()
	var keys []*kmsKey
	for _, k := range s.st.keys {
		if k.accountID == r.accountID() && k.region == r.region {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool { return keys[i].seq < keys[j].seq })
	pageItems, next, e := paginate(s, pager{scope: r.accountID() + "|ListKeys|" + r.region, now: r.now, badToken: errInvalidMarker}, keys, page)
	if e != nil {
		return nil, e
	}
	out := struct {
		Keys       []keyListEntry `json:"Keys"`
		NextMarker string         `json:"NextMarker,omitempty"`
		Truncated  bool           `json:"Truncated"`
	}{Keys: []keyListEntry{}, NextMarker: next, Truncated: next != ""}
	for _, k := range pageItems {
		out.Keys = append(out.Keys, keyListEntry{KeyID: k.id, KeyArn: k.arn})
	}
	return out, nil
}

// https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKey.html
func (s *Server) kmsEnableKey(r *kmsRequest) (any, *apiError) {
	return s.setKeyEnabled(r, "EnableKey", true)
}

// https://docs.aws.amazon.com/kms/latest/APIReference/API_DisableKey.html
func (s *Server) kmsDisableKey(r *kmsRequest) (any, *apiError) {
	return s.setKeyEnabled(r, "DisableKey", false)
}

func (s *Server) setKeyEnabled(r *kmsRequest, op string, enabled bool) (any, *apiError) {
	var in keyIDInput
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, op)
	if e != nil {
		return nil, e
	}
	if key.awsManaged {
		return nil, kmsAccessDenied(r.principal, op, key.arn)
	}
	if !key.deletion.IsZero() {
		return nil, badRequest("KMSInvalidStateException", "%s is pending deletion.", key.arn)
	}
	key.enabled = enabled
	return struct{}{}, nil
}

// ScheduleKeyDeletion: a waiting period of 7 to 30 days (default 30).
// https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html
func (s *Server) kmsScheduleKeyDeletion(r *kmsRequest) (any, *apiError) {
	var in struct {
		KeyID               string `json:"KeyId"`
		PendingWindowInDays int32
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if in.PendingWindowInDays == 0 {
		in.PendingWindowInDays = 30
	}
	if in.PendingWindowInDays < 7 || in.PendingWindowInDays > 30 {
		return nil, badRequest("ValidationException", "PendingWindowInDays must be between 7 and 30")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, "ScheduleKeyDeletion")
	if e != nil {
		return nil, e
	}
	if key.awsManaged {
		return nil, badRequest("UnsupportedOperationException", "%s is an AWS managed key and cannot be deleted.", key.arn)
	}
	if !key.deletion.IsZero() {
		return nil, badRequest("KMSInvalidStateException", "%s is pending deletion.", key.arn)
	}
	key.deletion, key.pendingDays = r.now.Add(time.Duration(in.PendingWindowInDays)*24*time.Hour), in.PendingWindowInDays
	s.st.noteDeadline(key.deletion)
	return struct {
		KeyID               string  `json:"KeyId"`
		DeletionDate        float64 `json:"DeletionDate"`
		KeyState            string  `json:"KeyState"`
		PendingWindowInDays int32   `json:"PendingWindowInDays"`
	}{key.arn, epochSeconds(key.deletion), key.keyState(), key.pendingDays}, nil
}

// CancelKeyDeletion leaves the key disabled, as KMS does.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_CancelKeyDeletion.html
func (s *Server) kmsCancelKeyDeletion(r *kmsRequest) (any, *apiError) {
	var in keyIDInput
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, "CancelKeyDeletion")
	if e != nil {
		return nil, e
	}
	if key.deletion.IsZero() {
		return nil, badRequest("KMSInvalidStateException", "%s is not pending deletion.", key.arn)
	}
	key.deletion, key.pendingDays, key.enabled = time.Time{}, 0, false
	return keyIDInput{KeyID: key.arn}, nil
}
