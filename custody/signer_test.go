package custody

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/kms/fake"
)

func password(p string) PassFunc { return cryptoutils.StaticPasswordFunc([]byte(p)) }

func TestKeygenAndLoad(t *testing.T) {
	ctx := context.Background()
	prefix := filepath.Join(t.TempDir(), "custody")
	files, err := GenerateKeyFiles(prefix, password("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(files.Private)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st.Mode(), err)
	}
	pemBytes, _ := os.ReadFile(files.Private)
	if !strings.Contains(string(pemBytes), "ENCRYPTED SIGSTORE PRIVATE KEY") {
		t.Errorf("private key is not in cosign's encrypted format:\n%s", pemBytes)
	}
	s, err := LoadSigner(ctx, files.Private, password("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := LoadVerifier(ctx, files.Public)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != v.KeyID() || s.KeyID() != files.KeyID {
		t.Errorf("key IDs differ: signer %s verifier %s keygen %s", s.KeyID(), v.KeyID(), files.KeyID)
	}
	sig, err := s.sign(ctx, []byte("msg"))
	if err != nil || v.verify([]byte("msg"), sig) != nil {
		t.Fatalf("sign/verify round trip: %v", err)
	}
	if _, err := GenerateKeyFiles(prefix, password("x")); !errors.Is(err, os.ErrExist) {
		t.Errorf("keygen over an existing key: %v", err)
	}
}

func TestKeyLoadErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files, err := GenerateKeyFiles(filepath.Join(dir, "k"), password("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(ctx, files.Private, password("wrong")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := LoadSigner(ctx, filepath.Join(dir, "missing.key"), password("pw")); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("missing key: %v", err)
	}
	if err := os.Chmod(files.Private, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(ctx, files.Private, password("pw")); !errors.Is(err, ErrKeyPermissions) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
	if os.Getuid() != 0 { // root reads anything
		if err := os.Chmod(files.Private, 0o000); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSigner(ctx, files.Private, password("pw")); err == nil {
			t.Error("unreadable key loaded")
		}
	}
	garbage := filepath.Join(dir, "garbage.key")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(ctx, garbage, password("pw")); !errors.Is(err, ErrMalformedKey) || !strings.Contains(err.Error(), "no PEM private key") {
		t.Errorf("garbage key: %v", err)
	}
	// A file that is no key at all is refused as such, whatever its mode.
	if _, err := LoadSigner(ctx, "/etc/passwd", password("pw")); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("/etc/passwd as a private key: %v", err)
	}
	if _, err := LoadVerifier(ctx, "/etc/passwd"); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("/etc/passwd as a public key: %v", err)
	}
	if _, err := LoadSigner(ctx, dir, password("pw")); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("a directory as a private key: %v", err)
	}
	if _, err := LoadSigner(ctx, "nosuchkms://key/1", nil); !errors.Is(err, ErrUnknownScheme) {
		t.Errorf("unknown scheme: %v", err)
	}
	if _, err := LoadVerifier(ctx, "nosuchkms://key/1"); !errors.Is(err, ErrUnknownScheme) {
		t.Errorf("unknown scheme (verifier): %v", err)
	}
}

func TestP384KeyIsRefused(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := NewVerifier(priv.Public()); !errors.Is(err, ErrKeyAlgorithm) {
		t.Errorf("P-384 key: %v", err)
	}
}

// TestKMSSigner signs a case through the sigstore KMS provider interface (the in-memory fakekms://
// provider) and verifies it with the key fetched by URI.
func TestKMSSigner(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ctx := context.WithValue(context.Background(), fake.KmsCtxKey{}, priv)
	s, err := LoadSigner(ctx, "fakekms://custody", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "case")
	l, err := Create(ctx, dir, "IR-KMS", testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(ctx, ""); err != nil {
		t.Fatal(err)
	}
	l.Close()
	recs, _ := ReadRecords(dir)
	if got := recs[0].Statement.Predicate.Signer.KeyRef; got != "fakekms://custody" {
		t.Errorf("record names key %q", got)
	}
	v, err := LoadVerifier(ctx, "fakekms://custody")
	if err != nil {
		t.Fatal(err)
	}
	if r := verifyCase(t, dir, v); !r.OK() {
		t.Fatalf("KMS-signed case: %v", r.Problems)
	}
}

// TestDSSEInterop checks the verifier's in-place PAE hashing against the DSSE libraries: sigstore's
// DSSE verifier accepts the envelopes the ledger writes, and verifyDSSE accepts exactly what they sign.
func TestDSSEInterop(t *testing.T) {
	s := testSigner(t)
	v := testVerifier(t, s)
	dir := newCase(t, s, 1, false)
	data, err := os.ReadFile(filepath.Join(dir, RecordPath(2)))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := parseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := json.Marshal(map[string]any{"payloadType": b.DSSEEnvelope.PayloadType, "payload": b.DSSEEnvelope.Payload,
		"signatures": []map[string]any{{"sig": b.DSSEEnvelope.Signatures[0].Sig}}})
	if err := dsse.WrapVerifier(v.v).VerifySignature(bytes.NewReader(env), nil); err != nil {
		t.Fatalf("sigstore's DSSE verifier rejects a record: %v", err)
	}
	if err := v.verifyDSSE(b.DSSEEnvelope.PayloadType, b.DSSEEnvelope.Payload, b.DSSEEnvelope.Signatures[0].Sig); err != nil {
		t.Fatal(err)
	}
	if err := v.verifyDSSE("application/json", b.DSSEEnvelope.Payload, b.DSSEEnvelope.Signatures[0].Sig); err == nil {
		t.Fatal("verifyDSSE ignores the payload type")
	}
	// And what sigstore's DSSE signer signs, verifyDSSE accepts.
	signed, err := dsse.WrapSigner(s.sv, PayloadType).SignMessage(bytes.NewReader([]byte(`{"x":1}`)))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Signatures []struct{ Sig []byte } `json:"signatures"`
	}
	if err := json.Unmarshal(signed, &e); err != nil {
		t.Fatal(err)
	}
	if err := v.verifyDSSE(PayloadType, []byte(`{"x":1}`), e.Signatures[0].Sig); err != nil {
		t.Fatalf("verifyDSSE rejects sigstore's DSSE signature: %v", err)
	}
}
