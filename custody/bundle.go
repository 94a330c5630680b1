package custody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

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
