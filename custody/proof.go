package custody

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// proofHeader opens a C2SP tlog-proof (https://c2sp.org/tlog-proof).
const proofHeader = "c2sp.org/tlog-proof@v1"

// Prove returns a C2SP tlog-proof that record seq is included in the case's largest checkpoint: the
// record's index, the RFC 6962 inclusion path, and the signed checkpoint verbatim. With the record file
// and the custody public key, it verifies offline (CheckProof).
func Prove(dir string, seq uint64) ([]byte, error) {
	root, err := openCaseRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	cpPath, size, err := latestCheckpoint(root)
	if err != nil {
		return nil, err
	}
	if seq < 1 || int64(seq) > size {
		return nil, fmt.Errorf("record %d is not covered by the latest checkpoint (%d records): seal the case first", seq, size)
	}
	noteBytes, err := root.readFile(filepath.ToSlash(cpPath), maxBundleSize, nil)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(noteBytes, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) {
		n, err = unverified.Note, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cpPath, err)
	}
	cp, err := parseCheckpointBody(n.Text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cpPath, err)
	}
	// A proof is only worth a checkpoint the case's key signed: check it against the key the case
	// carries (whoever checks the proof checks it against theirs).
	pubPEM, err := root.readFile(PublicKeyFile, maxBundleSize, nil)
	if err != nil {
		return nil, err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PublicKeyFile, err)
	}
	v, err := NewVerifier(pub)
	if err != nil {
		return nil, err
	}
	if _, err := openCheckpoint(noteBytes, v, strings.TrimPrefix(cp.Origin, CheckpointOrigin(""))); err != nil {
		return nil, historyError(dir, "%s: %v", cpPath, err)
	}
	tree := &merkleLog{}
	for s := uint64(1); s <= uint64(size); s++ {
		rec, _, err := readRecordFile(root, s)
		if err != nil {
			return nil, err
		}
		if err := tree.add(rec.Payload); err != nil {
			return nil, err
		}
	}
	treeRoot, err := tree.root(size)
	if err != nil {
		return nil, err
	}
	if treeRoot != cp.Root {
		return nil, fmt.Errorf("%s does not match the records: run `acquire verify %s`", cpPath, dir)
	}
	path, err := tree.prove(seq, size)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%s\nindex %d\n", proofHeader, seq-1)
	for _, h := range path {
		fmt.Fprintf(&out, "%s\n", base64.StdEncoding.EncodeToString(h[:]))
	}
	out.WriteString("\n")
	out.Write(noteBytes)
	return out.Bytes(), nil
}

func latestCheckpoint(root *caseRoot) (string, int64, error) {
	entries, err := root.readDir(CheckpointsDir)
	if err != nil {
		return "", 0, fmt.Errorf("listing checkpoints: %w", err)
	}
	var best int64 = -1
	for _, e := range entries {
		if m := checkpointName.FindStringSubmatch(path.Base(e.rel)); m != nil {
			if n, _ := strconv.ParseInt(m[1], 10, 64); n > best {
				best = n
			}
		}
	}
	if best < 0 {
		return "", 0, fmt.Errorf("case %s has no checkpoint: seal it first", root.path)
	}
	return CheckpointPath(best), best, nil
}

// ProofResult is what a checked proof establishes.
type ProofResult struct {
	Seq        uint64
	CaseID     string
	Action     string
	Checkpoint Checkpoint
}

// CheckProof verifies, offline, that a record file is included in a signed checkpoint: the record's
// signature, the checkpoint's signature (both by v), and the inclusion path from the record's leaf hash
// to the checkpoint's root.
func CheckProof(proof, recordFile []byte, v *Verifier) (ProofResult, error) {
	b, st, err := parseRecord(recordFile)
	if err != nil {
		return ProofResult{}, fmt.Errorf("record: %w", err)
	}
	env := b.DSSEEnvelope
	if err := v.verify(dsse.PAE(env.PayloadType, env.Payload), env.Signatures[0].Sig); err != nil {
		return ProofResult{}, fmt.Errorf("record: signature does not verify against key %s", v.KeyID())
	}
	index, hashes, cpNote, err := parseProof(proof)
	if err != nil {
		return ProofResult{}, err
	}
	res := ProofResult{Seq: st.Predicate.Seq, CaseID: st.Predicate.CaseID, Action: st.Predicate.Action}
	if uint64(index)+1 != res.Seq {
		return res, fmt.Errorf("the proof is for index %d (record %d), the record is %d", index, index+1, res.Seq)
	}
	cp, err := openCheckpoint(cpNote, v, res.CaseID)
	if err != nil {
		return res, fmt.Errorf("checkpoint: %w", err)
	}
	res.Checkpoint = cp
	if err := tlog.CheckRecord(hashes, cp.Size, cp.Root, index, tlog.RecordHash(env.Payload)); err != nil {
		return res, fmt.Errorf("the record is not in the checkpointed tree: %w", err)
	}
	return res, nil
}

func parseProof(proof []byte) (int64, tlog.RecordProof, []byte, error) {
	head, cpNote, ok := bytes.Cut(proof, []byte("\n\n"))
	if !ok {
		return 0, nil, nil, errors.New("not a tlog-proof: no blank line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != proofHeader {
		return 0, nil, nil, fmt.Errorf("not a tlog-proof: first line %q", lines[0])
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return 0, nil, nil, errors.New("tlog-proof has no index line")
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "index "), 10, 64)
	if err != nil || index < 0 {
		return 0, nil, nil, fmt.Errorf("tlog-proof index %q", lines[0])
	}
	var hashes tlog.RecordProof
	for _, l := range lines[1:] {
		raw, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(raw) != tlog.HashSize {
			return 0, nil, nil, fmt.Errorf("tlog-proof hash %q", l)
		}
		var h tlog.Hash
		copy(h[:], raw)
		hashes = append(hashes, h)
	}
	return index, hashes, cpNote, nil
}
