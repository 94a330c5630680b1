package custody

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// File layout of a case directory.
const (
	PublicKeyFile  = "custody.pub"
	RecordsDir     = "records"
	ArtifactsDir   = "artifacts"
	CheckpointsDir = "checkpoints"
	ManifestsDir   = "manifests"
	TSADir         = "tsa"
)

// RecordPath is the path of record seq inside a case directory.
func RecordPath(seq uint64) string {
	return filepath.Join(RecordsDir, fmt.Sprintf("%010d.sigstore.json", seq))
}

var caseIDRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// recordSeq reads a record file's name: ten digits, then ".sigstore.json". (By hand rather than by a
// regular expression: the verifier reads every name of a large case.)
func recordSeq(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ".sigstore.json")
	if !ok || len(digits) != 10 {
		return 0, false
	}
	for i := range len(digits) {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

// The actions the ledger itself writes.
const (
	ActionOpen = "case.open"
	ActionSeal = "case.seal"
)

// ErrNotACase is returned when a directory holds no case.
var ErrNotACase = errors.New("not a custody case")

// ErrArtifactExists is returned when an artifact name is taken by other content: artifacts are never
// overwritten.
var ErrArtifactExists = errors.New("already exists with other content")

// Options configure a ledger. Signer and Operator are required.
type Options struct {
	Signer    *Signer             // signs every record, checkpoint and manifest
	Operator  string              // the person running the tool, recorded as the actor
	Tool      Tool                // the software writing the records
	Authority *Authority          // recorded on every record that gives none of its own
	TSA       *TimestampAuthority // when set, every signature is RFC 3161 time-stamped
	Now       func() time.Time    // the clock; time.Now when nil
	Logger    *slog.Logger        // silent when nil
}

func (o *Options) check() error {
	if o.Signer == nil {
		return errors.New("a custody signing key is required")
	}
	if o.Operator == "" {
		return errors.New("the operator (who is running this) is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tool.Name == "" {
		o.Tool.Name = "acquire"
	}
	return nil
}

// Ledger appends signed records to one case. It holds the case's lock from Create or Open until Close;
// its methods are safe for concurrent use, and appends are serialized so that seq and prev stay whole.
type Ledger struct {
	dir    string
	root   *caseRoot
	opts   Options
	lock   *caseLock
	host   string
	caseID string
	nonce  string // random, made when the case was created: see Nonce

	mu           sync.Mutex
	seq          uint64     // last record written
	prev         string     // PayloadDigest of that record
	tree         *merkleLog // the Merkle tree of the records, kept current
	tiled        int64      // the tree size the cached tiles are written for
	covered      int64      // the size of the latest checkpoint
	recordsIdent string     // the records directory as this ledger last saw it (cacheState)
	wrote        bool       // records were appended since the case was opened
	broken       error      // set when a write may have half-happened: the ledger refuses further work
}

// Record is a record as written or read back.
type Record struct {
	Seq       uint64
	Path      string // relative to the case directory
	Payload   []byte
	Statement *Statement
}

// ValidCaseID reports whether id can name a case: 1 to 128 letters, digits, '.', '_' or '-', starting
// with a letter or digit.
func ValidCaseID(id string) error {
	if !caseIDRule.MatchString(id) {
		return fmt.Errorf("case ID %q: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}

// Create makes a new case in dir (which must not exist or be empty), writes its public key and the
// opening record, and returns the ledger holding the case's lock.
func Create(ctx context.Context, dir, caseID string, opts Options) (*Ledger, error) {
	if err := ValidCaseID(caseID); err != nil {
		return nil, err
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating case directory: %w", err)
	}
	l, err := openLedger(dir, opts)
	if err != nil {
		return nil, err
	}
	nonce, err := newNonce()
	if err != nil {
		l.Close()
		return nil, err
	}
	l.caseID, l.nonce, l.prev, l.tree = caseID, nonce, GenesisPrev, &merkleLog{}
	if err := l.create(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// openLedger takes the case's lock and opens its directory.
func openLedger(dir string, opts Options) (*Ledger, error) {
	lock, err := lockCase(dir, currentHolder(opts.Operator))
	if err != nil {
		return nil, err
	}
	root, err := openCaseRoot(dir)
	if err != nil {
		_ = lock.release()
		return nil, err
	}
	l := &Ledger{dir: dir, root: root, opts: opts, lock: lock}
	l.host, _ = os.Hostname()
	return l, nil
}

func (l *Ledger) create(ctx context.Context) error {
	entries, err := l.root.readDir(".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.rel != lockFile {
			return fmt.Errorf("%s already holds files (%s): %w; open the existing case, or choose an empty directory", l.dir, e.rel, fs.ErrExist)
		}
	}
	for _, d := range []string{RecordsDir, ArtifactsDir, CheckpointsDir, ManifestsDir} {
		if err := l.root.mkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating case directory: %w", err)
		}
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(l.opts.Signer.PublicKey())
	if err != nil {
		return err
	}
	if err := l.root.writeNew(PublicKeyFile, pubPEM, 0o444); err != nil {
		return err
	}
	_, err = l.Append(ctx, Entry{Action: ActionOpen, Note: "case opened", Details: map[string]any{nonceDetail: l.nonce}})
	return err
}

// Open opens an existing case for appending. The signer must be the key the case is bound to, and the
// history it extends must be what that key signed (loadHistory says what is checked); otherwise Open
// fails with ErrTamperedHistory.
func Open(ctx context.Context, dir string, opts Options) (*Ledger, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(filepath.Join(dir, PublicKeyFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w (no %s)", dir, ErrNotACase, PublicKeyFile)
		}
		return nil, err
	}
	l, err := openLedger(dir, opts)
	if err != nil {
		return nil, err
	}
	if err := l.load(ctx); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.completeInterruptedSeal(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// completeInterruptedSeal finishes a seal whose writer stopped after its record and before its signed
// manifest: records appended after it would leave a seal that never vouched for anything in the
// middle of the history, which verification rightly reports.
func (l *Ledger) completeInterruptedSeal(ctx context.Context) error {
	if l.seq == 0 {
		return nil
	}
	if ok, err := l.root.exists(filepath.ToSlash(ManifestPath(l.seq)) + ".sigstore.json"); err != nil || ok {
		return err
	}
	rec, _, err := readRecordFile(l.root, l.seq)
	if err != nil {
		return err
	}
	if rec.Statement.Predicate.Action != ActionSeal {
		return nil
	}
	if _, err := l.Seal(ctx, ""); err != nil {
		return fmt.Errorf("completing the seal of record %d, interrupted: %w", l.seq, err)
	}
	return nil
}

// load reads the case's key and checks the history the ledger will extend.
func (l *Ledger) load(ctx context.Context) error {
	pubPEM, err := l.root.readFile(PublicKeyFile, maxBundleSize, nil)
	if err != nil {
		return unreadable(l.dir, PublicKeyFile, err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", PublicKeyFile, err)
	}
	v, err := NewVerifier(pub)
	if err != nil {
		return fmt.Errorf("%s: %w", PublicKeyFile, err)
	}
	if v.KeyID() != l.opts.Signer.KeyID() {
		return fmt.Errorf("case %s is bound to key %s, and the key given is %s: sign with the case's key", l.dir, v.KeyID(), l.opts.Signer.KeyID())
	}
	return l.loadHistory(ctx, v)
}

// Close leaves the cache state for the next writer and releases the case's lock.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken == nil && l.seq > 0 && l.root != nil {
		if l.wrote && l.seq-uint64(l.covered) >= autoCheckpoint {
			if _, err := l.checkpointLocked(context.Background()); err != nil {
				l.opts.Logger.Warn("custody: the closing checkpoint could not be written", "case_id", l.caseID, "error", err)
			}
		}
		l.saveCacheState()
	}
	err := l.lock.release()
	l.root.Close()
	return err
}

// autoCheckpoint is how many records a writer leaves uncovered by a checkpoint before it writes one
// as it closes the case: the next writer checks each uncovered record's signature, so that opening a
// case stays cheap however it was written.
const autoCheckpoint = 1024

// saveCacheState records how the ledger leaves the records, so that the next writer need not list
// them. It is only a hint, checked when used: failing to write it costs only time.
func (l *Ledger) saveCacheState() {
	ident := l.recordsIdent
	if l.wrote || ident == "" {
		var err error
		if ident, err = recordsDirIdentity(l.root); err != nil {
			return
		}
	}
	if st, ok := readCacheState(l.root); ok && st == (cacheState{Records: l.seq, Tiles: l.tiled, RecordsDir: ident}) {
		return
	}
	if err := writeCacheState(l.root, cacheState{Records: l.seq, Tiles: l.tiled, RecordsDir: ident}); err != nil {
		l.opts.Logger.Debug("custody: the cache state could not be written", "case_id", l.caseID, "error", err)
	}
}

// Dir is the case directory.
func (l *Ledger) Dir() string { return l.dir }

// CaseID is the case's identifier.
func (l *Ledger) CaseID() string { return l.caseID }

// Operator is the person the records name as acting.
func (l *Ledger) Operator() string { return l.opts.Operator }

// Signer is the key the ledger signs with.
func (l *Ledger) Signer() *Signer { return l.opts.Signer }

// Len is the number of records in the case.
func (l *Ledger) Len() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// Entry is what a caller says about an event; the ledger adds the chain, the time, the tool, the
// operator and the signer.
type Entry struct {
	Action       string
	Phase        string // PhaseIntent or PhaseResult for engine steps; empty for single events
	Step         string // links an intent to its result
	Token        string // the idempotency token the step uses with the cloud
	ProviderTime time.Time
	Principal    string // the cloud principal the action ran as
	Provider     *Provider
	Authority    *Authority // the ledger's default when nil
	Result       Result     // ok when zero
	Subjects     []Subject  // the case itself when empty
	Note         string
	Details      map[string]any
}

// Append signs e as the next record and writes it durably.
func (l *Ledger) Append(ctx context.Context, e Entry) (Record, error) {
	if e.Action == "" {
		return Record{}, errors.New("a custody record needs an action")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendLocked(ctx, e)
}

func (l *Ledger) appendLocked(ctx context.Context, e Entry) (Record, error) {
	if l.broken != nil {
		return Record{}, fmt.Errorf("ledger stopped after an earlier failed write (%w): reopen the case", l.broken)
	}
	st := l.statement(e)
	payload, err := encodeStatement(st)
	if err != nil {
		return Record{}, err
	}
	data, err := l.signPayload(ctx, payload)
	if err != nil {
		return Record{}, err
	}
	rel := RecordPath(st.Predicate.Seq)
	if err := l.root.writeNew(recordRel(st.Predicate.Seq), data, 0o444); err != nil {
		l.broken = err
		return Record{}, err
	}
	l.seq = st.Predicate.Seq
	l.prev = PayloadDigest(payload)
	l.wrote = true
	if err := l.tree.add(payload); err != nil {
		l.broken = err
		return Record{}, err
	}
	l.opts.Logger.Debug("custody record written", "case_id", l.caseID, "seq", l.seq, "action", e.Action)
	return Record{Seq: l.seq, Path: rel, Payload: payload, Statement: st}, nil
}

func (l *Ledger) statement(e Entry) *Statement {
	ev := Event{
		Seq:       l.seq + 1,
		Prev:      l.prev,
		CaseID:    l.caseID,
		Action:    e.Action,
		Phase:     e.Phase,
		Step:      e.Step,
		Token:     e.Token,
		Time:      FormatTime(l.opts.Now()),
		Actor:     Actor{Principal: e.Principal, Operator: l.opts.Operator, Host: l.host},
		Tool:      l.opts.Tool,
		Provider:  e.Provider,
		Authority: e.Authority,
		Result:    e.Result,
		Note:      e.Note,
		Details:   e.Details,
		Signer:    l.opts.Signer.info(),
	}
	if !e.ProviderTime.IsZero() {
		ev.ProviderTime = FormatTime(e.ProviderTime)
	}
	if ev.Authority == nil {
		ev.Authority = l.opts.Authority
	}
	if ev.Result.Status == "" {
		ev.Result.Status = StatusOK
	}
	subjects := e.Subjects
	if len(subjects) == 0 {
		subjects = []Subject{CaseSubject(l.caseID)}
	}
	return &Statement{Type: StatementType, Subject: subjects, PredicateType: PredicateType, Predicate: ev}
}

// signPayload signs the DSSE pre-authentication encoding of payload and returns the bundle file.
func (l *Ledger) signPayload(ctx context.Context, payload []byte) ([]byte, error) {
	sig, err := l.opts.Signer.sign(ctx, dsse.PAE(PayloadType, payload))
	if err != nil {
		return nil, err
	}
	tsrs, err := l.timestamp(ctx, sig)
	if err != nil {
		return nil, err
	}
	b := bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: verificationMaterial{
			PublicKey:                 publicKeyIdentifier{Hint: l.opts.Signer.KeyID()},
			TimestampVerificationData: withTimestamps(tsrs),
		},
		DSSEEnvelope: &envelope{
			Payload:     payload,
			PayloadType: PayloadType,
			Signatures:  []envelopeSig{{Sig: sig}}, // no keyid: cosign matches keyids by its own scheme; the hint names the key
		},
	}
	return b.encode()
}

// signFile signs a whole file (checkpoint, manifest) and returns its bundle.
func (l *Ledger) signFile(ctx context.Context, data []byte) ([]byte, error) {
	sig, err := l.opts.Signer.sign(ctx, data)
	if err != nil {
		return nil, err
	}
	tsrs, err := l.timestamp(ctx, sig)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	b := bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: verificationMaterial{
			PublicKey:                 publicKeyIdentifier{Hint: l.opts.Signer.KeyID()},
			TimestampVerificationData: withTimestamps(tsrs),
		},
		MessageSignature: &messageSignature{
			MessageDigest: messageDigest{Algorithm: "SHA2_256", Digest: sum[:]},
			Signature:     sig,
		},
	}
	return b.encode()
}

func (l *Ledger) timestamp(ctx context.Context, sig []byte) ([][]byte, error) {
	if l.opts.TSA == nil {
		return nil, nil
	}
	if err := l.keepTSAChain(); err != nil {
		return nil, err
	}
	tsr, err := l.opts.TSA.Timestamp(ctx, sig)
	if err != nil {
		return nil, err
	}
	return [][]byte{tsr}, nil
}

// keepTSAChain stores the TSA's certificates in the case, once, so that they travel with the
// time-stamps that need them.
func (l *Ledger) keepTSAChain() error {
	pemBytes := l.opts.TSA.trust.PEM
	rel := tsaChainName(pemBytes)
	if ok, err := l.root.exists(rel); err != nil || ok {
		return err
	}
	if err := l.root.mkdirAll(TSADir, 0o755); err != nil {
		return err
	}
	return l.root.writeNew(rel, pemBytes, 0o444)
}

// AddArtifact stores captured data (an instance description, a policy, ...) under artifacts/name and
// returns the subject a record cites it by. Storing the same content twice is a no-op; different content
// under an existing name is refused.
func (l *Ledger) AddArtifact(name string, data []byte, mediaType string) (Subject, error) {
	if err := validArtifactName(name); err != nil {
		return Subject{}, err
	}
	rel := ArtifactsDir + "/" + name
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	subject := Subject{
		Name:        rel,
		Digest:      map[string]string{"sha256": digest},
		MediaType:   mediaType,
		Annotations: map[string]string{"kind": KindArtifact, "size": fmt.Sprint(len(data))},
	}
	old, err := l.root.hashFile(rel)
	switch {
	case err == nil && old.SHA256 == digest:
		return subject, nil
	case err == nil:
		return Subject{}, fmt.Errorf("artifact %s: %w", rel, ErrArtifactExists)
	case !errors.Is(err, fs.ErrNotExist):
		return Subject{}, fmt.Errorf("artifact %s: %w", rel, err)
	}
	if err := l.root.mkdirAll(path.Dir(rel), 0o755); err != nil {
		return Subject{}, err
	}
	if err := l.root.writeNew(rel, data, 0o444); err != nil {
		return Subject{}, err
	}
	return subject, nil
}

var artifactNameRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)

func validArtifactName(name string) error {
	if len(name) > 200 || !artifactNameRule.MatchString(name) {
		return fmt.Errorf("artifact name %q: use letters, digits, '.', '_', '-' and '/' between path elements", name)
	}
	return nil
}
