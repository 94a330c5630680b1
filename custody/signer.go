package custody

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// PassFunc returns the password of an encrypted private key (confirm asks twice, for a new key).
type PassFunc = cryptoutils.PassFunc

// Errors callers map to their own messages and exit codes.
var (
	ErrWrongPassword  = errors.New("wrong password, or the key file is damaged")
	ErrKeyNotFound    = errors.New("key not found")
	ErrKeyPermissions = errors.New("private key file is readable by other users")
	ErrUnknownScheme  = errors.New("unknown key scheme")
	ErrKeyAlgorithm   = errors.New("custody keys must be ECDSA P-256")
	ErrMalformedKey   = errors.New("not a key file")
)

// Signer signs custody files with one ECDSA P-256 key, local or in a KMS.
type Signer struct {
	sv     signature.SignerVerifier
	pub    *ecdsa.PublicKey
	keyID  string
	keyRef string
}

// NewSigner wraps a sigstore signer. keyRef says where the key lives, for the record ("file", a KMS URI).
func NewSigner(ctx context.Context, sv signature.SignerVerifier, keyRef string) (*Signer, error) {
	pub, err := sv.PublicKey(options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading the signing key's public key: %w", err)
	}
	ec, err := p256(pub)
	if err != nil {
		return nil, err
	}
	id, err := KeyID(ec)
	if err != nil {
		return nil, err
	}
	return &Signer{sv: sv, pub: ec, keyID: id, keyRef: keyRef}, nil
}

// LoadSigner opens the key named by ref: a KMS URI (awskms://, gcpkms://, azurekms://, hashivault://,
// for the providers the program registered) or the path of a private key file in the format cosign
// writes. pass is asked for the password of an encrypted file.
func LoadSigner(ctx context.Context, ref string, pass PassFunc) (*Signer, error) {
	if sv, ok, err := openKMS(ctx, ref); ok {
		if err != nil {
			return nil, err
		}
		return NewSigner(ctx, sv, ref)
	}
	priv, err := loadPrivateKeyFile(ref, pass)
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadSignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", ref, err)
	}
	return NewSigner(ctx, sv, "file")
}

func loadPrivateKeyFile(path string, pass PassFunc) (crypto.PrivateKey, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("private key %s: %w (create one with `acquire keygen`)", path, ErrKeyNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("private key %s: %w (it is a directory or a device): give the .key file `acquire keygen` wrote", path, ErrMalformedKey)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, fmt.Errorf("private key %s: %w (no PEM private key in it): give the .key file `acquire keygen` wrote, or a KMS URI", path, ErrMalformedKey)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("private key %s has mode %04o: %w (run `chmod 600 %s`)", path, st.Mode().Perm(), ErrKeyPermissions, path)
	}
	if pass == nil {
		pass = cryptoutils.SkipPassword
	}
	var passErr error // a password that could not be had is not a wrong password
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(data, func(confirm bool) ([]byte, error) {
		pw, err := pass(confirm)
		passErr = err
		return pw, err
	})
	if err != nil {
		if passErr != nil {
			return nil, fmt.Errorf("private key %s: %w", path, passErr)
		}
		if strings.HasPrefix(block.Type, "ENCRYPTED") {
			return nil, fmt.Errorf("private key %s: %w", path, ErrWrongPassword)
		}
		return nil, fmt.Errorf("private key %s: %w (%v)", path, ErrMalformedKey, err)
	}
	return priv, nil
}

// KeyID returns the key hint of a public key: base64 SHA-256 of its SPKI DER, as cosign writes it.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// KeyID is the signer's key hint.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKey is the signer's public key.
func (s *Signer) PublicKey() *ecdsa.PublicKey { return s.pub }

func (s *Signer) info() SignerInfo { return SignerInfo{KeyID: s.keyID, KeyRef: s.keyRef} }

// sign returns an ASN.1 DER ECDSA signature over SHA-256 of msg.
func (s *Signer) sign(ctx context.Context, msg []byte) ([]byte, error) {
	sig, err := s.sv.SignMessage(bytes.NewReader(msg), options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("signing with %s: %w", s.keyRef, err)
	}
	return sig, nil
}

// Verifier checks signatures against one trusted ECDSA P-256 public key.
type Verifier struct {
	v     signature.Verifier
	pub   *ecdsa.PublicKey
	keyID string
}

