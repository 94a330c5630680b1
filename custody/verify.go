package custody

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// VerifyOptions say what a case is verified against.
type VerifyOptions struct {
	// Verifier is the trusted key. When nil, the case's own custody.pub is used, which proves only that
	// the case is consistent with itself: the report warns, unless KeyID pins that key.
	Verifier *Verifier
	// KeyID pins the trusted key by fingerprint: its hint (base64 SHA-256 of the SPKI DER) or the same
	// digest in hex, as `openssl pkey -pubin -outform DER | sha256sum` prints it.
	KeyID string
	// TSATrust is what time-stamps must chain to. When nil, the certificates kept in the case are used
	// and the report warns.
	TSATrust *TSATrust
	// Checkpoints are signed checkpoint notes held outside the case (a copy sent to counsel, a witness,
	// a WORM bucket): the case must be consistent with each.
	Checkpoints [][]byte
	// Workers is how many records are checked at once; all cores when zero.
	Workers int
}

// Problem is one thing wrong with a case, or, among warnings, one thing an auditor should know.
type Problem struct {
	Code    string `json:"code"`
	Path    string `json:"path,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var where string
	switch {
	case p.Seq != 0 && p.Path != "":
		where = fmt.Sprintf("record %d (%s): ", p.Seq, p.Path)
	case p.Path != "":
		where = p.Path + ": "
	}
	return where + p.Message + " [" + p.Code + "]"
}

// Problem codes. They are stable: reports and test vectors refer to them.
const (
	CodeKeyMissing          = "key-missing"
	CodeKeyMismatch         = "key-mismatch"
	CodeRecordUnreadable    = "record-unreadable"
	CodeRecordMalformed     = "record-malformed"
	CodePayloadType         = "payload-type"
	CodePredicateType       = "predicate-type"
	CodeSignatureInvalid    = "signature-invalid"
	CodeOtherKey            = "signed-by-other-key"
	CodeSignerMismatch      = "signer-mismatch"
	CodeSeqMismatch         = "seq-mismatch"
	CodeSeqGap              = "seq-gap"
	CodePrevMismatch        = "prev-mismatch"
	CodeCaseMismatch        = "case-mismatch"
	CodeTimestampInvalid    = "timestamp-invalid"
	CodeCheckpointMalformed = "checkpoint-malformed"
	CodeCheckpointSignature = "checkpoint-signature-invalid"
	CodeCheckpointTruncated = "checkpoint-beyond-log"
	CodeCheckpointRoot      = "checkpoint-root-mismatch"
	CodeManifestMalformed   = "manifest-malformed"
	CodeManifestSignature   = "manifest-signature-invalid"
	CodeManifestTruncated   = "manifest-beyond-log"
	CodeManifestFile        = "manifest-file-mismatch"
	CodeArtifactMismatch    = "artifact-mismatch"

	WarnUnpinnedKey    = "unpinned-key"
	WarnUnpinnedTSA    = "unpinned-tsa"
	WarnTemporaryFile  = "temporary-file"
	WarnIncomplete     = "incomplete-file"
	WarnUnexpectedFile = "unexpected-file"
	WarnUnsealed       = "unsealed-records"
	WarnTimestampOrder = "timestamp-order"
	WarnClockSkew      = "clock-skew"
)

// Report is the outcome of verifying a case. The case holds only when Problems is empty.
type Report struct {
	Dir         string    `json:"dir"`
	CaseID      string    `json:"caseId,omitempty"`
	KeyID       string    `json:"keyId,omitempty"`
	KeySource   string    `json:"keySource"`
	Records     uint64    `json:"records"`
	Checkpoints int       `json:"checkpoints"`
	Sealed      int64     `json:"sealedRecords"`
	Manifests   int       `json:"manifests"`
	Artifacts   int       `json:"artifacts"`
	Timestamps  int       `json:"timestamps"`
	Problems    []Problem `json:"problems"`
	Warnings    []Problem `json:"warnings"`
}

// OK reports whether everything held.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) fail(code, path string, seq uint64, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Code: code, Path: filepath.ToSlash(path), Seq: seq, Message: fmt.Sprintf(format, args...)})
}

func (r *Report) warn(code, path string, format string, args ...any) {
	r.Warnings = append(r.Warnings, Problem{Code: code, Path: filepath.ToSlash(path), Message: fmt.Sprintf(format, args...)})
}

// Verify checks a whole case and reports every problem it finds: each record's signature, payload type
// and predicate, seq contiguity and every prev link, every checkpoint against the Merkle tree of the
// records, every manifest against the files, every artifact against its digest, and time-stamps. An
// error is returned only when the case cannot be read at all.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (*Report, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", dir, ErrNotACase)
		}
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory: %w", dir, ErrNotACase)
	}
	if _, err := os.Stat(filepath.Join(dir, RecordsDir)); err != nil {
		return nil, fmt.Errorf("%s: %w (no %s directory)", dir, ErrNotACase, RecordsDir)
	}
	r := &Report{Dir: dir}
	v := trustedKey(dir, opts, r)
	if v == nil {
		return r, nil
	}
	r.KeyID = v.KeyID()
	tsa := tsaTrust(dir, opts, r)

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	recs, err := checkRecords(ctx, dir, v, tsa, workers, r)
	if err != nil {
		return nil, err
	}
	tree := &merkleLog{}
	for _, rec := range recs {
		if _, err := tree.addHash(rec.leaf); err != nil {
			return nil, err
		}
	}
	known := map[string]bool{PublicKeyFile: true}
	checkArtifacts(dir, recs, r, known)
	checkCheckpoints(dir, v, tsa, tree, opts.Checkpoints, r, known)
	checkManifests(dir, v, tsa, uint64(len(recs)), r, known)
	checkStrayFiles(dir, r, known)
	return r, nil
}

// trustedKey settles which key the case is checked against, and checks the case's custody.pub.
func trustedKey(dir string, opts VerifyOptions, r *Report) *Verifier {
	var caseKey *Verifier
	pubPEM, err := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	if err == nil {
		var pub any
		if pub, err = cryptoutils.UnmarshalPEMToPublicKey(pubPEM); err == nil {
			caseKey, err = NewVerifier(pub)
		}
	}
	if err != nil && opts.Verifier == nil {
		r.KeySource = "none"
		r.fail(CodeKeyMissing, PublicKeyFile, 0, "the case's public key cannot be read (%v) and no key was given to verify with", err)
		return nil
	}
	pinned := ""
	if opts.KeyID != "" {
		pinned, err = normalizeKeyID(opts.KeyID)
		if err != nil {
			r.KeySource = "none"
			r.fail(CodeKeyMismatch, "", 0, "pinned fingerprint: %v", err)
			return nil
		}
	}
	v := opts.Verifier
	if v != nil {
		r.KeySource = "given"
		if caseKey != nil && caseKey.KeyID() != v.KeyID() {
			r.fail(CodeKeyMismatch, PublicKeyFile, 0, "the case's public key is %s, not the trusted key %s", caseKey.KeyID(), v.KeyID())
		}
		if caseKey == nil {
			r.fail(CodeKeyMissing, PublicKeyFile, 0, "the case's public key cannot be read: %v", err)
		}
	} else {
		v = caseKey
		r.KeySource = "case"
		if pinned == "" {
			r.warn(WarnUnpinnedKey, PublicKeyFile, "checked against the key inside the case, which proves only self-consistency: pin the key with --key or --fingerprint")
		}
	}
	if pinned != "" {
		if v.KeyID() != pinned {
			r.fail(CodeKeyMismatch, "", 0, "the key is %s, not the pinned fingerprint %s", v.KeyID(), pinned)
		} else if r.KeySource == "case" {
			r.KeySource = "case, pinned by fingerprint"
		}
	}
	return v
}

// normalizeKeyID accepts a key hint in base64 or the same SHA-256 in hex (optionally "sha256:"-prefixed).
func normalizeKeyID(s string) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "sha256:"), "SHA256:")
	if raw, err := hex.DecodeString(s); err == nil && len(raw) == 32 {
		return base64.StdEncoding.EncodeToString(raw), nil
	}
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil && len(raw) == 32 {
		return s, nil
	}
	return "", fmt.Errorf("%q is neither a base64 nor a hex SHA-256 fingerprint", s)
}

// tsaTrust settles what time-stamps are checked against: the given roots, or those kept in the case.
func tsaTrust(dir string, opts VerifyOptions, r *Report) *TSATrust {
	if opts.TSATrust != nil {
		return opts.TSATrust
	}
	paths, _ := filepath.Glob(filepath.Join(dir, TSADir, "*.pem"))
	if len(paths) == 0 {
		return nil
	}
	var all TSATrust
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		t, err := ParseTSATrust(data)
		if err != nil {
			continue
		}
		all.Roots = append(all.Roots, t.Roots...)
		all.Intermediates = append(all.Intermediates, t.Intermediates...)
	}
	r.warn(WarnUnpinnedTSA, TSADir, "time-stamps checked against the authority certificates inside the case: give the authority's roots with --tsa-roots")
	return &all
}
