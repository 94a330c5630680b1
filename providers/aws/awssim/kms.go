package awssim

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

// kmsService serves AWS KMS: JSON 1.1, POST / with X-Amz-Target
// TrentService.<Action>.
// https://docs.aws.amazon.com/kms/latest/APIReference/Welcome.html
type kmsService struct{ s *Server }

type kmsRequest struct {
	*call
	now time.Time
}

func (r *kmsRequest) accountID() string { return r.principal.accountID }

// decode reads the JSON request body into v.
func (r *kmsRequest) decode(v any) *apiError {
	if len(r.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return badRequest("SerializationException", "could not parse the request body: %v", err)
	}
	return nil
}

type kmsHandler func(s *Server, r *kmsRequest) (any, *apiError)

func kmsHandlers() map[string]kmsHandler {
	return map[string]kmsHandler{
		"CreateKey":           (*Server).kmsCreateKey,
		"DescribeKey":         (*Server).kmsDescribeKey,
		"ListKeys":            (*Server).kmsListKeys,
		"EnableKey":           (*Server).kmsEnableKey,
		"DisableKey":          (*Server).kmsDisableKey,
		"ScheduleKeyDeletion": (*Server).kmsScheduleKeyDeletion,
		"CancelKeyDeletion":   (*Server).kmsCancelKeyDeletion,
		"CreateAlias":         (*Server).kmsCreateAlias,
		"ListAliases":         (*Server).kmsListAliases,
		"PutKeyPolicy":        (*Server).kmsPutKeyPolicy,
		"GetKeyPolicy":        (*Server).kmsGetKeyPolicy,
		"CreateGrant":         (*Server).kmsCreateGrant,
		"ListGrants":          (*Server).kmsListGrants,
		"RevokeGrant":         (*Server).kmsRevokeGrant,
		"RetireGrant":         (*Server).kmsRetireGrant,
		"GetPublicKey":        (*Server).kmsGetPublicKey,
		"Sign":                (*Server).kmsSign,
		"Verify":              (*Server).kmsVerify,
	}
}

func (k kmsService) action(c *call) string {
	return strings.TrimPrefix(c.r.Header.Get("X-Amz-Target"), "TrentService.")
}

func (k kmsService) authCodes() authCodes {
	return authCodes{status: http.StatusBadRequest, missing: "MissingAuthenticationTokenException",
		unknownKey: "UnrecognizedClientException", badSignature: "InvalidSignatureException", expired: "ExpiredTokenException"}
}

// https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html
func (k kmsService) throttled() *apiError {
	return badRequest("ThrottlingException", "Rate exceeded")
}

func (k kmsService) internalError() *apiError {
	return newError(http.StatusInternalServerError, "KMSInternalException", "An internal error has occurred.")
}

const kmsContentType = "application/x-amz-json-1.1"

func (k kmsService) writeError(w http.ResponseWriter, c *call, err *apiError) {
	writeJSON(w, err.status, kmsContentType, map[string]string{"__type": err.code, "message": err.message})
}

func (k kmsService) serve(w http.ResponseWriter, c *call) {
	handler := kmsHandlers()[c.action]
	if handler == nil {
		k.writeError(w, c, badRequest("UnknownOperationException", "The operation %q is not supported.", c.action))
		return
	}
	out, err := handler(k.s, &kmsRequest{call: c, now: k.s.now()})
	if err != nil {
		k.writeError(w, c, err)
		return
	}
	writeJSON(w, http.StatusOK, kmsContentType, out)
}

func kmsAccessDenied(p *principal, op, resource string) *apiError {
	return badRequest("AccessDeniedException", "User: %s is not authorized to perform: kms:%s on resource: %s", p.arn, op, resource)
}