// NewVerifier trusts pub.
func NewVerifier(pub crypto.PublicKey) (*Verifier, error) {
	ec, err := p256(pub)
	if err != nil {
		return nil, err
	}
	v, err := signature.LoadECDSAVerifier(ec, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	id, err := KeyID(ec)
	if err != nil {
		return nil, err
	}
	return &Verifier{v: v, pub: ec, keyID: id}, nil
}

// LoadVerifier trusts the key named by ref: a public key PEM file or a KMS URI.
func LoadVerifier(ctx context.Context, ref string) (*Verifier, error) {
	if sv, ok, err := openKMS(ctx, ref); ok {
		if err != nil {
			return nil, err
		}
		pub, err := sv.PublicKey(options.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("reading public key of %s: %w", ref, err)
		}
		return NewVerifier(pub)
	}
	data, err := os.ReadFile(ref)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("public key %s: %w", ref, ErrKeyNotFound)
	}
	if errors.Is(err, syscall.EISDIR) {
		return nil, fmt.Errorf("public key %s: %w (it is a directory): give the .pub file", ref, ErrMalformedKey)
	}
	if err != nil {
		return nil, fmt.Errorf("reading public key %s: %w", ref, err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w (no PEM public key in it): give the custody .pub file, or a KMS URI", ref, ErrMalformedKey)
	}
	return NewVerifier(pub)
}

// KeyID is the trusted key's hint.
func (v *Verifier) KeyID() string { return v.keyID }

// PublicKey is the trusted key.
func (v *Verifier) PublicKey() *ecdsa.PublicKey { return v.pub }

func (v *Verifier) verify(msg, sig []byte) error {
	return v.v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(msg))
}

// errBadSignature is what verifyDSSE reports; callers say which record.
var errBadSignature = errors.New("signature does not verify")

// verifyDSSE checks an ASN.1 ECDSA signature over SHA-256 of the DSSE pre-authentication encoding
// ("DSSEv1" SP len(type) SP type SP len(payload) SP payload), hashing the encoding in place instead
// of building it: this is the verifier's hot path, run once per record.
func (v *Verifier) verifyDSSE(payloadType string, payload, sig []byte) error {
	return v.verifyDSSEWith(&dsseHasher{h: sha256.New()}, payloadType, payload, sig)
}

// dsseHasher is the SHA-256 state and storage verifyDSSEWith hashes with: one per verifier worker,
// so that a record costs no allocation.
type dsseHasher struct {
	h    hash.Hash
	head []byte
	sum  [sha256.Size]byte
}

// verifyDSSEWith is verifyDSSE hashing with dh.
func (v *Verifier) verifyDSSEWith(dh *dsseHasher, payloadType string, payload, sig []byte) error {
	h := dh.h
	h.Reset()
	b := append(dh.head[:0], "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	dh.head = b
	h.Write(b)
	h.Write(payload)
	if !ecdsa.VerifyASN1(v.pub, h.Sum(dh.sum[:0]), sig) {
		return errBadSignature
	}
	return nil
}

func p256(pub crypto.PublicKey) (*ecdsa.PublicKey, error) {
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w (the algorithm every KMS, cosign and openssl share); got %T", ErrKeyAlgorithm, pub)
	}
	return ec, nil
}

// openKMS opens ref through sigstore's KMS providers when it is a URI; ok says whether it was one.
func openKMS(ctx context.Context, ref string) (sv kms.SignerVerifier, ok bool, err error) {
	scheme, ok := uriScheme(ref)
	if !ok {
		return nil, false, nil
	}
	if err := checkScheme(scheme); err != nil {
		return nil, true, err
	}
	sv, err = kms.Get(ctx, ref, crypto.SHA256)
	if err != nil {
		return nil, true, fmt.Errorf("opening KMS key %s: %w", ref, err)
	}
	return sv, true, nil
}

func uriScheme(ref string) (string, bool) {
	scheme, _, ok := strings.Cut(ref, "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/\\") {
		return "", false
	}
	return scheme, true
}

// checkScheme refuses a KMS scheme no provider was registered for, before anything is opened.
func checkScheme(scheme string) error {
	supported := kms.SupportedProviders()
	if slices.Contains(supported, scheme+"://") {
		return nil
	}
	slices.Sort(supported)
	return fmt.Errorf("%w %q: this build signs with %s, or a private key file", ErrUnknownScheme, scheme+"://", strings.Join(supported, ", "))
}

// noteSigner signs C2SP signed notes (signature type 0x02, ECDSA) with the custody key.
type noteSigner struct {
	ctx  context.Context
	s    *Signer
	name string
}

func (n noteSigner) Name() string { return n.name }

func (n noteSigner) KeyHash() uint32 {
	der, _ := x509.MarshalPKIXPublicKey(n.s.pub)
	sum := sha256.Sum256(der)
	return binary.BigEndian.Uint32(sum[:4])
}

func (n noteSigner) Sign(msg []byte) ([]byte, error) { return n.s.sign(n.ctx, msg) }

// NoteVerifierKey returns the C2SP signed-note verifier key for the custody key under the given name
// (name+hash+base64(0x02 || SPKI DER)), the form note-aware tools take to check a checkpoint.
func NoteVerifierKey(name string, pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return fmt.Sprintf("%s+%08x+%s", name, binary.BigEndian.Uint32(sum[:4]), base64.StdEncoding.EncodeToString(append([]byte{0x02}, der...))), nil
}
