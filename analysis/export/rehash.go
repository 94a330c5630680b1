package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// Rehash is one evidence item read again and compared with the digest the case recorded.
type Rehash struct {
	Item   Item   `json:"item"`
	From   string `json:"from"` // "cloud" or the image file read
	SHA256 string `json:"sha256,omitempty"`
	Match  bool   `json:"match"`
	Error  string `json:"error,omitempty"`
}

// RehashFile hashes an exported image and compares it with the item's recorded digest.
func RehashFile(item Item, path string) Rehash {
	r := Rehash{Item: item, From: path}
	f, err := os.Open(path)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		r.Error = fmt.Sprintf("reading %s: %v", path, err)
		return r
	}
	r.SHA256 = hex.EncodeToString(h.Sum(nil))
	r.Match = r.SHA256 == item.ImageSHA256
	return r
}

// RehashSource reads an item's copy again from the cloud and compares its image digest with the one
// recorded.
func RehashSource(ctx context.Context, item Item, digest func(ctx context.Context) (string, error)) Rehash {
	r := Rehash{Item: item, From: "cloud"}
	sum, err := digest(ctx)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.SHA256, r.Match = sum, sum == item.ImageSHA256
	return r
}
