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
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyOptions say what a case is verified against.
type VerifyOptions struct {
	// Verifier is the trusted key. When nil, the case's own custody.pub is used, which proves only that
	// the case is consistent with itself: the report warns, unless KeyID pins that key.
	Verifier *Verifier
	// KeyID pins the trusted key by fingerprint: its hint (base64 SHA-256 of the SPKI DER) or the same
	// digest in hex, as `openssl pkey -pubin -outform DER | sha256sum` prints it. ParseKeyID checks one.
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
	CodeManifestUnsigned    = "manifest-unsigned"
	CodeManifestTruncated   = "manifest-beyond-log"
	CodeManifestFile        = "manifest-file-mismatch"
	CodeArtifactMismatch    = "artifact-mismatch"
	CodeSealIncomplete      = "seal-incomplete"
	CodeUnreadable          = "unreadable"
	CodeSymlink             = "symlink"
	CodeUnexpectedFile      = "unexpected-file"

	WarnUnpinnedKey     = "unpinned-key"
	WarnUnpinnedTSA     = "unpinned-tsa"
	WarnTemporaryFile   = "temporary-file"
	WarnIncomplete      = "incomplete-file"
	WarnUncitedArtifact = "uncited-artifact"
	WarnUnsealed        = "unsealed-records"
	WarnTimestampOrder  = "timestamp-order"
	WarnClockSkew       = "clock-skew"
)

// Verdicts of a verification.
const (
	// VerdictVerified: everything holds, against a key (and time-stamping roots) given from outside.
	VerdictVerified = "verified"
	// VerdictSelfConsistent: everything holds, but only against the key (or the time-stamping
	// certificates) the case carries, which anyone rewriting the case would replace too.
	VerdictSelfConsistent = "self-consistent-only"
	// VerdictFailed: something does not hold, or cannot be read.
	VerdictFailed = "failed"
)

// Report is the outcome of verifying a case. The case holds only when Problems is empty.
type Report struct {
	Dir    string `json:"dir"`
	CaseID string `json:"caseId,omitempty"`
	// Verdict is VerdictVerified, VerdictSelfConsistent or VerdictFailed.
	Verdict   string `json:"verdict"`
	KeyID     string `json:"keyId,omitempty"`
	KeySource string `json:"keySource"`
	// KeyPinned says the key came from outside the case (--key) or was pinned by fingerprint.
	KeyPinned bool `json:"keyPinned"`
	// TSAPinned says time-stamps were checked against roots given from outside the case.
	TSAPinned   bool   `json:"tsaPinned"`
	Records     uint64 `json:"records"`
	Checkpoints int    `json:"checkpoints"`
	Sealed      int64  `json:"sealedRecords"`
	Manifests   int    `json:"manifests"`
	Artifacts   int    `json:"artifacts"`
	Timestamps  int    `json:"timestamps"`
	// Seals are the case.seal records, each with whether its checkpoint and manifest hold.
	Seals    []Seal    `json:"seals"`
	Problems []Problem `json:"problems"`
	Warnings []Problem `json:"warnings"`
}

// Seal is one case.seal record and what it must have: a checkpoint and a manifest over the records up
// to it, both signed.
type Seal struct {
	Seq        uint64 `json:"seq"`
	Checkpoint string `json:"checkpoint"`
	Manifest   string `json:"manifest"`
	Complete   bool   `json:"complete"`
}

// OK reports whether everything held. It does not say against what: see Verdict.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// EndsSealed reports whether the case's last record is a seal whose checkpoint and manifest hold.
func (r *Report) EndsSealed() bool {
	n := len(r.Seals)
	return n > 0 && r.Seals[n-1].Seq == r.Records && r.Seals[n-1].Complete
}

// settle sets the verdict once every check has run.
func (r *Report) settle() {
	switch {
	case !r.OK():
		r.Verdict = VerdictFailed
	case !r.KeyPinned || (r.Timestamps > 0 && !r.TSAPinned):
		r.Verdict = VerdictSelfConsistent
	default:
		r.Verdict = VerdictVerified
	}
	if r.Problems == nil {
		r.Problems = []Problem{}
	}
	if r.Warnings == nil {
		r.Warnings = []Problem{}
	}
	if r.Seals == nil {
		r.Seals = []Seal{}
	}
}

func (r *Report) fail(code, path string, seq uint64, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Code: code, Path: filepath.ToSlash(path), Seq: seq, Message: fmt.Sprintf(format, args...)})
}

func (r *Report) warn(code, path string, format string, args ...any) {
	r.Warnings = append(r.Warnings, Problem{Code: code, Path: filepath.ToSlash(path), Message: fmt.Sprintf(format, args...)})
}

// Verify checks a whole case and reports every problem it finds: each record's signature, payload type
// and predicate, seq contiguity and every prev link, every checkpoint against the Merkle tree of the
// records, every seal's checkpoint and manifest, every manifest against the files, every artifact
// against its digest, time-stamps, and that the case holds nothing else (no link, no stray file). What
// cannot be read is a problem of its own (CodeUnreadable, CodeRecordUnreadable). An error is returned
// only when dir is not a case at all.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (*Report, error) {
	r, _, err := verify(ctx, dir, opts)
	return r, err
}

// verified is what a verification learned that a writer sealing the case needs.
type verified struct {
	acc *accounting
}

