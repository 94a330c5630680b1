package custody

import (
	"crypto/elliptic"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Errors GenerateKeyFiles refuses its input with.
var (
	ErrEmptyPassword = errors.New("the new key's password is empty: a private key file is only as safe as its password (choose one, or keep the key in a KMS)")
	ErrBadKeyPrefix  = errors.New("name the key files with a path prefix, such as custody or keys/ir-42 (PREFIX.key and PREFIX.pub are written)")
)

// KeyFiles names the two files GenerateKeyFiles writes.
type KeyFiles struct {
	Private string
	Public  string
	KeyID   string
}

// GenerateKeyFiles makes an ECDSA P-256 key pair and writes it as prefix.key (encrypted with the
// password pass returns, in the format cosign reads, mode 0600) and prefix.pub (PEM, PKIX). It never
// overwrites an existing file.
func GenerateKeyFiles(prefix string, pass PassFunc) (KeyFiles, error) {
	files := KeyFiles{Private: prefix + ".key", Public: prefix + ".pub"}
	if prefix == "" || strings.HasSuffix(prefix, "/") || filepath.Base(prefix) == "." || filepath.Base(prefix) == ".." {
		return files, fmt.Errorf("key file prefix %q: %w", prefix, ErrBadKeyPrefix)
	}
	for _, p := range []string{files.Private, files.Public} {
		if _, err := os.Lstat(p); err == nil {
			return files, fmt.Errorf("%s already exists: %w (move it away or choose another --out)", p, fs.ErrExist)
		}
	}
	password, err := pass(true)
	if err != nil {
		return files, fmt.Errorf("reading the new key's password: %w", err)
	}
	if len(password) == 0 {
		return files, ErrEmptyPassword
	}
	privPEM, pubPEM, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		return files, fmt.Errorf("generating key: %w", err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		return files, err
	}
	if files.KeyID, err = KeyID(pub); err != nil {
		return files, err
	}
	if err := writeNewFile(files.Private, privPEM, 0o600); err != nil {
		return files, err
	}
	if err := writeNewFile(files.Public, pubPEM, 0o644); err != nil {
		return files, errors.Join(err, os.Remove(files.Private))
	}
	return files, nil
}

// writeNewFile writes a file durably, only if its name is free (not even a link may stand there).
func writeNewFile(path string, data []byte, mode uint32) error {
	dir, err := openCaseRoot(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.writeNew(filepath.Base(path), data, mode)
}
