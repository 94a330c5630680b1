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
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

func newExportCmd(a *app) *cobra.Command {
	var (
		sign   signingOptions
		access evidenceAccess
		itemID string
		out    string
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "export CASE --item ID --out DIR",
		Short: "Download an evidence item to a verified raw image, and record the export in the case",
		Long: `Download one evidence item of a case (its snapshot, named by the snapshot ID or by its source volume
ID) through the cloud's block reader to DIR/<snapshot>.raw: a sparse raw image in which unwritten
blocks stay holes. Every block is checked as it arrives and the whole image against the SHA-256 the
case recorded; only a matching image gets its final name and a sidecar DIR/<snapshot>.raw.sha256 that
` + "`sha256sum -c`" + ` reads. Nothing is written through a symbolic link. An interrupted export continues
where it stopped, re-checking what is on disk. The export, its destination and whether the digest
matched are recorded in the case (signed with --key), and the case is sealed again.

The case is locked for the whole export. A case that does not verify is not exported, unless --force;
the override is recorded where the case can still be written. A digest mismatch leaves
DIR/<snapshot>.raw.mismatch, is recorded, and exits with code 10.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErrorf(errors.New("--out is required: the directory to write the image to"))
			}
			return a.export(cmd.Context(), args[0], &sign, &access, itemID, out, force)
		},
	}
	sign.addFlags(cmd)
	access.addFlags(cmd)
	cmd.Flags().StringVar(&itemID, "item", "", "the evidence item: its snapshot ID or source volume ID (default: the case's only one)")
	cmd.Flags().StringVar(&out, "out", "", "the directory to write the image to")
	cmd.Flags().BoolVar(&force, "force", false, "export even if the case fails verification (recorded)")
	return cmd
}

func (a *app) export(ctx context.Context, dir string, sign *signingOptions, access *evidenceAccess, itemID, out string, force bool) error {
	opts, err := sign.ledgerOptions(ctx, a)
	if err != nil {
		return err
	}
	// The case is locked first: an export that cannot be recorded is not started. Open reads the case
	// from its last checkpoint; the evidence is read from the whole history, which is checked then.
	l, err := custody.Open(ctx, dir, opts)
	var items []evidence.Item
	if err == nil {
		if items, err = caseEvidence(ctx, l); err != nil {
			l.Close()
			l = nil
		} else {
			defer l.Close()
		}
	}
	switch {
	case errors.Is(err, custody.ErrTamperedHistory) && force:
		fmt.Fprintf(a.Err, "acquire: WARNING: %v\nacquire: exporting anyway (--force); the case cannot be written, so the export will not be recorded in it\n", err)
		recs, _, rerr := custody.ReadReadableRecords(dir)
		if rerr != nil {
			return rerr
		}
		if items, err = evidence.Items(recs); err != nil {
			return withCode(ExitVerifyFailed, err)
		}
	case errors.Is(err, custody.ErrTamperedHistory):
		return withCode(ExitVerifyFailed, fmt.Errorf("%w; export refused: --force overrides", err))
	case errors.Is(err, custody.ErrLocked):
		return withCode(ExitConflict, err)
	case err != nil:
		return err
	}
	problems, err := verifyWithSigner(ctx, dir, opts.Signer)
	if err != nil {
		return err
	}
	if problems > 0 && !force {
		return withCode(ExitVerifyFailed, fmt.Errorf("case %s fails verification (%d problems; run `acquire verify %s`): export refused; --force overrides, and the override is recorded", dir, problems, dir))
	}
	item, err := findEvidence(items, itemID)
	if err != nil {
		return err
	}
	if item.ImageSHA256() == "" {
		return usageErrorf(fmt.Errorf("the digest of %s was deferred: %s cannot check an export against it yet", item.Snapshot, "acquire"))
	}
	res, xerr := a.exportItem(ctx, item, access, out)
	if errors.Is(xerr, export.ErrExists) {
		// Exported before: checked again, and recorded now if the run that made it could not record it.
		if recorded := exportRecorded(items, l, res.Path); recorded != 0 {
			return withCode(ExitConflict, fmt.Errorf("%s was exported already, as custody record %d says: remove it to export again", res.Path, recorded))
		}
		rh := export.RehashFile(ctx, item, res.Path)
		if rh.Error != "" {
			return withCode(ExitConflict, fmt.Errorf("%w, and it cannot be checked: %s", xerr, rh.Error))
		}
		res.ImageSHA256, res.Match = rh.SHA256, rh.Match
		if !rh.Match {
			xerr = fmt.Errorf("%w: %s holds SHA-256 %s, custody record %d says %s", export.ErrMismatch, res.Path, rh.SHA256, item.Record, item.ImageSHA256())
		} else {
			xerr = nil
		}
		fmt.Fprintf(a.Err, "acquire: %s was exported by an earlier run that did not record it: checked again, and recorded now\n", res.Path)
	}
	if res != nil && (xerr == nil || errors.Is(xerr, export.ErrMismatch)) {
		if l == nil {
			if xerr == nil {
				xerr = withCode(ExitVerifyFailed, fmt.Errorf("exported to %s, but NOT recorded: the case's history does not verify", res.Path))
			}
		} else if rerr := recordExport(context.WithoutCancel(ctx), l, item, res, problems, xerr); rerr != nil {
			return errors.Join(xerr, rerr)
		}
	}
	if xerr != nil {
		return a.exportError(xerr, item, res, dir, out)
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
}

// exportItem opens the item's snapshot and writes its image, with progress.
func (a *app) exportItem(ctx context.Context, item evidence.Item, access *evidenceAccess, out string) (*export.Result, error) {
	src, err := access.open(ctx, item)
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		a.closeSource(cctx, item, src)
	}()
	events, done := a.progress()
	defer done()
	return export.Export(ctx, item, src, out, &export.Options{Progress: func(n, total int64) {
		events(acquisition.Event{Time: time.Now(), Kind: acquisition.EventProgress, Step: item.Snapshot + "/export", Volume: item.SourceVolume,
			Resource: item.Snapshot, Done: n, Total: total, Unit: "bytes"})
	}})
}

// exportError gives a failed export its exit code and says what is left where.
func (a *app) exportError(err error, item evidence.Item, res *export.Result, dir, out string) error {
	switch {
	case errors.Is(err, export.ErrMismatch):
		return withCode(ExitVerifyFailed, err)
	case errors.Is(err, export.ErrExists):
		return withCode(ExitConflict, err)
	case errors.Is(err, export.ErrLink):
		return withCode(ExitConflict, err)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		msg := "export of " + item.Snapshot + " cancelled"
		if res != nil && res.Path != "" {
			msg += fmt.Sprintf("; %s holds what was written so far (%d MiB), with its journal beside it", res.Path, (res.ResumedFrom+res.Downloaded)>>20)
		}
		msg += fmt.Sprintf("; resume with: acquire export %s --item %s --out %s --key <key>", dir, item.Snapshot, out)
		return withCode(ExitCancelled, errors.New(msg))
	}
	return acquisitionError(err)
}

// exportRecorded returns the seq of a record of an export to path, or 0.
func exportRecorded(items []evidence.Item, l *custody.Ledger, path string) uint64 {
	if l == nil || path == "" {
		return 0
	}
	abs, _ := filepath.Abs(path)
	var seq uint64
	_ = l.History(context.Background(), func(r custody.Record) error {
		ev := r.Statement.Predicate
		if ev.Action == "export" && ev.Result.Status == custody.StatusOK && ev.Details["path"] == abs {
			seq = r.Seq
		}
		return nil
	})
	return seq
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

// recordExport appends the export to the case (who, to where, the digest and whether it matched) and
// seals the case again, so that it is checkpointed. A case that did not verify is not sealed: a seal
// would vouch for what was changed; the export record says the verification was overridden.
func recordExport(ctx context.Context, l *custody.Ledger, item evidence.Item, res *export.Result, problems int, xerr error) error {
	host, _ := os.Hostname()
	abs, _ := filepath.Abs(res.Path)
	e := custody.Entry{
		Action:   "export",
		Provider: &custody.Provider{Cloud: item.Cloud, Account: item.Account, Region: item.Location, Resources: []custody.Resource{{Kind: "snapshot", ID: item.Snapshot}}},
		Subjects: []custody.Subject{{Name: item.Name, Digest: map[string]string{"sha256": res.ImageSHA256},
			Annotations: map[string]string{"kind": custody.KindEvidence, "sourceVolume": item.SourceVolume, "sizeBytes": fmt.Sprint(res.SizeBytes)}}},
		Details: map[string]any{
			"path": abs, "host": host, "imageSha256": res.ImageSHA256, "recordedImageSha256": item.ImageSHA256(),
			"match": res.Match, "evidenceRecord": fmt.Sprint(item.Record), "resumedFromBytes": fmt.Sprint(res.ResumedFrom),
		},
		Note: fmt.Sprintf("exported to %s on %s", abs, host),
	}
	if problems > 0 {
		e.Details["verificationOverridden"] = true
		e.Details["verificationProblems"] = problems
	}
	if xerr != nil {
		e.Result = custody.Result{Status: custody.StatusFailed, Code: string(driver.CodeIntegrity), Message: xerr.Error()}
	}
	if _, err := l.Append(ctx, e); err != nil {
		return err
	}
	if problems > 0 {
		return nil
	}
	_, err := l.Seal(ctx, "export of "+item.Snapshot)
	return err
}
