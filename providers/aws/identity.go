package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Identity asks STS who the side's credentials are.
func (d *Driver) Identity(ctx context.Context, side driver.Side) (driver.Principal, error) {
	out, err := d.side(side, "").sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return driver.Principal{}, err
	}
	return driver.Principal{Side: side, Account: aws.ToString(out.Account), ID: aws.ToString(out.Arn)}, nil
}
