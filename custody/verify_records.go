package custody

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	action    string
	leaf      tlog.Hash         // RFC 6962 leaf hash of the payload, when hasBytes
	digest    [sha256.Size]byte // SHA-256 of the payload (PayloadDigest), likewise
	hasBytes  bool              // the envelope could be read
	ok        bool              // the statement parsed (signature aside): the fields below are meaningful
	predSeq   uint64
	prev      [sha256.Size]byte // the record's prev, when prevHex
	prevHex   bool              // prev is written as PayloadDigest writes a digest
	prevText  string            // the record's prev as written, when it is not
	caseID    string
	time      time.Time
	tsaTime   time.Time
	artifacts []Subject
	problems  []Problem
}

// rel is the record's file, relative to the case.
func (c *checkedRecord) rel() string { return recordRel(c.seq) }

// prevString is the record's prev as written.
func (c *checkedRecord) prevString() string {
	if c.prevHex {
		return hex.EncodeToString(c.prev[:])
	}
	return c.prevText
}

// setPrev keeps prev as a digest when it is written as one (64 lowercase hex digits), as written
// otherwise: only the first can match the digest of a record.
func (c *checkedRecord) setPrev(prev string) {
	c.prevHex = len(prev) == 2*sha256.Size
	for i := 0; c.prevHex && i < len(prev); i++ {
		c.prevHex = prev[i] >= '0' && prev[i] <= '9' || prev[i] >= 'a' && prev[i] <= 'f'
	}
	if c.prevHex {
		hex.Decode(c.prev[:], []byte(prev))
		return
	}
	c.prevText = strings.Clone(prev)
}

// recordReader is what one verifier worker reuses from record to record: buffers, and the strings
// every record repeats, kept once.
type recordReader struct {
	file, decoded []byte
	caseID        string
	actions       map[string]string
	statement     statementScratch
	dsse          dsseHasher // SHA-256 state, reset for each use
}

// leafPrefix starts an RFC 6962 leaf.
var leafPrefix = []byte{0}

func newRecordReader() *recordReader {
	return &recordReader{file: make([]byte, 0, 8<<10), actions: map[string]string{}, dsse: dsseHasher{h: sha256.New()}}
}

// keep returns s, which may share a payload's memory, as a string of its own (one copy per worker for
// the case ID and the few action names).
func (rr *recordReader) keepCaseID(s string) string {
	if s != rr.caseID {
		rr.caseID = strings.Clone(s)
	}
	return rr.caseID
}

func (rr *recordReader) keepAction(s string) string {
	if a, ok := rr.actions[s]; ok {
		return a
	}
	a := strings.Clone(s)
	if len(rr.actions) < 256 {
		rr.actions[a] = a
	}
	return a
}

