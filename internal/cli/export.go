package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/analysis/export"
	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers"
	awsdriver "github.com/acquire-forensics/acquire/providers/aws"
)

// forensicAccess is the flag group of commands that read evidence back from the forensic account.
type forensicAccess struct {
	profile  string
	role     string
	endpoint string
}

func (f *forensicAccess) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.profile, "forensic-profile", "", "shared-config profile for the forensic account")
	cmd.Flags().StringVar(&f.role, "forensic-role", "", "role ARN to assume in the forensic account")
	cmd.Flags().StringVar(&f.endpoint, "endpoint", "", "AWS endpoint override (the cloud range); AWS_ENDPOINT_URL works too")
}

func (f *forensicAccess) driver(ctx context.Context, item export.Item) (*awsdriver.Driver, error) {
	if item.Cloud != "aws" {
		return nil, usageErrorf(fmt.Errorf("reading evidence from %q is not supported yet (AWS only)", item.Cloud))
	}
	d, err := awsdriver.New(ctx, awsdriver.Config{Region: item.Region, ForensicProfile: f.profile, ForensicRole: f.role,
		SourceProfile: f.profile, ForensicAccount: item.Account, Endpoint: f.endpoint})
	if err != nil {
		return nil, usageErrorf(err)
	}
	return d, nil
}

func newExportCmd(a *app) *cobra.Command {
	var (
		sign   signingOptions
		access forensicAccess
		itemID string
		out    string
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "export CASE --item ID --out DIR",
		Short: "Download an evidence item to a verified raw image, and record the export in the case",
		Long: `Download one evidence item of a case (a forensic copy, named by its snapshot ID or its source volume
ID) to DIR/<snapshot>.raw: a sparse raw image in which unwritten blocks stay holes. Every block is checked
against its checksum as it arrives and the whole image against the SHA-256 the case recorded; only a
matching image gets its final name and a sidecar DIR/<snapshot>.raw.sha256 that ` + "`sha256sum -c`" + ` reads.
An interrupted export continues where it stopped, re-checking what is on disk. The export, its
destination and whether the digest matched are recorded in the case (signed with --key).

A case that does not verify is not exported, unless --force; the override is recorded. A digest
mismatch leaves DIR/<snapshot>.raw.mismatch, is recorded, and exits with code 10.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, dir := cmd.Context(), args[0]
			if out == "" {
				return usageErrorf(errors.New("--out is required: the directory to write the image to"))
			}
			opts, err := sign.ledgerOptions(ctx, a)
			if err != nil {
				return err
			}
			problems, err := verifyWithSigner(ctx, dir, opts.Signer)
			if err != nil {
				return err
			}
			if problems > 0 && !force {
				return withCode(ExitVerifyFailed, fmt.Errorf("case %s fails verification (%d problems; run `acquire verify`): export refused; --force overrides, and the override is recorded", dir, problems))
			}
			item, err := export.FindItem(dir, itemID)
			if errors.Is(err, export.ErrUnknownItem) {
				return withCode(ExitNotFound, err)
			}
			if err != nil {
				return err
			}
			d, err := access.driver(ctx, item)
			if err != nil {
				return err
			}
			src, err := d.OpenSnapshot(ctx, item.Region, item.Snapshot)
			if err != nil {
				return acquisitionError(&providers.Error{Code: d.ErrorCode(err), Op: "export", Resource: item.Snapshot, Err: err})
			}
			events, done := a.progress()
			res, xerr := export.Export(ctx, item, src, out, &export.Options{Progress: func(n, total int64) {
				events(providers.Event{Time: time.Now(), Kind: providers.EventProgress, Step: item.Snapshot + "/export", Volume: item.SourceVolume, Resource: item.Snapshot, Done: n, Total: total, Unit: "bytes"})
			}})
			done()
			if res != nil && (xerr == nil || errors.Is(xerr, export.ErrMismatch)) {
				if rerr := recordExport(context.WithoutCancel(ctx), dir, opts, item, res, problems, xerr); rerr != nil {
					return errors.Join(xerr, rerr)
				}
			}
			if xerr != nil {
				if errors.Is(xerr, export.ErrMismatch) {
					return withCode(ExitVerifyFailed, xerr)
				}
				if errors.Is(xerr, export.ErrExists) {
					return withCode(ExitConflict, xerr)
				}
				return xerr
			}
			if a.json() {
				return a.emitLine(struct {
					Type string `json:"type"`
					*export.Result
				}{"result", res})
			}
			a.printf("exported %s (from %s) to %s\n  SHA-256 %s, as recorded in custody record %d\n  check it with: (cd %s && sha256sum -c %s)\n",
				item.Snapshot, item.SourceVolume, res.Path, res.ImageSHA256, item.Record, filepath.Dir(res.Path), filepath.Base(res.Sidecar))
			return nil
		},
	}
	sign.addFlags(cmd)
	access.addFlags(cmd)
	cmd.Flags().StringVar(&itemID, "item", "", "the evidence item: its snapshot ID or source volume ID (default: the case's only one)")
	cmd.Flags().StringVar(&out, "out", "", "the directory to write the image to")
	cmd.Flags().BoolVar(&force, "force", false, "export even if the case fails verification (recorded)")
	return cmd
}

// verifyWithSigner checks the case against the key that signs for it, and returns the problems found.
func verifyWithSigner(ctx context.Context, dir string, s *custody.Signer) (int, error) {
	v, err := custody.NewVerifier(s.PublicKey())
	if err != nil {
		return 0, err
	}
	r, err := custody.Verify(ctx, dir, custody.VerifyOptions{Verifier: v})
	if err != nil {
		return 0, err
	}
	return len(r.Problems), nil
}

// recordExport appends the export to the case: who, to where, the digest and whether it matched.
func recordExport(ctx context.Context, dir string, opts custody.Options, item export.Item, res *export.Result, problems int, xerr error) error {
	l, err := custody.Open(ctx, dir, opts)
	if err != nil {
		return err
	}
	defer l.Close()
	host, _ := os.Hostname()
	abs, _ := filepath.Abs(res.Path)
	e := custody.Entry{
		Action:   "export",
		Provider: &custody.Provider{Cloud: item.Cloud, Account: item.Account, Region: item.Region, Resources: []custody.Resource{{Kind: "snapshot", ID: item.Snapshot}}},
		Subjects: []custody.Subject{{Name: item.Cloud + ":snapshot:" + item.Snapshot, Digest: map[string]string{"sha256": res.ImageSHA256},
			Annotations: map[string]string{"kind": custody.KindEvidence, "sourceVolume": item.SourceVolume, "sizeBytes": fmt.Sprint(res.SizeBytes)}}},
		Details: map[string]any{
			"path": abs, "host": host, "imageSha256": res.ImageSHA256, "recordedImageSha256": item.ImageSHA256,
			"match": res.Match, "digestRecord": fmt.Sprint(item.Record), "resumedFromBytes": fmt.Sprint(res.ResumedFrom),
		},
		Note: fmt.Sprintf("exported to %s on %s", abs, host),
	}
	if problems > 0 {
		e.Details["verificationOverridden"] = true
		e.Details["verificationProblems"] = problems
	}
	if xerr != nil {
		e.Result = custody.Result{Status: custody.StatusFailed, Code: string(providers.CodeIntegrity), Message: xerr.Error()}
	}
	_, err = l.Append(ctx, e)
	return err
}
