package custody

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// checkedRecord keeps what the chain, tree and artifact checks need of a record, not the record itself,
// so that a large case verifies in bounded memory.
type checkedRecord struct {
	seq       uint64 // from the file name
	path      string
	action    string
	leaf      tlog.Hash // RFC 6962 leaf hash of the payload, when the envelope could be read
	digest    string    // PayloadDigest of the payload, likewise
	ok        bool      // the statement parsed (signature aside): the fields below are meaningful
	predSeq   uint64
	prev      string
	caseID    string
	time      time.Time
	tsaTime   time.Time
	artifacts []Subject
	problems  []Problem
}

// checkRecords checks every record file on its own, in parallel (parse, signature, time-stamps), then
// the chain between them in order. Records come back in seq order, one per file found.
func checkRecords(ctx context.Context, root *caseRoot, seqs []uint64, v *Verifier, tsa *TSATrust, workers int, r *Report) ([]*checkedRecord, error) {
	dir, dirErr := root.dir(RecordsDir)
	recs := make([]*checkedRecord, len(seqs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(seqs) {
					return
				}
				recs[i] = checkRecord(root, dir, dirErr, seqs[i], v, tsa)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	checkChain(recs, r)
	return recs, nil
}

// checkRecord checks record seq, read from dir (the records directory, or dirErr when it cannot be
// opened).
func checkRecord(root *caseRoot, dir int, dirErr error, seq uint64, v *Verifier, tsa *TSATrust) *checkedRecord {
	name := recordFileName(seq)
	rel := RecordsDir + "/" + name
	c := &checkedRecord{seq: seq, path: rel}
	fail := func(code, format string, args ...any) {
		c.problems = append(c.problems, Problem{Code: code, Path: c.path, Seq: seq, Message: fmt.Sprintf(format, args...)})
	}
	buf := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(buf)
	data, err := []byte(nil), dirErr
	if err == nil {
		data, err = root.readFileIn(dir, name, rel, maxBundleSize, (*buf)[:0])
	}
	if err != nil {
		fail(CodeRecordUnreadable, "cannot be read: %s", errText(err))
		return c
	}
	*buf = data
	b, err := parseRecordBundle(data)
	if err != nil {
		fail(recordErrorCode(err), "%v", err)
		return c
	}
	env := b.DSSEEnvelope
	c.leaf = tlog.RecordHash(env.Payload)
	c.digest = PayloadDigest(env.Payload)
	hint := b.VerificationMaterial.PublicKey.Hint
	sig := env.Signatures[0]
	switch {
	case hint != v.KeyID():
		fail(CodeOtherKey, "signed by key %s, not the trusted key %s", hint, v.KeyID())
	case v.verifyDSSE(env.PayloadType, env.Payload, sig.Sig) != nil:
		fail(CodeSignatureInvalid, "the signature does not verify against key %s: the record was changed after it was signed", v.KeyID())
	}
	if sig.KeyID != "" && sig.KeyID != hint {
		fail(CodeSignerMismatch, "the envelope's key ID %s differs from the bundle's key hint %s", sig.KeyID, hint)
	}
	st, err := parseStatement(env.Payload)
	if err != nil {
		fail(recordErrorCode(err), "%v", err)
		return c
	}
	c.ok = true
	ev := st.Predicate
	c.predSeq, c.prev, c.caseID, c.action = ev.Seq, ev.Prev, ev.CaseID, ev.Action
	for _, s := range st.Subject {
		if s.Kind() == KindArtifact {
			c.artifacts = append(c.artifacts, s)
		}
	}
	if ev.Signer.KeyID != hint {
		fail(CodeSignerMismatch, "the record says it was signed by %s, the bundle by %s", ev.Signer.KeyID, hint)
	}
	if ev.Seq != seq {
		fail(CodeSeqMismatch, "the record says it is record %d but is stored as record %d: records were renamed or reordered", ev.Seq, seq)
	}
	for i, tsr := range b.timestamps() {
		if tsa == nil {
			fail(CodeTimestampInvalid, "time-stamp %d cannot be checked: no time-stamping authority certificates (give --tsa-roots)", i+1)
			continue
		}
		t, err := verifyTimestamp(tsr, sig.Sig, *tsa, nil)
		if err != nil {
			fail(CodeTimestampInvalid, "time-stamp %d does not verify: %v", i+1, err)
			continue
		}
		if c.tsaTime.IsZero() || t.Before(c.tsaTime) {
			c.tsaTime = t
		}
	}
	if !c.tsaTime.IsZero() {
		c.time, _ = time.Parse(TimeFormat, ev.Time)
	}
	return c
}

// recordErrorCode picks the problem code for a record that did not parse.
func recordErrorCode(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "payload type"):
		return CodePayloadType
	case strings.HasPrefix(msg, "predicate type"), strings.HasPrefix(msg, "statement type"):
		return CodePredicateType
	case errors.Is(err, errOversized):
		return CodeRecordUnreadable
	}
	return CodeRecordMalformed
}

// clockSkewLimit is how far a record's own time may stray from its time-stamp before a warning.
const clockSkewLimit = 5 * time.Minute

// checkChain checks what links the records: numbering without gaps from 1, one case ID, each prev equal
// to the digest of the record before, and time-stamps that do not go backwards.
func checkChain(recs []*checkedRecord, r *Report) {
	var (
		prevDigest = GenesisPrev
		prevOK     = true
		want       = uint64(1)
		lastTSA    time.Time
	)
	for _, c := range recs {
		r.Problems = append(r.Problems, c.problems...)
		r.Records++
		if c.seq != want {
			if c.seq == want+1 {
				r.fail(CodeSeqGap, "", want, "record %d is missing: the records go from %d to %d", want, want-1, c.seq)
			} else {
				r.fail(CodeSeqGap, "", want, "records %d to %d are missing", want, c.seq-1)
			}
			prevOK = false
		}
		want = c.seq + 1
		if !c.ok {
			// The next record can still be checked against this one's bytes, if it has any.
			prevDigest, prevOK = c.digest, c.digest != ""
			continue
		}
		if r.CaseID == "" {
			r.CaseID = c.caseID
		} else if c.caseID != r.CaseID {
			r.fail(CodeCaseMismatch, c.path, c.seq, "belongs to case %q, not %q", c.caseID, r.CaseID)
		}
		if prevOK && c.prev != prevDigest {
			if c.seq == 1 {
				r.fail(CodePrevMismatch, c.path, c.seq, "the first record's prev is %s, not the genesis value", c.prev)
			} else {
				r.fail(CodePrevMismatch, c.path, c.seq, "prev %s does not match record %d (SHA-256 %s): a record before it was changed, removed or inserted", short(c.prev), c.seq-1, short(prevDigest))
			}
		}
		prevDigest, prevOK = c.digest, true
		if !c.tsaTime.IsZero() {
			r.Timestamps++
			if c.tsaTime.Before(lastTSA.Add(-time.Second)) {
				r.warn(WarnTimestampOrder, c.path, "time-stamped at %s, before the record ahead of it (%s)", FormatTime(c.tsaTime), FormatTime(lastTSA))
			}
			if d := c.time.Sub(c.tsaTime); d > clockSkewLimit || d < -clockSkewLimit {
				r.warn(WarnClockSkew, c.path, "the record's time %s is %s away from its time-stamp %s", FormatTime(c.time), d.Round(time.Second), FormatTime(c.tsaTime))
			}
			lastTSA = c.tsaTime
		}
	}
}

func short(digest string) string {
	if len(digest) > 16 {
		return digest[:16] + "…"
	}
	return digest
}
