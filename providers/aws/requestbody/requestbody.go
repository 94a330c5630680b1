// Package requestbody keeps the AWS SDK from closing a connection under the answer it is reading.
//
// The SDK (smithy-go's transport/http) wraps a request's body in a reader that exposes WriteTo and
// answers io.EOF from it once closed, and it closes the body as soon as the answer's headers have
// arrived. net/http's transport, after writing a body of known length, copies what is left of it to
// io.Discard to check it is empty; io.Copy prefers WriteTo, and an io.EOF from WriteTo is an error,
// not an end. So when the transport's writer is still between the body and that check when the
// answer's headers arrive (a loaded machine, a fast server), the write "fails" and the transport
// closes the connection while the answer's body is being read: "use of closed network connection"
// on a request that succeeded. Guard gives the SDK a body without WriteTo, which io.Copy reads to
// its io.EOF instead.
package requestbody

import (
	"context"
	"io"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Guard is an API option (aws.Config.APIOptions) that hides WriteTo from every seekable request
// body. Bodies that cannot seek are left alone: the SDK sends them without a known length, which
// the transport does not check.
func Guard(stack *middleware.Stack) error {
	return stack.Build.Add(guard{}, middleware.After)
}

type guard struct{}

func (guard) ID() string { return "acquire.HideRequestBodyWriteTo" }

func (guard) HandleBuild(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (
	middleware.BuildOutput, middleware.Metadata, error,
) {
	if req, ok := in.Request.(*smithyhttp.Request); ok {
		if body, ok := req.GetStream().(io.ReadSeeker); ok {
			if _, hasWriteTo := body.(io.WriterTo); hasWriteTo {
				guarded, err := req.SetStream(readSeeker{body})
				if err != nil {
					return middleware.BuildOutput{}, middleware.Metadata{}, err
				}
				in.Request = guarded
			}
		}
	}
	return next.HandleBuild(ctx, in)
}

// readSeeker is a body with only Read and Seek, so neither io.NopCloser nor the SDK's wrapper
// offers WriteTo.
type readSeeker struct{ io.ReadSeeker }
