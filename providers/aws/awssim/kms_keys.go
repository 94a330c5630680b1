package awssim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Key identifiers KMS accepts: key ID, key ARN, alias name, alias ARN.
// https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id
var (
	keyIDPattern    = regexp.MustCompile(`^(mrk-)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	keyARNPattern   = regexp.MustCompile(`^arn:aws[a-z-]*:kms:([a-z0-9-]+):([0-9]{12}):key/(.+)$`)
	aliasARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:kms:([a-z0-9-]+):([0-9]{12}):(alias/.+)$`)
	aliasPattern    = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`)
)

const ebsManagedAlias = "alias/aws/ebs"

type keyParams struct {
	id            string
	usage, spec   string
	policy        string
	description   string
	privateKeyPEM string
	awsManaged    bool
}

// newKey creates a key. The ID is minted only once the parameters are
// known to be good, so that a refused CreateKey leaves the ID sequence
// alone. Callers hold s.mu.
func (s *Server) newKey(accountID, region string, p keyParams, now time.Time) (*kmsKey, *apiError) {
	if p.id != "" && !keyIDPattern.MatchString(p.id) {
		return nil, badRequest("ValidationException", "key ID %q is not a UUID", p.id)
	}
	key := &kmsKey{
		accountID: accountID, region: region, description: p.description,
		usage: p.usage, spec: p.spec, awsManaged: p.awsManaged,
		created: now, enabled: true,
	}
	switch {
	case key.symmetricEncryption():
	case p.usage == "SIGN_VERIFY" && (p.spec == "ECC_NIST_P256" || p.spec == "ECC_NIST_P384"):
		signer, err := signingKey(p.spec, p.privateKeyPEM)
		if err != nil {
			return nil, badRequest("ValidationException", "%v", err)
		}
		key.signer = signer
	default:
		// The simulator implements symmetric encryption keys and ECC signing
		// keys; other specs answer as an unsupported combination.
		return nil, badRequest("ValidationException", "KeyUsage %s with KeySpec %s is not supported", p.usage, p.spec)
	}
	policy := p.policy
	if policy == "" {
		policy = defaultKeyPolicy(accountID)
	}
	if err := key.setPolicy(policy); err != nil {
		return nil, badRequest("MalformedPolicyDocumentException", "The key policy is not valid: %v", err)
	}
	id := p.id
	switch {
	case p.awsManaged:
		id = s.ids.managedKeyID(accountID, region)
	case id == "":
		id = s.ids.keyID()
	}
	if s.st.keys[id] != nil {
		return nil, badRequest("AlreadyExistsException", "key %s already exists", id)
	}
	key.seq, key.id, key.arn = s.st.nextSeq(), id, keyARN(region, accountID, id)
	s.st.keys[id] = key
	return key, nil
}

func keyARN(region, accountID, id string) string {
	return "arn:aws:kms:" + region + ":" + accountID + ":key/" + id
}

func signingKey(spec, pemText string) (*ecdsa.PrivateKey, error) {
	curve := elliptic.P256()
	if spec == "ECC_NIST_P384" {
		curve = elliptic.P384()
	}
	if pemText == "" {
		return ecdsa.GenerateKey(curve, rand.Reader)
	}
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, fmt.Errorf("privateKeyPem holds no PEM block")
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		key, err = x509.ParseECPrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("privateKeyPem: %w", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != curve {
		return nil, fmt.Errorf("privateKeyPem is not a %s key", spec)
	}
	return ec, nil
}

// createAlias points name at key. Callers hold s.mu.
func (s *Server) createAlias(accountID, region, name string, key *kmsKey, now time.Time) *apiError {
	// https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html
	if !aliasPattern.MatchString(name) {
		return badRequest("ValidationException", "alias name %q must begin with alias/", name)
	}
	if strings.HasPrefix(name, "alias/aws/") && !key.awsManaged {
		return badRequest("NotAuthorizedException", "alias names beginning with alias/aws/ are reserved for AWS managed keys")
	}
	ref := aliasRef{accountID, region, name}
	if s.st.aliases[ref] != nil {
		return badRequest("AlreadyExistsException", "An alias with the name %s already exists", aliasARN(region, accountID, name))
	}
	s.st.aliases[ref] = &kmsAlias{ref: ref, arn: aliasARN(region, accountID, name), keyID: key.id, created: now}
	return nil
}

func aliasARN(region, accountID, name string) string {
	return "arn:aws:kms:" + region + ":" + accountID + ":" + name
}

// awsManagedEBSKey returns the account's AWS managed key for EBS in region,
// creating it on first use as AWS does.
// https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-key
func (s *Server) awsManagedEBSKey(accountID, region string, now time.Time) *kmsKey {
	ref := aliasRef{accountID, region, ebsManagedAlias}
	if a := s.st.aliases[ref]; a != nil {
		return s.st.keys[a.keyID]
	}
	key, _ := s.newKey(accountID, region, keyParams{
		usage: "ENCRYPT_DECRYPT", spec: "SYMMETRIC_DEFAULT", awsManaged: true,
		description: "Default key that protects my EBS volumes when no other key is defined",
	}, now)
	s.createAlias(accountID, region, ebsManagedAlias, key, now)
	s.st.changedAside = true
	return key
}

// findKey resolves a key identifier as KMS does: key IDs and alias names in
// the caller's account and region, ARNs anywhere (other accounts' keys are
// named by ARN). Callers hold s.mu.
// https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id
func (s *Server) findKey(callerAccount, region, ref string, now time.Time) (*kmsKey, *apiError) {
	notFound := badRequest("NotFoundException", "Key '%s' does not exist", ref)
	accountID, keyRegion, name := callerAccount, region, ref
	if m := keyARNPattern.FindStringSubmatch(ref); m != nil {
		keyRegion, accountID, name = m[1], m[2], m[3]
	} else if m := aliasARNPattern.FindStringSubmatch(ref); m != nil {
		keyRegion, accountID, name = m[1], m[2], m[3]
	} else if strings.HasPrefix(ref, "arn:") {
		return nil, badRequest("InvalidArnException", "Invalid arn %s", ref)
	}
	if keyRegion != region {
		return nil, notFound
	}
	if strings.HasPrefix(name, "alias/") {
		if name == ebsManagedAlias && s.st.accounts[accountID] != nil {
			return s.awsManagedEBSKey(accountID, keyRegion, now), nil
		}
		a := s.st.aliases[aliasRef{accountID, keyRegion, name}]
		if a == nil {
			return nil, badRequest("NotFoundException", "Alias %s is not found.", aliasARN(keyRegion, accountID, name))
		}
		return s.st.keys[a.keyID], nil
	}
	key := s.st.keys[name]
	if key == nil || key.accountID != accountID || key.region != keyRegion {
		return nil, notFound
	}
	return key, nil
}

// ebsKey resolves the key EBS encrypts with: the named one, else the
// account's default EBS key for the region, else aws/ebs.
// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html
func (s *Server) ebsKey(accountID, region, ref string, now time.Time) (*kmsKey, *apiError) {
	if ref == "" {
		ref = s.st.accounts[accountID].ebsDefaultKey[region]
	}
	if ref == "" {
		return s.awsManagedEBSKey(accountID, region, now), nil
	}
	return s.findKey(accountID, region, ref, now)
}

// keyByARN finds a key by its ARN without creating anything.
func (st *state) keyByARN(arn string) *kmsKey {
	m := keyARNPattern.FindStringSubmatch(arn)
	if m == nil {
		return nil
	}
	return st.keys[m[3]]
}
