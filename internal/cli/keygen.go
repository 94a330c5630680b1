package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/termsafe"
)

func newKeygenCmd(a *app) *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make an ECDSA P-256 custody signing key pair",
		Long: `Make an ECDSA P-256 key pair for signing custody records: PREFIX.key, encrypted with a password
(from $ACQUIRE_PASSWORD, or asked twice on the terminal) in the format cosign reads, mode 0600; and
PREFIX.pub, the public key auditors verify with. Existing files are never overwritten.

For production, prefer a key that never leaves a KMS: pass its URI to --key instead.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if st, err := os.Stat(prefix); err == nil && st.IsDir() {
				return usageErrorf(fmt.Errorf("--out %s is a directory: give a path prefix inside it, such as %s", prefix, filepath.Join(prefix, "custody")))
			}
			files, err := custody.GenerateKeyFiles(prefix, a.passFunc("the new key "+prefix+".key"))
			if errors.Is(err, custody.ErrBadKeyPrefix) {
				return usageErrorf(fmt.Errorf("--out %q: %w", prefix, err))
			}
			if errors.Is(err, custody.ErrEmptyPassword) {
				return usageErrorf(fmt.Errorf("%w (set a non-empty %s)", err, envPassword))
			}
			if err != nil {
				return err
			}
			if a.json() {
				return a.emit(map[string]string{"privateKey": files.Private, "publicKey": files.Public, "keyId": files.KeyID})
			}
			a.printf("private key: %s (keep it safe; mode 0600)\npublic key:  %s\nkey ID:      %s\n", termsafe.String(files.Private), termsafe.String(files.Public), files.KeyID)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "out", "custody", "path prefix of the key files")
	return cmd
}
