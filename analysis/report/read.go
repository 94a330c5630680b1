package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"

	"github.com/acquire-forensics/acquire/custody"
)

// maxRecordSize bounds what is read of one record file: custody records are a few KiB, and a report
// must not be made to exhaust memory by a planted file.
const maxRecordSize = 16 << 20

var recordFile = regexp.MustCompile(`^([0-9]{10})\.sigstore\.json$`)

// readRecords reads every record file of a case, in seq order, for display only: unlike
// custody.ReadRecords it does not stop at a damaged record, which becomes a row saying why it cannot
// be read. Nothing here is trusted; verification says whether the records hold.
func readRecords(ctx context.Context, dir string) ([]Record, error) {
	names, err := custody.ListCaseDir(dir, custody.RecordsDir)
	if err != nil {
		return nil, fmt.Errorf("listing records: %w", err)
	}
	type file struct {
		seq  uint64
		name string
	}
	var files []file
	for _, name := range names {
		m := recordFile.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		seq, _ := strconv.ParseUint(m[1], 10, 64)
		files = append(files, file{seq, name})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].seq < files[j].seq })
	out := make([]Record, 0, len(files))
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rel := custody.RecordsDir + "/" + f.name
		rec := Record{Seq: f.seq, Path: rel}
		payload, st, err := readRecord(dir, rel)
		if err != nil {
			rec.Unreadable = err.Error()
		} else {
			rec.PayloadSHA256 = custody.PayloadDigest(payload)
			rec.Subjects = st.Subject
			rec.Event = &st.Predicate
		}
		out = append(out, rec)
	}
	return out, nil
}

// readRecord returns a record's payload and its statement, read leniently (but never through a link,
// nor from anything but a regular file).
func readRecord(dir, rel string) ([]byte, *custody.Statement, error) {
	data, err := custody.ReadCaseFile(dir, rel, maxRecordSize)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, nil, pe.Err
		}
		return nil, nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, errors.New("the file is empty")
	}
	var b struct {
		DSSEEnvelope *struct {
			Payload []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, nil, fmt.Errorf("not a bundle: %w", err)
	}
	if b.DSSEEnvelope == nil || len(b.DSSEEnvelope.Payload) == 0 {
		return nil, nil, errors.New("the bundle holds no DSSE payload")
	}
	dec := json.NewDecoder(bytes.NewReader(b.DSSEEnvelope.Payload))
	dec.UseNumber() // keep large numbers in details exact
	var st custody.Statement
	if err := dec.Decode(&st); err != nil {
		return nil, nil, fmt.Errorf("the payload is not a custody statement: %w", err)
	}
	if st.PredicateType != custody.PredicateType {
		return nil, nil, fmt.Errorf("predicate type %q is not %q", st.PredicateType, custody.PredicateType)
	}
	return b.DSSEEnvelope.Payload, &st, nil
}
