package aws

import (
	"errors"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Error codes of the EC2, EBS, KMS and STS APIs, by the engine's code they map to.
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html,
// https://docs.aws.amazon.com/ebs/latest/APIReference/CommonErrors.html,
// https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html)
var errorCodes = map[string]driver.Code{
	"UnauthorizedOperation":                 driver.CodePermissionDenied,
	"AccessDenied":                          driver.CodePermissionDenied,
	"AccessDeniedException":                 driver.CodePermissionDenied,
	"AuthFailure":                           driver.CodePermissionDenied,
	"InvalidClientTokenId":                  driver.CodePermissionDenied,
	"UnrecognizedClientException":           driver.CodePermissionDenied,
	"SignatureDoesNotMatch":                 driver.CodePermissionDenied,
	"InvalidSignatureException":             driver.CodePermissionDenied,
	"ExpiredToken":                          driver.CodePermissionDenied,
	"ExpiredTokenException":                 driver.CodePermissionDenied,
	"RequestExpired":                        driver.CodePermissionDenied,
	"OptInRequired":                         driver.CodePermissionDenied,
	"RequestLimitExceeded":                  driver.CodeThrottled,
	"Throttling":                            driver.CodeThrottled,
	"ThrottlingException":                   driver.CodeThrottled,
	"RequestThrottledException":             driver.CodeThrottled,
	"TooManyRequestsException":              driver.CodeThrottled,
	"SnapshotCreationPerVolumeRateExceeded": driver.CodeThrottled,
	"ConcurrentLimitExceededException":      driver.CodeThrottled,
	"ServiceQuotaExceededException":         driver.CodeThrottled,
	"ResourceLimitExceeded":                 driver.CodeThrottled, // too many copies in progress: it passes as they complete
	"InternalError":                         driver.CodeUnavailable,
	"InternalFailure":                       driver.CodeUnavailable,
	"InternalServerException":               driver.CodeUnavailable,
	"ServiceUnavailable":                    driver.CodeUnavailable,
	"Unavailable":                           driver.CodeUnavailable,
	"KMSInternalException":                  driver.CodeUnavailable,
	"DependencyTimeoutException":            driver.CodeUnavailable,
	"IncorrectState":                        driver.CodeConflict,
	"IncorrectInstanceState":                driver.CodeConflict,
	"IdempotentParameterMismatch":           driver.CodeConflict,
	"KMSInvalidStateException":              driver.CodeConflict,
	"DisabledException":                     driver.CodeConflict,
	"AlreadyExistsException":                driver.CodeConflict,
	"NotFoundException":                     driver.CodeNotFound,
	"ResourceNotFoundException":             driver.CodeNotFound,
	"OperationNotPermitted":                 driver.CodeInvalid,
	"InvalidParameterValue":                 driver.CodeInvalid,
	"InvalidParameterCombination":           driver.CodeInvalid,
	"InvalidParameter":                      driver.CodeInvalid,
	"MissingParameter":                      driver.CodeInvalid,
	"InvalidParameterDependency":            driver.CodeInvalid,
	"ValidationException":                   driver.CodeInvalid,
	"ValidationError":                       driver.CodeInvalid,
	"InvalidPaginationToken":                driver.CodeInvalid,
	"MalformedPolicyDocumentException":      driver.CodeInvalid,
	"UnsupportedOperationException":         driver.CodeInvalid,
	"InvalidKeyUsageException":              driver.CodeInvalid,
	"InvalidArnException":                   driver.CodeInvalid,
}

// ErrorCode maps an AWS SDK error to the engine's codes: by the API's error code first (EC2's
// "InvalidSnapshot.NotFound" family by its suffix), then by HTTP status.
func (d *Driver) ErrorCode(err error) driver.Code {
	var integrity *integrityError
	if errors.As(err, &integrity) {
		return driver.CodeIntegrity
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		if c, ok := errorCodes[code]; ok {
			return c
		}
		switch {
		case strings.HasSuffix(code, ".NotFound"):
			return driver.CodeNotFound
		case strings.HasSuffix(code, ".Malformed"), strings.HasPrefix(code, "Invalid"):
			return driver.CodeInvalid
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch s := re.HTTPStatusCode(); {
		case s == http.StatusTooManyRequests:
			return driver.CodeThrottled
		case s >= 500:
			return driver.CodeUnavailable
		case s == http.StatusForbidden || s == http.StatusUnauthorized:
			return driver.CodePermissionDenied
		case s == http.StatusNotFound:
			return driver.CodeNotFound
		}
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") || strings.Contains(err.Error(), "no EC2 IMDS role found") {
		return driver.CodePermissionDenied
	}
	return driver.CodeUnknown
}
