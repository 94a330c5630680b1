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
		trust   trustFlags
		rehash  bool
		images  []string
		access  evidenceAccess
		unpinOK bool
	)
	cmd := &cobra.Command{
		Use:   "verify CASE",
		Short: "Verify a case: signatures, chain, checkpoints, manifests, artifacts and time-stamps",
		Long: `Verify every record of a case against the trusted key (its signature, payload type, seq and prev
link), every checkpoint against the Merkle tree of the records, every seal's checkpoint and manifest,
every manifest against the files, every captured artifact against its digest, every time-stamp against
the authority's roots, and that the case holds nothing else (no symbolic link, no stray file). All
problems are reported, each naming the record or file and the reason; what cannot be read is a problem
of its own.

Trust comes from outside the case: give the public key (--key) or its fingerprint (--fingerprint),
and the time-stamping authority's roots (--tsa-roots). Without them the case can only be checked
against the key and certificates it carries, which anyone rewriting it would replace too: the verdict
is then SELF-CONSISTENT ONLY, with exit code 14, unless --insecure-ignore-key-pin accepts it.
Give checkpoints kept elsewhere with --checkpoint to detect a cut tail or a rewritten history.

With --rehash every evidence item is read again from the forensic account (name its credentials with
--forensic-profile or --forensic-role) and its SHA-256 compared with the recorded one; --image
ITEM=FILE re-hashes an exported image for that item instead, with or without --rehash.

Exit codes: 0 verified, 10 failed (the case, or an item read again), 14 self-consistent only.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := trust.verifyOptions(cmd.Context())
			if err != nil {
				return err
			}
			files, err := parseImages(images)
			if err != nil {
				return err
			}
			r, err := custody.Verify(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			rehashed, err := a.rehash(cmd.Context(), args[0], rehash, files, &access)
			if err != nil {
				return err
			}
			v := settleVerdict(r, rehashed, unpinOK)
			if a.json() {
				err = a.emit(struct {
					OK      bool   `json:"ok"`
					Verdict string `json:"verdict"` // the case's verdict, failed when an item read again does not match
					*custody.Report
					Rehash []export.Rehash `json:"rehash,omitempty"`
				}{v.code == ExitOK, v.verdict, r, rehashed})
			} else {
				a.printReport(r, v)
				a.printRehash(rehashed)
			}
			if err != nil {
				return err
			}
			if v.code == ExitSelfConsistent || (v.code == ExitOK && unpinOK && !r.KeyPinned) {
				fmt.Fprintf(a.Err, "acquire: warning: the case was checked only against the key inside it; %s\n", pinAdvice)
			}
			if v.code != ExitOK {
				return &exitError{code: v.code, err: errors.New("verification " + v.verdict), reported: true}
			}
			return nil
		},
	}
	trust.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&rehash, "rehash", false, "also read every evidence item again from the forensic account and compare its SHA-256 with the recorded one")
	f.StringArrayVar(&images, "image", nil, "ITEM=FILE: re-hash this exported image for the item (snapshot or volume ID) instead of reading the cloud (repeatable)")
	f.BoolVar(&unpinOK, "insecure-ignore-key-pin", false, "accept a case that holds only against the key inside it (exit 0 instead of 14): no key from outside the case is checked")
	access.addFlags(cmd)
	return cmd
}

const pinAdvice = "pin the key with --key custody.pub or --fingerprint, from a channel you trust"

// verdict is the outcome of acquire verify: the case's verdict, made worse by any evidence item
// that was read again and did not match.
type verdict struct {
	verdict  string // custody.Verdict*
	headline string
	code     int
}

func settleVerdict(r *custody.Report, rehashed []export.Rehash, unpinOK bool) verdict {
	bad := 0
	for _, rh := range rehashed {
		if !rh.Match || rh.Error != "" {
			bad++
		}
	}
	switch {
	case !r.OK() && bad > 0:
		return verdict{custody.VerdictFailed, fmt.Sprintf("FAILED (%d problems; %d of %d items read again do not match)", len(r.Problems), bad, len(rehashed)), ExitVerifyFailed}
	case !r.OK():
		return verdict{custody.VerdictFailed, fmt.Sprintf("FAILED (%d problems)", len(r.Problems)), ExitVerifyFailed}
	case bad > 0:
		return verdict{custody.VerdictFailed, fmt.Sprintf("FAILED (%d of %d items read again do not match their recorded digest)", bad, len(rehashed)), ExitVerifyFailed}
	case r.Verdict == custody.VerdictSelfConsistent && unpinOK:
		return verdict{custody.VerdictSelfConsistent, "SELF-CONSISTENT ONLY (accepted with --insecure-ignore-key-pin): not checked against any key from outside the case", ExitOK}
	case r.Verdict == custody.VerdictSelfConsistent:
		return verdict{custody.VerdictSelfConsistent, "SELF-CONSISTENT ONLY: it holds against the key and certificates inside it, which prove nothing; " + pinAdvice, ExitSelfConsistent}
	case r.Verdict == custody.VerdictVerified:
		return verdict{custody.VerdictVerified, "VERIFIED", ExitOK}
	}
	return verdict{custody.VerdictFailed, "FAILED (verdict " + r.Verdict + ")", ExitVerifyFailed}
}

// parseImages reads the --image flags: ITEM=FILE, one file per item.
func parseImages(images []string) (map[string]string, error) {
	files := map[string]string{}
	for _, spec := range images {
		id, path, ok := strings.Cut(spec, "=")
		if !ok || id == "" || path == "" {
			return nil, usageErrorf(fmt.Errorf("--image %q: use ITEM=FILE", spec))
		}
		if _, dup := files[id]; dup {
			return nil, usageErrorf(fmt.Errorf("--image %s given twice: one image per item", id))
		}
		files[id] = path
	}
	return files, nil
}

// rehash reads the evidence again: the images given for some items, the cloud for the others when
// every item is asked for. An image named for an item the case does not hold is a usage error, and so
// is reading the cloud without naming the forensic account's credentials: the default profile is
// usually the workload's.
func (a *app) rehash(ctx context.Context, dir string, all bool, files map[string]string, access *evidenceAccess) ([]export.Rehash, error) {
	if !all && len(files) == 0 {
		return nil, nil
	}
	recs, err := custody.ReadRecords(dir)
	if err != nil {
		return nil, err
	}
	items, err := evidence.Items(recs)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	var fromCloud []evidence.Item
	var out []export.Rehash
	for _, it := range items {
		id := it.Snapshot
		path, ok := files[id]
		if !ok {
			id = it.SourceVolume
			path, ok = files[id]
		}
		switch {
		case ok:
			used[id] = true
			out = append(out, export.RehashFile(ctx, it, path))
		case all:
			fromCloud = append(fromCloud, it)
		}
	}
	for id := range files {
		if !used[id] {
			return nil, usageErrorf(fmt.Errorf("--image %s: the case holds no evidence item %s (it holds %s)", id, id, itemList(items)))
		}
	}
	for _, it := range fromCloud {
		if err := access.named(it); err != nil {
			return nil, usageErrorf(fmt.Errorf("--rehash reads the evidence in the forensic account: %w, or give every item's exported image with --image", err))
		}
	}
	for _, it := range fromCloud {
		src, err := access.open(ctx, it)
		if err != nil {
			return nil, err
		}
		out = append(out, export.RehashSource(ctx, it, src))
		a.closeSource(context.WithoutCancel(ctx), it, src)
	}
	return out, nil
}

// itemList names the evidence items of a case for a message.
func itemList(items []evidence.Item) string {
	if len(items) == 0 {
		return "none"
	}
	var names []string
	for _, it := range items {
		names = append(names, it.Snapshot+" (from "+it.SourceVolume+")")
	}
	return strings.Join(names, ", ")
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
		a.safe("  %s (from %s) read from %s: SHA-256 %s  %s\n", r.Item.Snapshot, r.Item.SourceVolume, r.From, r.SHA256, verdict)
	}
}

func (a *app) printReport(r *custody.Report, v verdict) {
	a.safe("Case %s in %s: %s\n", r.CaseID, r.Dir, v.headline)
	a.safe("  key          %s (%s)\n", r.KeyID, r.KeySource)
	a.printf("  records      %d, %d covered by a checkpoint\n", r.Records, r.Sealed)
	a.printf("  checkpoints  %d, manifests %d, artifacts %d, time-stamped records %d\n", r.Checkpoints, r.Manifests, r.Artifacts, r.Timestamps)
	if n := len(r.Seals); n > 0 {
		state := "complete"
		if !r.Seals[n-1].Complete {
			state = "INCOMPLETE"
		}
		times := fmt.Sprintf("%d times", n)
		if n == 1 {
			times = "once"
		}
		a.printf("  sealed       %s; the last seal (record %d) is %s\n", times, r.Seals[n-1].Seq, state)
	}
	if len(r.Problems) > 0 {
		a.printf("\nProblems:\n")
		for _, p := range r.Problems {
			a.safe("  ✗ %s\n", p.String())
		}
	}
	if len(r.Warnings) > 0 {
		a.printf("\nWarnings:\n")
		for _, w := range r.Warnings {
			a.safe("  ! %s\n", w.String())
		}
	}
}