// checkRecords checks every record file on its own, in parallel (parse, signature, time-stamps), then
// the chain between them in order. Records come back in seq order, one per file found.
func checkRecords(ctx context.Context, root *caseRoot, seqs []uint64, v *Verifier, tsa *TSATrust, workers int, r *Report) ([]*checkedRecord, error) {
	dir, dirErr := root.dir(RecordsDir)
	recs := make([]*checkedRecord, len(seqs))
	// Workers take records in batches (of maxRingBatch, or fewer so that every worker has some), in
	// turn, so that the work is evenly shared however fast each goes.
	batch := min(maxRingBatch, max(1, len(seqs)/(4*workers)))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := newRecordReader()
			var dr *dirReader
			if dirErr == nil {
				dr = root.newDirReader(RecordsDir, dir)
				defer dr.close()
			}
			names := make([]string, 0, batch)
			for ctx.Err() == nil {
				lo := int(next.Add(int64(batch)) - int64(batch))
				if lo >= len(seqs) {
					return
				}
				hi := min(lo+batch, len(seqs))
				slab := make([]checkedRecord, hi-lo) // one allocation for the batch
				for i := lo; i < hi; i++ {
					recs[i] = &slab[i-lo]
					recs[i].seq = seqs[i]
				}
				if dr == nil {
					for i := lo; i < hi; i++ {
						rr.check(root, dir, dirErr, recs[i], v, tsa)
					}
					continue
				}
				names = names[:0]
				for _, seq := range seqs[lo:hi] {
					names = append(names, recordFileName(seq))
				}
				data, errs := dr.read(names, maxBundleSize)
				for i := lo; i < hi; i++ {
					rr.checkData(recs[i], data[i-lo], errs[i-lo], v, tsa)
				}
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

// check checks record c.seq, read from dir (the records directory, or dirErr when it cannot be opened).
func (rr *recordReader) check(root *caseRoot, dir int, dirErr error, c *checkedRecord, v *Verifier, tsa *TSATrust) {
	name := recordFileName(c.seq)
	data, err := []byte(nil), dirErr
	if err == nil {
		data, err = root.readFileIn(dir, name, RecordsDir+"/"+name, maxBundleSize, rr.file[:0])
	}
	if err == nil {
		rr.file = data
	}
	rr.checkData(c, data, err, v, tsa)
}

// checkData checks record c.seq, whose file holds data or could not be read (err), into c. Nothing
// of data is kept.
func (rr *recordReader) checkData(c *checkedRecord, data []byte, err error, v *Verifier, tsa *TSATrust) {
	seq := c.seq
	fail := func(code, format string, args ...any) {
		c.problems = append(c.problems, Problem{Code: code, Path: c.rel(), Seq: seq, Message: fmt.Sprintf(format, args...)})
	}
	if err != nil {
		fail(CodeRecordUnreadable, "cannot be read: %s", errText(err))
		return
	}
	// The ledger's own form is read in place; anything else by the full parse.
	var (
		parts recordParts
		tsrs  [][]byte
		keyID string // the envelope's key ID for the signature
		ok    bool
	)
	parts, rr.decoded, ok = readRecordLayout(data, rr.decoded)
	payloadType := PayloadType
	if !ok {
		b, err := parseRecordBundle(data)
		if err != nil {
			fail(recordErrorCode(err), "%v", err)
			return
		}
		env := b.DSSEEnvelope
		parts = recordParts{payload: env.Payload, sig: env.Signatures[0].Sig, hint: []byte(b.VerificationMaterial.PublicKey.Hint)}
		payloadType, keyID, tsrs = env.PayloadType, env.Signatures[0].KeyID, b.timestamps()
	}
	// tlog.RecordHash, with the worker's own hash state.
	rr.dsse.h.Reset()
	rr.dsse.h.Write(leafPrefix)
	rr.dsse.h.Write(parts.payload)
	rr.dsse.h.Sum(c.leaf[:0])
	c.digest = sha256.Sum256(parts.payload)
	c.hasBytes = true
	hint := parts.hint
	switch {
	case string(hint) != v.KeyID():
		fail(CodeOtherKey, "signed by key %s, not the trusted key %s", hint, v.KeyID())
	case v.verifyDSSEWith(&rr.dsse, payloadType, parts.payload, parts.sig) != nil:
		fail(CodeSignatureInvalid, "the signature does not verify against key %s: the record was changed after it was signed", v.KeyID())
	}
	if keyID != "" && keyID != string(hint) {
		fail(CodeSignerMismatch, "the envelope's key ID %s differs from the bundle's key hint %s", keyID, hint)
	}
	st, err := parseStatementWith(parts.payload, &rr.statement)
	if err != nil {
		fail(recordErrorCode(err), "%v", err)
		return
	}
	c.ok = true
	ev := st.Predicate
	c.predSeq = ev.Seq
	c.setPrev(ev.Prev)
	c.caseID, c.action = rr.keepCaseID(ev.CaseID), rr.keepAction(ev.Action)
	for _, s := range st.Subject {
		if s.Kind() == KindArtifact {
			c.artifacts = append(c.artifacts, s.clone())
		}
	}
	if ev.Signer.KeyID != string(hint) {
		fail(CodeSignerMismatch, "the record says it was signed by %s, the bundle by %s", ev.Signer.KeyID, hint)
	}
	if ev.Seq != seq {
		fail(CodeSeqMismatch, "the record says it is record %d but is stored as record %d: records were renamed or reordered", ev.Seq, seq)
	}
	for i, tsr := range tsrs {
		if tsa == nil {
			fail(CodeTimestampInvalid, "time-stamp %d cannot be checked: no time-stamping authority certificates (give --tsa-roots)", i+1)
			continue
		}
		t, err := verifyTimestamp(tsr, parts.sig, *tsa, nil)
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
		prevDigest [sha256.Size]byte // GenesisPrev
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
			prevDigest, prevOK = c.digest, c.hasBytes
			continue
		}
		if r.CaseID == "" {
			r.CaseID = c.caseID
		} else if c.caseID != r.CaseID {
			r.fail(CodeCaseMismatch, c.rel(), c.seq, "belongs to case %q, not %q", c.caseID, r.CaseID)
		}
		if prevOK && (!c.prevHex || c.prev != prevDigest) {
			if c.seq == 1 {
				r.fail(CodePrevMismatch, c.rel(), c.seq, "the first record's prev is %s, not the genesis value", c.prevString())
			} else {
				r.fail(CodePrevMismatch, c.rel(), c.seq, "prev %s does not match record %d (SHA-256 %s): a record before it was changed, removed or inserted", short(c.prevString()), c.seq-1, short(hex.EncodeToString(prevDigest[:])))
			}
		}
		prevDigest, prevOK = c.digest, true
		if !c.tsaTime.IsZero() {
			r.Timestamps++
			if c.tsaTime.Before(lastTSA.Add(-time.Second)) {
				r.warn(WarnTimestampOrder, c.rel(), "time-stamped at %s, before the record ahead of it (%s)", FormatTime(c.tsaTime), FormatTime(lastTSA))
			}
			if d := c.time.Sub(c.tsaTime); d > clockSkewLimit || d < -clockSkewLimit {
				r.warn(WarnClockSkew, c.rel(), "the record's time %s is %s away from its time-stamp %s", FormatTime(c.time), d.Round(time.Second), FormatTime(c.tsaTime))
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
