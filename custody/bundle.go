package custody

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/gowebpki/jcs"
)

// BundleMediaType is the Sigstore bundle version every file of a case is written in.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// bundle is the JSON form of a Sigstore bundle v0.3 (protobuf-specs dev.sigstore.bundle.v1.Bundle),
// restricted to what a custody file uses: a public-key hint, optional RFC 3161 time-stamps, and either
// a DSSE envelope (records) or a message signature (checkpoints, manifests).
//
// Fields are declared in lexical order of their JSON names and every string is base64 or a plain ASCII
// identifier, so encoding/json writes exactly the RFC 8785 form: encode checks that it does, and
// parseBundle relies on it to check a file's form without a second parser.
type bundle struct {
	DSSEEnvelope         *envelope            `json:"dsseEnvelope,omitempty"`
	MediaType            string               `json:"mediaType"`
	MessageSignature     *messageSignature    `json:"messageSignature,omitempty"`
	VerificationMaterial verificationMaterial `json:"verificationMaterial"`
}

type verificationMaterial struct {
	PublicKey                 publicKeyIdentifier        `json:"publicKey"`
	TimestampVerificationData *timestampVerificationData `json:"timestampVerificationData,omitempty"`
}

type publicKeyIdentifier struct {
	Hint string `json:"hint"`
}

type timestampVerificationData struct {
	RFC3161Timestamps []rfc3161Timestamp `json:"rfc3161Timestamps"`
}

type rfc3161Timestamp struct {
	SignedTimestamp []byte `json:"signedTimestamp"`
}

type envelope struct {
	Payload     []byte        `json:"payload"`
	PayloadType string        `json:"payloadType"`
	Signatures  []envelopeSig `json:"signatures"`
}

type envelopeSig struct {
	KeyID string `json:"keyid,omitempty"`
	Sig   []byte `json:"sig"`
}

type messageSignature struct {
	MessageDigest messageDigest `json:"messageDigest"`
	Signature     []byte        `json:"signature"`
}

type messageDigest struct {
	Algorithm string `json:"algorithm"`
	Digest    []byte `json:"digest"`
}

// maxBundleSize bounds what is read of any bundle file: a record is a few KiB, and an oversized file is
// refused before it is parsed.
const maxBundleSize = 4 << 20

// encode writes the bundle's one canonical form: RFC 8785 JSON and a newline. Verifiers require files to
// be exactly in this form, so that no byte of a file can change without the change being seen.
func (b *bundle) encode() ([]byte, error) {
	out, err := b.marshal()
	if err != nil {
		return nil, err
	}
	canon, err := jcs.Transform(out[:len(out)-1])
	if err != nil {
		return nil, fmt.Errorf("canonicalizing bundle: %w", err)
	}
	if !bytes.Equal(canon, out[:len(out)-1]) {
		return nil, errors.New("bundle holds a value whose JSON encoding is not canonical")
	}
	return out, nil
}

// marshal is the JSON encoding and newline that encode checks against RFC 8785.
func (b *bundle) marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("encoding bundle: %w", err)
	}
	return buf.Bytes(), nil
}

// Errors a bundle file can fail to parse with.
var (
	errOversized    = errors.New("file is larger than any custody file can be")
	errNonCanonical = errors.New("file is not in canonical form (RFC 8785 JSON and one newline): its bytes were changed after it was written")
)

// parseBundle reads a bundle file strictly: bounded size, one JSON value with no unknown or duplicate
// members and names matched exactly, and the canonical encoding of what it holds. (The JSON v2 decoder
// is used for reading: it is strict where encoding/json is lenient, and twice as fast, which matters
// when a case of 100,000 records is verified.)
func parseBundle(data []byte) (*bundle, error) {
	if len(data) > maxBundleSize {
		return nil, errOversized
	}
	if len(data) == 0 {
		return nil, errors.New("file is empty")
	}
	if b, ok := parseRecordLayout(data); ok {
		return b, nil
	}
	return parseBundleJSON(data)
}

// parseBundleJSON is parseBundle for any form: decode, then require the canonical encoding.
func parseBundleJSON(data []byte) (*bundle, error) {
	var b bundle
	if err := jsonv2.Unmarshal(data, &b, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("not a bundle: %w", err)
	}
	if b.MediaType != BundleMediaType {
		return nil, fmt.Errorf("media type %q, want %q", b.MediaType, BundleMediaType)
	}
	if (b.DSSEEnvelope == nil) == (b.MessageSignature == nil) {
		return nil, errors.New("bundle must hold exactly one of dsseEnvelope and messageSignature")
	}
	again, err := b.marshal()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, data) {
		return nil, errNonCanonical
	}
	return &b, nil
}

