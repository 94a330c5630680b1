package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/spf13/cobra"

	awsdriver "github.com/acquire-forensics/acquire/providers/aws"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// awsOptions is the flag group of `acquire aws`.
type awsOptions struct {
	acquireOptions
	region   string
	instance []string
	volume   []string

	sourceProfile   string
	sourceRole      string
	forensicAccount string
	forensicProfile string
	forensicRole    string
	forensicRegion  string
	forensicKey     string
	shareKey        string
	endpoint        string
	deleteSrc       bool
	concurrency     int
}

func newAWSCmd(a *app) *cobra.Command {
	var o awsOptions
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "Acquire EC2 instances or EBS volumes into an isolated forensic account",
		Long: `Acquire EC2 instances (all attached volumes, crash-consistent) or EBS volumes into a forensic account:
capture the configuration, snapshot, move the snapshots out of the source account (re-encrypting those
under the AWS managed key with a temporary key usable by the forensic account only), copy them under the
forensic key, optionally lock them, digest their content through the EBS direct APIs, remove everything
temporary, and seal the case. Every step is a signed custody record.

Running the same command again for the same case continues where it stopped; other arguments for a
case that holds an acquisition are refused, unless --new-acquisition. Ctrl-C stops, withdraws shares,
removes temporary resources and says what is left where.

Credentials come from the AWS SDK's standard chain: environment, shared config and SSO profiles
(--source-profile, --forensic-profile), instance roles; --source-role and --forensic-role assume a role.
` + "`acquire iam aws`" + ` prints the least-privilege policies both sides need.`,
		Example: `  acquire aws --case IR-42/ --region eu-west-1 --instance i-0abc123def4567890 \
    --forensic-account 222222222222 --forensic-profile forensics --forensic-kms-key alias/evidence \
    --source-role arn:aws:iam::111111111111:role/IncidentResponse --key custody.key --ticket IR-42`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), a) },
	}
	f := cmd.Flags()
	o.addFlags(cmd, "lock the copies against deletion: governance or compliance (EBS snapshot lock)")
	f.IntVar(&o.lockCoolOff, "lock-cool-off-hours", 0, "compliance lock cool-off period in hours (1-72)")
	f.StringVar(&o.region, "region", "", "the region of the instances and volumes (default: the SDK's region)")
	f.StringArrayVar(&o.instance, "instance", nil, "an EC2 instance ID: all its attached volumes (repeatable)")
	f.StringArrayVar(&o.volume, "volume", nil, "an EBS volume ID (repeatable)")
	f.StringVar(&o.sourceProfile, "source-profile", "", "shared-config profile for the source account")
	f.StringVar(&o.sourceRole, "source-role", "", "role ARN to assume in the source account")
	f.StringVar(&o.forensicAccount, "forensic-account", "", "the isolated forensic account ID (required)")
	f.StringVar(&o.forensicProfile, "forensic-profile", "", "shared-config profile for the forensic account")
	f.StringVar(&o.forensicRole, "forensic-role", "", "role ARN to assume in the forensic account")
	f.StringVar(&o.forensicRegion, "forensic-region", "", "region of the copies (default: the source region; another one copies across regions)")
	f.StringVar(&o.forensicKey, "forensic-kms-key", "", "KMS key of the forensic account for the copies: ID, ARN or alias (required)")
	f.StringVar(&o.shareKey, "share-kms-key", "", "a source-account KMS key the forensic account may use, for volumes under aws/ebs (default: a temporary key)")
	f.StringVar(&o.endpoint, "endpoint", "", "AWS endpoint override for every service (the cloud range); AWS_ENDPOINT_URL works too")
	f.BoolVar(&o.deleteSrc, "delete-source-snapshots", false, "delete the snapshots taken in the source account once their copy is recorded (default: keep them, tagged)")
	f.IntVar(&o.concurrency, "max-copies", 20, "snapshot copies in flight in each account (AWS allows 20 concurrent copies per destination region)")
	return cmd
}

// regionRule is the shape of an AWS region name: us-east-1, eu-central-2, us-gov-west-1.
var regionRule = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

