package report

import (
	"context"
	"time"

	"github.com/acquire-forensics/acquire/custody"
)

// Options say what a case is verified against and how the report names itself.
type Options struct {
	// Verify is passed to custody.Verify: the trusted key, its fingerprint, the time-stamping
	// authority's roots and checkpoints held outside the case.
	Verify custody.VerifyOptions
	// KeyGiven says how the trusted key was given (a file name, a KMS URI), for the report; empty
	// when none was.
	KeyGiven string
	// HeldCheckpoints names the checkpoints in Verify.Checkpoints, in the same order, for the report.
	HeldCheckpoints []string
	// Generator is the software writing the report.
	Generator custody.Tool
	// Now is the clock that dates the report; time.Now when nil.
	Now func() time.Time
}

// Build verifies the case in dir and gathers everything the report shows. A case that fails
// verification still gets a report, which shows every problem; an error is returned only when dir
// cannot be read as a case at all.
func Build(ctx context.Context, dir string, opts Options) (*Report, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	vr, err := custody.Verify(ctx, dir, opts.Verify)
	if err != nil {
		return nil, err // custody's errors already name the case
	}
	recs, err := readRecords(ctx, dir)
	if err != nil {
		return nil, err
	}
	attachProblems(recs, vr)

	r := &Report{
		Format:      FormatVersion,
		GeneratedAt: custody.FormatTime(now()),
		Generator:   opts.Generator,
		Timeline:    recs,
	}
	r.Evidence = evidenceItems(recs)
	r.Comparisons = comparisons(recs, r.Evidence)
	r.Artifacts = artifacts(recs, vr)
	r.Findings = findings(recs)
	r.Verification = verification(dir, vr, opts)
	r.Case = summarize(dir, recs, r.Evidence, vr)
	r.Certification = certification(recs, r.Evidence, vr, r.Verification, r.Comparisons)
	return r, nil
}

// attachProblems copies each verification problem that names a record onto that record's row.
func attachProblems(recs []Record, vr *custody.Report) {
	bySeq := make(map[uint64]int, len(recs))
	for i, rec := range recs {
		bySeq[rec.Seq] = i
	}
	for _, p := range vr.Problems {
		if i, ok := bySeq[p.Seq]; ok && p.Seq != 0 {
			recs[i].Problems = append(recs[i].Problems, p)
		}
	}
}
