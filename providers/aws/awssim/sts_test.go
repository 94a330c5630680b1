package awssim

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestGetCallerIdentity(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	id := must[*sts.GetCallerIdentityOutput](t)(ts.sts(t, responder).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}))
	if aws.ToString(id.Account) != workloadAccount || aws.ToString(id.Arn) != "arn:aws:iam::111111111111:user/responder" {
		t.Errorf("identity %s %s", aws.ToString(id.Account), aws.ToString(id.Arn))
	}
	_, err := ts.sts(t, creds{"AKIAUNKNOWN000000000", "x"}).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
}

func TestAssumeRole(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	roleARN := "arn:aws:iam::111111111111:role/ForensicsAccess"

	// The SDK's own AssumeRole credential provider, as the driver will use it.
	cfg := ts.config(t, analyst, region)
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "case-42"
	}))
	id := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}))
	if aws.ToString(id.Arn) != "arn:aws:sts::111111111111:assumed-role/ForensicsAccess/case-42" || aws.ToString(id.Account) != workloadAccount {
		t.Errorf("assumed identity %s", aws.ToString(id.Arn))
	}
	instances := must[*ec2.DescribeInstancesOutput](t)(ec2.NewFromConfig(cfg).DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{}))
	if len(instances.Reservations) != 1 {
		t.Errorf("assumed role sees %d reservations", len(instances.Reservations))
	}

	_, err := ts.sts(t, responder).AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("self")})
	wantCode(t, err, "AccessDenied")
	_, err = ts.sts(t, analyst).AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111111111111:role/Nope"), RoleSessionName: aws.String("x1")})
	wantCode(t, err, "AccessDenied")
}
