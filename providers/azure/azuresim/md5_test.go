package azuresim

import (
	"context"
	"crypto/md5"
	"io"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
)

// A ranged read of at most 4 MiB with x-ms-range-get-content-md5 carries the MD5 of the range as
// stored, which a changed byte no longer matches; a larger range with the header is refused.
func TestRangeContentMD5(t *testing.T) {
	e := newEnv(t, func(sc *Scenario) {
		sc.Faults = Faults{Rules: []FaultRule{{Kind: FaultWrongBytes, Operations: []string{"Blob_Download"}, Max: 1}}}
	})
	if _, err := e.copyInto(responderID, "ev", rootDiskID); err != nil {
		t.Fatal(err)
	}
	sas, err := e.grant(responderID, subForensic, rgEvidence, "ev", 600)
	if err != nil {
		t.Fatal(err)
	}
	c := e.pageBlob(sas, nil)
	read := func(n int64) ([]byte, []byte, error) {
		resp, err := c.DownloadStream(context.Background(), &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: 0, Count: n}, RangeGetContentMD5: ptr(true)})
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		data := make([]byte, n)
		_, err = io.ReadFull(resp.Body, data)
		return data, resp.ContentMD5, err
	}
	bad, sum, err := read(4)
	if err != nil {
		t.Fatal(err)
	}
	if got := md5.Sum(bad); string(got[:]) == string(sum) {
		t.Errorf("a changed byte still matches the Content-MD5")
	}
	good, sum, err := read(4)
	if err != nil {
		t.Fatal(err)
	}
	if got := md5.Sum(good); string(got[:]) != string(sum) || string(good) != "MBR!" {
		t.Errorf("read %q with Content-MD5 %x, want the MD5 of MBR!", good, sum)
	}
	if _, _, err := read(4<<20 + 512); !bloberror.HasCode(err, bloberror.InvalidHeaderValue) {
		t.Errorf("Content-MD5 of more than 4 MiB: %v, want InvalidHeaderValue", err)
	}
}
