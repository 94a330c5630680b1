package awssim

import (
	"net/http"
	"time"
)

// ec2Service serves the EC2 Query API: form-encoded POST /, XML answers.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html
type ec2Service struct{ s *Server }

// ec2Request is an authenticated EC2 call with its parameters.
type ec2Request struct {
	*call
	q   queryParams
	now time.Time
}

// accountID is the caller's account.
func (r *ec2Request) accountID() string { return r.principal.accountID }

type ec2Handler func(s *Server, r *ec2Request) (ec2Body, *apiError)

// ec2Handlers maps each implemented action to its handler.
func ec2Handlers() map[string]ec2Handler {
	return map[string]ec2Handler{
		"DescribeInstances":            (*Server).describeInstances,
		"DescribeInstanceAttribute":    (*Server).describeInstanceAttribute,
		"DescribeVolumes":              (*Server).describeVolumes,
		"CreateVolume":                 (*Server).createVolume,
		"AttachVolume":                 (*Server).attachVolume,
		"CreateSnapshot":               (*Server).createSnapshot,
		"CreateSnapshots":              (*Server).createSnapshots,
		"DescribeSnapshots":            (*Server).describeSnapshots,
		"DeleteSnapshot":               (*Server).deleteSnapshot,
		"CopySnapshot":                 (*Server).copySnapshot,
		"ModifySnapshotAttribute":      (*Server).modifySnapshotAttribute,
		"DescribeSnapshotAttribute":    (*Server).describeSnapshotAttribute,
		"ResetSnapshotAttribute":       (*Server).resetSnapshotAttribute,
		"LockSnapshot":                 (*Server).lockSnapshot,
		"UnlockSnapshot":               (*Server).unlockSnapshot,
		"DescribeLockedSnapshots":      (*Server).describeLockedSnapshots,
		"CreateTags":                   (*Server).createTags,
		"DeleteTags":                   (*Server).deleteTags,
		"GetEbsEncryptionByDefault":    (*Server).getEBSEncryptionByDefault,
		"GetEbsDefaultKmsKeyId":        (*Server).getEBSDefaultKMSKeyID,
		"EnableEbsEncryptionByDefault": (*Server).enableEBSEncryptionByDefault,
	}
}

func (e ec2Service) action(c *call) string { return parseQuery(c).get("Action") }

func (e ec2Service) known(action string) bool { return e.s.ec2Actions[action] != nil }

func (e ec2Service) authCodes() authCodes {
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html#CommonErrors
	return authCodes{status: http.StatusUnauthorized, missing: "MissingAuthenticationToken",
		unknownKey: "AuthFailure", badSignature: "AuthFailure", expired: "RequestExpired"}
}

func (e ec2Service) throttled() *apiError { return ec2Throttled() }

func (e ec2Service) internalError() *apiError {
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html#api-error-codes-table-server
	return newError(http.StatusInternalServerError, "InternalError", "An internal error has occurred.")
}

func (e ec2Service) writeError(w http.ResponseWriter, c *call, err *apiError) {
	writeXML(w, err.status, "Response", "", ec2ErrorBody{
		Errors:    []ec2ErrorItem{{Code: err.code, Message: err.message}},
		RequestID: c.requestID,
	})
}

func (e ec2Service) serve(w http.ResponseWriter, c *call) {
	handler := e.s.ec2Actions[c.action]
	if handler == nil {
		e.writeError(w, c, badRequest("InvalidAction", "The action %s is not valid for this web service.", c.action))
		return
	}
	if !c.principal.allows("ec2:" + c.action) {
		e.writeError(w, c, errUnauthorizedOperation(c.principal.arn, "ec2:"+c.action))
		return
	}
	req := &ec2Request{call: c, q: parseQuery(c), now: e.s.now()}
	// Tagging a resource while creating it (TagSpecification) also needs
	// permission for ec2:CreateTags.
	// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html
	if req.q.count("TagSpecification") > 0 && !c.principal.allows("ec2:CreateTags") {
		e.writeError(w, c, errUnauthorizedOperation(c.principal.arn, "ec2:CreateTags"))
		return
	}
	// DryRun checks permissions only.
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/CommonParameters.html
	if req.q.boolean("DryRun") {
		e.writeError(w, c, newError(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set."))
		return
	}
	body, err := handler(e.s, req)
	if err != nil {
		e.writeError(w, c, err)
		return
	}
	body.setRequestID(c.requestID)
	writeXML(w, http.StatusOK, c.action+"Response", ec2Namespace, body)
}
