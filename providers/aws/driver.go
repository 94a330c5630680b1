package aws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/acquire-forensics/acquire/providers/aws/ebsblocks"
	"github.com/acquire-forensics/acquire/providers/aws/requestbody"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/pace"
)

// Config says how to reach both sides. Credentials come from the SDK's standard chain (environment,
// shared config and SSO profiles, instance roles), optionally through a role to assume.
type Config struct {
	Region          string // the target's region
	SourceProfile   string // shared-config profile of the source side; the default chain when empty
	SourceRole      string // a role ARN to assume for the source side
	ForensicProfile string
	ForensicRole    string
	ForensicAccount string // the account the copies go to
	// ShareKeyID is a source-account key the forensic account may use, for volumes under the AWS
	// managed key (aws/ebs), which cannot be shared. When empty and one is needed, a temporary key is
	// made for the acquisition, usable by the forensic account only, and scheduled for deletion when
	// the acquisition no longer needs it.
	ShareKeyID  string
	Endpoint    string // base endpoint for every service (the cloud range); AWS_ENDPOINT_URL also works
	SessionName string // the session name of assumed roles, visible in CloudTrail; default "acquire"

	// For tests and the cloud range: explicit credentials instead of the chain, and an HTTP client.
	SourceCredentials   aws.CredentialsProvider
	ForensicCredentials aws.CredentialsProvider
	HTTPClient          *http.Client

	RetryMaxAttempts int           // attempts of idempotent calls by the SDK's retryer; default 10
	RetryMaxBackoff  time.Duration // default 20s
	Digest           DigestOptions
	Logger           *slog.Logger
}

// Driver is the AWS driver. It is safe for concurrent use.
type Driver struct {
	cfg  Config
	log  *slog.Logger
	base map[driver.Side]aws.Config

	// blockLimiter and listLimiter pace the EBS direct reads of all digests together, under the
	// per-account quotas (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-resource-quotas.html).
	blockLimiter, listLimiter *pace.Limiter

	mu      sync.Mutex
	clients map[string]*clients // by side and region
}

type clients struct {
	ec2 *ec2.Client
	ebs *ebs.Client
	kms *kms.Client
	sts *sts.Client
}

var (
	_ driver.Driver          = (*Driver)(nil)
	_ driver.Transferer      = (*Driver)(nil)
	_ driver.BlockReader     = (*Driver)(nil)
	_ driver.Locker          = (*Driver)(nil)
	_ driver.ExposureChecker = (*Driver)(nil)
	_ driver.Preflighter     = (*Driver)(nil)
)

// New loads both sides' configuration. It makes no call: a bad profile or missing credentials show at
// the first one (the identity step), with the SDK's own explanation.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.Region == "" {
		// As the SDK would: AWS_REGION, AWS_DEFAULT_REGION, or the source profile's region.
		opts := []func(*config.LoadOptions) error{}
		if cfg.SourceProfile != "" {
			opts = append(opts, config.WithSharedConfigProfile(cfg.SourceProfile))
		}
		if base, err := config.LoadDefaultConfig(ctx, opts...); err == nil {
			cfg.Region = base.Region
		}
	}
	if cfg.Region == "" {
		return nil, errors.New("no region: give --region, set AWS_REGION, or give the source profile a region")
	}
	if cfg.RetryMaxAttempts <= 0 {
		cfg.RetryMaxAttempts = 10
	}
	if cfg.RetryMaxBackoff <= 0 {
		cfg.RetryMaxBackoff = 20 * time.Second
	}
	if cfg.SessionName == "" {
		cfg.SessionName = "acquire"
	}
	d := &Driver{cfg: cfg, log: cfg.Logger, base: map[driver.Side]aws.Config{}, clients: map[string]*clients{},
		blockLimiter: cfg.Digest.Limiter, listLimiter: cfg.Digest.ListLimiter}
	if d.blockLimiter == nil {
		d.blockLimiter = ebsblocks.NewBlockLimiter()
	}
	if d.listLimiter == nil {
		d.listLimiter = ebsblocks.NewListLimiter()
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	for _, side := range []driver.Side{driver.Source, driver.Forensic} {
		profile, role, creds := cfg.SourceProfile, cfg.SourceRole, cfg.SourceCredentials
		if side == driver.Forensic {
			profile, role, creds = cfg.ForensicProfile, cfg.ForensicRole, cfg.ForensicCredentials
		}
		opts := []func(*config.LoadOptions) error{
			config.WithRegion(cfg.Region),
			config.WithRetryer(d.retryer),
		}
		if profile != "" {
			opts = append(opts, config.WithSharedConfigProfile(profile))
		}
		if creds != nil {
			opts = append(opts, config.WithCredentialsProvider(creds))
		}
		if cfg.Endpoint != "" {
			opts = append(opts, config.WithBaseEndpoint(cfg.Endpoint))
		}
		if cfg.HTTPClient != nil {
			opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
		} else {
			// A digest keeps many block reads in flight: keep that many connections open.
			opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
				t.MaxIdleConnsPerHost = 2 * ebsblocks.DefaultConcurrency
			})))
		}
		base, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("aws: loading the %s side's configuration: %w", side, err)
		}
		if role != "" {
			provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), role, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = cfg.SessionName
			})
			base.Credentials = aws.NewCredentialsCache(provider)
		}
		base.APIOptions = append(base.APIOptions, recordCalls, requestbody.Guard)
		d.base[side] = base
	}
	return d, nil
}

// retryer retries idempotent calls on throttling and server errors with jittered backoff. There is no
// retry quota: an acquisition under heavy throttling must wait, not give up.
func (d *Driver) retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = d.cfg.RetryMaxAttempts
		o.MaxBackoff = d.cfg.RetryMaxBackoff
		o.RateLimiter = ratelimit.None
	})
}

// noRetry is for calls that create something without an idempotency token: the engine retries them
// only after looking for what an earlier attempt made.
func noRetry[O any](set func(*O, aws.Retryer)) func(*O) {
	return func(o *O) { set(o, aws.NopRetryer{}) }
}

func (d *Driver) side(side driver.Side, region string) *clients {
	if region == "" {
		region = d.cfg.Region
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := string(side) + "/" + region
	if c, ok := d.clients[key]; ok {
		return c
	}
	cfg := d.base[side].Copy()
	cfg.Region = region
	c := &clients{ec2: ec2.NewFromConfig(cfg), ebs: ebs.NewFromConfig(cfg), kms: kms.NewFromConfig(cfg), sts: sts.NewFromConfig(cfg)}
	d.clients[key] = c
	return c
}

// Region is the target's region.
func (d *Driver) Region() string { return d.cfg.Region }

// Cloud names the provider.
func (d *Driver) Cloud() string { return "aws" }

// Capabilities of AWS: snapshots are taken in the source account and transferred; CreateSnapshots is
// crash-consistent across an instance's volumes and makes nothing else; copies may go to another region.
func (d *Driver) Capabilities() driver.Capabilities {
	return driver.Capabilities{SnapshotSide: driver.Source, Crash: driver.CrashNative, CrossLocation: true}
}