// usableKey resolves keyID and checks that the caller may perform op on it.
// Callers hold s.mu.
func (s *Server) usableKey(r *kmsRequest, keyID, op string) (*kmsKey, *apiError) {
	if keyID == "" {
		return nil, badRequest("ValidationException", "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	key, e := s.findKey(r.accountID(), r.region, keyID, r.now)
	if e != nil {
		return nil, e
	}
	if !s.st.canUseKey(r.principal, key, op) {
		return nil, kmsAccessDenied(r.principal, op, key.arn)
	}
	return key, nil
}

// requireEnabled refuses cryptographic use of a disabled key or one pending
// deletion.
// https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html
func requireEnabled(key *kmsKey) *apiError {
	switch key.keyState() {
	case "Enabled":
		return nil
	case "Disabled":
		return badRequest("DisabledException", "%s is disabled.", key.arn)
	default:
		return badRequest("KMSInvalidStateException", "%s is pending deletion.", key.arn)
	}
}

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
	policy := in.Policy
	if policy == "" {
		policy = defaultKeyPolicy(r.accountID())
	} else if _, err := parseKeyPolicy(policy); err != nil {
		return nil, badRequest("MalformedPolicyDocumentException", "The policy is malformed: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.newKey(r.accountID(), r.region, keyParams{usage: usage, spec: spec, policy: policy, description: in.Description}, r.now)
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

type listInput struct {
	Limit  int    `json:"Limit"`
	Marker string `json:"Marker"`
}

func (in listInput) page(def int) (pageRequest, *apiError) {
	if in.Limit == 0 {
		in.Limit = def
	}
	if in.Limit < 1 || in.Limit > 1000 {
		return pageRequest{}, badRequest("ValidationException", "Limit must be between 1 and 1000")
	}
	return pageRequest{maxResults: in.Limit, nextToken: in.Marker}, nil
}

func errInvalidMarker() *apiError {
	return badRequest("InvalidMarkerException", "The marker is not valid.")
}

type keyListEntry struct {
	KeyID  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

// https://docs.aws.amazon.com/kms/latest/APIReference/API_ListKeys.html
func (s *Server) kmsListKeys(r *kmsRequest) (any, *apiError) {
	var in listInput
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	page, e := in.page(1000)
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
	pageItems, next, e := paginate(s, r.accountID()+"|ListKeys|"+r.region, keys, page, errInvalidMarker)
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

// https://docs.aws.amazon.com/kms/latest/APIReference/API_ListAliases.html
func (s *Server) kmsListAliases(r *kmsRequest) (any, *apiError) {
	var in struct {
		listInput
		KeyID string `json:"KeyId"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	page, e := in.page(50)
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
	pageItems, next, e := paginate(s, r.accountID()+"|ListAliases|"+r.region+"|"+targetID, entries, page, errInvalidMarker)
	if e != nil {
		return nil, e
	}
	return struct {
		Aliases    []aliasListEntry `json:"Aliases"`
		NextMarker string           `json:"NextMarker,omitempty"`
		Truncated  bool             `json:"Truncated"`
	}{append([]aliasListEntry{}, pageItems...), next, next != ""}, nil
}

// https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html
func (s *Server) kmsPutKeyPolicy(r *kmsRequest) (any, *apiError) {
	var in struct {
		KeyID      string `json:"KeyId"`
		PolicyName string
		Policy     string
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if in.PolicyName != "" && in.PolicyName != "default" {
		return nil, badRequest("ValidationException", "PolicyName must be default")
	}
	if _, err := parseKeyPolicy(in.Policy); err != nil {
		return nil, badRequest("MalformedPolicyDocumentException", "The policy is malformed: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, "PutKeyPolicy")
	if e != nil {
		return nil, e
	}
	if key.awsManaged {
		return nil, kmsAccessDenied(r.principal, "PutKeyPolicy", key.arn)
	}
	key.policy = in.Policy
	return struct{}{}, nil
}

// https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html
func (s *Server) kmsGetKeyPolicy(r *kmsRequest) (any, *apiError) {
	var in struct {
		KeyID      string `json:"KeyId"`
		PolicyName string
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, "GetKeyPolicy")
	if e != nil {
		return nil, e
	}
	return struct{ Policy, PolicyName string }{key.policy, "default"}, nil
}
