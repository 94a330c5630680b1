package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers"
	awsdriver "github.com/acquire-forensics/acquire/providers/aws"
)

// awsOptions is the flag group of `acquire aws`.
type awsOptions struct {
	sign     signingOptions
	caseDir  string
	caseID   string
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

	lockMode    string
	lockDays    int
	lockCoolOff int
	deleteSrc   bool
	concurrency int
	timeout     time.Duration
	poll        time.Duration
	dryRun      bool
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

Running the same command again for the same case continues where it stopped. Ctrl-C stops, withdraws
shares, removes temporary resources and says what is left where.

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
	o.sign.addFlags(cmd)
	f.StringVar(&o.caseDir, "case", "", "the case directory: created if new, continued if it exists (required)")
	f.StringVar(&o.caseID, "case-id", "", "the case identifier, for a new case (default: the directory's name)")
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
	f.StringVar(&o.lockMode, "lock", "", "lock the copies against deletion: governance or compliance")
	f.IntVar(&o.lockDays, "lock-days", 30, "lock duration in days, with --lock")
	f.IntVar(&o.lockCoolOff, "lock-cool-off-hours", 0, "compliance lock cool-off period in hours (1-72)")
	f.BoolVar(&o.deleteSrc, "delete-source-snapshots", false, "delete the snapshots taken in the source account once their copy is digested (default: keep them, tagged)")
	f.IntVar(&o.concurrency, "max-copies", 20, "transfers in flight at once (AWS allows 20 concurrent copies per region)")
	f.DurationVar(&o.timeout, "timeout", 6*time.Hour, "give up after this long (the cleanup still runs)")
	f.DurationVar(&o.poll, "poll-interval", 2*time.Second, "first wait between snapshot status checks (they slow down to 30s while nothing changes)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and the permissions it needs; change nothing")
	return cmd
}

func (o *awsOptions) check() error {
	switch {
	case len(o.instance) == 0 && len(o.volume) == 0:
		return errors.New("nothing to acquire: give --instance or --volume")
	case o.forensicAccount == "":
		return errors.New("--forensic-account is required: the isolated account the evidence goes to")
	case !o.dryRun && o.forensicKey == "":
		return errors.New("--forensic-kms-key is required: the forensic account's key for the copies")
	case !o.dryRun && o.caseDir == "":
		return errors.New("--case is required: the case directory")
	case o.lockMode != "" && o.lockMode != "governance" && o.lockMode != "compliance":
		return fmt.Errorf("--lock %q: use governance or compliance", o.lockMode)
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
	d, err := awsdriver.New(ctx, awsdriver.Config{
		Region: o.region, SourceProfile: o.sourceProfile, SourceRole: o.sourceRole,
		ForensicProfile: o.forensicProfile, ForensicRole: o.forensicRole, ForensicAccount: o.forensicAccount,
		Endpoint: o.endpoint,
	})
	if err != nil {
		return usageErrorf(err)
	}
	target := providers.Target{Region: d.Region(), Workloads: o.instance, Volumes: o.volume}
	if o.dryRun {
		return a.dryRun(ctx, d, target, o)
	}

	ledger, err := o.openCase(ctx, a)
	if err != nil {
		return err
	}
	defer ledger.Close()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	events, done := a.progress()
	defer done()
	opts := providers.Options{
		Ledger:                ledger,
		Target:                target,
		Forensic:              providers.ForensicOptions{Account: o.forensicAccount, Region: o.forensicRegion, KeyID: o.forensicKey},
		ShareKeyID:            o.shareKey,
		DeleteSourceSnapshots: o.deleteSrc,
		CopyConcurrency:       o.concurrency,
		PollInterval:          o.poll,
		Progress:              events,
	}
	if o.lockMode != "" {
		opts.Lock = &providers.LockRequest{Mode: o.lockMode, Days: o.lockDays, CoolOffHours: o.lockCoolOff}
	}
	res, err := providers.New(d).Run(ctx, opts)
	done()
	if res != nil {
		a.printAcquisition(ledger, res)
	}
	return acquisitionError(err)
}

// openCase continues the case in --case, or creates it.
func (o *awsOptions) openCase(ctx context.Context, a *app) (*custody.Ledger, error) {
	opts, err := o.sign.ledgerOptions(ctx, a)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(o.caseDir, custody.PublicKeyFile)); err == nil {
		return custody.Open(ctx, o.caseDir, opts)
	}
	id := o.caseID
	if id == "" {
		id = filepath.Base(filepath.Clean(o.caseDir))
	}
	if err := custody.ValidCaseID(id); err != nil {
		return nil, usageErrorf(err)
	}
	return custody.Create(ctx, o.caseDir, id, opts)
}

