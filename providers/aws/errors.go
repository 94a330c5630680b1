package aws

import (
	"errors"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/acquire-forensics/acquire/providers"
)

// Error codes of the EC2, EBS, KMS and STS APIs, by the engine's code they map to.
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html,
// https://docs.aws.amazon.com/ebs/latest/APIReference/CommonErrors.html,
// https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html)
var errorCodes = map[string]providers.Code{
	"UnauthorizedOperation":                 providers.CodePermissionDenied,
	"AccessDenied":                          providers.CodePermissionDenied,
	"AccessDeniedException":                 providers.CodePermissionDenied,
	"AuthFailure":                           providers.CodePermissionDenied,
	"InvalidClientTokenId":                  providers.CodePermissionDenied,
	"UnrecognizedClientException":           providers.CodePermissionDenied,
	"SignatureDoesNotMatch":                 providers.CodePermissionDenied,
	"InvalidSignatureException":             providers.CodePermissionDenied,
	"ExpiredToken":                          providers.CodePermissionDenied,
	"ExpiredTokenException":                 providers.CodePermissionDenied,
	"RequestExpired":                        providers.CodePermissionDenied,
	"OptInRequired":                         providers.CodePermissionDenied,
	"RequestLimitExceeded":                  providers.CodeThrottled,
	"Throttling":                            providers.CodeThrottled,
	"ThrottlingException":                   providers.CodeThrottled,
	"RequestThrottledException":             providers.CodeThrottled,
	"TooManyRequestsException":              providers.CodeThrottled,
	"SnapshotCreationPerVolumeRateExceeded": providers.CodeThrottled,
	"ConcurrentLimitExceededException":      providers.CodeThrottled,
	"ServiceQuotaExceededException":         providers.CodeThrottled,
	"InternalError":                         providers.CodeUnavailable,
	"InternalFailure":                       providers.CodeUnavailable,
	"InternalServerException":               providers.CodeUnavailable,
	"ServiceUnavailable":                    providers.CodeUnavailable,
	"Unavailable":                           providers.CodeUnavailable,
	"KMSInternalException":                  providers.CodeUnavailable,
	"DependencyTimeoutException":            providers.CodeUnavailable,
	"IncorrectState":                        providers.CodeConflict,
	"IncorrectInstanceState":                providers.CodeConflict,
	"IdempotentParameterMismatch":           providers.CodeConflict,
	"KMSInvalidStateException":              providers.CodeConflict,
	"DisabledException":                     providers.CodeConflict,
	"AlreadyExistsException":                providers.CodeConflict,
	"NotFoundException":                     providers.CodeNotFound,
	"ResourceNotFoundException":             providers.CodeNotFound,
	"OperationNotPermitted":                 providers.CodeInvalid,
	"InvalidParameterValue":                 providers.CodeInvalid,
	"InvalidParameterCombination":           providers.CodeInvalid,
	"InvalidParameter":                      providers.CodeInvalid,
	"MissingParameter":                      providers.CodeInvalid,
	"InvalidParameterDependency":            providers.CodeInvalid,
	"ValidationException":                   providers.CodeInvalid,
	"ValidationError":                       providers.CodeInvalid,
	"InvalidPaginationToken":                providers.CodeInvalid,
	"MalformedPolicyDocumentException":      providers.CodeInvalid,
	"UnsupportedOperationException":         providers.CodeInvalid,
	"InvalidKeyUsageException":              providers.CodeInvalid,
	"InvalidArnException":                   providers.CodeInvalid,
}

// ErrorCode maps an AWS SDK error to the engine's codes: by the API's error code first (EC2's
// "InvalidSnapshot.NotFound" family by its suffix), then by HTTP status.
func (d *Driver) ErrorCode(err error) providers.Code {
	var integrity *integrityError
	if errors.As(err, &integrity) {
		return providers.CodeIntegrity
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		if c, ok := errorCodes[code]; ok {
			return c
		}
		switch {
		case strings.HasSuffix(code, ".NotFound"):
			return providers.CodeNotFound
		case strings.HasSuffix(code, ".Malformed"), strings.HasPrefix(code, "Invalid"):
			return providers.CodeInvalid
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch s := re.HTTPStatusCode(); {
		case s == http.StatusTooManyRequests:
			return providers.CodeThrottled
		case s >= 500:
			return providers.CodeUnavailable
		case s == http.StatusForbidden || s == http.StatusUnauthorized:
			return providers.CodePermissionDenied
		case s == http.StatusNotFound:
			return providers.CodeNotFound
		}
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") || strings.Contains(err.Error(), "no EC2 IMDS role found") {
		return providers.CodePermissionDenied
	}
	return providers.CodeUnknown
}
