package ebsblocks

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ebs/types"
)

// ChecksumError reports a block whose data did not match what the service
// said about it (x-amz-Checksum, x-amz-Checksum-Algorithm, x-amz-Data-Length)
// on every attempt. It is an integrity failure, not a transient one.
type ChecksumError struct {
	SnapshotID string
	BlockIndex int64
	Attempts   int
	// Algorithm and Checksum are x-amz-Checksum-Algorithm and x-amz-Checksum
	// as served (base64 SHA-256); Computed is the base64 SHA-256 of the data
	// received.
	Algorithm, Checksum, Computed string
	// DataLength is x-amz-Data-Length (-1 when absent), WantLength the length
	// the volume's geometry gives the block, Received the bytes received.
	DataLength, WantLength, Received int64
}

func (e *ChecksumError) Error() string {
	var what []string
	if e.Algorithm != string(types.ChecksumAlgorithmChecksumAlgorithmSha256) {
		what = append(what, fmt.Sprintf("checksum algorithm %q, want SHA256", e.Algorithm))
	}
	if e.DataLength != e.WantLength || e.Received != e.WantLength {
		what = append(what, fmt.Sprintf("x-amz-Data-Length %d, received %d bytes, want %d", e.DataLength, e.Received, e.WantLength))
	}
	if e.Checksum != e.Computed {
		what = append(what, fmt.Sprintf("x-amz-Checksum %q, data hashes to %q", e.Checksum, e.Computed))
	}
	return fmt.Sprintf("ebsblocks: snapshot %s block %d failed verification on %d attempts: %s",
		e.SnapshotID, e.BlockIndex, e.Attempts, strings.Join(what, "; "))
}

// errRequestTimeout marks a request that got no complete answer within
// Options.RequestTimeout.
var errRequestTimeout = errors.New("no complete answer within the request timeout")

// sdkRetryables are the SDK's own judgement of what is worth retrying:
// 500/502/503/504, connection errors, throttling codes.
var sdkRetryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// isTransient reports whether a failed request may succeed if repeated:
// throttling (the service's and the SDK's client-side retry quota), 5xx,
// connection failures, timeouts and bodies cut short.
// https://docs.aws.amazon.com/ebs/latest/APIReference/API_GetSnapshotBlock.html#API_GetSnapshotBlock_Errors
func isTransient(err error) bool {
	var (
		throttled  *types.RequestThrottledException
		concurrent *types.ConcurrentLimitExceededException
		internal   *types.InternalServerException
		quota      ratelimit.QuotaExceededError
	)
	switch {
	case errors.As(err, &throttled), errors.As(err, &concurrent), errors.As(err, &internal),
		errors.As(err, &quota), errors.Is(err, errRequestTimeout), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	return sdkRetryables.IsErrorRetryable(err) == aws.TrueTernary
}

// isThrottle tells throttling from other transient failures, for the log.
func isThrottle(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

// validationReason returns the Reason of an EBS ValidationException, or "".
func validationReason(err error) types.ValidationExceptionReason {
	var v *types.ValidationException
	if errors.As(err, &v) {
		return v.Reason
	}
	return ""
}

// isStaleBlockToken: GetSnapshotBlock refuses a block token that has expired
// (7 days) or is otherwise no longer valid.
func isStaleBlockToken(err error) bool {
	return validationReason(err) == types.ValidationExceptionReasonInvalidBlockToken
}

// isStalePageToken: ListSnapshotBlocks refuses a NextToken older than 60
// minutes.
func isStalePageToken(err error) bool {
	return validationReason(err) == types.ValidationExceptionReasonInvalidPageToken
}
