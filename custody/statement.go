package custody

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/gowebpki/jcs"
)

// The formats a record is made of. PredicateType names this package's predicate, version 1: a verifier
// refuses any other, so that a future version is never read with the wrong rules.
const (
	StatementType = "https://in-toto.io/Statement/v1"
	PayloadType   = "application/vnd.in-toto+json"
	PredicateType = "https://github.com/acquire-forensics/acquire/custody/v1"
)

// GenesisPrev is the prev value of the first record of every case.
const GenesisPrev = "0000000000000000000000000000000000000000000000000000000000000000"

// TimeFormat is how every time in a record is written: RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Statement is an in-toto Statement v1 whose predicate is a custody event.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Event     `json:"predicate"`
}

// Subject is an in-toto ResourceDescriptor naming a piece of evidence or a captured artifact.
type Subject struct {
	Name        string            `json:"name"`
	Digest      map[string]string `json:"digest"`
	URI         string            `json:"uri,omitempty"`
	MediaType   string            `json:"mediaType,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Subject kinds, in the annotation "kind". An artifact's name is its path inside the case directory.
const (
	KindArtifact = "artifact"
	KindEvidence = "evidence"
	KindCase     = "case"
)

// Kind reports the subject's kind annotation.
func (s Subject) Kind() string { return s.Annotations["kind"] }

// clone is a copy of s that shares no memory with it (a subject read by parseStatementLayout shares
// its payload's).
func (s Subject) clone() Subject {
	c := Subject{Name: strings.Clone(s.Name), URI: strings.Clone(s.URI), MediaType: strings.Clone(s.MediaType)}
	c.Digest, c.Annotations = cloneStrings(s.Digest), cloneStrings(s.Annotations)
	return c
}

func cloneStrings(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.Clone(k)] = strings.Clone(v)
	}
	return out
}

// Event is the custody predicate: one thing that happened to the evidence of a case.
type Event struct {
	Seq          uint64         `json:"seq"`
	Prev         string         `json:"prev"`
	CaseID       string         `json:"caseId"`
	Action       string         `json:"action"`
	Phase        string         `json:"phase,omitempty"`
	Step         string         `json:"step,omitempty"`
	Token        string         `json:"idempotencyToken,omitempty"`
	Time         string         `json:"time"`
	ProviderTime string         `json:"providerTime,omitempty"`
	Actor        Actor          `json:"actor"`
	Tool         Tool           `json:"tool"`
	Provider     *Provider      `json:"provider,omitempty"`
	Authority    *Authority     `json:"authority,omitempty"`
	Result       Result         `json:"result"`
	Note         string         `json:"note,omitempty"`
	Details      map[string]any `json:"details,omitempty"`
	Signer       SignerInfo     `json:"signer"`
}

// Phases of an engine step: the intent is written before the cloud call, the result after it.
const (
	PhaseIntent = "intent"
	PhaseResult = "result"
)

// Actor says who acted: the cloud principal the call ran as, and the person who ran the tool.
type Actor struct {
	Principal string `json:"principal,omitempty"`
	Operator  string `json:"operator"`
	Host      string `json:"host,omitempty"`
}

// Tool identifies the software that wrote the record.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
}

// Provider holds the cloud's own identifiers for what the event touched.
type Provider struct {
	Cloud      string     `json:"cloud"`
	Account    string     `json:"account,omitempty"`
	Region     string     `json:"region,omitempty"`
	Zone       string     `json:"zone,omitempty"`
	Resources  []Resource `json:"resources,omitempty"`
	RequestIDs []string   `json:"requestIds,omitempty"`
}

// Resource is one cloud resource by kind ("instance", "volume", "snapshot", "kms-key", ...) and native ID.
type Resource struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Authority records why the action was allowed.
type Authority struct {
	Ticket        string `json:"ticket,omitempty"`
	Justification string `json:"justification,omitempty"`
	Approver      string `json:"approver,omitempty"`
}

// Result of the event. Status is one of the Status* constants; Code is a stable error code when it failed.
type Result struct {
	Status  string `json:"status"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Result statuses.
const (
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusAborted = "aborted"
)

// SignerInfo names the key that signed the record: its hint (base64 SHA-256 of the SPKI DER, the same
// value as the bundle's public-key hint) and a reference to where it lives (a KMS URI, or "file").
type SignerInfo struct {
	KeyID  string `json:"keyId"`
	KeyRef string `json:"keyRef"`
}

// encodeStatement produces the exact payload bytes of a record: RFC 8785 canonical JSON.
func encodeStatement(st *Statement) ([]byte, error) {
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding statement: %w", err)
	}
	out, err := jcs.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("canonicalizing statement: %w", err)
	}
	return out, nil
}

// decodeStatement parses payload bytes strictly: unknown or duplicate members are refused and names
// match exactly, so that nothing in a record escapes the verifier's reading of it. A payload in the
// ledger's own form takes the fast path (parseStatementLayout), which reads it the same way.
func decodeStatement(payload []byte) (*Statement, error) {
	return decodeStatementWith(payload, nil)
}

// decodeStatementWith is decodeStatement reusing sc's storage for the fast path when sc is not nil.
func decodeStatementWith(payload []byte, sc *statementScratch) (*Statement, error) {
	if st, ok := parseStatementLayoutWith(payload, sc); ok {
		return st, nil
	}
	return decodeStatementJSON(payload)
}

// decodeStatementJSON is decodeStatement for any form: the full JSON decoder.
func decodeStatementJSON(payload []byte) (*Statement, error) {
	var st Statement
	if err := jsonv2.Unmarshal(payload, &st, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, err
	}
	return &st, nil
}

// PayloadDigest is the hex SHA-256 of payload bytes, the value the next record's prev holds.
func PayloadDigest(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

// FormatTime writes t the way records do.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// CaseSubject is the subject of a record that names no evidence: the case itself, by the SHA-256 of its ID.
func CaseSubject(caseID string) Subject {
	sum := sha256.Sum256([]byte(caseID))
	return Subject{
		Name:        "case:" + caseID,
		Digest:      map[string]string{"sha256": hex.EncodeToString(sum[:])},
		Annotations: map[string]string{"kind": KindCase},
	}
}
