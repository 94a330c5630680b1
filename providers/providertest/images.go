package providertest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
)

// WriteImage writes a sparse 1 GiB disk image at path whose listed 512 KiB blocks hold random bytes:
// a harness's disks, whose digests no simulator or driver can know in advance.
func WriteImage(path string, blocks []int64) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	defer file.Close()
	if err := file.Truncate(1 << 30); err != nil {
		return err
	}
	buf := make([]byte, 512<<10)
	for _, b := range blocks {
		if _, err := rand.Read(buf); err != nil {
			return err
		}
		if _, err := file.WriteAt(buf, b*int64(len(buf))); err != nil {
			return err
		}
	}
	return nil
}

// FileSHA256 is the hex SHA-256 of a file, as sha256sum prints it.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