func (o *awsOptions) check() error {
	if err := o.acquireOptions.check(); err != nil {
		return err
	}
	switch {
	case len(o.instance) == 0 && len(o.volume) == 0:
		return errors.New("nothing to acquire: give --instance or --volume")
	case o.forensicAccount == "":
		return errors.New("--forensic-account is required: the isolated account the evidence goes to")
	case !o.dryRun && o.forensicKey == "":
		return errors.New("--forensic-kms-key is required: the forensic account's key for the copies")
	}
	for flag, r := range map[string]string{"--region": o.region, "--forensic-region": o.forensicRegion} {
		if r != "" && !regionRule.MatchString(r) {
			return fmt.Errorf("%s %q is not an AWS region name (like us-east-1)", flag, r)
		}
	}
	for _, id := range o.instance {
		if !validAWSID(id, "i-") {
			return fmt.Errorf("--instance %q is not an EC2 instance ID (i- and 8 or 17 hex digits)", id)
		}
	}
	for _, id := range o.volume {
		if !validAWSID(id, "vol-") {
			return fmt.Errorf("--volume %q is not an EBS volume ID (vol- and 8 or 17 hex digits)", id)
		}
	}
	if len(o.forensicAccount) != 12 || !isDigits(o.forensicAccount) {
		return fmt.Errorf("--forensic-account %q is not a 12-digit AWS account ID", o.forensicAccount)
	}
	return nil
}

func validAWSID(id, prefix string) bool {
	if len(id) <= len(prefix) || id[:len(prefix)] != prefix {
		return false
	}
	hex := id[len(prefix):]
	if len(hex) != 8 && len(hex) != 17 {
		return false
	}
	for _, c := range hex {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func (o *awsOptions) run(ctx context.Context, a *app) error {
	if err := o.check(); err != nil {
		return usageErrorf(err)
	}
	logger, closeLog, err := o.logger(a)
	if err != nil {
		return err
	}
	defer closeLog()
	d, err := awsdriver.New(ctx, awsdriver.Config{
		Region: o.region, SourceProfile: o.sourceProfile, SourceRole: o.sourceRole,
		ForensicProfile: o.forensicProfile, ForensicRole: o.forensicRole, ForensicAccount: o.forensicAccount,
		ShareKeyID: o.shareKey, Endpoint: o.endpoint, Logger: logger,
	})
	if err != nil {
		return usageErrorf(err)
	}
	opts := o.engineOptions(driver.Target{Location: d.Region(), Workloads: o.instance, Volumes: o.volume},
		driver.Destination{Account: o.forensicAccount, Location: o.forensicRegion, Key: o.forensicKey})
	opts.DeleteSourceSnapshots = o.deleteSrc
	opts.Logger = logger
	opts.CopyConcurrency = o.concurrency
	if o.shareKey != "" {
		opts.Settings = map[string]string{"share key": o.shareKey}
	}
	return a.acquire(ctx, &o.acquireOptions, d, opts, awsdriver.Explain)
}

func newIAMCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "iam", Short: "Print the least-privilege policies an acquisition needs"}
	var explain bool
	awsCmd := &cobra.Command{
		Use:   "aws",
		Short: "IAM policies for the source and forensic roles of `acquire aws`",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := map[string]any{}
			for _, side := range []driver.Side{driver.Source, driver.Forensic} {
				if explain && !a.json() {
					a.printf("%s side:\n", side)
					for _, p := range awsdriver.Explain(side) {
						a.printf("  %-36s %s\n", p[0], p[1])
					}
					continue
				}
				pol, err := awsdriver.Policy(side)
				if err != nil {
					return err
				}
				if a.json() {
					out[string(side)] = jsonRaw(pol)
					continue
				}
				a.printf("# policy for the %s role\n%s\n\n", side, pol)
			}
			if a.json() {
				return a.emit(out)
			}
			return nil
		},
	}
	awsCmd.Flags().BoolVar(&explain, "explain", false, "list each action with the reason it is needed")
	cmd.AddCommand(awsCmd, newIAMAzureCmd(a))
	return cmd
}
