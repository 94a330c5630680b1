// Package custodytest gives tests elsewhere what they need of custody: a signing key made on the spot.
package custodytest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/acquire-forensics/acquire/custody"
)

// NewSigner makes an in-memory ECDSA P-256 custody key, and the verifier that trusts it.
func NewSigner(t testing.TB) (*custody.Signer, *custody.Verifier) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := custody.NewSigner(context.Background(), sv, "file")
	if err != nil {
		t.Fatal(err)
	}
	v, err := custody.NewVerifier(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}
