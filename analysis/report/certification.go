package report

import (
	"fmt"
	"slices"

	"github.com/acquire-forensics/acquire/custody"
)

// OutcomeUnpinned is the trusted-key check's outcome when the case was checked against its own key.
const OutcomeUnpinned = "NOT PINNED"

// certification gathers the process behind each evidence item and the outcome of each family of checks.
func certification(recs []Record, items []Evidence, vr *custody.Report, v Verification, cmp []Comparison) Certification {
	c := Certification{Process: []ItemProcess{}, Hashes: []ItemHashes{}, Checks: checks(vr, v, len(items), cmp)}
	bySeq := make(map[uint64]*Record, len(recs))
	for i := range recs {
		bySeq[recs[i].Seq] = &recs[i]
	}
	for _, it := range items {
		p := ItemProcess{Item: it.Name, Steps: []Step{}, DigestRecord: it.DigestRecord, Method: it.Method}
		for _, seq := range it.Records {
			ev := bySeq[seq].Event
			if ev.Phase == custody.PhaseIntent {
				continue // the result record says what happened
			}
			p.Steps = append(p.Steps, Step{Record: seq, Time: ev.Time, Action: ev.Action, Status: ev.Result.Status, Note: ev.Note})
		}
		c.Process = append(c.Process, p)
		h := ItemHashes{Item: it.Name, Recorded: it.ImageSHA256, DigestRecord: it.DigestRecord, Later: []Comparison{}}
		for _, x := range cmp {
			if x.Item == it.Name {
				h.Later = append(h.Later, x)
			}
		}
		c.Hashes = append(c.Hashes, h)
	}
	return c
}

// checkFamily is a family of verifier problem codes, reported as one check.
type checkFamily struct {
	name  string
	codes []string
}

// checkFamilies lists the families in the order the report shows them.
func checkFamilies() []checkFamily {
	return []checkFamily{
		{"Trusted key", []string{custody.CodeKeyMissing, custody.CodeKeyMismatch}},
		{"Record signatures", []string{custody.CodeRecordUnreadable, custody.CodeRecordMalformed, custody.CodePayloadType, custody.CodePredicateType, custody.CodeSignatureInvalid, custody.CodeOtherKey, custody.CodeSignerMismatch}},
		{"Hash chain", []string{custody.CodeSeqMismatch, custody.CodeSeqGap, custody.CodePrevMismatch, custody.CodeCaseMismatch}},
		{"Checkpoints", []string{custody.CodeCheckpointMalformed, custody.CodeCheckpointSignature, custody.CodeCheckpointTruncated, custody.CodeCheckpointRoot}},
		{"Manifests", []string{custody.CodeManifestMalformed, custody.CodeManifestSignature, custody.CodeManifestUnsigned, custody.CodeManifestTruncated, custody.CodeManifestFile}},
		{"Seals", []string{custody.CodeSealIncomplete}},
		{"Captured artifacts", []string{custody.CodeArtifactMismatch}},
		{"Time-stamps", []string{custody.CodeTimestampInvalid}},
		{"Case contents", []string{custody.CodeUnreadable, custody.CodeSymlink, custody.CodeUnexpectedFile}},
	}
}