// timestamps returns the RFC 3161 responses the bundle carries.
func (b *bundle) timestamps() [][]byte {
	if b.VerificationMaterial.TimestampVerificationData == nil {
		return nil
	}
	var out [][]byte
	for _, t := range b.VerificationMaterial.TimestampVerificationData.RFC3161Timestamps {
		out = append(out, t.SignedTimestamp)
	}
	return out
}

func withTimestamps(tsrs [][]byte) *timestampVerificationData {
	if len(tsrs) == 0 {
		return nil
	}
	d := &timestampVerificationData{}
	for _, t := range tsrs {
		d.RFC3161Timestamps = append(d.RFC3161Timestamps, rfc3161Timestamp{SignedTimestamp: t})
	}
	return d
}

// The exact bytes of a record bundle as the ledger writes it without time-stamps, around its three
// base64 values: the payload, the signature and the key hint.
const (
	recordLayoutHead = `{"dsseEnvelope":{"payload":"`
	recordLayoutSig  = `","payloadType":"` + PayloadType + `","signatures":[{"sig":"`
	recordLayoutHint = `"}]},"mediaType":"` + BundleMediaType + `","verificationMaterial":{"publicKey":{"hint":"`
	recordLayoutTail = `"}}}` + "\n"
)

// parseRecordLayout reads a record bundle in the one form the ledger writes it, when it is in that
// form: the verifier's fast path, which avoids decoding and re-encoding the JSON of every record of
// a large case. It accepts exactly the bytes the canonical encoder would write for the values it finds
// (strict base64, which re-encodes to the same text, between fixed text), so it agrees with the full
// parse wherever it answers; for anything else (time-stamps, a key ID, any other byte) it reports
// false and the full parse decides.
func parseRecordLayout(data []byte) (*bundle, bool) {
	parts, _, ok := readRecordLayout(data, nil)
	if !ok {
		return nil, false
	}
	return &bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: verificationMaterial{PublicKey: publicKeyIdentifier{Hint: string(parts.hint)}},
		DSSEEnvelope:         &envelope{Payload: parts.payload, PayloadType: PayloadType, Signatures: []envelopeSig{{Sig: parts.sig}}},
	}, true
}

// recordParts are the values of a record bundle in the ledger's own form (see parseRecordLayout): its
// payload type is PayloadType, its one signature has no key ID, and it holds no time-stamps.
type recordParts struct {
	payload, sig []byte // decoded
	hint         []byte // the key hint, as it is in the file
}

// readRecordLayout is parseRecordLayout decoding into buf's storage (returned, grown as needed), for
// a reader that goes through many records: nothing it returns is its own copy.
func readRecordLayout(data, buf []byte) (recordParts, []byte, bool) {
	rest, ok := bytes.CutPrefix(data, []byte(recordLayoutHead))
	if !ok {
		return recordParts{}, buf, false
	}
	payloadText, rest, ok := cutBase64(rest, recordLayoutSig)
	if !ok {
		return recordParts{}, buf, false
	}
	sigText, rest, ok := cutBase64(rest, recordLayoutHint)
	if !ok {
		return recordParts{}, buf, false
	}
	hint, ok := bytes.CutSuffix(rest, []byte(recordLayoutTail))
	if !ok || !canonicalBase64(hint) {
		return recordParts{}, buf, false
	}
	enc := base64.StdEncoding.Strict()
	np, ns := enc.DecodedLen(len(payloadText)), enc.DecodedLen(len(sigText))
	buf = slices.Grow(buf[:0], np+ns)[:np+ns]
	n, err := enc.Decode(buf, payloadText)
	if err != nil {
		return recordParts{}, buf, false
	}
	m, err := enc.Decode(buf[n:], sigText)
	if err != nil {
		return recordParts{}, buf, false
	}
	return recordParts{payload: buf[:n:n], sig: buf[n : n+m : n+m], hint: hint}, buf, true
}

// cutBase64 returns the text before sep in data, when it is base64 as the standard encoder writes it
// (see canonicalBase64), and what follows sep.
func cutBase64(data []byte, sep string) ([]byte, []byte, bool) {
	i := bytes.IndexByte(data, '"')
	if i < 0 || !bytes.HasPrefix(data[i:], []byte(sep)) {
		return nil, nil, false
	}
	text := data[:i]
	// The strict decoder refuses every byte outside the alphabet and misplaced padding, but skips line
	// breaks: those are refused here, with the length the encoder's padding gives.
	if len(text)%4 != 0 || bytes.IndexByte(text, '\n') >= 0 || bytes.IndexByte(text, '\r') >= 0 {
		return nil, nil, false
	}
	return text, data[i+len(sep):], true
}

// canonicalBase64 reports whether text holds only what standard base64 writes: its alphabet and
// padding, a multiple of four characters, and no line breaks (which a decoder would skip).
func canonicalBase64(text []byte) bool {
	if len(text)%4 != 0 {
		return false
	}
	for _, c := range text {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}
