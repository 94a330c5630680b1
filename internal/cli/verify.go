package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/analysis/export"
	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

func newVerifyCmd(a *app) *cobra.Command {
	var (
		trust  trustFlags
		rehash bool
		images []string
		access evidenceAccess
	)
	cmd := &cobra.Command{
		Use:   "verify CASE",
		Short: "Verify a case: signatures, chain, checkpoints, manifests, artifacts and time-stamps",
		Long: `Verify every record of a case against the trusted key (its signature, payload type, seq and prev
link), every checkpoint against the Merkle tree of the records, every manifest against the files,
every captured artifact against its digest, and every time-stamp against the authority's roots. All
problems are reported, each naming the record or file and the reason. Exit code 0 only when
everything holds, 10 when something does not.

Trust comes from outside the case: give the public key (--key) or its fingerprint (--fingerprint),
and the time-stamping authority's roots (--tsa-roots). Without them the case is checked against the
key and certificates it carries, which only shows it is consistent with itself; the report says so.
Give checkpoints kept elsewhere with --checkpoint to detect a cut tail or a rewritten history.

With --rehash the evidence itself is read again, from the forensic account (or from exported images
given with --image) and its SHA-256 compared with the recorded one.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := trust.verifyOptions(cmd.Context())
			if err != nil {
				return err
			}
			r, err := custody.Verify(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			rehashed, err := a.rehash(cmd.Context(), args[0], rehash, images, &access)
			if err != nil {
				return err
			}
			ok := r.OK()
			for _, rh := range rehashed {
				ok = ok && rh.Match
			}
			if a.json() {
				err = a.emit(struct {
					OK bool `json:"ok"`
					*custody.Report
					Rehash []export.Rehash `json:"rehash,omitempty"`
				}{ok, r, rehashed})
			} else {
				a.printReport(r)
				a.printRehash(rehashed)
			}
			if err != nil {
				return err
			}
			if !ok {
				return &exitError{code: ExitVerifyFailed, err: errors.New("verification failed"), reported: true}
			}
			return nil
		},
	}
	trust.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&rehash, "rehash", false, "also read every evidence item again (from the forensic account, or from --image) and compare its SHA-256 with the recorded one")
	f.StringArrayVar(&images, "image", nil, "ITEM=FILE: re-hash this exported image for the item (snapshot or volume ID) instead of reading the cloud (repeatable)")
	access.addFlags(cmd)
	return cmd
}

// rehash reads the evidence again: the images given for some items, the cloud for the others when
// every item is asked for.
func (a *app) rehash(ctx context.Context, dir string, all bool, images []string, access *evidenceAccess) ([]export.Rehash, error) {
	if !all && len(images) == 0 {
		return nil, nil
	}
	files := map[string]string{}
	for _, spec := range images {
		id, path, ok := strings.Cut(spec, "=")
		if !ok || id == "" || path == "" {
			return nil, usageErrorf(fmt.Errorf("--image %q: use ITEM=FILE", spec))
		}
		files[id] = path
	}
	recs, err := custody.ReadRecords(dir)
	if err != nil {
		return nil, err
	}
	items, err := evidence.Items(recs)
	if err != nil {
		return nil, err
	}
	var out []export.Rehash
	for _, it := range items {
		path, ok := files[it.Snapshot]
		if !ok {
			path, ok = files[it.SourceVolume]
		}
		switch {
		case ok:
			out = append(out, export.RehashFile(ctx, it, path))
		case all:
			src, err := access.open(ctx, it)
			if err != nil {
				return nil, err
			}
			out = append(out, export.RehashSource(ctx, it, src))
			_ = src.Close(context.WithoutCancel(ctx))
		}
	}
	return out, nil
}

func (a *app) printRehash(rs []export.Rehash) {
	if len(rs) == 0 {
		return
	}
	a.printf("\nEvidence read again:\n")
	for _, r := range rs {
		verdict := "MATCH"
		switch {
		case r.Error != "":
			verdict = "ERROR: " + r.Error
		case !r.Match:
			verdict = "MISMATCH: recorded " + r.Item.ImageSHA256()
		}
		a.printf("  %s (from %s) read from %s: SHA-256 %s  %s\n", r.Item.Snapshot, r.Item.SourceVolume, r.From, r.SHA256, verdict)
	}
}

func (a *app) printReport(r *custody.Report) {
	verdict := "VERIFIED"
	if !r.OK() {
		verdict = fmt.Sprintf("FAILED (%d problems)", len(r.Problems))
	}
	a.printf("Case %s in %s: %s\n", r.CaseID, r.Dir, verdict)
	a.printf("  key          %s (%s)\n", r.KeyID, r.KeySource)
	a.printf("  records      %d, %d covered by a checkpoint\n", r.Records, r.Sealed)
	a.printf("  checkpoints  %d, manifests %d, artifacts %d, time-stamped records %d\n", r.Checkpoints, r.Manifests, r.Artifacts, r.Timestamps)
	if len(r.Problems) > 0 {
		a.printf("\nProblems:\n")
		for _, p := range r.Problems {
			a.printf("  ✗ %s\n", p)
		}
	}
	if len(r.Warnings) > 0 {
		a.printf("\nWarnings:\n")
		for _, w := range r.Warnings {
			a.printf("  ! %s\n", w)
		}
	}
}
