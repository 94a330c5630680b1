package awssim

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
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

// AssumeRole grants sessions up to the role's maximum session duration
// (default one hour), and up to one hour when chaining roles.
func TestAssumeRoleSessionDuration(t *testing.T) {
	sc := fixture(t)
	long := "arn:aws:iam::111111111111:role/LongSessions"
	sc.Accounts[0].Roles = append(sc.Accounts[0].Roles, ScenarioRole{Name: "LongSessions", MaxSessionDuration: 43200,
		Trust: []string{forensicsAccount, "arn:aws:iam::111111111111:role/ForensicsAccess"}})
	clock := newFakeClock()
	ts := startServer(t, sc, clock)
	analystSTS := ts.sts(t, analyst)
	assume := func(client *sts.Client, role string, seconds int32) (*sts.AssumeRoleOutput, error) {
		return client.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("case-42"), DurationSeconds: aws.Int32(seconds)})
	}
	short := "arn:aws:iam::111111111111:role/ForensicsAccess"
	_, err := assume(analystSTS, short, 7200)
	wantCode(t, err, "ValidationError")
	_, err = assume(analystSTS, long, 899)
	wantCode(t, err, "ValidationError")
	_, err = assume(analystSTS, long, 43201)
	wantCode(t, err, "ValidationError")
	must[*sts.AssumeRoleOutput](t)(assume(analystSTS, short, 3600))
	out := must[*sts.AssumeRoleOutput](t)(assume(analystSTS, long, 43200))
	if got, want := aws.ToTime(out.Credentials.Expiration), clock.Now().Add(12*time.Hour); !got.Equal(want) {
		t.Errorf("a 12-hour session expires at %v, want %v", got, want)
	}

	// Role chaining: a role session assuming another role gets at most an hour.
	first := must[*sts.AssumeRoleOutput](t)(assume(analystSTS, short, 3600))
	cfg := ts.config(t, analyst, region)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(first.Credentials.AccessKeyId),
		aws.ToString(first.Credentials.SecretAccessKey), aws.ToString(first.Credentials.SessionToken))
	chained := sts.NewFromConfig(cfg)
	_, err = assume(chained, long, 7200)
	wantCode(t, err, "ValidationError")
	must[*sts.AssumeRoleOutput](t)(assume(chained, long, 3600))

	bad := fixture(t)
	bad.Accounts[0].Roles[0].MaxSessionDuration = 60
	if _, err := New(bad, nil); err == nil {
		t.Error("a maximum session duration under an hour was accepted")
	}
}

// Expired sessions are forgotten, yet still answered as expired.
func TestExpiredSessionsArePurged(t *testing.T) {
	clock := newFakeClock()
	ts := startServer(t, fixture(t), clock)
	out := must[*sts.AssumeRoleOutput](t)(ts.sts(t, analyst).AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::111111111111:role/ForensicsAccess"), RoleSessionName: aws.String("case-42"),
	}))
	cfg := ts.config(t, analyst, region)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	session := ec2.NewFromConfig(cfg)
	must[*ec2.DescribeVolumesOutput](t)(session.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{}))

	clock.Advance(time.Hour)
	_, err := session.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})
	wantCode(t, err, "RequestExpired")
	ts.mu.Lock()
	_, kept := ts.st.credentials[aws.ToString(out.Credentials.AccessKeyId)]
	ts.mu.Unlock()
	if kept {
		t.Error("the expired session is still held")
	}
	_, err = session.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})
	wantCode(t, err, "RequestExpired")
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	wantCode(t, err, "ExpiredToken")

	// A forged token for an unknown key is not "expired", just invalid.
	cfg.Credentials = credentials.NewStaticCredentialsProvider("ASIAFORGED0000000000", "x", sessionTokenPrefix+"1.00")
	_, err = ec2.NewFromConfig(cfg).DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})
	wantCode(t, err, "AuthFailure")
}
