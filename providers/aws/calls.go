package aws

import (
	"context"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// recordCalls adds a middleware that reports every call's operation and request ID to the engine's
// call log in the context, for the custody record and for call counts.
func recordCalls(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("acquireRecordCall",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			id, _ := awsmiddleware.GetRequestIDMetadata(md)
			driver.RecordCall(ctx, awsmiddleware.GetServiceID(ctx)+":"+awsmiddleware.GetOperationName(ctx), id)
			return out, md, err
		}), middleware.After)
}
