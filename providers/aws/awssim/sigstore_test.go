package awssim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature/kms"
	awskms "github.com/sigstore/sigstore/pkg/signature/kms/aws"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// sigstore's awskms:// provider signs and verifies against the simulator as
// custody signing will use it: the key named by alias, the endpoint taken
// from AWS_ENDPOINT_URL. (The awskms://HOST:PORT/... form always speaks
// https, which the plain-http test server does not.)
func TestSigstoreAWSKMSProvider(t *testing.T) {
	ts := startServer(t, fixture(t), nil)
	none := filepath.Join(t.TempDir(), "none")
	for name, value := range map[string]string{
		"AWS_ENDPOINT_URL":            ts.url,
		"AWS_ACCESS_KEY_ID":           responder.id,
		"AWS_SECRET_ACCESS_KEY":       responder.secret,
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  region,
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(name, value)
	}
	message := []byte("custody record 1")
	for _, ref := range []string{
		"awskms:///alias/custody",
		"awskms:///" + aliasARN(region, workloadAccount, "alias/custody"),
		"awskms:///" + keyARN(region, workloadAccount, signKeyID),
	} {
		sv, err := kms.Get(t.Context(), ref, crypto.SHA256)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		sig, err := sv.SignMessage(bytes.NewReader(message))
		if err != nil {
			t.Fatalf("%s: sign: %v", ref, err)
		}
		if err := sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(message)); err != nil {
			t.Errorf("%s: local verification: %v", ref, err)
		}
		if err := sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(message), options.WithRemoteVerification(true)); err != nil {
			t.Errorf("%s: verification by KMS: %v", ref, err)
		}
		pub, err := sv.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256(message)
		if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
			t.Errorf("%s: the signature does not verify with the public key alone", ref)
		}
		if err := sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader([]byte("custody record 2"))); err == nil {
			t.Errorf("%s: a signature verified over another message", ref)
		}
	}
	// Loading may be lazy: an unknown alias fails at the latest when used.
	sv, err := awskms.LoadSignerVerifier(t.Context(), "awskms:///alias/nope")
	if err == nil {
		_, err = sv.SignMessage(bytes.NewReader(message))
	}
	if err == nil {
		t.Error("signing with an unknown alias succeeded")
	}
}
