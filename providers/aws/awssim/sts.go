package awssim

import (
	"encoding/xml"
	"net/http"
	"regexp"
	"time"
)

// stsService serves AWS STS over the Query protocol.
// https://docs.aws.amazon.com/STS/latest/APIReference/welcome.html
type stsService struct{ s *Server }

func (t stsService) action(c *call) string { return parseQuery(c).get("Action") }

func (t stsService) known(action string) bool {
	return action == "GetCallerIdentity" || action == "AssumeRole"
}

// https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
func (t stsService) authCodes() authCodes {
	return authCodes{status: http.StatusForbidden, missing: "MissingAuthenticationToken",
		unknownKey: "InvalidClientTokenId", badSignature: "SignatureDoesNotMatch", expired: "ExpiredToken"}
}

func (t stsService) throttled() *apiError {
	return badRequest("Throttling", "Rate exceeded")
}

func (t stsService) internalError() *apiError {
	return newError(http.StatusInternalServerError, "InternalFailure", "An internal error has occurred.")
}

type stsErrorBody struct {
	Error struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func (t stsService) writeError(w http.ResponseWriter, c *call, err *apiError) {
	var body stsErrorBody
	body.Error.Type = "Sender"
	if err.status >= 500 {
		body.Error.Type = "Receiver"
	}
	body.Error.Code, body.Error.Message, body.RequestID = err.code, err.message, c.requestID
	writeXML(w, err.status, "ErrorResponse", stsNamespace, body)
}

type stsResponseMetadata struct {
	RequestID string `xml:"RequestId"`
}

func (t stsService) serve(w http.ResponseWriter, c *call) {
	q := parseQuery(c)
	var result any
	var err *apiError
	switch c.action {
	case "GetCallerIdentity":
		// GetCallerIdentity needs no permission.
		// https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
		result = getCallerIdentityResult{Arn: c.principal.arn, UserID: c.principal.userID, Account: c.principal.accountID}
	case "AssumeRole":
		result, err = t.s.assumeRole(c, q)
	default:
		err = badRequest("InvalidAction", "Could not find operation %s for version 2011-06-15", c.action)
	}
	if err != nil {
		t.writeError(w, c, err)
		return
	}
	writeXML(w, http.StatusOK, c.action+"Response", stsNamespace, stsEnvelope{
		result: result, resultName: c.action + "Result", requestID: c.requestID,
	})
}

// stsEnvelope is the body of an awsquery response: <ActionResult> then
// <ResponseMetadata>.
type stsEnvelope struct {
	result     any
	resultName string
	requestID  string
}

func (e stsEnvelope) MarshalXML(enc *xml.Encoder, start xml.StartElement) error {
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	if err := enc.EncodeElement(e.result, xml.StartElement{Name: xml.Name{Local: e.resultName}}); err != nil {
		return err
	}
	if err := enc.EncodeElement(stsResponseMetadata{e.requestID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return err
	}
	return enc.EncodeToken(start.End())
}

type getCallerIdentityResult struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

type assumeRoleResult struct {
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
	PackedPolicySize int `xml:"PackedPolicySize"`
}

var (
	roleARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/(?:.*/)?([\w+=,.@-]+)$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

// Session durations AssumeRole accepts: from 15 minutes up to the role's
// maximum session duration (1 to 12 hours, default 1 hour); a session
// started from another role's session (role chaining) lasts at most 1 hour.
// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
const (
	minSessionSeconds     = 900
	maxSessionSeconds     = 43200
	defaultSessionSeconds = 3600
	roleChainingSeconds   = 3600
)

// AssumeRole issues temporary credentials of the role's account when the
// role's trust policy names the caller; the session name is the last part of
// the assumed-role ARN.
// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
func (s *Server) assumeRole(c *call, q queryParams) (any, *apiError) {
	roleARN, session := q.get("RoleArn"), q.get("RoleSessionName")
	if roleARN == "" {
		return nil, badRequest("ValidationError", "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	}
	if !sessionNamePattern.MatchString(session) {
		return nil, badRequest("ValidationError", "1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", session)
	}
	duration, ok := q.integer("DurationSeconds", defaultSessionSeconds)
	switch {
	case !ok:
		return nil, badRequest("ValidationError", "DurationSeconds %q is not a number", q.get("DurationSeconds"))
	case duration < minSessionSeconds:
		return nil, badRequest("ValidationError", "1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", duration, minSessionSeconds)
	case duration > maxSessionSeconds:
		return nil, badRequest("ValidationError", "1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", duration, maxSessionSeconds)
	}
	m := roleARNPattern.FindStringSubmatch(roleARN)
	if m == nil {
		return nil, badRequest("ValidationError", "%s is invalid", roleARN)
	}
	p := c.principal
	denied := newError(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", p.arn, roleARN)
	if !p.allows("sts:AssumeRole") {
		return nil, denied
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.st.accounts[m[1]]
	if acct == nil || acct.roles[m[2]] == nil {
		return nil, denied
	}
	role := acct.roles[m[2]]
	trusted := false
	for _, entry := range role.trust {
		if p.matchesPrincipal(entry) && entry != "*" {
			trusted = true
		}
	}
	if !trusted {
		return nil, denied
	}
	lifetime := time.Duration(duration) * time.Second
	switch {
	case p.roleARN != "" && duration > roleChainingSeconds:
		return nil, badRequest("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	case lifetime > role.maxSession:
		return nil, badRequest("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	cred := s.newSession(now.Add(lifetime), sessionPrincipal(acct, role, session))
	var out assumeRoleResult
	out.Credentials.AccessKeyID, out.Credentials.SecretAccessKey = cred.accessKeyID, cred.secretAccessKey
	out.Credentials.SessionToken, out.Credentials.Expiration = cred.sessionToken, cred.expires.UTC().Format(time.RFC3339)
	out.AssumedRoleUser.AssumedRoleID, out.AssumedRoleUser.Arn = cred.principal.userID, cred.principal.arn
	return out, nil
}
