package custody

import (
	"errors"
	"fmt"
	"github.com/go-json-experiment/json/jsontext"
	"path"
	"slices"
	"strconv"
)

// listRecordSeqs returns the sequence numbers of the record files in a case, ascending. Temporary
// files left by an interrupted write are not records and are not listed.
func listRecordSeqs(root *caseRoot) ([]uint64, error) {
	entries, err := root.readDir(RecordsDir)
	if err != nil {
		return nil, fmt.Errorf("listing records: %w", err)
	}
	var seqs []uint64
	for _, e := range entries {
		if n, ok := recordSeq(path.Base(e.rel)); ok {
			seqs = append(seqs, n)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// recordRel is RecordPath, slash-separated.
func recordRel(seq uint64) string { return RecordsDir + "/" + recordFileName(seq) }

// recordFileName is the name of record seq's file: ten digits, then ".sigstore.json".
func recordFileName(seq uint64) string {
	var b [32]byte
	digits := strconv.AppendUint(b[:0], seq, 10)
	out := make([]byte, 0, 24)
	for range 10 - len(digits) {
		out = append(out, '0')
	}
	out = append(out, digits...)
	return string(append(out, ".sigstore.json"...))
}

// parseRecord reads a record bundle: a DSSE envelope of the in-toto payload type with one signature,
// whose payload is a custody statement. Signatures are not checked here.
func parseRecord(data []byte) (*bundle, *Statement, error) {
	b, err := parseRecordBundle(data)
	if err != nil {
		return nil, nil, err
	}
	st, err := parseStatement(b.DSSEEnvelope.Payload)
	if err != nil {
		return nil, nil, err
	}
	return b, st, nil
}

// parseRecordBundle checks the envelope of a record: a DSSE envelope of the in-toto payload type with
// exactly one signature.
func parseRecordBundle(data []byte) (*bundle, error) {
	b, err := parseBundle(data)
	if err != nil {
		return nil, err
	}
	env := b.DSSEEnvelope
	if env == nil {
		return nil, errors.New("bundle holds no DSSE envelope")
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("payload type %q, want %q", env.PayloadType, PayloadType)
	}
	if len(env.Signatures) != 1 {
		return nil, fmt.Errorf("envelope has %d signatures, want exactly 1", len(env.Signatures))
	}
	return b, nil
}

// parseStatement reads a record's payload: an in-toto statement with the custody predicate.
func parseStatement(payload []byte) (*Statement, error) {
	return parseStatementWith(payload, nil)
}

// parseStatementWith is parseStatement reusing sc's storage when sc is not nil (see statementScratch).
func parseStatementWith(payload []byte, sc *statementScratch) (*Statement, error) {
	st, err := decodeStatementWith(payload, sc)
	if serr, ok := errors.AsType[*jsontext.SyntacticError](err); ok {
		// A signed payload is valid JSON; one that is not was changed after it was written.
		return nil, fmt.Errorf("its payload is not valid JSON (at byte %d): its bytes were changed", serr.ByteOffset)
	}
	if err != nil {
		return nil, fmt.Errorf("payload is not a custody statement: %w", err)
	}
	if st.Type != StatementType {
		return nil, fmt.Errorf("statement type %q, want %q", st.Type, StatementType)
	}
	if st.PredicateType != PredicateType {
		return nil, fmt.Errorf("predicate type %q, want %q", st.PredicateType, PredicateType)
	}
	return st, nil
}

func readRecordFile(root *caseRoot, seq uint64) (Record, *bundle, error) {
	rel := recordRel(seq)
	data, err := root.readFile(rel, maxBundleSize, nil)
	if err != nil {
		return Record{}, nil, err
	}
	b, st, err := parseRecord(data)
	if err != nil {
		return Record{}, nil, fmt.Errorf("%s: %w", rel, err)
	}
	return Record{Seq: seq, Path: RecordPath(seq), Payload: b.DSSEEnvelope.Payload, Statement: st}, b, nil
}

// ReadReadableRecords reads the records of a case that can be read, in order, and says which could
// not, without checking signatures: for looking into a case that fails verification.
func ReadReadableRecords(dir string) ([]Record, []error, error) {
	root, err := openCaseRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	seqs, err := listRecordSeqs(root)
	if err != nil {
		return nil, nil, err
	}
	var out []Record
	var bad []error
	for _, seq := range seqs {
		rec, _, err := readRecordFile(root, seq)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, rec)
	}
	return out, bad, nil
}

// ReadRecords reads every record of a case in order, without checking signatures: for display and
// reports. Use Verify to trust them.
func ReadRecords(dir string) ([]Record, error) {
	recs, bad, err := ReadReadableRecords(dir)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return nil, bad[0]
	}
	return recs, nil
}
