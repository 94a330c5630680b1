package azure

import (
	"errors"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/acquire-forensics/acquire/providers/azure/sasblocks"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

func respErr(status int, code string) error {
	return &azcore.ResponseError{StatusCode: status, ErrorCode: code, RawResponse: &http.Response{StatusCode: status, Header: http.Header{}}}
}

func errorCases() []providertest.ErrorCase {
	return []providertest.ErrorCase{
		{Name: "AuthorizationFailed", Err: apiErr(respErr(403, "AuthorizationFailed")), Want: driver.CodePermissionDenied},
		{Name: "LinkedAuthorizationFailed", Err: respErr(403, "LinkedAuthorizationFailed"), Want: driver.CodePermissionDenied},
		{Name: "ExpiredAuthenticationToken", Err: respErr(401, "ExpiredAuthenticationToken"), Want: driver.CodePermissionDenied},
		{Name: "TooManyRequests", Err: respErr(429, "TooManyRequests"), Want: driver.CodeThrottled},
		{Name: "429 without a code", Err: respErr(429, ""), Want: driver.CodeThrottled},
		{Name: "ServerBusy on a blob read", Err: &sasblocks.Error{Op: "Get Blob", Status: 503, Code: "ServerBusy"}, Want: driver.CodeThrottled},
		{Name: "InternalServerError", Err: respErr(500, "InternalServerError"), Want: driver.CodeUnavailable},
		{Name: "502", Err: respErr(502, ""), Want: driver.CodeUnavailable},
		{Name: "ResourceNotFound", Err: respErr(404, "ResourceNotFound"), Want: driver.CodeNotFound},
		{Name: "ResourceGroupNotFound", Err: respErr(404, "ResourceGroupNotFound"), Want: driver.CodeNotFound},
		{Name: "OperationNotAllowed", Err: respErr(409, "OperationNotAllowed"), Want: driver.CodeConflict},
		{Name: "ScopeLocked", Err: respErr(409, "ScopeLocked"), Want: driver.CodeConflict},
		{Name: "InvalidParameter", Err: respErr(400, "InvalidParameter"), Want: driver.CodeInvalid},
		{Name: "BadRequest", Err: respErr(400, "BadRequest"), Want: driver.CodeInvalid},
		{Name: "Content-MD5 mismatch", Err: &sasblocks.IntegrityError{Resource: "s", Block: 3, Reads: 4}, Want: driver.CodeIntegrity},
		{Name: "something else", Err: errors.New("boom"), Want: driver.CodeUnknown},
	}
}