// files is every file a manifest of the case lists now, sorted.
func (v *verified) files() []string { return v.acc.files() }

func verify(ctx context.Context, dir string, opts VerifyOptions) (*Report, *verified, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: %w", dir, ErrNotACase)
		}
		return nil, nil, err
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("%s is not a directory: %w", dir, ErrNotACase)
	}
	root, err := openCaseRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	if ok, err := root.exists(RecordsDir); err == nil && !ok {
		return nil, nil, fmt.Errorf("%s: %w (no %s directory)", dir, ErrNotACase, RecordsDir)
	}
	inv := takeInventory(root)
	r := &Report{Dir: dir}
	r.Problems = append(r.Problems, inv.problems...)
	v := trustedKey(root, opts, r)
	if v == nil {
		r.settle()
		return r, nil, nil
	}
	r.KeyID = v.KeyID()
	acc := newAccounting(inv)
	tsa := tsaTrust(root, inv, opts, r, acc)

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	recs, err := checkRecords(ctx, root, inv.records, v, tsa, workers, r)
	if err != nil {
		return nil, nil, err
	}
	// Sized for every stored hash at once: growing a slice of a large case's hashes step by step costs
	// more than hashing them.
	tree := &merkleLog{stored: make([]tlog.Hash, 0, tlog.StoredHashIndex(0, int64(len(recs))))}
	for _, rec := range recs {
		if _, err := tree.addHash(rec.leaf); err != nil {
			return nil, nil, err
		}
	}
	checkArtifacts(root, inv, recs, r, acc)
	cps := checkCheckpoints(root, inv, v, tsa, tree, opts.Checkpoints, r)
	mfs := checkManifests(root, inv, v, tsa, uint64(len(recs)), r, acc)
	checkSeals(recs, cps, mfs, r)
	checkInventory(inv, acc, r)
	r.settle()
	return r, &verified{acc: acc}, nil
}

// trustedKey settles which key the case is checked against, and checks the case's custody.pub.
func trustedKey(root *caseRoot, opts VerifyOptions, r *Report) *Verifier {
	var caseKey *Verifier
	pubPEM, err := root.readFile(PublicKeyFile, maxBundleSize, nil)
	if err == nil {
		var pub any
		if pub, err = cryptoutils.UnmarshalPEMToPublicKey(pubPEM); err == nil {
			caseKey, err = NewVerifier(pub)
		}
	}
	if err != nil && opts.Verifier == nil {
		r.KeySource = "none"
		r.fail(CodeKeyMissing, PublicKeyFile, 0, "the case's public key cannot be read (%s) and no key was given to verify with", errText(err))
		return nil
	}
	pinned := ""
	if opts.KeyID != "" {
		pinned, err = ParseKeyID(opts.KeyID)
		if err != nil {
			r.KeySource = "none"
			r.fail(CodeKeyMismatch, "", 0, "pinned fingerprint: %v", err)
			return nil
		}
	}
	v := opts.Verifier
	if v != nil {
		r.KeySource = "given"
		r.KeyPinned = true
		if caseKey != nil && caseKey.KeyID() != v.KeyID() {
			r.fail(CodeKeyMismatch, PublicKeyFile, 0, "the case's public key is %s, not the trusted key %s", caseKey.KeyID(), v.KeyID())
		}
		if caseKey == nil {
			r.fail(CodeKeyMissing, PublicKeyFile, 0, "the case's public key cannot be read: %s", errText(err))
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
		} else {
			r.KeyPinned = true
			if r.KeySource == "case" {
				r.KeySource = "case, pinned by fingerprint"
			}
		}
	}
	return v
}

// ParseKeyID checks a key fingerprint as --fingerprint takes it and returns it as a key hint: base64
// SHA-256 of the key's SPKI DER, or the same digest in hex (optionally "sha256:"-prefixed).
func ParseKeyID(s string) (string, error) { return normalizeKeyID(s) }

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
func tsaTrust(root *caseRoot, inv *inventory, opts VerifyOptions, r *Report, acc *accounting) *TSATrust {
	kept := caseTSA(root, inv, r, acc)
	if opts.TSATrust != nil {
		r.TSAPinned = true
		return opts.TSATrust
	}
	if kept == nil {
		return nil
	}
	r.warn(WarnUnpinnedTSA, TSADir, "time-stamps checked against the authority certificates inside the case: give the authority's roots with --tsa-roots")
	return kept
}

// caseTSA reads the authority certificates kept in the case. Each file must be named by the digest of
// its content, as the writer names it, and hold certificates.
func caseTSA(root *caseRoot, inv *inventory, r *Report, acc *accounting) *TSATrust {
	var all *TSATrust
	for _, rel := range inv.tsaFiles {
		data, err := root.readFile(rel, maxBundleSize, nil)
		if err != nil {
			r.fail(CodeUnreadable, rel, 0, "cannot be read: %s", errText(err))
			acc.claim(rel)
			continue
		}
		if want := tsaChainName(data); want != rel {
			continue // not the writer's: checkInventory reports it
		}
		t, err := ParseTSATrust(data)
		if err != nil {
			continue
		}
		acc.keep(rel)
		if all == nil {
			all = &TSATrust{}
		}
		all.Roots = append(all.Roots, t.Roots...)
		all.Intermediates = append(all.Intermediates, t.Intermediates...)
	}
	return all
}
