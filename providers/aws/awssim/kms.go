package awssim

import (
	"encoding/json"
	"net/http"
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

func (k kmsService) known(action string) bool { return k.s.kmsActions[action] != nil }

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
	handler := k.s.kmsActions[c.action]
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

type listInput struct {
	Limit  int    `json:"Limit"`
	Marker string `json:"Marker"`
}

// page applies an action's documented Limit: default def, at most max.
func (in listInput) page(def, max int) (pageRequest, *apiError) {
	if in.Limit == 0 {
		in.Limit = def
	}
	if in.Limit < 1 || in.Limit > max {
		return pageRequest{}, badRequest("ValidationException",
			"1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", in.Limit, max)
	}
	return pageRequest{maxResults: in.Limit, nextToken: in.Marker}, nil
}

func errInvalidMarker() *apiError {
	return badRequest("InvalidMarkerException", "The marker is not valid.")
}