// checks sorts every verification problem into a family of checks; problems of a code no family
// knows are reported under "Other", so that none is dropped.
func checks(vr *custody.Report, v Verification, evidence int, cmp []Comparison) []Check {
	families := checkFamilies()
	byFamily := map[string][]string{}
	for _, p := range vr.Problems {
		name := "Other"
		for _, f := range families {
			if slices.Contains(f.codes, p.Code) {
				name = f.name
				break
			}
		}
		byFamily[name] = append(byFamily[name], p.String())
	}
	cps := fmt.Sprintf("signed checkpoints (RFC 6962 Merkle root over the records) in the case: %d", vr.Checkpoints)
	if n := len(v.Checkpoints); n > 0 {
		cps += fmt.Sprintf(", the latest (%s) stating %s records", v.Checkpoints[n-1].Path, v.Checkpoints[n-1].Size)
	}
	cps += fmt.Sprintf("; checkpoints held outside the case: %d", len(v.HeldCheckpoints))
	tsa := fmt.Sprintf("records carrying an RFC 3161 time-stamp over their signature: %d of %d", vr.Timestamps, vr.Records)
	switch {
	case vr.Timestamps > 0 && v.TSAPinned:
		tsa += ", checked against the authority's roots given"
	case vr.Timestamps > 0:
		tsa += ", checked against the authority certificates kept in the case (the authority's roots were not given)"
	}
	key := fmt.Sprintf("key %s, given as %s", vr.KeyID, v.KeyGiven)
	switch {
	case v.KeyGiven == "" && v.KeyPinned:
		key = fmt.Sprintf("the case's key %s, pinned by fingerprint", vr.KeyID)
	case !v.KeyPinned:
		key = fmt.Sprintf("the case's own key %s: not pinned to a key from outside the case, which shows only that the case is consistent with itself", vr.KeyID)
	}
	details := map[string]string{
		"Trusted key":        key,
		"Record signatures":  fmt.Sprintf("%d records; each is a DSSE envelope with one ECDSA P-256 signature over SHA-256, checked against the trusted key", vr.Records),
		"Hash chain":         "seq runs from 1 without gaps; each prev is the SHA-256 of the previous record's payload",
		"Checkpoints":        cps,
		"Manifests":          fmt.Sprintf("signed manifests: %d, every file they list re-hashed", vr.Manifests),
		"Seals":              fmt.Sprintf("case.seal records, each with its signed checkpoint and manifest: %d", len(vr.Seals)),
		"Captured artifacts": fmt.Sprintf("captured artifacts re-hashed and compared with the digest their record gives: %d", vr.Artifacts),
		"Case contents":      "every file of the case readable, none a symbolic link, none that nothing in the case accounts for",
		"Time-stamps":        tsa,
		"Other":              "problems of other kinds",
	}
	var out []Check
	for _, f := range append(families, checkFamily{name: "Other"}) {
		c := Check{Name: f.name, Detail: details[f.name], Problems: byFamily[f.name], Outcome: OutcomePassed}
		switch {
		case len(c.Problems) > 0:
			c.Outcome = OutcomeFailed
		case f.name == "Other":
			continue
		case !v.Complete && f.name != "Trusted key":
			c.Outcome = OutcomeNotRun
		case f.name == "Trusted key" && !v.KeyPinned:
			c.Outcome = OutcomeUnpinned
		case f.name == "Time-stamps" && vr.Timestamps == 0,
			f.name == "Checkpoints" && vr.Checkpoints == 0 && len(v.HeldCheckpoints) == 0,
			f.name == "Manifests" && vr.Manifests == 0,
			f.name == "Seals" && len(vr.Seals) == 0,
			f.name == "Captured artifacts" && vr.Artifacts == 0:
			c.Outcome = OutcomeNone
		}
		out = append(out, c)
	}
	return append(out, evidenceCheck(evidence, cmp))
}

// evidenceCheck sums up the later digests of the evidence recorded in the case (exports, re-hashes)
// against the digests recorded at acquisition.
func evidenceCheck(evidence int, cmp []Comparison) Check {
	c := Check{Name: "Evidence digests compared", Outcome: OutcomeNone}
	var match, mismatch, unknown int
	for _, x := range cmp {
		switch x.Match {
		case CheckMatch:
			match++
		case CheckMismatch:
			mismatch++
			c.Problems = append(c.Problems, fmt.Sprintf("record %d (%s): %s gives SHA-256 %s, the acquisition recorded %s", x.Record, x.Action, x.Item, x.SHA256, x.Recorded))
		default:
			unknown++
		}
	}
	c.Detail = fmt.Sprintf("evidence items: %d; later digests (exports, re-hashes) recorded in the case: %d (%d match, %d differ, %d without a comparable digest)", evidence, len(cmp), match, mismatch, unknown)
	switch {
	case mismatch > 0:
		c.Outcome = OutcomeFailed
	case match > 0:
		c.Outcome = OutcomePassed
	}
	return c
}
