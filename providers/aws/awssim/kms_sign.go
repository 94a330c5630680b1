package awssim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"slices"
)

// signingAlgorithms are the algorithms a signing key spec supports.
// https://docs.aws.amazon.com/kms/latest/developerguide/asymmetric-key-specs.html#key-spec-ecc
func signingAlgorithms(spec string) []string {
	switch spec {
	case "ECC_NIST_P256":
		return []string{"ECDSA_SHA_256"}
	case "ECC_NIST_P384":
		return []string{"ECDSA_SHA_384"}
	}
	return nil
}

func signingHash(algorithm string) crypto.Hash {
	if algorithm == "ECDSA_SHA_384" {
		return crypto.SHA384
	}
	return crypto.SHA256
}

// GetPublicKey returns the DER-encoded SubjectPublicKeyInfo.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_GetPublicKey.html
func (s *Server) kmsGetPublicKey(r *kmsRequest) (any, *apiError) {
	var in keyIDInput
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, "GetPublicKey")
	if e != nil {
		return nil, e
	}
	if e := requireEnabled(key); e != nil {
		return nil, e
	}
	if key.signer == nil {
		return nil, badRequest("UnsupportedOperationException", "%s is a symmetric key and has no public key.", key.arn)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.signer.PublicKey)
	if err != nil {
		return nil, newError(500, "KMSInternalException", "%v", err)
	}
	return struct {
		KeyID                 string `json:"KeyId"`
		PublicKey             []byte
		CustomerMasterKeySpec string
		KeySpec               string
		KeyUsage              string
		SigningAlgorithms     []string
	}{key.arn, der, key.spec, key.spec, key.usage, signingAlgorithms(key.spec)}, nil
}

type signInput struct {
	KeyID            string `json:"KeyId"`
	Message          []byte
	MessageType      string
	SigningAlgorithm string
	Signature        []byte
}

// digestFor checks a Sign or Verify request against the key and returns the
// digest to sign: the message itself for MessageType DIGEST, its hash for
// RAW (at most 4096 bytes).
// https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html
func digestFor(key *kmsKey, in signInput) ([]byte, *apiError) {
	if key.usage != "SIGN_VERIFY" || key.signer == nil {
		return nil, badRequest("InvalidKeyUsageException", "%s key usage is %s, not SIGN_VERIFY.", key.arn, key.usage)
	}
	if !slices.Contains(signingAlgorithms(key.spec), in.SigningAlgorithm) {
		return nil, badRequest("InvalidKeyUsageException", "Signing algorithm %s is not valid for key spec %s.", in.SigningAlgorithm, key.spec)
	}
	h := signingHash(in.SigningAlgorithm)
	switch in.MessageType {
	case "", "RAW":
		if len(in.Message) == 0 || len(in.Message) > 4096 {
			return nil, badRequest("ValidationException", "Message must be between 1 and 4096 bytes.")
		}
		d := h.New()
		d.Write(in.Message)
		return d.Sum(nil), nil
	case "DIGEST":
		if len(in.Message) != h.Size() {
			return nil, badRequest("ValidationException", "Digest is invalid length for algorithm %s.", in.SigningAlgorithm)
		}
		return in.Message, nil
	}
	return nil, badRequest("ValidationException", "MessageType must be RAW or DIGEST.")
}

// Sign returns an ASN.1 DER ECDSA signature.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html
func (s *Server) kmsSign(r *kmsRequest) (any, *apiError) {
	var in signInput
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	key, e := s.usableKey(r, in.KeyID, "Sign")
	if e == nil {
		e = requireEnabled(key)
	}
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	digest, e := digestFor(key, in)
	if e != nil {
		return nil, e
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key.signer, digest)
	if err != nil {
		return nil, newError(500, "KMSInternalException", "%v", err)
	}
	return struct {
		KeyID            string `json:"KeyId"`
		Signature        []byte
		SigningAlgorithm string
	}{key.arn, sig, in.SigningAlgorithm}, nil
}

// Verify answers KMSInvalidSignatureException for a signature that does not
// verify, as KMS does.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_Verify.html
func (s *Server) kmsVerify(r *kmsRequest) (any, *apiError) {
	var in signInput
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	key, e := s.usableKey(r, in.KeyID, "Verify")
	if e == nil {
		e = requireEnabled(key)
	}
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	digest, e := digestFor(key, in)
	if e != nil {
		return nil, e
	}
	if !ecdsa.VerifyASN1(&key.signer.PublicKey, digest, in.Signature) {
		return nil, badRequest("KMSInvalidSignatureException", "The signature is not valid.")
	}
	return struct {
		KeyID            string `json:"KeyId"`
		SignatureValid   bool
		SigningAlgorithm string
	}{key.arn, true, in.SigningAlgorithm}, nil
}