// acquisitionError gives an engine error its exit code.
func acquisitionError(err error) error {
	if err == nil {
		return nil
	}
	var partial *providers.PartialError
	if errors.As(err, &partial) {
		return withCode(ExitPartial, err)
	}
	switch providers.CodeOf(err) {
	case providers.CodePermissionDenied:
		return withCode(ExitPermissionDenied, err)
	case providers.CodeNotFound:
		return withCode(ExitNotFound, err)
	case providers.CodeInvalid:
		return withCode(ExitUsage, err)
	case providers.CodeConflict:
		return withCode(ExitConflict, err)
	case providers.CodeCancelled, providers.CodeTimeout:
		return withCode(ExitCancelled, err)
	case providers.CodeIntegrity:
		return withCode(ExitVerifyFailed, err)
	}
	return err
}

func (a *app) printAcquisition(l *custody.Ledger, res *providers.Result) {
	if a.json() {
		_ = a.emit(struct {
			Type string `json:"type"`
			*providers.Result
			Case string `json:"case"`
		}{"result", res, l.Dir()})
		return
	}
	w := a.Out
	fmt.Fprintf(w, "\nCase %s in %s\n", res.CaseID, l.Dir())
	if p, ok := res.Principals[providers.Source]; ok {
		fmt.Fprintf(w, "  source    %s (%s)\n  forensic  %s (%s)\n", p.Account, p.ID, res.Principals[providers.Forensic].Account, res.Principals[providers.Forensic].ID)
	}
	if len(res.Findings) > 0 {
		fmt.Fprintf(w, "\n!!! EXPOSURE: %d snapshots of these volumes can be used by others:\n", len(res.Findings))
		for _, f := range res.Findings {
			fmt.Fprintf(w, "    %s\n", f.Detail)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VOLUME\tSOURCE SNAPSHOT\tFORENSIC COPY\tIMAGE SHA-256\tRESULT")
	for _, v := range res.Volumes {
		src, cp, sum, result := "-", "-", "-", "ok"
		if v.SourceSnapshot != nil {
			src = v.SourceSnapshot.ID
		}
		if v.ForensicCopy != nil {
			cp = v.ForensicCopy.ID
			if v.Locked {
				cp += " (locked)"
			}
		}
		if v.Digest != nil {
			sum = v.Digest.ImageSHA256
		}
		if v.Error != "" {
			result = "FAILED: " + v.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Volume.ID, src, cp, sum, result)
	}
	tw.Flush()
	if len(res.Left) > 0 {
		fmt.Fprintf(w, "\nLeft in place:\n")
		for _, l := range res.Left {
			fmt.Fprintf(w, "  %-8s %-10s %-14s %s  %s\n", l.Side, l.Region, l.Kind, l.ID, l.Note)
		}
	}
	if res.Checkpoint != "" {
		fmt.Fprintf(w, "\nCheckpoint (keep a copy outside the case):\n%s\n", res.Checkpoint)
		fmt.Fprintf(w, "An auditor verifies the case with:\n  acquire verify %s --key custody.pub --checkpoint <held copy of the checkpoint>\n", l.Dir())
	}
}

// dryRun describes the target with read-only calls and prints the plan and the permissions it needs.
func (a *app) dryRun(ctx context.Context, d *awsdriver.Driver, t providers.Target, o *awsOptions) error {
	workloads, err := d.Describe(ctx, t)
	if err != nil {
		return acquisitionError(&providers.Error{Code: d.ErrorCode(err), Op: "describe", Err: err})
	}
	plan := providers.Plan(d, workloads, providers.Options{Forensic: providers.ForensicOptions{Account: o.forensicAccount, Region: o.forensicRegion, KeyID: o.forensicKey}, ShareKeyID: o.shareKey, DeleteSourceSnapshots: o.deleteSrc, Lock: lockOf(o)})
	if a.json() {
		return a.emit(map[string]any{"plan": plan, "permissions": map[string][]string{
			"source": awsdriver.Permissions(providers.Source), "forensic": awsdriver.Permissions(providers.Forensic)}})
	}
	a.printf("Plan (dry run: nothing was changed)\n\n")
	for _, s := range plan {
		a.printf("  %-3d %-8s %-22s %s\n", s.N, s.Side, s.Subject, s.Action)
	}
	for _, side := range []providers.Side{providers.Source, providers.Forensic} {
		a.printf("\nPermissions the %s side needs:\n", side)
		for _, p := range awsdriver.Explain(side) {
			a.printf("  %-36s %s\n", p[0], p[1])
		}
	}
	return nil
}

func lockOf(o *awsOptions) *providers.LockRequest {
	if o.lockMode == "" {
		return nil
	}
	return &providers.LockRequest{Mode: o.lockMode, Days: o.lockDays, CoolOffHours: o.lockCoolOff}
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
			for _, side := range []providers.Side{providers.Source, providers.Forensic} {
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
	cmd.AddCommand(awsCmd)
	return cmd
}
